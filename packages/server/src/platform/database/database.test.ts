import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds, freshStorage, startTestServer, withClient, type TestStorage } from '../../../test/harness.ts';
import { client } from '../../../test/http.ts';
import { TcpProxy } from '../../../test/tcp-proxy.ts';
import type { Database } from './database.ts';
import { migrate } from './migrations.ts';
import { openDatabase } from './open-database.ts';

describe.each(databaseKinds())('database on %s', (kind) => {
  let storage: TestStorage;
  let db: Database;

  beforeAll(async () => {
    storage = await freshStorage(kind);
    db = await openDatabase({ databaseUrl: storage.databaseUrl, dataDir: storage.dataDir }, pino({ level: 'silent' }));
    await migrate(db);
    await db.exec('CREATE TABLE t (id int PRIMARY KEY, v text)');
  });
  afterAll(async () => {
    await db?.close();
    await storage?.drop();
  });

  it('applies migrations once: a second run finds nothing to do', async () => {
    expect(await migrate(db)).toEqual([]);
  });

  it('rolls back the whole transaction when any statement fails: no partial write', async () => {
    await expect(
      db.transaction(async () => {
        await db.query('INSERT INTO t VALUES (1, $1)', ['first']);
        await db.query('INSERT INTO t VALUES (1, $1)', ['duplicate']);
      }),
    ).rejects.toThrow();
    expect(await db.query('SELECT * FROM t WHERE id = 1')).toEqual([]);
  });

  it('runs nested transactions as one, and after-commit tasks only after a commit', async () => {
    const ran: string[] = [];
    await db.transaction(async () => {
      await db.query('INSERT INTO t VALUES (2, $1)', ['outer']);
      db.afterCommit(() => ran.push('outer'));
      await db.transaction(async () => {
        await db.query('INSERT INTO t VALUES (3, $1)', ['inner']);
        db.afterCommit(() => ran.push('inner'));
      });
      expect(ran).toEqual([]);
    });
    expect(ran).toEqual(['outer', 'inner']);

    await expect(
      db.transaction(async () => {
        await db.query('INSERT INTO t VALUES (4, $1)', ['lost']);
        db.afterCommit(() => ran.push('rolled back'));
        await db.transaction(async () => {
          throw new Error('inner failure');
        });
      }),
    ).rejects.toThrow('inner failure');
    expect(ran).toEqual(['outer', 'inner']);
    expect(await db.query('SELECT id FROM t WHERE id IN (3, 4) ORDER BY id')).toEqual([{ id: 3 }]);
  });

  it('isolates concurrent transactions', async () => {
    await db.query('INSERT INTO t VALUES (10, $1)', ['0']);
    await Promise.all(
      Array.from({ length: 20 }, () =>
        db.transaction(async () => {
          const [row] = await db.query<{ v: string }>('SELECT v FROM t WHERE id = 10 FOR UPDATE');
          await db.query('UPDATE t SET v = $1 WHERE id = 10', [String(Number(row!.v) + 1)]);
        }),
      ),
    );
    expect(await db.query('SELECT v FROM t WHERE id = 10')).toEqual([{ v: '20' }]);
  });

  // PGlite runs one transaction at a time: there, the second would wait for the first.
  it.runIf(kind === 'postgres')("keeps a transaction's statements in it when a transaction beside it ends first, and again after all have ended", async () => {
    // The transaction scope is switched off whenever no transaction is open (database.ts): one that ends must not
    // take the scope from one still open.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const longer = db.transaction(async () => {
      await db.query('INSERT INTO t VALUES (20, $1)', ['before']);
      await gate;
      await db.query('INSERT INTO t VALUES (21, $1)', ['after the other ended']);
      throw new Error('roll back');
    });
    await db.transaction(() => db.query('INSERT INTO t VALUES (22, $1)', ['beside']));
    release();
    await expect(longer).rejects.toThrow('roll back');
    await expect(
      db.transaction(async () => {
        await db.query('INSERT INTO t VALUES (23, $1)', ['later']);
        throw new Error('roll back too');
      }),
    ).rejects.toThrow('roll back too');
    expect(await db.query('SELECT id FROM t WHERE id BETWEEN 20 AND 23 ORDER BY id')).toEqual([{ id: 22 }]);
  });
});

