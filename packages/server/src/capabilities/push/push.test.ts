import { generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signDeviceDecision, type DeviceDecision } from '@tessera/contracts';
import { databaseKinds, startTestServer } from '../../../test/harness.ts';
import { client, type Client } from '../../../test/http.ts';
import { openDeviceStream } from '../../../test/device-stream.ts';
import { registerPushDevice, type PushDevice } from '../../../test/push-device.ts';
import { busSubscriberName, killRedisClients } from '../../../test/redis-clients.ts';
import { totpUser } from '../../../test/totp-user.ts';
import { WebhookReceiver, eventually } from '../../../test/webhook-receiver.ts';
import { deviceTopic } from './topics.ts';

describe.each(databaseKinds())('push challenges on %s', (kind) => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let api: Client;
  let otherApi: Client;
  let receiver: WebhookReceiver;
  let relay: WebhookReceiver;
  let counter = 0;

  beforeAll(async () => {
    receiver = await new WebhookReceiver().start();
    relay = await new WebhookReceiver().start();
    server = await startTestServer(kind, {
      env: { TESSERA_PUSH_RELAY_URL: relay.url, TESSERA_PUSH_RELAY_SECRET: `whsec_${Buffer.alloc(32, 7).toString('base64')}` },
      webhooks: { pollIntervalMs: 100 },
    });
    const admin = client(server.url);
    const created = await admin.post('/v1/apps', { name: 'Bank', callback_url: receiver.url, branding: { display_name: 'Example Bank' } });
    api = client(server.url, { app: created.body });
    otherApi = client(server.url, { app: (await admin.post('/v1/apps', { name: 'Other' })).body });
  });
  afterAll(async () => {
    await server?.stop();
    await receiver?.stop();
    await relay?.stop();
  });

  const newDevice = (userId?: string) => registerPushDevice(api, server.url, { userId: userId ?? `push-user-${++counter}-${kind}` });
  const answer = async (device: PushDevice, challengeId: string, decision: Omit<DeviceDecision, 'challenge_id' | 'signed_at'>, signedAt?: string) =>
    device.call('POST', `/v1/device/challenges/${challengeId}/answer`, {
      body: { signed_decision: await signDeviceDecision(device.privateKey, { challenge_id: challengeId, ...decision, ...(signedAt ? { signed_at: signedAt } : {}) }) },
    });
  const eventOf = (type: string, challengeId: string) =>
    eventually(async () =>
      receiver.received.map((hook) => JSON.parse(hook.body)).find((event) => event.type === type && event.data.challenge_id === challengeId),
    );

  it('delivers a push challenge to the device stream; a signed approval is seen by long-poll, webhook, and a login notification', async () => {
    const device = await newDevice();
    const stream = await openDeviceStream(server.url, device);
    const created = await api.post(`/v1/users/${device.userId}/challenges`, { message: 'Sign in to Example Bank?', details: { ip: '192.0.2.1' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ status: 'pending', factor_type: 'push', factor_id: null, user_id: device.userId });
    expect(created.body.number).toBeUndefined();
    expect(created.body).not.toHaveProperty('attempts_left'); // nothing to guess: a push is answered by a signed decision
    const id: string = created.body.challenge_id;

    const delivered = await stream.next('challenge', (message) => message.challenge.challenge_id === id);
    expect(delivered.challenge).toMatchObject({
      app: { display_name: 'Example Bank' },
      message: 'Sign in to Example Bank?',
      details: { ip: '192.0.2.1' },
      number_choices: null,
      answer: null,
    });
    expect((await device.call('GET', '/v1/device/challenges')).body.data.map((c: { challenge_id: string }) => c.challenge_id)).toContain(id);

    const waiting = api.get(`/v1/challenges/${id}?wait=10`);
    const approved = await answer(device, id, { decision: 'approve' });
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ status: 'approved', answer: 'approve' });
    expect((await waiting).body).toMatchObject({ status: 'approved', resolved_at: expect.any(String) });
    expect((await eventOf('challenge.approved', id)).data).toMatchObject({ status: 'approved', user_id: device.userId });
    await stream.next('challenge_ended', (message) => message.challenge_id === id);
    expect((await stream.next('notification')).notification).toMatchObject({ kind: 'login', app_name: 'Example Bank', challenge_id: id });
    // Answered: no longer listed, and a second answer is refused.
    expect((await device.call('GET', '/v1/device/challenges')).body.data).toEqual([]);
    const again = await answer(device, id, { decision: 'deny' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('challenge_not_pending');
    stream.close();
  });

  it('prefers push for a user with a device and TOTP; TOTP when asked, and after the device is removed', async () => {
    const user = await totpUser(api, 'both');
    const device = await newDevice(user.userId);
    expect((await api.post(`/v1/users/${user.userId}/challenges`, {})).body.factor_type).toBe('push');
    const totp = (await api.post(`/v1/users/${user.userId}/challenges`, { type: 'totp' })).body;
    expect(totp).toMatchObject({ factor_type: 'totp', factor_id: user.factorId });
    expect((await api.post(`/v1/challenges/${totp.challenge_id}/verify`, { code: await user.code() })).body.status).toBe('verified');
    await api.delete(`/v1/devices/${device.deviceId}`);
    expect((await api.post(`/v1/users/${user.userId}/challenges`, {})).body.factor_type).toBe('totp');
  });

  it('tells the push relay, signed, without the number to match', async () => {
    const device = await newDevice();
    const created = await api.post(`/v1/users/${device.userId}/challenges`, { number_matching: true });
    const hook = await eventually(async () => relay.received.find((r) => JSON.parse(r.body).data.challenge_id === created.body.challenge_id));
    const body = JSON.parse(hook.body);
    expect(body).toMatchObject({ type: 'push.challenge', data: { devices: [{ device_id: device.deviceId, user_id: device.userId }] } });
    expect(hook.headers['webhook-signature']).toMatch(/^v1,/);
    expect(hook.body).not.toContain(`"number"`);
  });

  it('records a fraud report on a denial, in the challenge and its event', async () => {
    const device = await newDevice();
    const { body: created } = await api.post(`/v1/users/${device.userId}/challenges`, {});
    const denied = await answer(device, created.challenge_id, { decision: 'deny', reason: 'fraud' });
    expect(denied.body).toMatchObject({ status: 'denied', answer: 'deny' });
    expect((await api.get(`/v1/challenges/${created.challenge_id}`)).body).toMatchObject({ status: 'denied', deny_reason: 'fraud' });
    expect((await eventOf('challenge.denied', created.challenge_id)).data.deny_reason).toBe('fraud');
  });

  it('number matching: the app gets the number, the device three choices; a number not offered changes nothing, a wrong one denies', async () => {
    const device = await newDevice();
    const first = (await api.post(`/v1/users/${device.userId}/challenges`, { type: 'push', number_matching: true })).body;
    expect(first.number).toBeGreaterThanOrEqual(10);
    expect(first.number).toBeLessThanOrEqual(99);
    const seen = (await device.call('GET', `/v1/device/challenges/${first.challenge_id}`)).body;
    expect(seen.number_choices).toHaveLength(3);
    expect(new Set(seen.number_choices).size).toBe(3);
    expect(seen.number_choices).toContain(first.number);
    expect(seen.number).toBeUndefined();

    const notOffered = [...Array(90).keys()].map((n) => n + 10).find((n) => !seen.number_choices.includes(n)) as number;
    const refused = await answer(device, first.challenge_id, { decision: 'approve', number: notOffered });
    expect(refused.status).toBe(422);
    expect(refused.body.error.code).toBe('number_not_offered');
    const missing = await answer(device, first.challenge_id, { decision: 'approve' });
    expect(missing.status).toBe(400);
    expect((await api.get(`/v1/challenges/${first.challenge_id}`)).body.status).toBe('pending');

    const wrong = seen.number_choices.find((n: number) => n !== first.number);
    expect((await answer(device, first.challenge_id, { decision: 'approve', number: wrong })).body.status).toBe('denied');
    expect((await api.get(`/v1/challenges/${first.challenge_id}`)).body).toMatchObject({ status: 'denied', deny_reason: 'wrong_number' });

    const second = (await api.post(`/v1/users/${device.userId}/challenges`, { number_matching: true })).body;
    expect((await answer(device, second.challenge_id, { decision: 'approve', number: second.number })).body.status).toBe('approved');
  });

  it('refuses answers signed by another key, for another challenge, replayed, stale, or to an expired challenge; nothing changes', async () => {
    const device = await newDevice();
    const { body: target } = await api.post(`/v1/users/${device.userId}/challenges`, {});
    const { body: other } = await api.post(`/v1/users/${device.userId}/challenges`, {});
    const path = `/v1/device/challenges/${target.challenge_id}/answer`;
    const stranger = (await generateKeyPair('ES256')).privateKey;
    const forgedBody = { signed_decision: await signDeviceDecision(stranger, { challenge_id: target.challenge_id, decision: 'approve' }) };
    const cases: Array<[unknown, number, string]> = [
      [forgedBody, 422, 'decision_signature_invalid'],
      [{ signed_decision: await signDeviceDecision(device.privateKey, { challenge_id: other.challenge_id, decision: 'approve' }) }, 422, 'decision_challenge_mismatch'],
      [{ signed_decision: await signDeviceDecision(device.privateKey, { challenge_id: target.challenge_id, decision: 'approve', signed_at: new Date(Date.now() - 120_000).toISOString() }) }, 422, 'decision_stale'],
      [{ signed_decision: 'not.a.jws' }, 400, 'decision_malformed'],
      [{ signed_decision: 'x', extra: 1 }, 400, 'validation_failed'],
    ];
    for (const [body, status, code] of cases) {
      const reply = await device.call('POST', path, { body });
      expect([reply.status, reply.body.error.code]).toEqual([status, code]);
    }
    expect((await api.get(`/v1/challenges/${target.challenge_id}`)).body.status).toBe('pending');

    // The same signed answer twice (a replay): the second finds the challenge answered.
    const signed = { signed_decision: await signDeviceDecision(device.privateKey, { challenge_id: target.challenge_id, decision: 'deny' }) };
    expect((await device.call('POST', path, { body: signed })).status).toBe(200);
    expect((await device.call('POST', path, { body: signed })).status).toBe(409);

    const { body: short } = await api.post(`/v1/users/${device.userId}/challenges`, { expires_in: 1 });
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const late = await answer(device, short.challenge_id, { decision: 'approve' });
    expect([late.status, late.body.error.code]).toEqual([409, 'challenge_not_pending']);
    expect((await api.get(`/v1/challenges/${short.challenge_id}`)).body.status).toBe('expired');
    await eventOf('challenge.expired', short.challenge_id);
  });

  it("never shows or takes answers for another user's or another app's challenges", async () => {
    const device = await newDevice();
    const neighbour = await newDevice();
    const { body: mine } = await api.post(`/v1/users/${device.userId}/challenges`, {});
    expect((await neighbour.call('GET', `/v1/device/challenges/${mine.challenge_id}`)).status).toBe(404);
    expect((await answer(neighbour, mine.challenge_id, { decision: 'approve' })).status).toBe(404);
    const outsider = await registerPushDevice(otherApi, server.url, { userId: device.userId });
    expect((await answer(outsider, mine.challenge_id, { decision: 'approve' })).status).toBe(404);
    expect((await otherApi.get(`/v1/challenges/${mine.challenge_id}`)).status).toBe(404);
    expect((await api.post(`/v1/challenges/${mine.challenge_id}/verify`, { code: '123456' })).body.error.code).toBe('answered_on_device');
    expect((await api.get(`/v1/challenges/${mine.challenge_id}`)).body.status).toBe('pending');
  });

  it('holds at most 3 pending push challenges per user, also under concurrency (429 with Retry-After)', async () => {
    const device = await newDevice();
    const replies = await Promise.all([...Array(8)].map(() => api.post(`/v1/users/${device.userId}/challenges`, { expires_in: 60 })));
    expect(replies.filter((reply) => reply.status === 201)).toHaveLength(3);
    const refused = replies.filter((reply) => reply.status === 429);
    expect(refused).toHaveLength(5);
    expect(refused[0]?.body.error.code).toBe('too_many_pending_challenges');
    expect(Number(refused[0]?.headers.get('retry-after'))).toBeGreaterThan(0);
    // An answered one frees a place.
    const first = replies.find((reply) => reply.status === 201)?.body.challenge_id as string;
    await answer(device, first, { decision: 'deny' });
    expect((await api.post(`/v1/users/${device.userId}/challenges`, {})).status).toBe(201);
  });

  it('several approvers: approved once the quorum approves, denied once it no longer can', async () => {
    const [a, b, c] = await Promise.all([newDevice(), newDevice(), newDevice()]);
    const userIds = [a!.userId, b!.userId, c!.userId];
    const created = await api.post('/v1/challenges', { user_ids: userIds, quorum: 2, message: 'Release payment #42?' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ user_id: null, user_ids: userIds, quorum: 2, approved_by: [], denied_by: [], factor_type: 'push' });
    const id = created.body.challenge_id;
    expect((await answer(a!, id, { decision: 'approve' })).body.status).toBe('pending');
    expect((await answer(a!, id, { decision: 'approve' })).body.error.code).toBe('already_answered');
    expect((await answer(b!, id, { decision: 'deny' })).body.status).toBe('pending');
    expect((await answer(c!, id, { decision: 'approve' })).body.status).toBe('approved');
    expect((await api.get(`/v1/challenges/${id}`)).body).toMatchObject({ status: 'approved', approved_by: [a!.userId, c!.userId], denied_by: [b!.userId] });

    const second = (await api.post('/v1/challenges', { user_ids: userIds, quorum: 2, message: 'Again?' })).body;
    await answer(a!, second.challenge_id, { decision: 'deny' });
    expect((await answer(b!, second.challenge_id, { decision: 'deny', reason: 'fraud' })).body.status).toBe('denied');
    expect((await eventOf('challenge.denied', second.challenge_id)).data).toMatchObject({ deny_reason: 'fraud', denied_by: [a!.userId, b!.userId] });
  });

  it('several approvers: one person answering from several devices at once counts once', async () => {
    const x = await newDevice();
    const [x2, x3] = await Promise.all([newDevice(x.userId), newDevice(x.userId)]);
    const y = await newDevice();
    for (let round = 0; round < 4; round++) {
      const id = (await api.post('/v1/challenges', { user_ids: [x.userId, y.userId], quorum: 2, message: `Four eyes #${round}` })).body.challenge_id;
      const replies = await Promise.all([x, x2!, x3!].map((device) => answer(device, id, { decision: 'approve' })));
      expect(replies.map((reply) => reply.status).sort(), `round ${round}`).toEqual([200, 409, 409]);
      expect(replies.filter((reply) => reply.status === 409).map((reply) => reply.body.error.code)).toEqual(['already_answered', 'already_answered']);
      expect((await api.get(`/v1/challenges/${id}`)).body).toMatchObject({ status: 'pending', approved_by: [x.userId] });
      expect((await answer(y, id, { decision: 'approve' })).body.status).toBe('approved');
    }
  });

  it.each([
    [{ user_ids: ['a', 'b'], quorum: 3, message: 'x' }, 400, 'quorum'],
    [{ user_ids: ['a', 'a'], quorum: 1, message: 'x' }, 400, 'user_ids'],
    [{ user_ids: [], quorum: 1, message: 'x' }, 400, 'user_ids'],
    [{ user_ids: ['a'], quorum: 0, message: 'x' }, 400, 'quorum'],
    [{ user_ids: ['a'], quorum: 1 }, 400, 'message'],
  ])('refuses a quorum challenge %j', async (body, status, field) => {
    const reply = await api.post('/v1/challenges', body);
    expect(reply.status).toBe(status);
    expect(reply.body.error.details.field).toBe(field);
  });

  it('refuses a quorum challenge when a user has no device, naming them, and creates nothing', async () => {
    const device = await newDevice();
    await api.post(`/v1/users/${device.userId}-plain/device-registrations`); // the user exists, without a device
    const reply = await api.post('/v1/challenges', { user_ids: [device.userId, `${device.userId}-plain`], quorum: 1, message: 'x' });
    expect([reply.status, reply.body.error.details]).toEqual([409, { user_ids: [`${device.userId}-plain`] }]);
    expect((await device.call('GET', '/v1/device/challenges')).body.data).toEqual([]);
  });

  it('closes the stream of a device that is removed, and refuses a stream without a valid signature', async () => {
    const device = await newDevice();
    const stream = await openDeviceStream(server.url, device);
    const { body: pending } = await api.post(`/v1/users/${device.userId}/challenges`, {});
    expect((await api.delete(`/v1/devices/${device.deviceId}`)).status).toBe(204);
    // Nobody can answer it any more: it fails at once, with its event.
    expect((await api.get(`/v1/challenges/${pending.challenge_id}`)).body.status).toBe('failed');
    await eventOf('challenge.failed', pending.challenge_id);
    expect((await stream.closed).code).toBe(4401);
    await expect(openDeviceStream(server.url, device)).rejects.toThrow(/401/);
  });

  it("closes the streams of all of a user's devices when the user is deleted", async () => {
    const phone = await newDevice();
    const tablet = await newDevice(phone.userId);
    const streams = await Promise.all([openDeviceStream(server.url, phone), openDeviceStream(server.url, tablet)]);
    expect((await api.delete(`/v1/users/${phone.userId}`)).status).toBe(204);
    expect(await Promise.all(streams.map(async (stream) => (await stream.closed).code))).toEqual([4401, 4401]);
    await expect(openDeviceStream(server.url, tablet)).rejects.toThrow(/401/);
  });

  it('checks the device before the body: an answer without device credentials is 401, whatever its body', async () => {
    const answer = await client(server.url, null).post('/v1/device/challenges/chl_00000000000000000000000000/answer', { bogus: true });
    expect([answer.status, answer.body.error.details?.reason]).toEqual([401, 'missing']);
  });

  it('answers a stream asked without the upgrade with 426, in the error format, leaving its token unused', async () => {
    const device = await newDevice();
    const authorization = await device.authorization('GET', '/v1/device/stream');
    const plain = await client(server.url, null).get('/v1/device/stream', { headers: { authorization } });
    expect([plain.status, plain.body.error.code]).toEqual([426, 'upgrade_required']);
    const upgraded = await openDeviceStream(server.url, device, { authorization });
    await upgraded.next('ready');
    upgraded.close();
  });

  it('drops a stream that stops reading, before what it is sent piles up in the server', async () => {
    const device = await newDevice();
    const stream = await openDeviceStream(server.url, device);
    await stream.next('ready');
    stream.pause();
    // 16 MiB for a device that reads nothing: more than the kernel's socket buffers take.
    const padding = 'x'.repeat(256 * 1024);
    for (let sent = 0; sent < 64; sent++) await server.bus.publish(deviceTopic(device.deviceId), { type: 'notification', padding });
    stream.resume();
    const closed = await Promise.race([stream.closed, new Promise((resolve) => setTimeout(() => resolve('still open'), 3_000))]);
    expect(closed).toEqual({ code: 1006, reason: '' });
    expect(stream.messages.length).toBeLessThan(1 + 64);
    const again = await openDeviceStream(server.url, device);
    await again.next('ready');
    again.close();
  });

  // A challenge published while the server's Redis subscription was down is lost to the stream: the server closes the
  // stream with 1012 once the subscription is back, and the device, reconnecting, is sent what waits for it.
  it.runIf(kind === 'postgres' && process.env.TESSERA_TEST_REDIS_URL)('asks the device to reconnect after the bus lost messages', async () => {
    const device = await newDevice();
    const stream = await openDeviceStream(server.url, device);
    await stream.next('ready');
    expect(await killRedisClients(busSubscriberName(server.url))).toBe(1);
    expect((await stream.closed).code).toBe(1012);
    const { body: created } = await api.post(`/v1/users/${device.userId}/challenges`, {});
    const again = await openDeviceStream(server.url, device);
    await again.next('challenge', (message) => message.challenge.challenge_id === created.challenge_id);
    again.close();
  });
});
