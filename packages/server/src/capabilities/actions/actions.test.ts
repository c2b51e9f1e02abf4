import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostedPath, newUserId, putRules, track } from '../../../test/actions.ts';
import { databaseKinds, startTestServer } from '../../../test/harness.ts';
import { client, type Client } from '../../../test/http.ts';
import { awayFromStepBoundary } from '../../../test/otp-tools.ts';
import { newChallenge, totpUser } from '../../../test/totp-user.ts';

describe.each(databaseKinds())('adaptive MFA: tracking and rules on %s', (kind) => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let api: Client;
  let admin: Client;
  let appId: string;
  let otherApi: Client;
  let otherAppId: string;

  beforeAll(async () => {
    server = await startTestServer(kind, { env: { TESSERA_CHALLENGES_PER_USER_PER_MINUTE: '1000' } });
    admin = client(server.url);
    const app = (await admin.post('/v1/apps', { name: 'Shop' })).body;
    const other = (await admin.post('/v1/apps', { name: 'Other' })).body;
    appId = app.app_id;
    otherAppId = other.app_id;
    api = client(server.url, { app });
    otherApi = client(server.url, { app: other });
  });
  afterAll(() => server?.stop());

  it('creates an unknown action on its first track, with the default outcome ALLOW', async () => {
    const userId = newUserId();
    const tracked = await track(api, userId, 'firstTime', { context: { ip: '192.0.2.1' } });
    expect(tracked.state).toBe('ALLOW');
    expect(tracked.idempotency_key).toMatch(/^act_/);
    expect(tracked.enrolled_factors).toEqual([]);
    expect(hostedPath(tracked.url)).toBe(`/hosted/actions?token=${tracked.token}`);
    const rules = await api.get(`/v1/apps/${appId}/actions/firstTime/rules`);
    expect(rules.body).toMatchObject({ action: 'firstTime', default_outcome: 'ALLOW', rules: [] });
    expect(rules.body.updated_at).not.toBeNull();
    const listed = await admin.get(`/v1/apps/${appId}/actions`);
    expect(listed.body.data.map((a: { action: string }) => a.action)).toContain('firstTime');
    // The user was created on first use, and the action record is kept.
    expect((await api.get(`/v1/users/${userId}`)).status).toBe(200);
    const record = await api.get(`/v1/users/${userId}/actions/firstTime/${tracked.idempotency_key}`);
    expect(record.body).toMatchObject({ state: 'ALLOW', outcome: 'ALLOW', rule: null, context: { ip: '192.0.2.1' }, validated_at: null });
  });

  it('decides each state by the first rule that holds, and records which', async () => {
    await putRules(api, appId, 'pay', {
      default_outcome: 'ALLOW',
      rules: [
        { name: 'sanctioned', conditions: { field: 'context.country', op: 'in', value: ['KP', 'IR'] }, outcome: 'BLOCK' },
        { name: 'huge', conditions: { field: 'context.amount', op: 'gte', value: 1_000_000 }, outcome: 'REVIEW' },
        { name: 'big', conditions: { field: 'context.amount', op: 'gt', value: 10_000 }, outcome: 'CHALLENGE_REQUIRED' },
      ],
    });
    const userId = newUserId();
    const cases: Array<[Record<string, unknown>, string, string | null]> = [
      [{ amount: 5, country: 'FR' }, 'ALLOW', null],
      [{ amount: 20_000, country: 'FR' }, 'CHALLENGE_REQUIRED', 'big'],
      [{ amount: 2_000_000 }, 'REVIEW', 'huge'],
      [{ amount: 20_000, country: 'KP' }, 'BLOCK', 'sanctioned'],
    ];
    for (const [context, state, rule] of cases) {
      const tracked = await track(api, userId, 'pay', { context });
      expect(tracked.state).toBe(state);
      expect((await api.get(`/v1/users/${userId}/actions/pay/${tracked.idempotency_key}`)).body).toMatchObject({ state, rule });
    }
    const page = await api.get(`/v1/users/${userId}/actions?action=pay&limit=2`);
    expect(page.body.data.map((a: { state: string }) => a.state)).toEqual(['BLOCK', 'REVIEW']);
    expect(page.body.has_more).toBe(true);
  });

  it('default outcomes other than ALLOW apply when no rule holds', async () => {
    await putRules(api, appId, 'strict', { default_outcome: 'CHALLENGE_REQUIRED', rules: [] });
    expect((await track(api, newUserId(), 'strict')).state).toBe('CHALLENGE_REQUIRED');
  });

  it('matches IPv4 and IPv6 CIDR lists, and string values', async () => {
    await putRules(api, appId, 'office', {
      default_outcome: 'CHALLENGE_REQUIRED',
      rules: [
        { name: 'office', conditions: { field: 'context.ip', op: 'cidr', value: ['10.0.0.0/8', '2001:db8::/32'] }, outcome: 'ALLOW' },
        { name: 'curl', conditions: { field: 'context.user_agent', op: 'contains', value: 'curl' }, outcome: 'BLOCK' },
      ],
    });
    const userId = newUserId();
    expect((await track(api, userId, 'office', { context: { ip: '10.20.30.40' } })).state).toBe('ALLOW');
    expect((await track(api, userId, 'office', { context: { ip: '2001:db8:5::1' } })).state).toBe('ALLOW');
    expect((await track(api, userId, 'office', { context: { ip: '203.0.113.9', user_agent: 'curl/8' } })).state).toBe('BLOCK');
    expect((await track(api, userId, 'office', { context: { ip: '203.0.113.9' } })).state).toBe('CHALLENGE_REQUIRED');
  });

  it('new_device: a device id the user has not used on an allowed action before', async () => {
    await putRules(api, appId, 'device', {
      default_outcome: 'ALLOW',
      rules: [{ name: 'new', conditions: { signal: 'new_device' }, outcome: 'CHALLENGE_REQUIRED' }],
    });
    await putRules(api, appId, 'deviceLogin', { default_outcome: 'ALLOW', rules: [] });
    const userId = newUserId();
    expect((await track(api, userId, 'device', { context: { device_id: 'laptop' } })).state).toBe('CHALLENGE_REQUIRED');
    // A challenged action does not make the device known; an allowed one does (whatever the action).
    expect((await track(api, userId, 'device', { context: { device_id: 'laptop' } })).state).toBe('CHALLENGE_REQUIRED');
    await track(api, userId, 'deviceLogin', { context: { device_id: 'laptop' } });
    expect((await track(api, userId, 'device', { context: { device_id: 'laptop' } })).state).toBe('ALLOW');
    expect((await track(api, userId, 'device', { context: { device_id: 'phone' } })).state).toBe('CHALLENGE_REQUIRED');
    // Another user's devices are not this user's.
    expect((await track(api, newUserId(), 'device', { context: { device_id: 'laptop' } })).state).toBe('CHALLENGE_REQUIRED');
    // No device_id: the device cannot be known, so it is new (an app that forgets the id is not let through).
    expect((await track(api, userId, 'device', {})).state).toBe('CHALLENGE_REQUIRED');
  });

  it('velocity: N tracks of the action within T seconds, this one included', async () => {
    await putRules(api, appId, 'velocity', {
      default_outcome: 'ALLOW',
      rules: [{ name: 'burst', conditions: { signal: 'velocity', within_seconds: 600, gte: 3 }, outcome: 'BLOCK' }],
    });
    const userId = newUserId();
    const states = [];
    for (let i = 0; i < 4; i++) states.push((await track(api, userId, 'velocity')).state);
    expect(states).toEqual(['ALLOW', 'ALLOW', 'BLOCK', 'BLOCK']);
    expect((await track(api, newUserId(), 'velocity')).state).toBe('ALLOW');
  });

  it('velocity counts every track of a burst sent at once, also those that share a statement', async () => {
    await putRules(api, appId, 'burst', {
      default_outcome: 'ALLOW',
      rules: [{ name: 'burst', conditions: { signal: 'velocity', within_seconds: 600, gte: 5 }, outcome: 'BLOCK' }],
    });
    const userId = newUserId();
    const states = await Promise.all(Array.from({ length: 30 }, async () => (await track(api, userId, 'burst')).state));
    expect(states.filter((state) => state === 'ALLOW')).toHaveLength(4);
    expect(states.filter((state) => state === 'BLOCK')).toHaveLength(26);
  });

  it('has_factor and failed_challenges read the user’s factors and challenges', async () => {
    await putRules(api, appId, 'signIn', {
      default_outcome: 'ALLOW',
      rules: [
        { name: 'failing', conditions: { signal: 'failed_challenges', within_seconds: 3600, gte: 1 }, outcome: 'BLOCK' },
        { name: 'protected', conditions: { signal: 'has_factor', type: 'totp' }, outcome: 'CHALLENGE_REQUIRED' },
      ],
    });
    expect((await track(api, newUserId(), 'signIn')).state).toBe('ALLOW');
    const user = await totpUser(api);
    const tracked = await track(api, user.userId, 'signIn');
    expect(tracked).toMatchObject({ state: 'CHALLENGE_REQUIRED', enrolled_factors: ['totp'] });
    const challengeId = await newChallenge(api, user.userId);
    for (let i = 0; i < 5; i++) await api.post(`/v1/challenges/${challengeId}/verify`, { code: '000000' });
    expect((await api.get(`/v1/challenges/${challengeId}`)).body.status).toBe('failed');
    expect((await track(api, user.userId, 'signIn')).state).toBe('BLOCK');
  });

  it('fraud_reported: nothing fires while no challenge was denied as fraud', async () => {
    // Fires after a push denied with reason "fraud": push.test.ts.
    await putRules(api, appId, 'fraud', {
      default_outcome: 'ALLOW',
      rules: [{ name: 'fraud', conditions: { signal: 'fraud_reported', within_seconds: 86400 }, outcome: 'BLOCK' }],
    });
    expect((await track(api, newUserId(), 'fraud')).state).toBe('ALLOW');
  });

  it('a malformed rule set is 400 naming the bad path, and changes nothing', async () => {
    const good = { default_outcome: 'BLOCK', rules: [{ name: 'ok', conditions: { signal: 'new_device' }, outcome: 'ALLOW' }] };
    await putRules(api, appId, 'guarded', good);
    const bad = await api.call('PUT', `/v1/apps/${appId}/actions/guarded/rules`, {
      body: {
        default_outcome: 'ALLOW',
        rules: [
          { name: 'a', conditions: { signal: 'new_device' }, outcome: 'BLOCK' },
          { name: 'b', conditions: { signal: 'new_device' }, outcome: 'BLOCK' },
          { name: 'c', conditions: { all: [{ field: 'context.amount', op: 'greater', value: 1 }] }, outcome: 'BLOCK' },
        ],
      },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'validation_failed', details: { field: 'rules[2].conditions.all[0].op' } });
    const outcome = await api.call('PUT', `/v1/apps/${appId}/actions/guarded/rules`, { body: { default_outcome: 'MAYBE', rules: [] } });
    expect(outcome.status).toBe(400);
    expect(outcome.body.error.details.field).toBe('default_outcome');
    const unknown = await api.call('PUT', `/v1/apps/${appId}/actions/guarded/rules`, { body: { ...good, extra: 1 } });
    expect(unknown.status).toBe(400);
    expect((await api.get(`/v1/apps/${appId}/actions/guarded/rules`)).body).toMatchObject(good);
  });

  it('rules are managed by the operator or the app itself, never by another app', async () => {
    const body = { default_outcome: 'REVIEW', rules: [] };
    expect((await admin.call('PUT', `/v1/apps/${appId}/actions/byAdmin/rules`, { body })).status).toBe(200);
    expect((await otherApi.call('PUT', `/v1/apps/${appId}/actions/byAdmin/rules`, { body })).status).toBe(404);
    expect((await otherApi.get(`/v1/apps/${appId}/actions/byAdmin/rules`)).status).toBe(404);
    expect((await otherApi.get(`/v1/apps/${otherAppId}/actions/byAdmin/rules`)).body.default_outcome).toBe('ALLOW');
    expect((await track(api, newUserId(), 'byAdmin')).state).toBe('REVIEW');
  });

  it('a review sets REVIEW to ALLOW or BLOCK once; the allowed track token then validates once', async () => {
    await putRules(api, appId, 'review', { default_outcome: 'REVIEW', rules: [] });
    const userId = newUserId();
    const tracked = await track(api, userId, 'review');
    const path = `/v1/users/${userId}/actions/review/${tracked.idempotency_key}`;
    expect((await api.post('/v1/actions/validate', { token: tracked.token, action: 'review' })).body).toMatchObject({ state: 'REVIEW', is_valid: false });
    const reviewed = await api.patch(path, { state: 'ALLOW' });
    expect(reviewed.body).toMatchObject({ state: 'ALLOW', outcome: 'REVIEW' });
    const again = await api.patch(path, { state: 'BLOCK' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('action_not_in_review');
    expect((await api.patch(path, { state: 'CHALLENGE_SUCCEEDED' })).status).toBe(400);
    expect((await otherApi.patch(path, { state: 'BLOCK' })).status).toBe(404);
    // An allowed action's token presented for another action: not valid, and not ALLOW either (a state-only check refuses it).
    expect((await api.post('/v1/actions/validate', { token: tracked.token, action: 'pay' })).body).toMatchObject({ state: 'CHALLENGE_REQUIRED', is_valid: false });
    const validated = await api.post('/v1/actions/validate', { token: tracked.token, action: 'review' });
    expect(validated.body).toMatchObject({ state: 'ALLOW', is_valid: true, user_id: userId, action: 'review' });
    expect((await api.post('/v1/actions/validate', { token: tracked.token, action: 'review' })).body.error.code).toBe('action_token_used');
  });

  it('a track retried with the same Idempotency-Key answers the first answer and records one action', async () => {
    const userId = newUserId();
    const send = () => api.post(`/v1/users/${userId}/actions/retried`, { context: { n: 1 } }, { headers: { 'idempotency-key': `k-${userId}` } });
    const [first, second] = [await send(), await send()];
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.body).toEqual(first.body);
    expect((await api.get(`/v1/users/${userId}/actions`)).body.data).toHaveLength(1);
  });

  it('refuses bad input with the documented error and records nothing', async () => {
    const userId = newUserId();
    const attempts: Array<[string, Record<string, unknown>, string]> = [
      ['/v1/users/u/actions/bad name', {}, 'params.action'],
      [`/v1/users/${userId}/actions/x`, { redirect_url: 'javascript:alert(1)' }, 'redirect_url'],
      [`/v1/users/${userId}/actions/x`, { redirect_url: 'ftp://example.com/' }, 'redirect_url'],
      [`/v1/users/${userId}/actions/x`, { context: { note: 'a\u0000b' } }, 'context.note'],
      [`/v1/users/${userId}/actions/x`, { context: { note: 'a\ud800b' } }, 'context.note'],
      [`/v1/users/${userId}/actions/x`, { context: { ['\udc00']: 1 } }, 'context.\udc00'],
      [`/v1/users/${userId}/actions/x`, { context: { blob: 'x'.repeat(9000) } }, 'context'],
      [`/v1/users/${userId}/actions/x`, { context: [] }, 'context'],
      [`/v1/users/${userId}/actions/x`, { context: { ['k'.repeat(65)]: 1 } }, 'context'],
      [`/v1/users/${userId}/actions/x`, { state: 'ALLOW' }, 'state'],
    ];
    for (const [path, body, field] of attempts) {
      const reply = await api.post(path.replace(' ', '%20'), body);
      expect(reply.status, path).toBe(400);
      expect(reply.body.error.details.field).toBe(field);
    }
    // 1e400 is read as Infinity, which would be stored as null: the decision would not match the record.
    const huge = await api.call('POST', `/v1/users/${userId}/actions/x`, { raw: '{"context":{"amount":1e400}}', headers: { 'content-type': 'application/json' } });
    expect([huge.status, huge.body.error.details]).toEqual([400, { field: 'context.amount', reason: 'is a number too large to store' }]);
    expect((await api.get(`/v1/users/${userId}`)).status).toBe(404);
    expect((await api.post(`/v1/users/${userId}/actions/x`, {}, { as: null })).status).toBe(401);
  });

  it('redirect_url must be on the app’s allowed_origins when it lists any', async () => {
    const strict = (await admin.post('/v1/apps', { name: 'Strict', allowed_origins: ['https://shop.example'] })).body;
    const strictApi = client(server.url, { app: strict });
    const refused = await strictApi.post(`/v1/users/u/actions/x`, { redirect_url: 'https://evil.example/back' });
    expect(refused.status).toBe(400);
    expect(refused.body.error.details.field).toBe('redirect_url');
    expect((await strictApi.post(`/v1/users/u/actions/x`, { redirect_url: 'https://shop.example/back?x=1' })).status).toBe(200);
  });
});
