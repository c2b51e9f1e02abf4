import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { migrate } from '../src/platform/database/migrations.ts';
import { openDatabase } from '../src/platform/database/open-database.ts';

/**
 * Creating a PGlite database takes seconds; copying a migrated one takes a fraction of that.
 * So the tests start each server on a copy of this template.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const templateDir = path.join(tmpdir(), `tessera-test-template-${process.pid}`);
  await rm(templateDir, { recursive: true, force: true });
  const db = await openDatabase({ databaseUrl: null, dataDir: templateDir }, pino({ level: 'silent' }));
  await migrate(db);
  await db.close();
  process.env.TESSERA_TEST_PGLITE_TEMPLATE = templateDir;
  return () => rm(templateDir, { recursive: true, force: true });
}
