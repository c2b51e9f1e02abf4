import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds, startTestServer } from '../../../test/harness.ts';
import { client, type Client, type Reply } from '../../../test/http.ts';
import { deviceKeys, registerPushDevice, type PushDevice } from '../../../test/push-device.ts';
import { newId } from '../../platform/ids.ts';
import { signDeviceRequestToken } from '@tessera/contracts';

/** The device routes refuse every request not signed, just now and once, by the device for this method and path. */
describe.each(databaseKinds())('device authentication on %s', (kind) => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let api: Client;
  let anonymous: Client;

  beforeAll(async () => {
    server = await startTestServer(kind, { env: { TESSERA_PUBLIC_URL: 'https://example.test/auth' } });
    api = client(server.url, { app: (await client(server.url).post('/v1/apps', { name: 'A' })).body });
    anonymous = client(server.url, null);
  });
  afterAll(() => server?.stop());

  const get = (authorization: string) => anonymous.get('/v1/device', { headers: { authorization } });
  function expectRefused(reply: Reply, reason: string): void {
    expect(reply.status).toBe(401);
    expect(reply.body.error.code).toBe('unauthorized');
    expect(reply.body.error.details).toEqual({ reason });
    expect(reply.headers.get('www-authenticate')).toBe('Device realm="tessera"');
  }
  /** The device and its push factor are still there. */
  async function expectUnchanged(device: PushDevice): Promise<void> {
    expect((await api.get(`/v1/devices/${device.deviceId}`)).status).toBe(200);
    const factors = (await api.get(`/v1/users/${device.userId}/factors`)).body.data;
    expect(factors).toEqual([expect.objectContaining({ factor_id: device.factorId, type: 'push', status: 'active' })]);
  }

  it.each(['ES256', 'EdDSA'] as const)('accepts a fresh %s token, also for the path under the public URL', async (alg) => {
    const device = await registerPushDevice(api, server.url, { alg });
    expect((await device.call('GET', '/v1/device')).body.device_id).toBe(device.deviceId);
    // Behind a proxy that strips /auth, the device signs the URL it called.
    expect((await get(await device.authorization('GET', '/auth/v1/device'))).status).toBe(200);
  });

  it("refuses a suspended app's devices with 403 app_inactive, until the app is active again", async () => {
    const admin = client(server.url);
    const created = (await admin.post('/v1/apps', { name: 'Suspended' })).body;
    const device = await registerPushDevice(client(server.url, { app: created }), server.url);
    expect((await admin.patch(`/v1/apps/${created.app_id}`, { active: false })).status).toBe(200);
    const refused = await device.call('GET', '/v1/device/challenges');
    expect([refused.status, refused.body.error.code]).toEqual([403, 'app_inactive']);
    expect((await admin.patch(`/v1/apps/${created.app_id}`, { active: true })).status).toBe(200);
    expect((await device.call('GET', '/v1/device/challenges')).status).toBe(200);
  });

  it("lets a suspended app's device remove itself, and only that", async () => {
    const admin = client(server.url);
    const created = (await admin.post('/v1/apps', { name: 'Suspended' })).body;
    const device = await registerPushDevice(client(server.url, { app: created }), server.url);
    expect((await admin.patch(`/v1/apps/${created.app_id}`, { active: false })).status).toBe(200);
    expect((await device.call('GET', '/v1/device')).status).toBe(403);
    expect((await device.call('DELETE', '/v1/device')).status).toBe(204);
    expect((await admin.patch(`/v1/apps/${created.app_id}`, { active: true })).status).toBe(200);
    expectRefused(await device.call('GET', '/v1/device'), 'unknown_device');
  });

  it('refuses a replayed token', async () => {
    const device = await registerPushDevice(api, server.url);
    const authorization = await device.authorization('GET', '/v1/device');
    expect((await get(authorization)).status).toBe(200);
    expectRefused(await get(authorization), 'replayed');
    // Sent many times at once, it is accepted once.
    const fresh = await device.authorization('GET', '/v1/device');
    const replies = await Promise.all(Array.from({ length: 10 }, () => get(fresh)));
    expect(replies.filter((reply) => reply.status === 200)).toHaveLength(1);
  });

  it('refuses an expired token, one issued in the future, and one that lives too long', async () => {
    const device = await registerPushDevice(api, server.url);
    const now = Date.now();
    expectRefused(await get(await device.authorization('GET', '/v1/device', { nowMs: now - 200_000, lifetimeSeconds: 120 })), 'expired');
    expectRefused(await get(await device.authorization('GET', '/v1/device', { nowMs: now + 300_000 })), 'not_yet_valid');
    expectRefused(await get(await device.authorization('GET', '/v1/device', { lifetimeSeconds: 121 })), 'lifetime_too_long');
    // Within the allowed clock skew, a slightly fast device clock is fine.
    expect((await get(await device.authorization('GET', '/v1/device', { nowMs: now + 10_000 }))).status).toBe(200);
  });

  it('refuses a token signed by another key, and an altered one', async () => {
    const device = await registerPushDevice(api, server.url);
    const other = await deviceKeys('ES256');
    expectRefused(await get(await device.authorization('GET', '/v1/device', { signWith: other.privateKey })), 'bad_signature');
    // Signed for DELETE, then altered to GET: the signature no longer matches.
    const jwt = (await device.authorization('DELETE', '/v1/device')).slice('Device '.length);
    const [header, payload, signature] = jwt.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const altered = Buffer.from(JSON.stringify({ ...claims, htm: 'GET' })).toString('base64url');
    expectRefused(await get(`Device ${header}.${altered}.${signature}`), 'bad_signature');
    // Another algorithm than the key's (an Ed25519 signature for a P-256 device).
    const ed = await deviceKeys('EdDSA');
    expectRefused(await get(await device.authorization('GET', '/v1/device', { signWith: ed.privateKey })), 'bad_signature');
    await expectUnchanged(device);
  });

  it('refuses a token for another method or path: a GET token cannot delete the device', async () => {
    const device = await registerPushDevice(api, server.url);
    expectRefused(await device.call('DELETE', '/v1/device', { authorization: await device.authorization('GET', '/v1/device') }), 'wrong_method');
    expectRefused(await get(await device.authorization('GET', '/v1/devices')), 'wrong_path');
    expectRefused(await get(await device.authorization('GET', '/v1/device?x=1')), 'wrong_path');
    await expectUnchanged(device);
  });

  it('refuses an unknown device, a removed device, and requests without a device token', async () => {
    const device = await registerPushDevice(api, server.url);
    const stranger = await deviceKeys();
    const unknown = await signDeviceRequestToken(stranger.privateKey, { deviceId: newId('dev'), method: 'GET', path: '/v1/device' });
    expectRefused(await get(`Device ${unknown}`), 'unknown_device');
    expectRefused(await anonymous.get('/v1/device'), 'missing');
    expectRefused(await api.get('/v1/device'), 'missing'); // app credentials are not a device's
    expectRefused(await get('Device not-a-jwt'), 'malformed');
    // Deleting the push factor removes the device: its key no longer signs in.
    expect((await api.delete(`/v1/factors/${device.factorId}`)).status).toBe(204);
    expectRefused(await device.call('GET', '/v1/device'), 'unknown_device');
  });

  it('refuses tokens without the required claims or with another typ', async () => {
    const device = await registerPushDevice(api, server.url);
    const iat = Math.floor(Date.now() / 1000);
    const sign = (claims: Record<string, unknown>, typ = 'tessera-device+jwt') =>
      new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ, kid: device.deviceId }).sign(device.privateKey);
    const full = { iat, exp: iat + 60, jti: 'a-random-enough-jti-value', htm: 'GET', htu: '/v1/device' };
    for (const name of ['iat', 'exp', 'jti', 'htm', 'htu'] as const) {
      const { [name]: _left, ...claims } = full;
      expectRefused(await get(`Device ${await sign(claims)}`), 'malformed');
    }
    expectRefused(await get(`Device ${await sign({ ...full, jti: 'short' })}`), 'malformed');
    expectRefused(await get(`Device ${await sign(full, 'JWT')}`), 'malformed');
    expect((await get(`Device ${await sign(full)}`)).status).toBe(200);
  });

  it.runIf(kind === 'postgres' && process.env.TESSERA_TEST_REDIS_URL)(
    'refuses a token replayed to another instance (the jti is shared through Redis)',
    async () => {
      const second = await startTestServer(kind, { storage: server.storage, env: { TESSERA_PUBLIC_URL: 'https://example.test/auth' } });
      try {
        const device = await registerPushDevice(api, server.url);
        const authorization = await device.authorization('GET', '/v1/device');
        expect((await get(authorization)).status).toBe(200);
        const replay = await client(second.url, null).get('/v1/device', { headers: { authorization } });
        expectRefused(replay, 'replayed');
      } finally {
        await second.stop();
      }
    },
  );
});
