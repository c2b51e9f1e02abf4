import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds, startTestServer } from '../../../test/harness.ts';
import { client, type Client } from '../../../test/http.ts';
import { pngDataUrl } from '../../../test/png.ts';

/** Every refusal must be a documented 4xx and must leave the app exactly as it was. */
describe.each(databaseKinds())('bad input to the apps API on %s', (kind) => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let api: Client;
  let app: { app_id: string; app_secret: string; updated_at: string };
  let before: unknown;

  beforeAll(async () => {
    server = await startTestServer(kind);
    api = client(server.url);
    app = (await api.post('/v1/apps', { name: 'Target', allowed_origins: ['https://a.example'] })).body;
    before = (await api.get(`/v1/apps/${app.app_id}`)).body;
  });
  afterAll(() => server?.stop());

  const unchanged = async () => expect((await api.get(`/v1/apps/${app.app_id}`)).body).toEqual(before);
  const appCount = async () => (await api.get('/v1/apps?limit=100')).body.data.length;

  const invalidCreates: Array<[string, unknown, string]> = [
    ['missing name', {}, 'name'],
    ['empty name', { name: '' }, 'name'],
    ['name over 100 characters', { name: 'x'.repeat(101) }, 'name'],
    ['name of the wrong type', { name: 42 }, 'name'],
    ['unknown field', { name: 'A', colour: 'red' }, 'colour'],
    ['unknown nested field', { name: 'A', branding: { font: 'Arial' } }, 'branding.font'],
    ['active as a string', { name: 'A', active: 'true' }, 'active'],
    ['ftp callback', { name: 'A', callback_url: 'ftp://example.com/hook' }, 'callback_url'],
    ['callback that is no URL', { name: 'A', callback_url: 'not a url' }, 'callback_url'],
    ['origin with a path', { name: 'A', allowed_origins: ['https://a.example/path'] }, 'allowed_origins.0'],
    ['origin that is a host', { name: 'A', allowed_origins: ['a.example'] }, 'allowed_origins.0'],
    ['bad address', { name: 'A', allowed_ips: ['10.0.0.300'] }, 'allowed_ips.0'],
    ['bad CIDR prefix', { name: 'A', allowed_ips: ['10.0.0.0/33'] }, 'allowed_ips.0'],
    ['unknown profile scope', { name: 'A', profile_scopes: ['phone'] }, 'profile_scopes.0'],
    ['issuer with a colon', { name: 'A', issuer_name: 'a:b' }, 'issuer_name'],
    ['name on two lines', { name: 'A\nB' }, 'name'],
    ['display name with a terminal escape', { name: 'A', branding: { display_name: 'Shop\u001b[2K\r' } }, 'branding.display_name'],
    ['issuer with a C1 control character', { name: 'A', issuer_name: 'Shop\u009b' }, 'issuer_name'],
    ['logo that is a JPEG URL', { name: 'A', branding: { logo: 'data:image/jpeg;base64,AAAA' } }, 'branding.logo'],
    ['logo that is not a PNG', { name: 'A', branding: { logo: 'data:image/png;base64,aGVsbG8gd29ybGQgaGVsbG8gd29ybGQ=' } }, 'branding.logo'],
    ['logo too wide', { name: 'A', branding: { logo: pngDataUrl(181, 50) } }, 'branding.logo'],
    ['logo too tall', { name: 'A', branding: { logo: pngDataUrl(50, 101) } }, 'branding.logo'],
    ['a JSON array', [], '(body)'],
  ];

  it.each(invalidCreates)('refuses a create with %s (400 naming the field), creating nothing', async (_case, body, field) => {
    const count = await appCount();
    const reply = await api.post('/v1/apps', body);
    expect(reply.status).toBe(400);
    expect(reply.body.error.code).toBe('validation_failed');
    expect(reply.body.error.details.field).toBe(field);
    expect(reply.body.error.message).toContain(field);
    expect(await appCount()).toBe(count);
  });

  it('refuses a truncated PNG logo (the image is decoded, not only its header)', async () => {
    const full = Buffer.from(pngDataUrl(100, 50).split(',')[1]!, 'base64');
    const truncated = `data:image/png;base64,${full.subarray(0, full.length - 20).toString('base64')}`;
    const reply = await api.post('/v1/apps', { name: 'A', branding: { logo: truncated } });
    expect(reply.status).toBe(400);
    expect(reply.body.error.details.field).toBe('branding.logo');
  });

  it('refuses malformed JSON, an empty body and a wrong content type', async () => {
    const malformed = await api.call('POST', '/v1/apps', { raw: '{"name": ', headers: { 'content-type': 'application/json' } });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe('invalid_json');
    const empty = await api.call('POST', '/v1/apps', { raw: '', headers: { 'content-type': 'application/json' } });
    expect(empty.status).toBe(400);
    const text = await api.call('POST', '/v1/apps', { raw: 'name=A', headers: { 'content-type': 'text/plain' } });
    expect(text.status).toBe(415);
    expect(text.body.error.code).toBe('unsupported_media_type');
    const form = await api.call('PATCH', `/v1/apps/${app.app_id}`, {
      raw: 'name=A',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(form.status).toBe(415);
    await unchanged();
  });

  it('refuses a body over 1 MB with 413', async () => {
    const reply = await api.post('/v1/apps', { name: 'A', challenge_default_message: 'x'.repeat(1_100_000) });
    expect(reply.status).toBe(413);
    expect(reply.body.error.code).toBe('payload_too_large');
  });

  it('refuses prototype pollution in a patch', async () => {
    const reply = await api.call('PATCH', `/v1/apps/${app.app_id}`, {
      raw: '{"__proto__": {"active": false}}',
      headers: { 'content-type': 'application/merge-patch+json' },
    });
    expect(reply.status).toBe(400);
    // Valid JSON, refused for its key: the error says so rather than "not valid JSON".
    expect([reply.body.error.code, reply.body.error.details?.reason]).toEqual(['validation_failed', expect.stringContaining('__proto__')]);
    await unchanged();
  });

  const invalidMergePatches: Array<[string, unknown, string]> = [
    ['removing the name', { name: null }, 'name'],
    ['removing active', { active: null }, 'active'],
    ['an unknown field', { colour: 'red' }, 'colour'],
    ['a secret', { app_secret: 'sk_mine' }, 'app_secret'],
    ['the id', { app_id: 'app_other' }, 'app_id'],
    ['a wrong type', { profile_scopes: 'email' }, 'profile_scopes'],
    ['a bad origin', { allowed_origins: ['https://a.example', 'nope'] }, 'allowed_origins.1'],
    ['a big logo', { branding: { logo: pngDataUrl(200, 100) } }, 'branding.logo'],
  ];

  it.each(invalidMergePatches)('refuses a merge patch with %s, changing nothing', async (_case, patch, field) => {
    const reply = await api.patch(`/v1/apps/${app.app_id}`, patch, {
      headers: { 'content-type': 'application/merge-patch+json' },
    });
    expect(reply.status).toBe(400);
    expect(reply.body.error.details.field).toBe(field);
    await unchanged();
  });

  const invalidJsonPatches: Array<[string, unknown, number, string]> = [
    ['a path that does not exist', [{ op: 'replace', path: '/nothing/here', value: 1 }], 400, 'invalid_patch'],
    ['an unknown op', [{ op: 'merge', path: '/name', value: 'x' }], 400, 'validation_failed'],
    ['a missing value', [{ op: 'replace', path: '/name' }], 400, 'invalid_patch'],
    ['not an array', { op: 'replace', path: '/name', value: 'x' }, 400, 'validation_failed'],
    ['a valid op then an invalid result', [{ op: 'replace', path: '/name', value: 'ok' }, { op: 'add', path: '/app_secret', value: 'x' }], 400, 'validation_failed'],
    ['a failed test', [{ op: 'replace', path: '/name', value: 'ok' }, { op: 'test', path: '/active', value: false }], 409, 'patch_test_failed'],
    ['removing the name', [{ op: 'remove', path: '/name' }], 400, 'validation_failed'],
  ];

  it.each(invalidJsonPatches)('refuses a JSON patch with %s, applying none of it', async (_case, patch, status, code) => {
    const reply = await api.patch(`/v1/apps/${app.app_id}`, patch, {
      headers: { 'content-type': 'application/json-patch+json' },
    });
    expect(reply.status).toBe(status);
    expect(reply.body.error.code).toBe(code);
    await unchanged();
  });

  it('refuses text with a NUL character or an unpaired surrogate, naming the field (400, never a 5xx)', async () => {
    const count = await appCount();
    const reply = await api.post('/v1/apps', { name: 'a\u0000b' });
    expect(reply.status).toBe(400);
    expect(reply.body.error.code).toBe('validation_failed');
    for (const [body, field] of [
      [{ name: 's', branding: { display_name: '\ud800' } }, 'branding.display_name'],
      [{ name: 'x\udfff' }, 'name'],
    ] as const) {
      const refused = await api.post('/v1/apps', body);
      expect([refused.status, refused.body.error.details?.field], field).toEqual([400, field]);
    }
    expect((await api.get('/v1/apps?starting_after=%00')).status).toBe(400);
    expect(await appCount()).toBe(count);
  });

  it('refuses JSON nested deeper than 32 levels (400, never a 5xx)', async () => {
    const deep = `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`;
    const created = await api.call('POST', '/v1/apps', { raw: `{"name":"A","branding":${deep}}`, headers: { 'content-type': 'application/json' } });
    expect(created.status).toBe(400);
    const patched = await api.call('PATCH', `/v1/apps/${app.app_id}`, {
      raw: `{"zzz":${deep}}`,
      headers: { 'content-type': 'application/merge-patch+json' },
    });
    expect(patched.status).toBe(400);
    await unchanged();
  });

  it('refuses a JSON patch that reaches for __proto__ (400), polluting nothing', async () => {
    const reply = await api.patch(`/v1/apps/${app.app_id}`, [{ op: 'add', path: '/__proto__/polluted', value: 1 }], {
      headers: { 'content-type': 'application/json-patch+json' },
    });
    expect(reply.status).toBe(400);
    expect(reply.body.error.code).toBe('invalid_patch');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    await unchanged();
  });

  it('refuses an interlaced PNG logo', async () => {
    const png = Buffer.from(pngDataUrl(20, 20).split(',')[1]!, 'base64');
    png[28] = 1;
    const reply = await api.post('/v1/apps', { name: 'A', branding: { logo: `data:image/png;base64,${png.toString('base64')}` } });
    expect(reply.status).toBe(400);
    expect(reply.body.error.details.field).toBe('branding.logo');
  });

  it('answers 404 for ids that do not exist, on every route', async () => {
    const missing = 'app_00000000000000000000000000';
    const replies = await Promise.all([
      api.get(`/v1/apps/${missing}`),
      api.patch(`/v1/apps/${missing}`, { name: 'x' }),
      api.delete(`/v1/apps/${missing}`),
      api.post(`/v1/apps/${missing}/rotate-secret`),
      api.post('/v1/webhook-deliveries/msg_00000000000000000000000000/retry'),
    ]);
    for (const reply of replies) {
      expect(reply.status).toBe(404);
      expect(reply.body.error.code).toBe('not_found');
    }
    const route = await api.get('/v1/nothing');
    expect(route.status).toBe(404);
    expect(route.body.error.code).toBe('route_not_found');
  });

  it('answers guessed app ids without a query each: 20 tries of one unknown id cost one, a malformed id none', async () => {
    const queried: string[] = [];
    const query = server.db.query;
    server.db.query = function (this: typeof server.db, sql: string, params?: readonly unknown[]) {
      queried.push(sql);
      return query.call(this, sql, params);
    } as typeof query;
    try {
      for (const appId of ['app_zzzzzzzzzzzzzzzzzzzzzzzzzz', 'not-an-app-id']) {
        for (let i = 0; i < 20; i++) {
          const reply = await client(server.url, { app: { app_id: appId, app_secret: 'sk_guess' } }).get(`/v1/apps/${app.app_id}`);
          expect(reply.status).toBe(401);
        }
      }
    } finally {
      server.db.query = query;
    }
    expect(queried.filter((sql) => /\bFROM apps\b/.test(sql))).toHaveLength(1);
    expect((await client(server.url, { app }).get(`/v1/apps/${app.app_id}`)).status).toBe(200);
  });

  it('answers 400 for bad list parameters', async () => {
    for (const query of ['limit=0', 'limit=101', 'limit=ten', 'color=red']) {
      const reply = await api.get(`/v1/apps?${query}`);
      expect(reply.status, query).toBe(400);
      expect(reply.body.error.code).toBe('validation_failed');
    }
  });

  it('refuses a malformed Idempotency-Key', async () => {
    const reply = await api.post('/v1/apps', { name: 'A' }, { headers: { 'idempotency-key': 'x'.repeat(256) } });
    expect(reply.status).toBe(400);
    expect(reply.body.error.details.field).toBe('Idempotency-Key');
  });

  it('never leaks a stack trace', async () => {
    const reply = await api.call('POST', '/v1/apps', { raw: '{"name":', headers: { 'content-type': 'application/json' } });
    expect(JSON.stringify(reply.body)).not.toMatch(/at .*\.(ts|js):\d+/);
    expect(Object.keys(reply.body)).toEqual(['error']);
  });
});
