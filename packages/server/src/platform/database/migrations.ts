import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Database } from './database.ts';

const migrationsDir = fileURLToPath(new URL('../../../migrations/', import.meta.url));
// Any constant: instances starting together take turns applying migrations.
const migrationLockId = 0x7e55e7a;

/** Applies, in one transaction, every migration file not applied yet; returns their names. */
export async function migrate(db: Database): Promise<string[]> {
  const files = (await readdir(migrationsDir)).filter((name) => name.endsWith('.sql')).sort();
  return db.transaction(async () => {
    await db.query('SELECT pg_advisory_xact_lock($1)', [migrationLockId]);
    await db.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const applied = new Set(
      (await db.query<{ version: string }>('SELECT version FROM schema_migrations')).map((row) => row.version),
    );
    const pending = files.filter((name) => !applied.has(name));
    for (const name of pending) {
      await db.exec(await readFile(path.join(migrationsDir, name), 'utf8'));
      await db.query('INSERT INTO schema_migrations (version) VALUES ($1)', [name]);
    }
    return pending;
  });
}
