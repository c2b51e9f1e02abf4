// Which tables and indexes a workload reads: pg_stat_user_tables and pg_stat_user_indexes of one database, read
// twice and subtracted. Backends report their counters at the end of a transaction at most once a second, and
// when they exit: read the second time after the server has closed its connections.
import pg from 'pg';

export interface TableCounters {
  seqScans: number;
  seqRowsRead: number;
  indexScans: number;
  indexRowsFetched: number;
  inserted: number;
  updated: number;
}

export interface IndexCounters {
  scans: number;
  /** Index entries read by its scans (idx_tup_read). */
  entriesRead: number;
  /** Table rows fetched through it by simple index scans (idx_tup_fetch). */
  rowsFetched: number;
}

export interface TableStats {
  tables: Map<string, TableCounters>;
  indexes: Map<string, IndexCounters>;
}

export async function readTableStats(databaseUrl: string): Promise<TableStats> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    const tables = await client.query<Record<string, string | null>>(
      `SELECT relname, seq_scan, seq_tup_read, idx_scan, idx_tup_fetch, n_tup_ins, n_tup_upd FROM pg_stat_user_tables`,
    );
    const indexes = await client.query<Record<string, string | null>>(
      `SELECT relname, indexrelname, idx_scan, idx_tup_read, idx_tup_fetch FROM pg_stat_user_indexes`,
    );
    const n = (value: string | null | undefined) => Number(value ?? 0);
    return {
      tables: new Map(
        tables.rows.map((row) => [
          String(row.relname),
          {
            seqScans: n(row.seq_scan),
            seqRowsRead: n(row.seq_tup_read),
            indexScans: n(row.idx_scan),
            indexRowsFetched: n(row.idx_tup_fetch),
            inserted: n(row.n_tup_ins),
            updated: n(row.n_tup_upd),
          },
        ]),
      ),
      indexes: new Map(
        indexes.rows.map((row) => [
          `${String(row.relname)}.${String(row.indexrelname)}`,
          { scans: n(row.idx_scan), entriesRead: n(row.idx_tup_read), rowsFetched: n(row.idx_tup_fetch) },
        ]),
      ),
    };
  } finally {
    await client.end();
  }
}

/** after − before, field by field, for the keys of `after`. */
export function subtractStats(before: TableStats, after: TableStats): TableStats {
  const minus = <T extends object>(a: T, b: T | undefined): T =>
    Object.fromEntries(Object.entries(a).map(([key, value]) => [key, (value as number) - ((b as Record<string, number> | undefined)?.[key] ?? 0)])) as T;
  return {
    tables: new Map([...after.tables].map(([name, counters]) => [name, minus(counters, before.tables.get(name))])),
    indexes: new Map([...after.indexes].map(([name, counters]) => [name, minus(counters, before.indexes.get(name))])),
  };
}
