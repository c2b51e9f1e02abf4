import { mkdir } from 'node:fs/promises';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import type { Connection, Driver, Row } from './database.ts';

/**
 * The embedded PostgreSQL (WASM) in the data directory. It runs one statement at a time;
 * a transaction holds it exclusively, which is what makes its transactions serializable here.
 */
export class PgliteDriver implements Driver {
  readonly kind = 'pglite' as const;
  readonly #db: PGlite;

  private constructor(db: PGlite) {
    this.#db = db;
  }

  static async open(dataDir: string | undefined): Promise<PgliteDriver> {
    if (dataDir) await mkdir(dataDir, { recursive: true, mode: 0o700 });
    return new PgliteDriver(await PGlite.create(dataDir ?? 'memory://'));
  }

  async query<R extends object = Row>(sql: string, params?: readonly unknown[]): Promise<R[]> {
    return (await this.#db.query<R>(sql, params as unknown[] | undefined)).rows;
  }

  async exec(sql: string): Promise<void> {
    await this.#db.exec(sql);
  }

  withTransaction<T>(work: (connection: Connection) => Promise<T>): Promise<T> {
    return this.#db.transaction((tx) => work(transactionConnection(tx)));
  }

  close(): Promise<void> {
    return this.#db.close();
  }
}

function transactionConnection(tx: Transaction): Connection {
  return {
    async query<R extends object = Row>(sql: string, params?: readonly unknown[]): Promise<R[]> {
      return (await tx.query<R>(sql, params as unknown[] | undefined)).rows;
    },
    async exec(sql: string): Promise<void> {
      await tx.exec(sql);
    },
  };
}
