import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { loadConfig, type Config } from '../src/config.ts';
import { startServer, type RunningServer, type StartOptions } from '../src/server.ts';

export type DatabaseKind = 'pglite' | 'postgres';

/**
 * The storage every storage test runs on: PGlite always, and PostgreSQL with Redis when
 * TESSERA_TEST_DATABASE_URL (and TESSERA_TEST_REDIS_URL) are set, as CI sets them.
 */
export function databaseKinds(): DatabaseKind[] {
  return process.env.TESSERA_TEST_DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];
}

export interface TestStorage {
  kind: DatabaseKind;
  dataDir: string;
  databaseUrl: string | null;
  redisUrl: string | null;
  drop(): Promise<void>;
}

/** A fresh, empty storage: a copy of the migrated PGlite template, or a new PostgreSQL database. */
export async function freshStorage(kind: DatabaseKind): Promise<TestStorage> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'tessera-test-'));
  if (kind === 'pglite') {
    const template = process.env.TESSERA_TEST_PGLITE_TEMPLATE;
    if (template) await cp(template, path.join(dataDir, 'pglite'), { recursive: true });
    return { kind, dataDir, databaseUrl: null, redisUrl: null, drop: () => rm(dataDir, { recursive: true, force: true }) };
  }
  const adminUrl = process.env.TESSERA_TEST_DATABASE_URL as string;
  const name = `tessera_test_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  await withClient(adminUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    kind,
    dataDir,
    databaseUrl: url.href,
    redisUrl: process.env.TESSERA_TEST_REDIS_URL ?? null,
    async drop() {
      await withClient(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export const testAdminToken = 'test-admin-token-0123456789abcdef0123456789';

export function testConfig(storage: TestStorage, env: Record<string, string> = {}): Config {
  return loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    TESSERA_DATA_DIR: storage.dataDir,
    TESSERA_ADMIN_TOKEN: testAdminToken,
    ...(storage.databaseUrl ? { DATABASE_URL: storage.databaseUrl } : {}),
    ...(storage.redisUrl ? { REDIS_URL: storage.redisUrl } : {}),
    LOG_LEVEL: process.env.TESSERA_TEST_LOG_LEVEL ?? 'silent',
    ...env,
  });
}

export interface TestServer extends RunningServer {
  storage: TestStorage;
}

/** Starts a real server (real HTTP, real database) on fresh storage; `stop` also drops the storage. */
export async function startTestServer(
  kind: DatabaseKind,
  options: StartOptions & { env?: Record<string, string>; storage?: TestStorage } = {},
): Promise<TestServer & { stop(): Promise<void> }> {
  const storage = options.storage ?? (await freshStorage(kind));
  const level = process.env.TESSERA_TEST_LOG_LEVEL ?? 'silent';
  const server = await startServer(testConfig(storage, options.env), { logger: pino({ level }), ...options });
  return {
    ...server,
    storage,
    async stop() {
      await server.close();
      if (!options.storage) await storage.drop();
    },
  };
}
