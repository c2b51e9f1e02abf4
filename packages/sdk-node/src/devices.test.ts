import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signDeviceDecision, signDeviceRequestToken, type DeviceChallenge, type DeviceDecision } from '@tessera/contracts';
import { databaseKinds, startTestServer, testAdminToken, type TestServer } from '../../server/test/harness.ts';
import { client, type Client } from '../../server/test/http.ts';
import { deviceKeys, registerPushDevice, tokenOf, type PushDevice } from '../../server/test/push-device.ts';
import { failure } from '../test/failures.ts';
import { zbarimg } from '../test/totp.ts';
import { Tessera, TesseraAdmin, type Challenge, type Device } from './index.ts';

describe.each(databaseKinds())('Tessera devices and push approvals against a real server on %s', (kind) => {
  let server: TestServer & { stop(): Promise<void> };
  let admin: TesseraAdmin;

  beforeAll(async () => {
    server = await startTestServer(kind);
    admin = new TesseraAdmin({ baseUrl: server.url, adminToken: testAdminToken });
  });
  afterAll(() => server?.stop());

  /** The app through the SDK, and through the test client that `registerPushDevice` registers devices with. */
  async function newApp(name = 'Bank'): Promise<{ tessera: Tessera; api: Client }> {
    const app = await admin.apps.create({ name, challenge_default_message: `Sign in to ${name}?` });
    return {
      tessera: new Tessera({ baseUrl: server.url, appId: app.app_id, appSecret: app.app_secret }),
      api: client(server.url, { app }),
    };
  }

  /** The device's signed answer, as an authenticator sends it. */
  async function answer(
    device: PushDevice,
    challengeId: string,
    decision: Omit<DeviceDecision, 'challenge_id' | 'signed_at'>,
  ): Promise<DeviceChallenge> {
    const signed_decision = await signDeviceDecision(device.privateKey, { challenge_id: challengeId, ...decision });
    const reply = await device.call('POST', `/v1/device/challenges/${challengeId}/answer`, { body: { signed_decision } });
    expect(reply.status).toBe(200);
    return reply.body;
  }

  it('registers a device from a registration, then lists, retrieves and deletes it', async () => {
    const { tessera } = await newApp();
    const userId = 'alice@example.com';
    const registration = await tessera.devices.createRegistration(userId, { idempotencyKey: 'register-alice' });
    expect(registration.registration_uri).toMatch(/^tessera:\/\/register\?server=/);
    expect(tokenOf(registration.registration_uri)).toBe(registration.registration_token);
    expect(await zbarimg(registration.qr_data_url)).toBe(registration.registration_uri);
    expect(Date.parse(registration.expires_at)).toBeGreaterThan(Date.now());
    expect(await tessera.devices.createRegistration(userId, { idempotencyKey: 'register-alice' })).toEqual(registration);
    // The user exists from now on, with no device yet.
    expect(await tessera.devices.list(userId)).toEqual([]);

    const keys = await deviceKeys('EdDSA');
    const anonymous = client(server.url, null);
    const registered = await anonymous.post('/v1/devices', {
      registration_token: tokenOf(registration.registration_uri),
      public_key: keys.publicJwk,
      name: 'Pixel 8',
    });
    expect(registered.status).toBe(201);
    const deviceId: string = registered.body.device_id;

    const devices: Device[] = await tessera.devices.list(userId);
    expect(devices).toHaveLength(1);
    expect(devices[0]).toMatchObject({
      device_id: deviceId,
      user_id: userId,
      name: 'Pixel 8',
      alg: 'EdDSA',
      app: { display_name: 'Bank', logo: null },
    });
    const device = devices[0] as Device;
    expect(await tessera.devices.retrieve(deviceId)).toEqual(device);
    expect((await tessera.factors.list(userId)).find((factor) => factor.type === 'push')).toMatchObject({
      factor_id: device.factor_id,
      status: 'active',
    });
    expect((await tessera.users.retrieve(userId)).two_factor_enabled).toBe(true);

    const pending = await tessera.challenges.create(userId);
    expect(pending).toMatchObject({ factor_type: 'push', factor_id: null }); // for all the user's devices
    await tessera.devices.delete(deviceId);
    expect(await tessera.devices.list(userId)).toEqual([]);
    expect(await failure(tessera.devices.retrieve(deviceId))).toMatchObject({ code: 'not_found', status: 404 });
    expect(await failure(tessera.devices.delete(deviceId))).toMatchObject({ code: 'not_found', status: 404 });
    expect((await tessera.challenges.retrieve(pending.challenge_id)).status).toBe('failed');
    expect((await tessera.users.retrieve(userId)).two_factor_enabled).toBe(false);
    // The device's own key no longer gets it in.
    const token = await signDeviceRequestToken(keys.privateKey, { deviceId, method: 'GET', path: '/v1/device' });
    expect((await anonymous.get('/v1/device', { headers: { authorization: `Device ${token}` } })).status).toBe(401);
  });

  it("sees another app's devices as 404, and refuses an id no URL path can hold", async () => {
    const mine = await newApp('Mine');
    const theirs = await newApp('Theirs');
    const device = await registerPushDevice(mine.api, server.url, { userId: 'shared-name' });
    const calls = [
      () => theirs.tessera.devices.retrieve(device.deviceId),
      () => theirs.tessera.devices.delete(device.deviceId),
      () => theirs.tessera.devices.list('shared-name'),
    ];
    for (const call of calls) expect(await failure(call()), String(call)).toMatchObject({ code: 'not_found', status: 404 });
    expect((await mine.tessera.devices.retrieve(device.deviceId)).user_id).toBe('shared-name');
    await expect(mine.tessera.devices.retrieve('..')).rejects.toThrow(TypeError);
  });

  it('number matching: the app shows number, the device picks it, and waitForResult sees approved', async () => {
    const { tessera, api } = await newApp();
    const device = await registerPushDevice(api, server.url, { userId: 'bob' });
    const challenge: Challenge = await tessera.challenges.create('bob', {
      type: 'push',
      numberMatching: true,
      referenceId: 'login-1',
      details: { ip: '192.0.2.1' },
    });
    expect(challenge).toMatchObject({
      user_id: 'bob',
      status: 'pending',
      factor_type: 'push',
      factor_id: null,
      reference_id: 'login-1',
      message: 'Sign in to Bank?',
      deny_reason: null,
      resolved_at: null,
    });
    const number = challenge.number as number;
    expect(number).toBeGreaterThanOrEqual(10);
    expect(number).toBeLessThanOrEqual(99);
    const shown = await device.call('GET', `/v1/device/challenges/${challenge.challenge_id}`);
    expect(shown.body).toMatchObject({ details: { ip: '192.0.2.1' }, answer: null });
    expect(shown.body.number_choices).toContain(number);

    const started = Date.now();
    const waiting = tessera.challenges.waitForResult(challenge.challenge_id, { timeoutSeconds: 30 });
    const answered = await answer(device, challenge.challenge_id, { decision: 'approve', number });
    expect(answered.status).toBe('approved');
    const approved = await waiting;
    expect(approved).toMatchObject({ status: 'approved', number, deny_reason: null });
    expect(Date.parse(approved.resolved_at ?? '')).not.toBeNaN();
    expect(Date.now() - started).toBeLessThan(5_000);
    // Answered on the device, never with a code.
    expect(await failure(tessera.challenges.verify(challenge.challenge_id, '123456'))).toMatchObject({
      code: 'answered_on_device',
      status: 409,
    });
  });

  it('a wrong pick denies with deny_reason wrong_number; a deny reported as fraud says fraud', async () => {
    const { tessera, api } = await newApp();
    const device = await registerPushDevice(api, server.url, { userId: 'carol' });
    const matching = await tessera.challenges.create('carol', { numberMatching: true });
    const shown = await device.call('GET', `/v1/device/challenges/${matching.challenge_id}`);
    const wrong = (shown.body.number_choices as number[]).find((choice) => choice !== matching.number) as number;
    await answer(device, matching.challenge_id, { decision: 'approve', number: wrong });
    expect(await tessera.challenges.waitForResult(matching.challenge_id, { timeoutSeconds: 5 })).toMatchObject({
      status: 'denied',
      deny_reason: 'wrong_number',
    });

    const plain = await tessera.challenges.create('carol');
    expect(plain.number).toBeUndefined();
    await answer(device, plain.challenge_id, { decision: 'deny', reason: 'fraud' });
    expect(await tessera.challenges.waitForResult(plain.challenge_id, { timeoutSeconds: 5 })).toMatchObject({
      status: 'denied',
      deny_reason: 'fraud',
    });
  });

  it('createForApprovers: a 2-of-2 challenge is approved once both approve, and denied once either denies', async () => {
    const { tessera, api } = await newApp();
    const first = await registerPushDevice(api, server.url, { userId: 'admin-a' });
    const second = await registerPushDevice(api, server.url, { userId: 'admin-b' });
    const options = {
      userIds: ['admin-a', 'admin-b'],
      quorum: 2,
      message: 'Pay out 10 000 EUR?',
      details: { amount: '10 000 EUR' },
      hiddenDetails: { payout: 7 },
      referenceId: 'payout-7',
      expiresIn: 120,
    };
    const challenge = await tessera.challenges.createForApprovers(options, { idempotencyKey: 'payout-7' });
    expect(challenge).toMatchObject({
      user_id: null,
      factor_id: null,
      factor_type: 'push',
      status: 'pending',
      user_ids: ['admin-a', 'admin-b'],
      quorum: 2,
      approved_by: [],
      denied_by: [],
      message: 'Pay out 10 000 EUR?',
      details: { amount: '10 000 EUR' },
      hidden_details: { payout: 7 },
      reference_id: 'payout-7',
    });
    expect(await tessera.challenges.createForApprovers(options, { idempotencyKey: 'payout-7' })).toEqual(challenge);

    await answer(first, challenge.challenge_id, { decision: 'approve' });
    // One approval of two: still pending, so waitForResult waits for the second.
    expect(await tessera.challenges.waitForResult(challenge.challenge_id, { timeoutSeconds: 1 })).toMatchObject({
      status: 'pending',
      approved_by: ['admin-a'],
    });
    const waiting = tessera.challenges.waitForResult(challenge.challenge_id, { timeoutSeconds: 30 });
    await answer(second, challenge.challenge_id, { decision: 'approve' });
    expect(await waiting).toMatchObject({ status: 'approved', approved_by: ['admin-a', 'admin-b'], denied_by: [] });

    const refused = await tessera.challenges.createForApprovers({
      userIds: ['admin-a', 'admin-b'],
      quorum: 2,
      message: 'Delete the shop?',
    });
    await answer(second, refused.challenge_id, { decision: 'deny' });
    expect(await tessera.challenges.waitForResult(refused.challenge_id, { timeoutSeconds: 5 })).toMatchObject({
      status: 'denied',
      approved_by: [],
      denied_by: ['admin-b'],
    });
  });

  it("carries the server's error codes: no_active_factor, too_many_pending_challenges, validation_failed", async () => {
    const { tessera, api } = await newApp();
    await registerPushDevice(api, server.url, { userId: 'busy' });
    await tessera.devices.createRegistration('no-device');

    expect(await failure(tessera.challenges.create('no-device', { type: 'push' }))).toMatchObject({
      code: 'no_active_factor',
      status: 409,
    });
    const withoutDevice = tessera.challenges.createForApprovers({ userIds: ['busy', 'no-device'], quorum: 1, message: 'Ok?' });
    expect(await failure(withoutDevice)).toMatchObject({
      code: 'no_active_factor',
      status: 409,
      details: { user_ids: ['no-device'] },
    });
    const overQuorum = tessera.challenges.createForApprovers({ userIds: ['busy'], quorum: 2, message: 'Ok?' });
    expect(await failure(overQuorum)).toMatchObject({
      code: 'validation_failed',
      status: 400,
      details: { field: 'quorum' },
    });

    for (let pending = 0; pending < 3; pending++) await tessera.challenges.create('busy', { expiresIn: 60 });
    const fourth = await failure(tessera.challenges.create('busy'));
    expect(fourth).toMatchObject({
      code: 'too_many_pending_challenges',
      status: 429,
      details: { user_id: 'busy', pending: 3 },
    });
    expect(fourth.retryAfter).toBeGreaterThan(0);
    expect(fourth.retryAfter).toBeLessThanOrEqual(60);
    const approvers = tessera.challenges.createForApprovers({ userIds: ['busy'], quorum: 1, message: 'Ok?' });
    expect(await failure(approvers)).toMatchObject({
      code: 'too_many_pending_challenges',
      status: 429,
    });
  });
});
