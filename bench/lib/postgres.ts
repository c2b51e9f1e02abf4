import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The server a scenario creates its throw-away databases on; BENCH_DATABASE_URL overrides it. */
export const adminDatabaseUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TempDatabase {
  url: string;
  name: string;
  /** This database's counters from pg_stat_database (transactions and rows since it was made). */
  stats(): Promise<DatabaseStats>;
  /** The process ids of the backends connected to this database now (for their CPU time, on this machine). */
  backendPids(): Promise<number[]>;
  drop(): Promise<void>;
}

/** Cumulative counters of one database (pg_stat_database); compare two readings to count a window's work. */
export interface DatabaseStats {
  commits: number;
  rollbacks: number;
  rowsFetched: number;
  rowsInserted: number;
  rowsUpdated: number;
  rowsDeleted: number;
}

async function withClient<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminDatabaseUrl, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A fresh empty database beside the admin one, or the reason it could not be made (unreachable, say). */
export async function createTempDatabase(): Promise<TempDatabase | { unavailable: string }> {
  const name = `tessera_bench_${randomBytes(6).toString('hex')}`;
  try {
    await withClient((client) => client.query(`CREATE DATABASE ${name}`));
  } catch (error) {
    return { unavailable: error instanceof Error ? error.message || error.name : String(error) };
  }
  const url = new URL(adminDatabaseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.href,
    name,
    stats: () =>
      withClient(async (client) => {
        // The statistics are sent by each backend at the end of its transactions, at most once a second or so.
        const { rows } = await client.query<Record<string, string>>(
          `SELECT xact_commit, xact_rollback, tup_fetched, tup_inserted, tup_updated, tup_deleted
           FROM pg_stat_database WHERE datname = $1`,
          [name],
        );
        const row = rows[0] ?? {};
        const n = (key: string) => Number(row[key] ?? NaN);
        return {
          commits: n('xact_commit'),
          rollbacks: n('xact_rollback'),
          rowsFetched: n('tup_fetched'),
          rowsInserted: n('tup_inserted'),
          rowsUpdated: n('tup_updated'),
          rowsDeleted: n('tup_deleted'),
        };
      }),
    backendPids: () =>
      withClient(async (client) => {
        const { rows } = await client.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [name]);
        return rows.map((row) => row.pid);
      }),
    drop: async () => {
      await withClient((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}
