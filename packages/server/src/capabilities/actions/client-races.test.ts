import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signDeviceDecision } from '@tessera/contracts';
import { newUserId, putRules, track } from '../../../test/actions.ts';
import { databaseKinds, startTestServer } from '../../../test/harness.ts';
import { client, type Client } from '../../../test/http.ts';
import { awayFromStepBoundary, oathtool } from '../../../test/otp-tools.ts';
import { registerPushDevice } from '../../../test/push-device.ts';

// Track-token calls sent at once (double clicks, two tabs, reconnections): each must answer as if they came one
// after the other. PGlite runs one statement at a time, so only PostgreSQL really overlaps them.
describe.each(databaseKinds())('adaptive MFA: client API calls at once on %s', (kind) => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let api: Client;
  let anonymous: Client;

  beforeAll(async () => {
    server = await startTestServer(kind, { env: { TESSERA_CHALLENGES_PER_USER_PER_MINUTE: '1000' } });
    const app = (await client(server.url).post('/v1/apps', { name: 'Shop' })).body;
    api = client(server.url, { app });
    anonymous = client(server.url, null);
    await putRules(api, app.app_id, 'signIn', { default_outcome: 'CHALLENGE_REQUIRED', rules: [] });
  });
  afterAll(() => server?.stop());

  const as = (token: string) => ({ as: null, headers: { authorization: `Bearer ${token}` } });
  const factorsOf = async (userId: string) =>
    (await api.get(`/v1/users/${userId}/factors`)).body.data as Array<{ factor_id: string; type: string; status: string }>;

  it('never deletes the factor that another action is activating: the enrollment waits and is refused', async () => {
    for (let round = 0; round < 6; round++) {
      await awayFromStepBoundary();
      const userId = newUserId('racer');
      const first = await track(api, userId, 'signIn');
      const second = await track(api, userId, 'signIn');
      const enrolled = await anonymous.post('/v1/client/totp/enroll', undefined, as(first.token));
      expect(enrolled.status).toBe(200);
      const [activated, other] = await Promise.all([
        anonymous.post('/v1/client/totp/verify', { code: await oathtool(enrolled.body.secret) }, as(first.token)),
        anonymous.post('/v1/client/totp/enroll', undefined, as(second.token)),
      ]);
      const factors = await factorsOf(userId);
      if (activated.status === 200) {
        // The success token stands for a factor the user keeps.
        expect(factors.filter((factor) => factor.status === 'active').map((factor) => factor.factor_id)).toEqual([enrolled.body.factor_id]);
        expect([other.status, other.body.error?.code]).toEqual([409, 'enrollment_not_allowed']);
      } else {
        // The other enrollment came first and replaced the unfinished one: the code found no factor to activate.
        expect([404, 409], JSON.stringify(activated.body)).toContain(activated.status);
        expect(other.status).toBe(200);
        expect(factors.map((factor) => factor.factor_id)).toEqual([other.body.factor_id]);
      }
    }
  });

  it('shows one enrollment to enrollments sent at once with one token, and its code activates it', async () => {
    await awayFromStepBoundary();
    const userId = newUserId('double-click');
    const tracked = await track(api, userId, 'signIn');
    const replies = await Promise.all(Array.from({ length: 6 }, () => anonymous.post('/v1/client/totp/enroll', undefined, as(tracked.token))));
    expect(replies.map((reply) => reply.status)).toEqual(Array(6).fill(200));
    expect(new Set(replies.map((reply) => reply.body.secret)).size).toBe(1);
    expect((await factorsOf(userId)).map((factor) => factor.factor_id)).toEqual([replies[0]!.body.factor_id]);
    const verified = await anonymous.post('/v1/client/totp/verify', { code: await oathtool(replies[5]!.body.secret) }, as(tracked.token));
    expect(verified.status).toBe(200);
  });

  it('drops an unfinished enrollment once for codes sent at once after the user got a factor of their own', async () => {
    await awayFromStepBoundary();
    const userId = newUserId('dropper');
    const tracked = await track(api, userId, 'signIn');
    expect((await anonymous.post('/v1/client/totp/enroll', undefined, as(tracked.token))).status).toBe(200);
    const own = await api.post(`/v1/users/${userId}/factors`, { type: 'totp' });
    expect((await api.post(`/v1/factors/${own.body.factor_id}/activate`, { code: await oathtool(own.body.secret, { offsetSteps: -1 }) })).status).toBe(200);
    const replies = await Promise.all(
      [0, 1].map(async (offsetSteps) =>
        anonymous.post('/v1/client/totp/verify', { code: await oathtool(own.body.secret, { offsetSteps }) }, as(tracked.token)),
      ),
    );
    expect(replies.map((reply) => reply.status).sort()).toEqual([200, 409]);
    expect((await factorsOf(userId)).map((factor) => factor.factor_id)).toEqual([own.body.factor_id]);
  });

  it('sends one push request to requests at once with one token', async () => {
    const device = await registerPushDevice(api, server.url);
    const tracked = await track(api, device.userId, 'signIn');
    const replies = await Promise.all(Array.from({ length: 4 }, () => anonymous.post('/v1/client/push', undefined, as(tracked.token))));
    expect(replies.map((reply) => reply.status)).toEqual(Array(4).fill(200));
    expect(new Set(replies.map((reply) => reply.body.challenge_id)).size).toBe(1);
    const onThePhone = await device.call('GET', '/v1/device/challenges');
    expect(onThePhone.body.data.map((challenge: { challenge_id: string }) => challenge.challenge_id)).toEqual([replies[0]!.body.challenge_id]);
  });

  it('answers every read waiting on an approved push with a success token', async () => {
    const device = await registerPushDevice(api, server.url);
    const tracked = await track(api, device.userId, 'signIn');
    const push = await anonymous.post('/v1/client/push', undefined, as(tracked.token));
    expect(push.status).toBe(200);
    const { challenge_id: challengeId, number } = push.body;
    const waiting = Array.from({ length: 4 }, () => anonymous.get(`/v1/client/challenges/${challengeId}?wait=20`, as(tracked.token)));
    await new Promise((resolve) => setTimeout(resolve, 300)); // the reads are waiting
    const signed = await signDeviceDecision(device.privateKey, { challenge_id: challengeId, decision: 'approve', number });
    const answered = await device.call('POST', `/v1/device/challenges/${challengeId}/answer`, { body: { signed_decision: signed } });
    expect(answered.body.status).toBe('approved');
    const reads = await Promise.all(waiting);
    expect(reads.map((read) => [read.status, read.body.state])).toEqual(Array(4).fill([200, 'CHALLENGE_SUCCEEDED']));
    expect(reads.every((read) => typeof read.body.token === 'string')).toBe(true);
  });
});
