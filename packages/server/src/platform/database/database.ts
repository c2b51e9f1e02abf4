import { AsyncLocalStorage } from 'node:async_hooks';

export type Row = Record<string, unknown>;

/** A connection that can run statements: the pool, or the one that holds a transaction. */
export interface Connection {
  query<R extends object = Row>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

/** What each engine (PGlite, PostgreSQL) provides. */
export interface Driver extends Connection {
  readonly kind: DatabaseKind;
  withTransaction<T>(work: (connection: Connection) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export type DatabaseKind = 'pglite' | 'postgres';

/** Thrown when the database cannot be reached; the HTTP layer answers 503 with Retry-After. */
export class DatabaseUnavailableError extends Error {
  override name = 'DatabaseUnavailableError';
}

interface TransactionScope {
  connection: Connection;
  afterCommit: Array<() => void>;
}

/**
 * The database as the rest of the server sees it. Inside `transaction(work)`, every `query` made by
 * `work` (however deep in the call stack) runs in that transaction, so services compose: an outbox
 * write or an idempotency record joins the transaction of the change it belongs to.
 */
export class Database implements Connection {
  readonly #driver: Driver;
  readonly #scope = new AsyncLocalStorage<TransactionScope>();
  readonly #onTaskError: (error: unknown) => void;
  #openTransactions = 0;

  constructor(driver: Driver, onTaskError: (error: unknown) => void = () => {}) {
    this.#driver = driver;
    this.#onTaskError = onTaskError;
  }

  get kind(): DatabaseKind {
    return this.#driver.kind;
  }

  get inTransaction(): boolean {
    return this.#scope.getStore() !== undefined;
  }

  query<R extends object = Row>(sql: string, params?: readonly unknown[]): Promise<R[]> {
    return (this.#scope.getStore()?.connection ?? this.#driver).query<R>(sql, params);
  }

  exec(sql: string): Promise<void> {
    return (this.#scope.getStore()?.connection ?? this.#driver).exec(sql);
  }

  /** Runs `work` in one transaction, or in the caller's transaction when there is one. */
  async transaction<T>(work: () => Promise<T>): Promise<T> {
    if (this.inTransaction) return work();
    let afterCommit: Array<() => void> = [];
    this.#openTransactions++;
    let result: T;
    try {
      result = await this.#driver.withTransaction((connection) => {
        // A retried attempt (deadlock, serialization failure) starts with no tasks from the one rolled back.
        afterCommit = [];
        return this.#scope.run({ connection, afterCommit }, work);
      });
    } finally {
      // While the scope is enabled, Node runs a hook for every promise the process makes (about 9 % of a track's
      // CPU, bench/RESULTS.md): it is enabled only while a transaction is open (run() enables it again).
      if (--this.#openTransactions === 0) this.#scope.disable();
    }
    for (const task of afterCommit) {
      try {
        task();
      } catch (error) {
        this.#onTaskError(error);
      }
    }
    return result;
  }

  /** Runs `task` once the current transaction has committed (at once outside a transaction). */
  afterCommit(task: () => void): void {
    const scope = this.#scope.getStore();
    if (scope) scope.afterCommit.push(task);
    else task();
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1');
  }

  close(): Promise<void> {
    return this.#driver.close();
  }
}
