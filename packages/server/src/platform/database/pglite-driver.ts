import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { StartupError } from '../startup-error.ts';
import type { Connection, Driver, Row } from './database.ts';

/**
 * The embedded PostgreSQL (WASM) in the data directory. It runs one statement at a time;
 * a transaction holds it exclusively, which is what makes its transactions serializable here.
 */
export class PgliteDriver implements Driver {
  readonly kind = 'pglite' as const;
  readonly #db: PGlite;
  readonly #unlock: () => Promise<void>;

  private constructor(db: PGlite, unlock: () => Promise<void>) {
    this.#db = db;
    this.#unlock = unlock;
  }

  static async open(dataDir: string | undefined): Promise<PgliteDriver> {
    if (!dataDir) return new PgliteDriver(await PGlite.create('memory://'), async () => {});
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const unlock = await lockFiles(`${dataDir}.lock`);
    try {
      return new PgliteDriver(await PGlite.create(dataDir), unlock);
    } catch (error) {
      await unlock();
      throw error;
    }
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

  async close(): Promise<void> {
    await this.#db.close();
    await this.#unlock();
  }
}

/**
 * One process at a time on the embedded database's files: a second one would write to them too, and acknowledged
 * writes of the first were seen lost after a crash. The lock file holds its owner's pid; one left behind by a
 * process that no longer runs (a crash, kill -9) is taken over.
 */
async function lockFiles(lockFile: string): Promise<() => Promise<void>> {
  for (let attempt = 1; attempt <= 2; attempt++) {
    try {
      await writeFile(lockFile, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return () => rm(lockFile, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = Number((await readFile(lockFile, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(owner) && owner > 0 && isRunning(owner)) {
      throw new StartupError(
        `the embedded database ${lockFile.replace(/\.lock$/, '')} is in use by another process (pid ${owner}): stop it, or give this ` +
          `one another TESSERA_DATA_DIR (if no such process runs, delete ${lockFile})`,
      );
    }
    await rm(lockFile, { force: true });
  }
  throw new StartupError(`the embedded database's lock ${lockFile} is being taken by another process: try again`);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
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
