import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, type Client } from '../../../test/http.ts';
import { databaseKinds, startTestServer, withClient, type TestServer } from '../../../test/harness.ts';
import { pngDataUrl } from '../../../test/png.ts';

describe.each(databaseKinds())('apps on %s', (kind) => {
  let server: TestServer & { stop(): Promise<void> };
  let api: Client;

  beforeAll(async () => {
    server = await startTestServer(kind);
    api = client(server.url);
  });
  afterAll(() => server?.stop());

  const createApp = async (body: Record<string, unknown> = {}) => {
    const reply = await api.post('/v1/apps', { name: 'Shop', ...body });
    expect(reply.status).toBe(201);
    return reply.body;
  };

  it('creates an app and shows its secrets once', async () => {
    const created = await createApp({ issuer_name: 'Shop Inc', callback_url: 'http://127.0.0.1:9/hook' });
    expect(created.app_id).toMatch(/^app_[0-9a-z]{26}$/);
    expect(created.app_secret).toMatch(/^sk_[A-Za-z0-9_-]{43}$/);
    expect(created.webhook_secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(created.webhook_secret.slice(6), 'base64').length).toBeGreaterThanOrEqual(24);
    expect(created).toMatchObject({
      name: 'Shop',
      active: true,
      issuer_name: 'Shop Inc',
      callback_url: 'http://127.0.0.1:9/hook',
      challenge_default_message: null,
      branding: { display_name: null, logo: null },
      profile_scopes: [],
      allowed_origins: [],
      allowed_ips: [],
    });

    const read = await api.get(`/v1/apps/${created.app_id}`);
    expect(read.status).toBe(200);
    expect(read.body).not.toHaveProperty('app_secret');
    expect(read.body).not.toHaveProperty('webhook_secret');
    expect(read.body.app_id).toBe(created.app_id);

    const list = await api.get('/v1/apps?limit=100');
    expect(list.status).toBe(200);
    const listed = list.body.data.find((app: { app_id: string }) => app.app_id === created.app_id);
    expect(listed).toBeDefined();
    expect(listed).not.toHaveProperty('app_secret');
  });

  it('lets an app read itself with its credentials, and nothing else', async () => {
    const a = await createApp();
    const b = await createApp();
    const asA = { as: { app: a } };
    expect((await api.get(`/v1/apps/${a.app_id}`, asA)).status).toBe(200);
    const other = await api.get(`/v1/apps/${b.app_id}`, asA);
    expect(other.status).toBe(404);
    expect(other.body.error.code).toBe('not_found');
    expect((await api.get('/v1/apps', asA)).status).toBe(403);
    expect((await api.post('/v1/apps', { name: 'x' }, asA)).status).toBe(403);
  });

  it('refuses missing, malformed and wrong credentials with 401', async () => {
    const app = await createApp();
    const cases: Array<Record<string, string>> = [
      {},
      { authorization: 'Bearer wrong-token' },
      { authorization: 'Token abc' },
      { authorization: 'Basic !!!' },
      { authorization: `Basic ${Buffer.from(`${app.app_id}:sk_wrong`).toString('base64')}` },
      { authorization: `Basic ${Buffer.from(`app_unknown:${app.app_secret}`).toString('base64')}` },
    ];
    for (const headers of cases) {
      const reply = await api.get(`/v1/apps/${app.app_id}`, { as: null, headers });
      expect(reply.status, JSON.stringify(headers)).toBe(401);
      expect(reply.body.error.code).toBe('unauthorized');
      expect(reply.headers.get('www-authenticate')).toBeTruthy();
    }
  });

  it('rotates the secret: the old one stops working at once', async () => {
    const app = await createApp();
    // It takes no input: a body with fields is refused, and the secret stays.
    expect((await api.post(`/v1/apps/${app.app_id}/rotate-secret`, { foo: 1 })).status).toBe(400);
    expect((await api.get(`/v1/apps/${app.app_id}`, { as: { app } })).status).toBe(200);
    const rotated = await api.post(`/v1/apps/${app.app_id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.app_secret).toMatch(/^sk_/);
    expect(rotated.body.app_secret).not.toBe(app.app_secret);
    expect((await api.get(`/v1/apps/${app.app_id}`, { as: { app } })).status).toBe(401);
    const withNew = { app_id: app.app_id, app_secret: rotated.body.app_secret };
    expect((await api.get(`/v1/apps/${app.app_id}`, { as: { app: withNew } })).status).toBe(200);
  });

  it('answers 403 app_inactive to a deactivated app, and lets it back when reactivated', async () => {
    const app = await createApp();
    expect((await api.patch(`/v1/apps/${app.app_id}`, { active: false })).body.active).toBe(false);
    const refused = await api.get(`/v1/apps/${app.app_id}`, { as: { app } });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('app_inactive');
    await api.patch(`/v1/apps/${app.app_id}`, { active: true });
    expect((await api.get(`/v1/apps/${app.app_id}`, { as: { app } })).status).toBe(200);
  });

  it('enforces allowed_ips with addresses and CIDR ranges', async () => {
    const app = await createApp({ allowed_ips: ['10.0.0.0/8'] });
    const refused = await api.get(`/v1/apps/${app.app_id}`, { as: { app } });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('ip_not_allowed');
    await api.patch(`/v1/apps/${app.app_id}`, { allowed_ips: ['10.0.0.0/8', '127.0.0.0/30'] });
    expect((await api.get(`/v1/apps/${app.app_id}`, { as: { app } })).status).toBe(200);
    await api.patch(`/v1/apps/${app.app_id}`, { allowed_ips: ['::1', '127.0.0.1'] });
    expect((await api.get(`/v1/apps/${app.app_id}`, { as: { app } })).status).toBe(200);
    // The operator is not bound by an app's address list.
    await api.patch(`/v1/apps/${app.app_id}`, { allowed_ips: ['192.0.2.1'] });
    expect((await api.get(`/v1/apps/${app.app_id}`)).status).toBe(200);
  });

  it('updates with a merge patch: null unsets, objects merge, the rest stays', async () => {
    const app = await createApp({ callback_url: 'https://example.com/hook', branding: { display_name: 'Shop' } });
    const reply = await api.patch(
      `/v1/apps/${app.app_id}`,
      { callback_url: null, branding: { logo: pngDataUrl(180, 100) }, profile_scopes: ['email'] },
      { headers: { 'content-type': 'application/merge-patch+json' } },
    );
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({
      name: 'Shop',
      callback_url: null,
      branding: { display_name: 'Shop' },
      profile_scopes: ['email'],
    });
    expect(reply.body.branding.logo).toMatch(/^data:image\/png;base64,/);
    expect(Date.parse(reply.body.updated_at)).toBeGreaterThanOrEqual(Date.parse(app.updated_at));
  });

  it('updates with a JSON patch (RFC 6902)', async () => {
    const app = await createApp({ allowed_origins: ['https://a.example'] });
    const reply = await api.patch(
      `/v1/apps/${app.app_id}`,
      [
        { op: 'test', path: '/name', value: 'Shop' },
        { op: 'replace', path: '/name', value: 'Shop 2' },
        { op: 'add', path: '/allowed_origins/-', value: 'https://b.example' },
        { op: 'add', path: '/branding/display_name', value: 'The Shop' },
        { op: 'copy', from: '/branding/display_name', path: '/issuer_name' },
      ],
      { headers: { 'content-type': 'application/json-patch+json' } },
    );
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({
      name: 'Shop 2',
      issuer_name: 'The Shop',
      allowed_origins: ['https://a.example', 'https://b.example'],
      branding: { display_name: 'The Shop' },
    });
    const failedTest = await api.patch(`/v1/apps/${app.app_id}`, [{ op: 'test', path: '/name', value: 'nope' }], {
      headers: { 'content-type': 'application/json-patch+json' },
    });
    expect(failedTest.status).toBe(409);
    expect(failedTest.body.error.code).toBe('patch_test_failed');
    // Media types ignore case (RFC 9110 §8.3.1).
    const shouted = await api.patch(`/v1/apps/${app.app_id}`, [{ op: 'replace', path: '/name', value: 'Shop 3' }], {
      headers: { 'content-type': 'Application/JSON-Patch+JSON' },
    });
    expect([shouted.status, shouted.body.name]).toEqual([200, 'Shop 3']);
  });

  it('deletes an app; its credentials stop working', async () => {
    const app = await createApp();
    expect((await api.delete(`/v1/apps/${app.app_id}`)).status).toBe(204);
    expect((await api.get(`/v1/apps/${app.app_id}`)).status).toBe(404);
    expect((await api.get(`/v1/apps/${app.app_id}`, { as: { app } })).status).toBe(401);
    expect((await api.delete(`/v1/apps/${app.app_id}`)).status).toBe(404);
  });

  it('pages through the list with starting_after', async () => {
    for (let i = 0; i < 3; i++) await createApp({ name: `Paged ${i}` });
    const first = await api.get('/v1/apps?limit=2');
    expect(first.body.data).toHaveLength(2);
    expect(first.body.has_more).toBe(true);
    const next = await api.get(`/v1/apps?limit=2&starting_after=${first.body.data[1].app_id}`);
    expect(next.body.data[0].app_id > first.body.data[1].app_id).toBe(true);
  });

  it('replays a creating call with the same Idempotency-Key instead of creating twice', async () => {
    const headers = { 'idempotency-key': `create-${Math.random()}` };
    const [first, second] = await Promise.all([
      api.post('/v1/apps', { name: 'Once' }, { headers }),
      api.post('/v1/apps', { name: 'Once' }, { headers }),
    ]);
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(second.body.app_id).toBe(first.body.app_id);
    expect(second.body.app_secret).toBe(first.body.app_secret);
    expect([first.headers.get('idempotent-replayed'), second.headers.get('idempotent-replayed')]).toContain('true');
    const reused = await api.post('/v1/apps', { name: 'Other' }, { headers });
    expect(reused.status).toBe(422);
    expect(reused.body.error.code).toBe('idempotency_key_reused');
  });

  it('stores no app secret or webhook secret in plaintext', async () => {
    const app = await createApp({ name: 'Dump me' });
    const dump = await databaseDump(server);
    expect(dump).toContain(app.app_id);
    expect(dump).not.toContain(app.app_secret);
    expect(dump).not.toContain(app.app_secret.slice(3));
    expect(dump).not.toContain(app.webhook_secret);
    expect(dump).not.toContain(app.webhook_secret.slice(6));
    expect(dump).not.toContain(Buffer.from(app.webhook_secret.slice(6), 'base64').toString('hex'));
  });
});

/** Every row of every table, as text: what an attacker with a copy of the database would see. */
async function databaseDump(server: TestServer): Promise<string> {
  const tables = await server.db.query<{ tablename: string }>(
    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
  );
  const parts: string[] = [];
  for (const { tablename } of tables) {
    const rows = await server.db.query(`SELECT * FROM ${tablename}`);
    parts.push(
      JSON.stringify(rows, (_key, value) =>
        value instanceof Uint8Array || Buffer.isBuffer(value) ? Buffer.from(value).toString('hex') : value,
      ),
    );
  }
  if (server.storage.databaseUrl) {
    await withClient(server.storage.databaseUrl, async () => {});
  }
  return parts.join('\n');
}
