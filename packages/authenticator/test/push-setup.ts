import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { startTestServer, type DatabaseKind } from '../../server/test/harness.ts';
import { client, type Client } from '../../server/test/http.ts';
import { makeTempDir, runCli } from './run-cli.ts';

/** What a test of the CLI's push commands works with: the app's client, a fresh store directory and user per test. */
export interface PushTestBed {
  api: Client;
  home: string;
  userId: string;
}

/**
 * Registers, in the calling describe block, a server with an app (for the whole block), and a fresh store directory
 * and user id (for each test); read them through the answered object once the hooks have run.
 */
export function pushTestBed(kind: DatabaseKind, name: string): PushTestBed {
  const bed = {} as PushTestBed;
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let temp: { dir: string; remove: () => Promise<void> };
  let counter = 0;
  beforeAll(async () => {
    server = await startTestServer(kind);
    const app = await client(server.url).post('/v1/apps', { name: 'Bank', branding: { display_name: 'Example Bank' } });
    bed.api = client(server.url, { app: app.body });
  });
  afterAll(() => server?.stop());
  beforeEach(async () => {
    temp = await makeTempDir();
    bed.home = path.join(temp.dir, 'home');
    bed.userId = `cli-${name}-${kind}-${++counter}`;
  });
  afterEach(() => temp.remove());
  return bed;
}

/** `init` and `register` with the code the app made for `userId`; answers what register --json printed. */
export async function registerAuthenticator(api: Client, home: string, userId: string): Promise<{ device_id: string }> {
  expect((await runCli(['init', '--name', 'Test phone'], { home })).status).toBe(0);
  const { registration_uri: uri } = (await api.post(`/v1/users/${encodeURIComponent(userId)}/device-registrations`)).body;
  const registered = await runCli(['register', uri, '--json'], { home });
  expect([registered.status, registered.stderr]).toEqual([0, '']);
  return JSON.parse(registered.stdout);
}

/** Puts, before the others, a registration whose server is `server` (a copy of the first one's keys). */
export async function addRegistrationBefore(home: string, server: string, deviceId = 'dev_elsewhere'): Promise<void> {
  const file = path.join(home, 'store.json');
  const store = JSON.parse(await readFile(file, 'utf8'));
  store.registrations.unshift({ ...store.registrations[0], device_id: deviceId, server, app_name: 'Elsewhere' });
  await writeFile(file, JSON.stringify(store));
}
