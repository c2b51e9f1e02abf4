import path from 'node:path';
import type { Logger } from 'pino';
import { Database } from './database.ts';
import { PgliteDriver } from './pglite-driver.ts';
import { PostgresDriver } from './postgres-driver.ts';

/** PostgreSQL when a URL is given, else the embedded PGlite in `<dataDir>/pglite` (or in memory). */
export async function openDatabase(
  options: { databaseUrl: string | null; dataDir: string | null; poolSize?: number },
  log: Logger,
): Promise<Database> {
  const onError = (error: unknown) => log.error({ err: error }, 'after-commit task failed');
  if (options.databaseUrl) {
    const driver = new PostgresDriver(options.databaseUrl, {
      max: options.poolSize,
      onIdleError: (error) => log.warn({ err: error }, 'database connection lost; it will be replaced'),
    });
    return new Database(driver, onError);
  }
  const dir = options.dataDir === null ? undefined : path.join(options.dataDir, 'pglite');
  return new Database(await PgliteDriver.open(dir), onError);
}
