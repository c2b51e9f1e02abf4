import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client } from './http.ts';
import { freePort, runServerProcess, waitUntilHealthy } from './process.ts';

/** `npm start` as an operator meets it: a real process on the embedded database in a data directory. */
describe('starting the server', () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'tessera-start-'));
  });
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  it('prints the URL, the docs and, on first start only, the admin token; keeps data across restarts and kill -9', async () => {
    const port = await freePort();
    const env = { PORT: String(port), TESSERA_DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
    const baseUrl = `http://localhost:${port}`;

    const first = runServerProcess(env);
    await waitUntilHealthy(baseUrl, first);
    await expect.poll(first.stdout).toContain('Admin token');
    const out = first.stdout();
    expect(out).toContain(`Tessera is running at ${baseUrl}`);
    expect(out).toContain(`${baseUrl}/docs`);
    const token = /^\s+(adm_[A-Za-z0-9_-]{43})$/m.exec(out)?.[1];
    expect(token).toBeDefined();
    expect((await readFile(path.join(dataDir, 'admin-token'), 'utf8')).trim()).toBe(token);
    expect((await stat(path.join(dataDir, 'admin-token'))).mode & 0o777).toBe(0o600);
    expect((await stat(path.join(dataDir, 'master.key'))).mode & 0o777).toBe(0o600);

    const api = client(baseUrl, { admin: token! });
    const created = await api.post('/v1/apps', { name: 'Survivor' });
    expect(created.status).toBe(201);
    // An acknowledged write survives a crash.
    first.child.kill('SIGKILL');
    await first.exited;

    const second = runServerProcess(env);
    await waitUntilHealthy(baseUrl, second);
    expect((await api.get(`/v1/apps/${created.body.app_id}`)).body.name).toBe('Survivor');
    const auth = await api.get(`/v1/apps/${created.body.app_id}`, { as: { app: created.body } });
    expect(auth.status).toBe(200);
    expect(second.stdout()).not.toContain('Admin token');
    expect(second.stdout()).not.toContain(token);

    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 90_000);

  it('refuses to start in one line naming the setting when the data directory or the port is taken, the master key is wrong or the database is unreachable', async () => {
    const port = await freePort();
    const env = { PORT: String(port), TESSERA_DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
    const first = runServerProcess(env);
    await waitUntilHealthy(`http://localhost:${port}`, first);
    const sameDir = runServerProcess({ ...env, PORT: String(await freePort()) });
    const otherDir = await mkdtemp(path.join(tmpdir(), 'tessera-start-other-'));
    const samePort = runServerProcess({ ...env, TESSERA_DATA_DIR: otherDir });
    expect(await sameDir.exited).toBe(1);
    expect(sameDir.stderr()).toMatch(/^Tessera cannot start: the embedded database \S+ is in use by another process \(pid \d+\): .*TESSERA_DATA_DIR/);
    expect(await samePort.exited).toBe(1);
    expect(samePort.stderr()).toBe(`Tessera cannot start: PORT ${port} is already in use on HOST 0.0.0.0\n`);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);

    const wrongKey = runServerProcess({ ...env, TESSERA_MASTER_KEY: randomBytes(32).toString('base64') });
    expect(await wrongKey.exited).toBe(1);
    expect(wrongKey.stderr()).toMatch(/^Tessera cannot start: master key \w+ is not configured: .*set TESSERA_MASTER_KEY/);
    const noDatabase = runServerProcess({ ...env, TESSERA_DATA_DIR: otherDir, DATABASE_URL: 'postgres://tessera:hunter2@127.0.0.1:1/tessera' });
    expect(await noDatabase.exited).toBe(1);
    expect(noDatabase.stderr()).toMatch(/^Tessera cannot start: cannot use the database of DATABASE_URL \(postgres:\/\/tessera:\*\*\*@127\.0\.0\.1:1\/tessera\): /);
    for (const run of [sameDir, samePort, wrongKey, noDatabase]) {
      expect(run.stderr().trim().split('\n')).toHaveLength(1);
      expect(run.stderr()).not.toContain('hunter2');
    }
    await rm(otherDir, { recursive: true, force: true });
  }, 90_000);

  it('refuses to start with a bad configuration, saying which variable is wrong', async () => {
    const run = runServerProcess({ PORT: 'eighty', TESSERA_DATA_DIR: dataDir });
    expect(await run.exited).toBe(1);
    expect(run.stderr()).toContain('PORT must be an integer');
  });
});