describe("the embedded database's files", () => {
  it('belong to one process: a second server on the same data directory is refused until the first stops', async () => {
    const storage = await freshStorage('pglite');
    try {
      const first = await startTestServer('pglite', { storage });
      const second = startTestServer('pglite', { storage });
      await expect(second).rejects.toThrow(/is in use by another process \(pid \d+\)/);
      const api = client(first.url);
      expect((await api.post('/v1/apps', { name: 'Still served' })).status).toBe(201);
      await first.stop();
      const after = await startTestServer('pglite', { storage });
      expect((await client(after.url).get('/v1/apps')).body.data.map((app: { name: string }) => app.name)).toEqual(['Still served']);
      await after.stop();
    } finally {
      await storage.drop();
    }
  });

  it('are taken over from a process that ended without letting go of them (a crash)', async () => {
    const storage = await freshStorage('pglite');
    try {
      const gone = spawnSync(process.execPath, ['-e', '']).pid;
      await writeFile(path.join(storage.dataDir, 'pglite.lock'), `${gone}\n`);
      const server = await startTestServer('pglite', { storage });
      expect((await client(server.url).get('/healthz')).status).toBe(200);
      await server.stop();
    } finally {
      await storage.drop();
    }
  });
});

describe.runIf(process.env.TESSERA_TEST_DATABASE_URL)('losing the PostgreSQL connection', () => {
  let storage: TestStorage;
  let proxy: TcpProxy;
  let server: Awaited<ReturnType<typeof startTestServer>>;

  beforeAll(async () => {
    storage = await freshStorage('postgres');
    const url = new URL(storage.databaseUrl!);
    proxy = await new TcpProxy(url.hostname, Number(url.port || 5432)).start();
    url.host = `127.0.0.1:${proxy.port}`;
    server = await startTestServer('postgres', { storage: { ...storage, databaseUrl: url.href } });
  });
  afterAll(async () => {
    await server?.stop();
    await proxy?.stop();
    await storage?.drop();
  });

  it('answers 503 with Retry-After while the database is away, changes nothing, and recovers by itself within 3 s', async () => {
    const api = client(server.url);
    const app = (await api.post('/v1/apps', { name: 'Before' })).body;
    expect(app.app_id).toBeDefined();

    proxy.cut();
    const during = await api.patch(`/v1/apps/${app.app_id}`, { name: 'During' });
    expect(during.status).toBe(503);
    expect(during.body.error.code).toBe('service_unavailable');
    expect(Number(during.headers.get('retry-after'))).toBeGreaterThan(0);
    const created = await api.post('/v1/apps', { name: 'During' });
    expect(created.status).toBe(503);
    expect((await api.get('/readyz')).status).toBe(503);

    proxy.restore();
    const restoredAt = Date.now();
    let reply = await api.patch(`/v1/apps/${app.app_id}`, { name: 'After' });
    while (reply.status === 503 && Date.now() - restoredAt < 3_000) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      reply = await api.patch(`/v1/apps/${app.app_id}`, { name: 'After' });
    }
    expect(reply.status).toBe(200);
    expect(Date.now() - restoredAt).toBeLessThan(3_000);
    const names = (await api.get('/v1/apps?limit=100')).body.data.map((a: { name: string }) => a.name);
    expect(names).toEqual(['After']);
  });

  it('keeps serving when PostgreSQL ends its connections in the middle of concurrent transactions', async () => {
    const api = client(server.url);
    const statuses = new Map<number, number>();
    let running = true;
    const loop = async (n: number) => {
      for (let i = 0; running; i++) {
        const reply = await api.post('/v1/apps', { name: `Busy ${n}-${i}` });
        statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
      }
    };
    const loops = Array.from({ length: 12 }, (_, n) => loop(n));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const ended = await withClient(process.env.TESSERA_TEST_DATABASE_URL!, async (admin) => {
      const { rows } = await admin.query('SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = $1', [
        new URL(storage.databaseUrl!).pathname.slice(1),
      ]);
      return rows[0].n as number;
    });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    running = false;
    await Promise.all(loops);
    expect(ended).toBeGreaterThan(0);
    expect([...statuses.keys()].filter((status) => status !== 201 && status !== 503)).toEqual([]);
    expect((await api.post('/v1/apps', { name: 'After the cut' })).status).toBe(201);
  });
});
