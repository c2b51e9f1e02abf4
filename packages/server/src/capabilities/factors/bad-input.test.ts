import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds, startTestServer } from '../../../test/harness.ts';
import { client, type Client } from '../../../test/http.ts';
import { awayFromStepBoundary, oathtool } from '../../../test/otp-tools.ts';
import { newChallenge, totpUser, type TotpUser } from '../../../test/totp-user.ts';

/** Bad input to users, factors and challenges: the documented 4xx, and nothing changed. */
describe.each(databaseKinds())('bad input to users, factors and challenges on %s', (kind) => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let api: Client;
  let user: TotpUser;
  let challengeId: string;
  let snapshot: () => Promise<unknown>;

  beforeAll(async () => {
    server = await startTestServer(kind);
    const admin = client(server.url);
    api = client(server.url, { app: (await admin.post('/v1/apps', { name: 'A' })).body });
    user = await totpUser(api);
    challengeId = await newChallenge(api, user.userId);
    snapshot = async () => [
      (await api.get(`/v1/users/${user.userId}`)).body,
      (await api.get(`/v1/challenges/${challengeId}`)).body,
    ];
  });
  afterAll(() => server?.stop());

  it.each([
    ['letters', 'abcdef'],
    ['5 digits', '12345'],
    ['9 digits', '123456789'],
    ['spaces', '123 456'],
    ['empty', ''],
    ['a number with a sign', '+12345'],
  ])('refuses a code with %s (400 naming code) without counting it', async (_case, code) => {
    const before = await snapshot();
    const reply = await api.post(`/v1/challenges/${challengeId}/verify`, { code });
    expect(reply.status).toBe(400);
    expect(reply.body.error.details.field).toBe('code');
    expect(await snapshot()).toEqual(before);
  });

  it('refuses a code that is not a string', async () => {
    const reply = await api.post(`/v1/challenges/${challengeId}/verify`, { code: 123456 });
    expect(reply.status).toBe(400);
    expect(reply.body.error.details.field).toBe('code');
  });

  it.each([
    ['an unknown algorithm', { type: 'totp', algorithm: 'MD5' }, 'algorithm'],
    ['7 digits', { type: 'totp', digits: 7 }, 'digits'],
    ['period 0', { type: 'totp', period: 0 }, 'period'],
    ['period 45', { type: 'totp', period: 45 }, 'period'],
    ['no type', {}, 'type'],
    ['an unknown type', { type: 'sms' }, 'type'],
    ['a secret that is not Base32', { type: 'totp', secret: 'JBSWY3DP1HPK3PXP!', code: '123456' }, 'secret'],
    ['a secret under 128 bits', { type: 'totp', secret: 'JBSWY3DPEHPK3PXP', code: '123456' }, 'secret'],
    ['a secret without a code', { type: 'totp', secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP' }, 'code'],
    ['a code without a secret', { type: 'totp', code: '123456' }, 'code'],
    ['an unknown field', { type: 'totp', colour: 'red' }, 'colour'],
    ['type recovery', { type: 'recovery' }, 'type'],
  ])('refuses an enrollment with %s, creating nothing', async (_case, body, field) => {
    const userId = `bad-${Math.random().toString(36).slice(2)}`;
    const reply = await api.post(`/v1/users/${userId}/factors`, body);
    expect(reply.status).toBe(400);
    expect(reply.body.error.details.field).toBe(field);
    expect((await api.get(`/v1/users/${userId}`)).status).toBe(404);
  });

  it('refuses to activate an active factor (409) and a made-up one (404)', async () => {
    const active = await api.post(`/v1/factors/${user.factorId}/activate`, { code: await user.code() });
    expect(active.status).toBe(409);
    expect(active.body.error.code).toBe('factor_already_active');
    expect((await api.post('/v1/factors/fac_00000000000000000000000000/activate', { code: '123456' })).status).toBe(404);
  });

  it('counts a wrong activation code, and leaves the factor unverified', async () => {
    const enrolled = await api.post(`/v1/users/${user.userId}-2/factors`, { type: 'totp' });
    const wrong = await api.post(`/v1/factors/${enrolled.body.factor_id}/activate`, { code: '000000' });
    expect(wrong.status).toBe(422);
    expect(wrong.body.error).toMatchObject({ code: 'invalid_code', details: { attempts_left: 9 } });
    expect((await api.get(`/v1/factors/${enrolled.body.factor_id}`)).body.status).toBe('unverified');
  });

  it('refuses a challenge on an unverified factor, for a user without factors, and for an unknown user', async () => {
    const enrolled = await api.post(`/v1/users/${user.userId}-3/factors`, { type: 'totp' });
    const onUnverified = await api.post(`/v1/users/${user.userId}-3/challenges`, { factor_id: enrolled.body.factor_id });
    expect(onUnverified.status).toBe(409);
    expect(onUnverified.body.error.code).toBe('no_active_factor');
    const noFactor = await api.post(`/v1/users/${user.userId}-3/challenges`, {});
    expect(noFactor.status).toBe(409);
    const unknown = await api.post('/v1/users/nobody-at-all/challenges', {});
    expect(unknown.status).toBe(404);
    const noRecovery = await api.post(`/v1/users/${user.userId}/challenges`, { type: 'recovery' });
    expect(noRecovery.status).toBe(409);
    // A user with TOTP only and no registered device: a push challenge is refused, not left unanswerable.
    const push = await api.post(`/v1/users/${user.userId}/challenges`, { type: 'push' });
    expect(push.status).toBe(409);
    expect(push.body.error.code).toBe('no_active_factor');
  });

  it.each([
    ['expires_in 0', { expires_in: 0 }, 'expires_in'],
    ['expires_in 3601', { expires_in: 3601 }, 'expires_in'],
    ['expires_in as a string', { expires_in: '60' }, 'expires_in'],
    ['details that are a list', { details: ['a'] }, 'details'],
    ['an unknown field', { urgent: true }, 'urgent'],
    ['number matching on TOTP', { number_matching: true }, 'number_matching'],
  ])('refuses a challenge with %s', async (_case, body, field) => {
    const reply = await api.post(`/v1/users/${user.userId}/challenges`, body);
    expect(reply.status).toBe(400);
    expect(reply.body.error.details.field).toBe(field);
  });

  it("refuses a challenge whose type is not its factor's, and recovery codes asked with a body", async () => {
    const mismatch = await api.post(`/v1/users/${user.userId}/challenges`, { factor_id: user.factorId, type: 'recovery' });
    expect([mismatch.status, mismatch.body.error.details?.field]).toEqual([400, 'type']);
    for (const body of [{ count: 20 }, [], null]) {
      const reply = await api.call('POST', `/v1/users/${user.userId}-4/recovery-codes`, { raw: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
      expect(reply.status, JSON.stringify(body)).toBe(400);
    }
    expect((await api.get(`/v1/users/${user.userId}-4`)).status).toBe(404);
  });

  it('refuses an id or a cursor with a control character, naming the parameter', async () => {
    for (const [path, field] of [
      ['/v1/challenges/%00', 'params.challenge_id'],
      ['/v1/factors/fac_%01', 'params.factor_id'],
      [`/v1/users/${user.userId}/actions/signIn/act_%00`, 'params.idempotency_key'],
      ['/v1/webhook-deliveries?starting_after=%00', 'querystring.starting_after'],
    ]) {
      const reply = await api.get(path as string);
      expect([reply.status, reply.body.error.details], path).toEqual([400, { field, reason: 'must not contain control characters' }]);
    }
  });

  it('answers 409 to a verify of a verified challenge', async () => {
    await awayFromStepBoundary();
    const fresh = await totpUser(api);
    const id = await newChallenge(api, fresh.userId);
    expect((await api.post(`/v1/challenges/${id}/verify`, { code: await fresh.code() })).status).toBe(200);
    const again = await api.post(`/v1/challenges/${id}/verify`, { code: await fresh.code(1) });
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'challenge_not_pending', details: { status: 'verified' } });
  });

  it('refuses bad user fields and a bad wait', async () => {
    for (const body of [{ email: 'not an email' }, { phone: 'call me' }, { display_name: '' }, { nickname: 'x' }]) {
      const reply = await api.call('PUT', `/v1/users/${user.userId}`, { body });
      expect(reply.status, JSON.stringify(body)).toBe(400);
    }
    expect((await api.get(`/v1/challenges/${challengeId}?wait=61`)).status).toBe(400);
    expect((await api.get(`/v1/challenges/${challengeId}?wait=-1`)).status).toBe(400);
  });

  it('refuses text the database cannot store, wherever it is in the body, naming the field', async () => {
    const before = await snapshot();
    const challenges = () => server.db.query('SELECT count(*)::int AS n FROM challenges');
    const countBefore = await challenges();
    for (const [body, field] of [
      [{ type: 'totp', details: { amount: '\ud800' } }, 'details.amount'],
      [{ type: 'totp', hidden_details: { ['\ud800']: 'x' } }, 'hidden_details.\ud800'],
      [{ type: 'totp', details: { note: 'a\u0000b' } }, 'details.note'],
    ] as const) {
      const reply = await api.post(`/v1/users/${user.userId}/challenges`, body);
      expect([reply.status, reply.body.error.details?.field], field).toEqual([400, field]);
    }
    expect(await snapshot()).toEqual(before);
    expect(await challenges()).toEqual(countBefore);
  });

  it('says in words, not as a regular expression, what a value must look like', async () => {
    const phone = await api.call('PUT', `/v1/users/${user.userId}`, { body: { phone: 'call me' } });
    expect(phone.body.error.details).toEqual({ field: 'phone', reason: 'must be a phone number: 3 to 32 digits, spaces and ( ) . -, after an optional +' });
    const control = await api.get('/v1/users/a%01b');
    expect(control.body.error.details).toEqual({ field: 'params.user_id', reason: 'must be printable text other than "." and ".."' });
    const action = await api.post(`/v1/users/${user.userId}/actions/sign%20in`, {});
    expect(action.body.error.details).toEqual({ field: 'params.action', reason: 'may contain only letters, digits and _ . : -' });
  });

  it('refuses admin credentials on app routes (they act for one app)', async () => {
    const reply = await api.get(`/v1/users/${user.userId}`, { as: { admin: 'test-admin-token-0123456789abcdef0123456789' } });
    expect(reply.status).toBe(403);
  });

  it('checks credentials before the body: no credentials and a bad body is 401, the wrong ones 403', async () => {
    const invalid = { expires_in: 0 };
    expect((await api.post(`/v1/users/${user.userId}/challenges`, invalid, { as: null })).status).toBe(401);
    const admin = { admin: 'test-admin-token-0123456789abcdef0123456789' };
    expect((await api.post(`/v1/users/${user.userId}/challenges`, invalid, { as: admin })).status).toBe(403);
    const garbled = await api.call('POST', `/v1/challenges/${challengeId}/verify`, { as: null, raw: '{"code":', headers: { 'content-type': 'application/json' } });
    expect(garbled.status).toBe(401);
    expect((await api.post(`/v1/users/${user.userId}/challenges`, invalid)).status).toBe(400);
  });

  it('limits challenge creation per user (429 with Retry-After)', async () => {
    const limited = await startTestServer(kind, { env: { TESSERA_CHALLENGES_PER_USER_PER_MINUTE: '3' } });
    try {
      const app = (await client(limited.url).post('/v1/apps', { name: 'L' })).body;
      const limitedApi = client(limited.url, { app });
      const one = await totpUser(limitedApi);
      const two = await totpUser(limitedApi);
      // Refused calls do not count: number matching on a TOTP factor, a factor that does not exist, no such user.
      for (let i = 0; i < 3; i++) {
        expect((await limitedApi.post(`/v1/users/${one.userId}/challenges`, { number_matching: true })).status).toBe(400);
        expect((await limitedApi.post(`/v1/users/${one.userId}/challenges`, { factor_id: 'fac_missing' })).status).toBe(404);
      }
      expect((await limitedApi.post('/v1/users/nobody/challenges', {})).status).toBe(404);
      // Nor when sent all at once: those turned away meanwhile (429) leave nothing counted either.
      const burst = await Promise.all(Array.from({ length: 40 }, () => limitedApi.post(`/v1/users/${one.userId}/challenges`, { factor_id: 'fac_missing' })));
      expect(burst.every((reply) => reply.status === 404 || reply.status === 429)).toBe(true);
      for (let i = 0; i < 3; i++) expect((await limitedApi.post(`/v1/users/${one.userId}/challenges`, {})).status).toBe(201);
      const refused = await limitedApi.post(`/v1/users/${one.userId}/challenges`, {});
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      // Another user is not affected.
      expect((await limitedApi.post(`/v1/users/${two.userId}/challenges`, {})).status).toBe(201);
    } finally {
      await limited.stop();
    }
  });

  it('manages users: put, get, delete removes their factors and challenges', async () => {
    const userId = 'ann@example.com';
    const put = await api.call('PUT', `/v1/users/${encodeURIComponent(userId)}`, {
      body: { email: 'ann@example.com', display_name: 'Ann', phone: '+44 20 7946 0000' },
    });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ user_id: userId, email: 'ann@example.com', two_factor_enabled: false, factors: [] });
    const partial = await api.call('PUT', `/v1/users/${encodeURIComponent(userId)}`, { body: { display_name: 'Ann B' } });
    expect(partial.body).toMatchObject({ email: 'ann@example.com', display_name: 'Ann B' });
    const enrolled = await api.post(`/v1/users/${encodeURIComponent(userId)}/factors`, { type: 'totp' });
    expect(decodeURIComponent(enrolled.body.uri)).toContain(':ann@example.com?');
    await awayFromStepBoundary();
    await api.post(`/v1/factors/${enrolled.body.factor_id}/activate`, { code: await oathtool(enrolled.body.secret) });
    const id = await newChallenge(api, userId);
    expect((await api.delete(`/v1/users/${encodeURIComponent(userId)}`)).status).toBe(204);
    expect((await api.get(`/v1/users/${encodeURIComponent(userId)}`)).status).toBe(404);
    expect((await api.get(`/v1/factors/${enrolled.body.factor_id}`)).status).toBe(404);
    expect((await api.get(`/v1/challenges/${id}`)).status).toBe(404);
  });
});
