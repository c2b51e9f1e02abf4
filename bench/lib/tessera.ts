// What the Tessera scenarios share: the storages they run on, an app to call the API as, the bare route.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { createTempDatabase, type TempDatabase } from './postgres.ts';
import type { ChildServer } from './processes.ts';
import type { ResultRow } from './report.ts';
import type { ScenarioContext, Target } from './scenario.ts';

/** Where a Tessera child keeps its data: the environment to start it with. */
export interface Storage {
  label: 'PGlite' | 'PostgreSQL';
  env: Record<string, string>;
  /** The throw-away PostgreSQL database, for its statistics; absent on PGlite. */
  database?: TempDatabase;
  cleanup(): Promise<void>;
}

async function pgliteStorage(dataDir: string): Promise<Storage> {
  return { label: 'PGlite', env: { TESSERA_DATA_DIR: dataDir }, cleanup: async () => {} };
}

async function postgresStorage(dataDir: string): Promise<Storage | string> {
  const database: TempDatabase | { unavailable: string } = await createTempDatabase();
  if ('unavailable' in database) return database.unavailable;
  return {
    label: 'PostgreSQL',
    env: { TESSERA_DATA_DIR: dataDir, DATABASE_URL: database.url },
    database,
    cleanup: () => database.drop(),
  };
}

/** BENCH_STORAGE=pglite or postgresql runs the Tessera rows on that storage alone (when working on one of them). */
function chosenStorages(): Array<(dataDir: string) => Promise<Storage | string>> {
  const makers = { pglite: pgliteStorage, postgresql: postgresStorage };
  const chosen = process.env.BENCH_STORAGE;
  if (!chosen) return Object.values(makers);
  if (!(chosen in makers)) throw new Error(`BENCH_STORAGE: "${chosen}" is neither pglite nor postgresql.`);
  return [makers[chosen as keyof typeof makers]];
}

/**
 * Runs `measure` on PGlite (a fresh data directory), then on PostgreSQL (a fresh database beside
 * BENCH_DATABASE_URL's, dropped afterwards; skipped with a note when the server cannot be reached).
 */
export async function onEachStorage(
  context: ScenarioContext,
  measure: (storage: Storage) => Promise<ResultRow[]>,
): Promise<{ rows: ResultRow[]; notes: string[] }> {
  const rows: ResultRow[] = [];
  const notes: string[] = [];
  for (const make of chosenStorages()) {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'tessera-bench-'));
    try {
      const storage = await make(dataDir);
      if (typeof storage === 'string') {
        const note = `PostgreSQL skipped: could not create a database (${storage}).`;
        context.progress(note);
        notes.push(note);
        continue;
      }
      try {
        rows.push(...(await measure(storage)));
      } finally {
        await storage.cleanup();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }
  return { rows, notes };
}

/** Creates an app through the admin API and checks that its credentials read it back. */
export async function createApp(server: ChildServer, adminToken: string): Promise<{ appId: string; authorization: string }> {
  const created = await request(`${server.origin}/v1/apps`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench app' }),
  });
  const body = (await created.body.json()) as { app_id?: string; app_secret?: string };
  if (created.statusCode !== 201 || !body.app_id || !body.app_secret) {
    throw new Error(`POST /v1/apps answered ${created.statusCode}: ${JSON.stringify(body)}`);
  }
  const authorization = `Basic ${Buffer.from(`${body.app_id}:${body.app_secret}`).toString('base64')}`;
  const check = await request(`${server.origin}/v1/apps/${body.app_id}`, { headers: { authorization } });
  const read = (await check.body.json()) as { app_id?: string };
  if (check.statusCode !== 200 || read.app_id !== body.app_id) {
    throw new Error(`GET /v1/apps/${body.app_id} answered ${check.statusCode}: ${JSON.stringify(read)}`);
  }
  return { appId: body.app_id, authorization };
}

/** The baseline target: bench/baseline-server.ts's GET /bare. */
export const bareRoute = (baseline: ChildServer): Target => ({
  server: baseline,
  target: 'bare Fastify route (GET /bare)',
  storage: '-',
  request: () => ({ method: 'GET', path: '/bare' }),
});
