import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds, startTestServer, testAdminToken, type TestServer } from '../../server/test/harness.ts';
import { failure } from '../test/failures.ts';
import { Tessera, TesseraAdmin } from './index.ts';

describe.each(databaseKinds())('TesseraAdmin against a real server on %s', (kind) => {
  let server: TestServer & { stop(): Promise<void> };
  let admin: TesseraAdmin;

  beforeAll(async () => {
    server = await startTestServer(kind);
    admin = new TesseraAdmin({ baseUrl: server.url, adminToken: testAdminToken });
  });
  afterAll(() => server?.stop());

  it('creates an app, with its secrets shown once, and reads it back without them', async () => {
    const created = await admin.apps.create({
      name: 'Shop',
      issuer_name: 'Shop Inc',
      branding: { display_name: 'The Shop' },
      profile_scopes: ['email'],
    });
    expect(created.app_id).toMatch(/^app_/);
    expect(created.app_secret).toMatch(/^sk_/);
    expect(created.webhook_secret).toMatch(/^whsec_/);
    expect(created).toMatchObject({
      name: 'Shop',
      active: true,
      issuer_name: 'Shop Inc',
      branding: { display_name: 'The Shop', logo: null },
      profile_scopes: ['email'],
    });

    const read = await admin.apps.retrieve(created.app_id);
    const { app_secret: _secret, webhook_secret: _webhookSecret, ...app } = created;
    expect(read).toEqual(app);
  });

  it('lists apps page by page', async () => {
    const names = ['Paged A', 'Paged B', 'Paged C'];
    for (const name of names) await admin.apps.create({ name });
    const first = await admin.apps.list({ limit: 2 });
    expect(first.data).toHaveLength(2);
    expect(first.has_more).toBe(true);
    expect(first.data[0]).not.toHaveProperty('app_secret');
    const next = await admin.apps.list({ limit: 100, startingAfter: first.data[1]!.app_id });
    expect(next.has_more).toBe(false);
    const seen = [...first.data, ...next.data].map((app) => app.app_id);
    expect(new Set(seen).size).toBe(seen.length);
    const all = await admin.apps.list({ limit: 100 });
    expect(all.data.map((app) => app.app_id)).toEqual(seen);
  });

  it('updates with a merge patch: null unsets, branding merges, the rest stays', async () => {
    const app = await admin.apps.create({
      name: 'Merge',
      callback_url: 'https://example.com/hook',
      branding: { display_name: 'Merge Co' },
      allowed_origins: ['https://a.example'],
    });
    const updated = await admin.apps.update(app.app_id, {
      callback_url: null,
      allowed_origins: null,
      branding: { logo: null },
      challenge_default_message: 'Sign in to Merge?',
    });
    expect(updated).toMatchObject({
      name: 'Merge',
      callback_url: null,
      allowed_origins: [],
      branding: { display_name: 'Merge Co', logo: null },
      challenge_default_message: 'Sign in to Merge?',
    });
    expect(await admin.apps.retrieve(app.app_id)).toEqual(updated);
  });

  it('updates with a JSON patch, all or nothing', async () => {
    const app = await admin.apps.create({ name: 'Json', allowed_origins: ['https://a.example'] });
    const patched = await admin.apps.patch(app.app_id, [
      { op: 'test', path: '/name', value: 'Json' },
      { op: 'replace', path: '/name', value: 'Json 2' },
      { op: 'add', path: '/allowed_origins/-', value: 'https://b.example' },
      { op: 'copy', from: '/name', path: '/issuer_name' },
    ]);
    expect(patched).toMatchObject({
      name: 'Json 2',
      issuer_name: 'Json 2',
      allowed_origins: ['https://a.example', 'https://b.example'],
    });

    const error = await failure(
      admin.apps.patch(app.app_id, [
        { op: 'replace', path: '/name', value: 'Never' },
        { op: 'test', path: '/active', value: false },
      ]),
    );
    expect(error).toMatchObject({ code: 'patch_test_failed', status: 409 });
    expect((await admin.apps.retrieve(app.app_id)).name).toBe('Json 2');
  });

  it('rotates the secret: the app client with the old one gets 401, with the new one its app', async () => {
    const app = await admin.apps.create({ name: 'Rotate' });
    const client = (appSecret: string) => new Tessera({ baseUrl: server.url, appId: app.app_id, appSecret });
    expect((await client(app.app_secret).apps.retrieve()).app_id).toBe(app.app_id);

    const rotated = await admin.apps.rotateSecret(app.app_id);
    expect(rotated.app_secret).toMatch(/^sk_/);
    expect(rotated.app_secret).not.toBe(app.app_secret);
    expect(await failure(client(app.app_secret).apps.retrieve())).toMatchObject({ code: 'unauthorized', status: 401 });
    expect((await client(rotated.app_secret).apps.retrieve()).app_id).toBe(app.app_id);
  });

  it('rotates once per Idempotency-Key: a repeat gets the same secret', async () => {
    const app = await admin.apps.create({ name: 'Rotate once' });
    const key = `rotate-${app.app_id}`;
    const first = await admin.apps.rotateSecret(app.app_id, { idempotencyKey: key });
    const again = await admin.apps.rotateSecret(app.app_id, { idempotencyKey: key });
    expect(again).toEqual(first);
    const client = new Tessera({ baseUrl: server.url, appId: app.app_id, appSecret: first.app_secret });
    expect((await client.apps.retrieve()).app_id).toBe(app.app_id);
  });

  it('deletes an app: it is gone, and a second delete is a 404', async () => {
    const app = await admin.apps.create({ name: 'Delete me' });
    await expect(admin.apps.delete(app.app_id)).resolves.toBeUndefined();
    expect(await failure(admin.apps.retrieve(app.app_id))).toMatchObject({ code: 'not_found', status: 404 });
    expect(await failure(admin.apps.delete(app.app_id))).toMatchObject({ code: 'not_found', status: 404 });
  });

  it('creates once per Idempotency-Key, and refuses the key for another body', async () => {
    const idempotencyKey = `create-${kind}-${Date.now()}`;
    const first = await admin.apps.create({ name: 'Once' }, { idempotencyKey });
    const again = await admin.apps.create({ name: 'Once' }, { idempotencyKey });
    expect(again).toEqual(first);
    const named = (await admin.apps.list({ limit: 100 })).data.filter((app) => app.name === 'Once');
    expect(named).toHaveLength(1);

    const reused = await failure(admin.apps.create({ name: 'Other' }, { idempotencyKey }));
    expect(reused).toMatchObject({ code: 'idempotency_key_reused', status: 422 });
  });

  it('gives the server error code, status and field of a validation error', async () => {
    const empty = await failure(admin.apps.create({ name: '' }));
    expect(empty).toMatchObject({ code: 'validation_failed', status: 400 });
    expect(empty.details).toMatchObject({ field: 'name' });
    expect(empty.message).toContain('name');

    const app = await admin.apps.create({ name: 'Valid' });
    const badUrl = await failure(admin.apps.update(app.app_id, { callback_url: 'ftp://example.com/hook' }));
    expect(badUrl).toMatchObject({ code: 'validation_failed', status: 400, details: { field: 'callback_url' } });
    const unknown: Record<string, unknown> = { colour: 'red' };
    const unknownField = await failure(admin.apps.update(app.app_id, unknown));
    expect(unknownField).toMatchObject({ code: 'validation_failed', details: { field: 'colour' } });
  });

  it('gives 404 not_found for an app that does not exist', async () => {
    const error = await failure(admin.apps.retrieve('app_00000000000000000000000000'));
    expect(error).toMatchObject({ code: 'not_found', status: 404, retryAfter: undefined });
    expect(error.message).toMatch(/not found/i);
  });

  it('gives 401 unauthorized for a wrong admin token', async () => {
    const intruder = new TesseraAdmin({ baseUrl: server.url, adminToken: 'not-the-token' });
    expect(await failure(intruder.apps.list())).toMatchObject({ code: 'unauthorized', status: 401 });
    expect(await failure(intruder.apps.create({ name: 'Nope' }))).toMatchObject({ code: 'unauthorized', status: 401 });
  });
});
