import { createHash } from 'node:crypto';
import pg from 'pg';
import { DatabaseUnavailableError, type Connection, type Driver, type Row } from './database.ts';

// SQLSTATE classes that mean "the connection is gone or the server is not accepting work".
const unavailableStates = new Set(['57P01', '57P02', '57P03', '53300', '08000', '08001', '08003', '08004', '08006']);
const unavailableSystemCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN']);
// Conflicts that a retry of the whole transaction resolves.
const retryableStates = new Set(['40001', '40P01']);

export function isConnectionFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: string }).code;
  if (code !== undefined && (unavailableStates.has(code) || unavailableSystemCodes.has(code))) return true;
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|not queryable/i.test(
    error.message,
  );
}

// Statements run as named prepared statements: PostgreSQL parses and plans each text once per connection
// instead of on every call (measured: more than half of the database's CPU on the 2FA round). The name is
// derived from the text, so a name never stands for two texts.
const statementNames = new Map<string, string>();

function prepared(sql: string, params: readonly unknown[] | undefined): pg.QueryConfig {
  let name = statementNames.get(sql);
  if (name === undefined) {
    name = `t${createHash('sha256').update(sql).digest('hex').slice(0, 24)}`;
    if (statementNames.size < 10_000) statementNames.set(sql, name);
  }
  return { name, text: sql, values: params as unknown[] | undefined };
}

function translate(error: unknown): unknown {
  return isConnectionFailure(error)
    ? new DatabaseUnavailableError(`database unavailable: ${(error as Error).message}`, { cause: error })
    : error;
}

/** PostgreSQL through a `pg` pool. A dropped connection is replaced on the next checkout. */
export class PostgresDriver implements Driver {
  readonly kind = 'postgres' as const;
  readonly #pool: pg.Pool;

  constructor(connectionString: string, options: { max?: number; onIdleError?: (error: Error) => void } = {}) {
    this.#pool = new pg.Pool({
      connectionString,
      max: options.max ?? 16,
      connectionTimeoutMillis: 2_000,
      idleTimeoutMillis: 30_000,
    });
    // An idle client whose connection the server closed emits here; the pool drops it and reconnects later.
    this.#pool.on('error', (error) => options.onIdleError?.(error));
  }

  async query<R extends object = Row>(sql: string, params?: readonly unknown[]): Promise<R[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await this.#pool.query(prepared(sql, params));
        return result.rows as R[];
      } catch (error) {
        // A statement outside a transaction is its own transaction: one that lost a deadlock did nothing, so it
        // runs again (the 2FA verify statement locks a challenge, its user and its factor).
        const state = (error as { code?: string }).code;
        if (state !== undefined && retryableStates.has(state) && attempt < 3) continue;
        throw translate(error);
      }
    }
  }

  /** A script of several statements (migrations): the simple protocol, not prepared. */
  async exec(sql: string): Promise<void> {
    try {
      await this.#pool.query(sql);
    } catch (error) {
      throw translate(error);
    }
  }

  async withTransaction<T>(work: (connection: Connection) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let client: pg.PoolClient | undefined;
      // A checked-out client has no listener of the pool's: a connection lost meanwhile (the server ended it, the
      // network dropped) would be an unhandled 'error' event, which ends the process. The transaction's next
      // statement fails instead (the client is no longer queryable), and the client is dropped.
      let lost = false;
      const onLost = () => (lost = true);
      const release = (checkedOut: pg.PoolClient, broken: boolean) => {
        checkedOut.removeListener('error', onLost);
        checkedOut.release(broken || lost);
      };
      try {
        client = await this.#pool.connect();
        client.on('error', onLost);
        await client.query('BEGIN');
      } catch (error) {
        if (client) release(client, true);
        // Nothing was done yet: a connection that died while idle is safe to replace once.
        if (attempt === 1 && isConnectionFailure(error)) continue;
        throw translate(error);
      }
      const connection = clientConnection(client);
      try {
        const result = await work(connection);
        await client.query('COMMIT');
        release(client, false);
        return result;
      } catch (error) {
        const broken = lost || isConnectionFailure(error);
        if (!broken) await client.query('ROLLBACK').catch(() => {});
        release(client, broken);
        const state = (error as { code?: string }).code;
        if (state !== undefined && retryableStates.has(state) && attempt < 3) continue;
        throw translate(error);
      }
    }
  }

  close(): Promise<void> {
    return this.#pool.end();
  }
}

function clientConnection(client: pg.PoolClient): Connection {
  return {
    async query<R extends object = Row>(sql: string, params?: readonly unknown[]): Promise<R[]> {
      const result = await client.query(prepared(sql, params));
      return result.rows as R[];
    },
    async exec(sql: string): Promise<void> {
      await client.query(sql);
    },
  };
}
