import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds, startTestServer } from '../../../test/harness.ts';
import { client, type Client } from '../../../test/http.ts';
import { zbarimg } from '../../../test/otp-tools.ts';
import { deviceKeys, registerPushDevice, tokenOf } from '../../../test/push-device.ts';
import { WebhookReceiver, eventually } from '../../../test/webhook-receiver.ts';
import { signDeviceRequestToken } from '@tessera/contracts';

const publicUrl = 'https://auth.example.test/tessera';

describe.each(databaseKinds())('device registration on %s', (kind) => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let api: Client;
  let otherApi: Client;
  let anonymous: Client;
  let receiver: WebhookReceiver;
  let counter = 0;

  beforeAll(async () => {
    server = await startTestServer(kind, { env: { TESSERA_PUBLIC_URL: publicUrl }, webhooks: { pollIntervalMs: 100 } });
    receiver = await new WebhookReceiver().start();
    const admin = client(server.url);
    const created = await admin.post('/v1/apps', { name: 'Bank', callback_url: receiver.url, branding: { display_name: 'Example Bank' } });
    api = client(server.url, { app: created.body });
    otherApi = client(server.url, { app: (await admin.post('/v1/apps', { name: 'Other' })).body });
    anonymous = client(server.url, null);
  });
  afterAll(async () => {
    await receiver?.stop();
    await server?.stop();
  });

  const newUserId = () => `reg-user-${++counter}-${Math.random().toString(36).slice(2, 8)}`;
  async function newToken(userId: string, as = api): Promise<string> {
    const reply = await as.post(`/v1/users/${userId}/device-registrations`);
    expect(reply.status).toBe(201);
    return tokenOf(reply.body.registration_uri);
  }
  const register = (body: Record<string, unknown>) => anonymous.post('/v1/devices', body);
  const factorsOf = async (userId: string) => (await api.get(`/v1/users/${userId}/factors`)).body.data as Array<Record<string, unknown>>;

  it.each(['ES256', 'EdDSA'] as const)(
    'registers from the QR code with a %s key: an active push factor, factor.activated, and the device reads itself',
    async (alg) => {
      const userId = newUserId();
      const before = Date.now();
      const registration = await api.post(`/v1/users/${userId}/device-registrations`);
      expect(registration.status).toBe(201);
      const { registration_token: token, registration_uri: uri, qr_data_url: qr, expires_at: expiresAt } = registration.body;
      expect(token).toMatch(/^drt_[A-Za-z0-9_-]{43}$/); // 256 random bits
      expect(uri).toBe(`tessera://register?server=${encodeURIComponent(publicUrl)}&token=${token}`);
      expect(qr).toMatch(/^data:image\/png;base64,/);
      expect(await zbarimg(qr)).toBe(uri); // an independent decoder reads the QR code
      const ttl = Date.parse(expiresAt) - before;
      expect(ttl).toBeGreaterThan(595_000);
      expect(ttl).toBeLessThan(605_000);
      // The user is created on first use.
      expect((await api.get(`/v1/users/${userId}`)).status).toBe(200);

      const keys = await deviceKeys(alg);
      const scanned = new URL(await zbarimg(qr));
      expect(scanned.searchParams.get('server')).toBe(publicUrl);
      const registered = await register({ registration_token: scanned.searchParams.get('token'), public_key: keys.publicJwk, name: 'Pixel 9' });
      expect(registered.status).toBe(201);
      expect(registered.body).toEqual({
        device_id: expect.stringMatching(/^dev_[0-9a-z]{26}$/),
        factor_id: expect.stringMatching(/^fac_[0-9a-z]{26}$/),
        user_id: userId,
        app: { app_id: expect.stringMatching(/^app_/), display_name: 'Example Bank', logo: null },
        name: 'Pixel 9',
        alg,
        created_at: expect.any(String),
        last_seen_at: null,
      });

      const user = (await api.get(`/v1/users/${userId}`)).body;
      expect(user.two_factor_enabled).toBe(true);
      expect(user.factors).toEqual([
        expect.objectContaining({ factor_id: registered.body.factor_id, type: 'push', status: 'active', name: 'Pixel 9' }),
      ]);
      const activated = await eventually(async () =>
        receiver.received.map((event) => JSON.parse(event.body)).find((event) => event.data?.factor_id === registered.body.factor_id),
      );
      expect(activated).toMatchObject({ type: 'factor.activated', data: { type: 'push', status: 'active', user_id: userId } });

      // The app sees the device; the device, signing with its key, reads itself.
      const asApp = await api.get(`/v1/devices/${registered.body.device_id}`);
      expect(asApp.status).toBe(200);
      expect(asApp.body).toEqual(registered.body);
      const jwt = await signDeviceRequestToken(keys.privateKey, { deviceId: registered.body.device_id, method: 'GET', path: '/v1/device' });
      const self = await anonymous.get('/v1/device', { headers: { authorization: `Device ${jwt}` } });
      expect(self.status).toBe(200);
      expect(self.body).toEqual({ ...registered.body, last_seen_at: expect.any(String) });
    },
  );

  it('registers one authenticator with several apps and users, each with its own key', async () => {
    const userId = newUserId();
    const first = await registerPushDevice(api, server.url, { userId, name: 'phone' });
    const second = await registerPushDevice(api, server.url, { userId, alg: 'EdDSA', name: 'laptop' });
    const elsewhere = await registerPushDevice(otherApi, server.url, { userId });
    for (const device of [first, second, elsewhere]) expect((await device.call('GET', '/v1/device')).status).toBe(200);
    expect((await elsewhere.call('GET', '/v1/device')).body.app.display_name).toBe('Other');
    const listed = await api.get(`/v1/users/${userId}/devices`);
    expect(listed.body.data.map((device: { device_id: string }) => device.device_id)).toEqual([first.deviceId, second.deviceId]);
    expect((await factorsOf(userId)).filter((factor) => factor.type === 'push')).toHaveLength(2);
  });

  it('refuses a key already registered (409 device_key_in_use): each registration needs its own key', async () => {
    const device = await registerPushDevice(api, server.url);
    const userId = newUserId();
    const token = await newToken(userId);
    const reused = await register({ registration_token: token, public_key: device.publicJwk });
    expect(reused.status).toBe(409);
    expect(reused.body.error.code).toBe('device_key_in_use');
    expect(await factorsOf(userId)).toEqual([]);
    // Nothing was used up: the token still registers a device with a key of its own.
    expect((await register({ registration_token: token, public_key: (await deviceKeys()).publicJwk })).status).toBe(201);
  });

  it('registers one device per token: a reused token is 410 registration_token_used, and nothing changes', async () => {
    const userId = newUserId();
    const token = await newToken(userId);
    expect((await register({ registration_token: token, public_key: (await deviceKeys()).publicJwk })).status).toBe(201);
    const again = await register({ registration_token: token, public_key: (await deviceKeys()).publicJwk });
    expect(again.status).toBe(410);
    expect(again.body.error.code).toBe('registration_token_used');
    expect(await factorsOf(userId)).toHaveLength(1);
  });

  it('answers a retry with the same Idempotency-Key with the first answer, not with "used"', async () => {
    const userId = newUserId();
    const token = await newToken(userId);
    const body = { registration_token: token, public_key: (await deviceKeys()).publicJwk };
    const headers = { 'idempotency-key': `register-${userId}` };
    const first = await anonymous.post('/v1/devices', body, { headers });
    const retry = await anonymous.post('/v1/devices', body, { headers });
    expect(first.status).toBe(201);
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.body).toEqual(first.body);
    expect(await factorsOf(userId)).toHaveLength(1);
  });

  it('lets exactly one of 10 concurrent redemptions of a token win', async () => {
    const userId = newUserId();
    const token = await newToken(userId);
    const keys = await Promise.all(Array.from({ length: 10 }, () => deviceKeys()));
    const replies = await Promise.all(keys.map((key) => register({ registration_token: token, public_key: key.publicJwk })));
    expect(replies.filter((reply) => reply.status === 201)).toHaveLength(1);
    expect(replies.filter((reply) => reply.status === 410 && reply.body.error.code === 'registration_token_used')).toHaveLength(9);
    expect(await factorsOf(userId)).toHaveLength(1);
    expect((await api.get(`/v1/users/${userId}/devices`)).body.data).toHaveLength(1);
  });

  it('refuses an unknown token with 404 registration_token_invalid', async () => {
    const keys = await deviceKeys();
    for (const token of ['drt_' + 'A'.repeat(43), 'nonsense']) {
      const reply = await register({ registration_token: token, public_key: keys.publicJwk });
      expect(reply.status).toBe(404);
      expect(reply.body.error.code).toBe('registration_token_invalid');
    }
  });

  it('refuses private, foreign-curve and malformed keys with 400 naming the field, and keeps the token usable', async () => {
    const userId = newUserId();
    const token = await newToken(userId);
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const { publicKey: p384 } = await generateKeyPair('ES384', { extractable: true });
    const good = (await deviceKeys()).publicJwk as { x: string; y: string };
    const cases: Array<[unknown, string]> = [
      [await exportJWK(privateKey), 'public_key.d'],
      [await exportJWK(p384), 'public_key.crv'],
      [{ ...good, kty: 'RSA' }, 'public_key.kty'],
      [{ ...good, x: 'short' }, 'public_key.x'],
      [{ ...good, x: good.y, y: good.x }, 'public_key'],
      ['a string', 'public_key'],
    ];
    for (const [publicKey, field] of cases) {
      const reply = await register({ registration_token: token, public_key: publicKey });
      expect(reply.status, field).toBe(400);
      expect(reply.body.error.code).toBe('validation_failed');
      expect(reply.body.error.details.field).toBe(field);
    }
    const missing = await register({ registration_token: token });
    expect(missing.body.error.details.field).toBe('public_key');
    const unknownField = await register({ registration_token: token, public_key: good, secret: 'x' });
    expect(unknownField.body.error.details.field).toBe('secret');
    expect(await factorsOf(userId)).toEqual([]);
    expect((await register({ registration_token: token, public_key: good })).status).toBe(201);
  });

  it('refuses a registration for an inactive app (403 app_inactive), using nothing up', async () => {
    const admin = client(server.url);
    const created = (await admin.post('/v1/apps', { name: 'Paused' })).body;
    const paused = client(server.url, { app: created });
    const userId = newUserId();
    const token = await newToken(userId, paused);
    expect((await admin.patch(`/v1/apps/${created.app_id}`, { active: false })).status).toBe(200);
    const refused = await register({ registration_token: token, public_key: (await deviceKeys()).publicJwk });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('app_inactive');
    expect((await admin.patch(`/v1/apps/${created.app_id}`, { active: true })).status).toBe(200);
    expect((await register({ registration_token: token, public_key: (await deviceKeys()).publicJwk })).status).toBe(201);
  });

  it('hides another app’s devices and users: 404, and nothing changes', async () => {
    const device = await registerPushDevice(api, server.url);
    for (const reply of [
      await otherApi.get(`/v1/devices/${device.deviceId}`),
      await otherApi.delete(`/v1/devices/${device.deviceId}`),
      await otherApi.get(`/v1/users/${device.userId}/devices`),
    ]) {
      expect(reply.status).toBe(404);
      expect(reply.body.error.code).toBe('not_found');
    }
    expect((await device.call('GET', '/v1/device')).status).toBe(200);
    expect((await api.get(`/v1/devices/${device.deviceId}`)).status).toBe(200);
  });

  it('needs the app credentials to start a registration', async () => {
    expect((await anonymous.post(`/v1/users/${newUserId()}/device-registrations`)).status).toBe(401);
    expect((await client(server.url).post(`/v1/users/${newUserId()}/device-registrations`)).status).toBe(403);
  });

  it('starts a registration with no body or {}, and refuses one with fields, creating no user', async () => {
    expect((await api.post(`/v1/users/${newUserId()}/device-registrations`)).status).toBe(201);
    expect((await api.post(`/v1/users/${newUserId()}/device-registrations`, {})).status).toBe(201);
    const userId = newUserId();
    const refused = await api.post(`/v1/users/${userId}/device-registrations`, { name: 'phone' });
    expect([refused.status, refused.body.error.details?.field]).toEqual([400, 'name']);
    expect((await api.get(`/v1/users/${userId}`)).status).toBe(404);
  });

  it('removes a device with its push factor, by the app or by the device itself', async () => {
    const byApp = await registerPushDevice(api, server.url);
    expect((await api.delete(`/v1/devices/${byApp.deviceId}`)).status).toBe(204);
    expect(await factorsOf(byApp.userId)).toEqual([]);
    expect((await api.get(`/v1/devices/${byApp.deviceId}`)).status).toBe(404);

    const itself = await registerPushDevice(api, server.url);
    expect((await itself.call('DELETE', '/v1/device')).status).toBe(204);
    expect(await factorsOf(itself.userId)).toEqual([]);
    expect((await api.get(`/v1/users/${itself.userId}/devices`)).body.data).toEqual([]);
  });
});

describe.each(databaseKinds())('registration token expiry on %s', (kind) => {
  let server: Awaited<ReturnType<typeof startTestServer>>;

  beforeAll(async () => {
    server = await startTestServer(kind, { devices: { registrationTtlSeconds: 0.5 } });
  });
  afterAll(() => server?.stop());

  it('refuses an expired token with 410 registration_token_expired, and nothing changes', async () => {
    const api = client(server.url, { app: (await client(server.url).post('/v1/apps', { name: 'A' })).body });
    const registration = await api.post('/v1/users/late-user/device-registrations');
    await new Promise((resolve) => setTimeout(resolve, 700));
    const reply = await client(server.url, null).post('/v1/devices', {
      registration_token: registration.body.registration_token,
      public_key: (await deviceKeys()).publicJwk,
    });
    expect(reply.status).toBe(410);
    expect(reply.body.error.code).toBe('registration_token_expired');
    expect((await api.get('/v1/users/late-user/factors')).body.data).toEqual([]);
  });
});
