import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newUserId, putRules, track } from '../../../test/actions.ts';
import { databaseKinds, startTestServer } from '../../../test/harness.ts';
import { client, type Client } from '../../../test/http.ts';
import { awayFromStepBoundary, oathtool } from '../../../test/otp-tools.ts';
import { totpUser } from '../../../test/totp-user.ts';
import { WebhookReceiver, eventually } from '../../../test/webhook-receiver.ts';
import { masterKeyFile } from '../../../src/platform/data-dir.ts';
import { Keyring } from '../../../src/platform/keyring.ts';
import { ActionClient } from '../../../../sdk-browser/src/actions.ts';
import { ActionTokens } from './action-token.ts';

const base64urlAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

describe.each(databaseKinds())('adaptive MFA: client API and validate on %s', (kind) => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let api: Client;
  let otherApi: Client;
  let anonymous: Client;
  let appId: string;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    server = await startTestServer(kind, { env: { TESSERA_CHALLENGES_PER_USER_PER_MINUTE: '1000' }, webhooks: { pollIntervalMs: 100 } });
    receiver = await new WebhookReceiver().start();
    const admin = client(server.url);
    const app = (await admin.post('/v1/apps', { name: 'Shop', callback_url: receiver.url })).body;
    appId = app.app_id;
    api = client(server.url, { app });
    otherApi = client(server.url, { app: (await admin.post('/v1/apps', { name: 'Other' })).body });
    anonymous = client(server.url, null);
    await putRules(api, appId, 'signIn', { default_outcome: 'CHALLENGE_REQUIRED', rules: [] });
    await putRules(api, appId, 'blocked', { default_outcome: 'BLOCK', rules: [] });
  });
  afterAll(async () => {
    await receiver?.stop();
    await server?.stop();
  });

  const as = (token: string) => ({ as: null, headers: { authorization: `Bearer ${token}` } });
  const validate = (body: Record<string, unknown>, caller = api) => caller.post('/v1/actions/validate', body);

  /** A TOTP user, a CHALLENGE_REQUIRED signIn, and the success token of a right code. */
  async function passedChallenge() {
    await awayFromStepBoundary();
    const user = await totpUser(api);
    const tracked = await track(api, user.userId, 'signIn');
    const verified = await anonymous.post('/v1/client/totp/verify', { code: await user.code() }, as(tracked.token));
    expect(verified.status, JSON.stringify(verified.body)).toBe(200);
    return { user, tracked, success: verified.body.token as string };
  }

  it('a right TOTP code answers a success token that validates once: CHALLENGE_SUCCEEDED', async () => {
    const { user, tracked, success } = await passedChallenge();
    expect(success).not.toBe(tracked.token);
    const first = await validate({ token: success, action: 'signIn' });
    expect(first.body).toEqual({ state: 'CHALLENGE_SUCCEEDED', is_valid: true, user_id: user.userId, action: 'signIn', idempotency_key: tracked.idempotency_key });
    const second = await validate({ token: success, action: 'signIn' });
    expect(second.status).toBe(409);
    expect(second.body.error.code).toBe('action_token_used');
    const record = await api.get(`/v1/users/${user.userId}/actions/signIn/${tracked.idempotency_key}`);
    expect(record.body.state).toBe('CHALLENGE_SUCCEEDED');
    expect(record.body.validated_at).not.toBeNull();
    // The track token served its purpose: no more challenges on this action.
    const after = await anonymous.post('/v1/client/totp/verify', { code: await user.code(1) }, as(tracked.token));
    expect(after.status).toBe(409);
    expect(after.body.error.code).toBe('action_not_challengeable');
  });

  it('validates exactly once under 10 concurrent calls', async () => {
    const { success } = await passedChallenge();
    const replies = await Promise.all(Array.from({ length: 10 }, () => validate({ token: success, action: 'signIn' })));
    expect(replies.filter((reply) => reply.status === 200 && reply.body.is_valid)).toHaveLength(1);
    expect(replies.filter((reply) => reply.status === 409)).toHaveLength(9);
  });

  it('a token for another action or user is not valid, and stays unused', async () => {
    const { user, tracked, success } = await passedChallenge();
    // Never CHALLENGE_SUCCEEDED when not valid: an app that checks the state alone must refuse these too.
    expect((await validate({ token: success, action: 'payment' })).body).toMatchObject({ is_valid: false, state: 'CHALLENGE_REQUIRED' });
    expect((await validate({ token: success, action: 'signIn', user_id: 'someone-else' })).body).toMatchObject({ is_valid: false, state: 'CHALLENGE_REQUIRED' });
    // The track token of a challenged action never validates, even once the challenge is passed.
    expect((await validate({ token: tracked.token, action: 'signIn' })).body).toMatchObject({ state: 'CHALLENGE_REQUIRED', is_valid: false });
    expect((await validate({ token: success, action: 'signIn', user_id: user.userId })).body.is_valid).toBe(true);
  });

  it('refuses altered tokens, another app’s, and expired ones, changing nothing', async () => {
    const { success } = await passedChallenge();
    const [header, payload, signature] = success.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, act: 'payment' })).toString('base64url')}.${signature}`;
    // Characters a base64url decoder skips, and a last character that differs only in bits the decoding ignores.
    const sibling = `${success.slice(0, -1)}${base64urlAlphabet[base64urlAlphabet.indexOf(success.at(-1) as string) ^ 1]}`;
    for (const token of [forged, `${success}x`, `${success}!!`, `${success.slice(0, 10)} ${success.slice(10)}`, sibling, 'not-a-token', `${header}.${payload}`]) {
      const reply = await validate({ token, action: 'signIn' });
      expect(reply.status, token).toBe(400);
      expect(reply.body.error.code).toBe('action_token_invalid');
    }
    const foreign = await validate({ token: success, action: 'signIn' }, otherApi);
    expect(foreign.status).toBe(400);
    expect(foreign.body.error.details.reason).toBe('for another app');
    // A token signed with the server's own key, but expired a second ago.
    const tokens = new ActionTokens(new Keyring(await masterKeyFile(server.storage.dataDir)));
    const expired = tokens.sign({ ...toClaims(claims), scope: 'success' }, 180, Date.now() - 181_000);
    const late = await validate({ token: expired, action: 'signIn' });
    expect(late.status).toBe(410);
    expect(late.body.error.code).toBe('action_token_expired');
    // None of these used the token up.
    expect((await validate({ token: success, action: 'signIn' })).body.is_valid).toBe(true);
  });

  it('a wrong code is 422 with attempts left, and the action stays to be challenged', async () => {
    const user = await totpUser(api);
    const tracked = await track(api, user.userId, 'signIn');
    const wrong = await anonymous.post('/v1/client/totp/verify', { code: '000000' }, as(tracked.token));
    expect(wrong.status).toBe(422);
    expect(wrong.body.error).toMatchObject({ code: 'invalid_code', details: { attempts_left: 4 } });
    expect((await api.get(`/v1/users/${user.userId}/actions/signIn/${tracked.idempotency_key}`)).body.state).toBe('CHALLENGE_REQUIRED');
    expect((await anonymous.post('/v1/client/totp/verify', { code: 'abc' }, as(tracked.token))).status).toBe(400);
    expect((await validate({ token: tracked.token, action: 'signIn' })).body).toMatchObject({ state: 'CHALLENGE_REQUIRED', is_valid: false });
  });

  it('counts codes sent all at once one by one (a double-submit), never a 5xx', async () => {
    for (const type of ['totp', 'recovery'] as const) {
      const user = await totpUser(api);
      if (type === 'recovery') await api.post(`/v1/users/${user.userId}/recovery-codes`);
      const tracked = await track(api, user.userId, 'signIn');
      const code = type === 'totp' ? '000000' : 'aaaa-aaaa-aaaa-aaaa';
      const replies = await Promise.all(Array.from({ length: 8 }, () => anonymous.post(`/v1/client/${type}/verify`, { code }, as(tracked.token))));
      expect(replies.map((reply) => `${reply.status} ${reply.body.error?.code}`), type).toEqual(Array(8).fill('422 invalid_code'));
      // Each was counted toward the user's lockout: the 10th wrong code in a row locks the user.
      const more = await Promise.all(Array.from({ length: 3 }, () => anonymous.post(`/v1/client/${type}/verify`, { code }, as(tracked.token))));
      expect(more.map((reply) => reply.status).sort(), type).toEqual([422, 422, 429]);
    }
  });

  it('keeps the track token usable after a challenge failed on 5 wrong codes: the right code then passes', async () => {
    await awayFromStepBoundary();
    const user = await totpUser(api);
    const tracked = await track(api, user.userId, 'signIn');
    for (let left = 4; left >= 0; left--) {
      const wrong = await anonymous.post('/v1/client/totp/verify', { code: '000000' }, as(tracked.token));
      expect(wrong.body.error.details).toMatchObject({ attempts_left: left });
    }
    const right = await anonymous.post('/v1/client/totp/verify', { code: await user.code() }, as(tracked.token));
    expect(right.status, JSON.stringify(right.body)).toBe(200);
    expect((await validate({ token: right.body.token, action: 'signIn' })).body.state).toBe('CHALLENGE_SUCCEEDED');
  });

  it('refuses a missing, altered or success-scope token, and a BLOCK action', async () => {
    const { tracked, success } = await passedChallenge();
    const none = await anonymous.post('/v1/client/totp/verify', { code: '123456' });
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('client_token_invalid');
    const altered = await anonymous.post('/v1/client/totp/verify', { code: '123456' }, as(`${tracked.token.slice(0, -2)}AA`));
    expect(altered.status).toBe(401);
    const scoped = await anonymous.post('/v1/client/totp/verify', { code: '123456' }, as(success));
    expect(scoped.status).toBe(403);
    expect(scoped.body.error.code).toBe('client_token_scope');
    const blocked = await track(api, newUserId(), 'blocked');
    const refused = await anonymous.post('/v1/client/totp/enroll', undefined, as(blocked.token));
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'action_not_challengeable', details: { state: 'BLOCK' } });
  });

  it('enrolls a first TOTP factor: the QR code, then the first code passes the challenge', async () => {
    await awayFromStepBoundary();
    const userId = newUserId();
    const tracked = await track(api, userId, 'signIn');
    const enrolled = await anonymous.post('/v1/client/totp/enroll', undefined, as(tracked.token));
    expect(enrolled.status).toBe(200);
    expect(enrolled.body.uri).toContain(`secret=${enrolled.body.secret}`);
    expect(enrolled.body.qr_data_url).toMatch(/^data:image\/png;base64,/);
    const verified = await anonymous.post('/v1/client/totp/verify', { code: await oathtool(enrolled.body.secret) }, as(tracked.token));
    expect(verified.status).toBe(200);
    expect((await validate({ token: verified.body.token, action: 'signIn' })).body).toMatchObject({ state: 'CHALLENGE_SUCCEEDED', is_valid: true });
    expect((await api.get(`/v1/users/${userId}`)).body.factors).toMatchObject([{ type: 'totp', status: 'active' }]);
    // Now that the user has a factor, a track token cannot add another.
    const again = await anonymous.post('/v1/client/totp/enroll', undefined, as((await track(api, userId, 'signIn')).token));
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('enrollment_not_allowed');
  });

  it('drops an enrollment made with a track token once the user has an active factor: its code no longer passes', async () => {
    await awayFromStepBoundary();
    const userId = newUserId();
    const tracked = await track(api, userId, 'signIn');
    const intruder = await anonymous.post('/v1/client/totp/enroll', undefined, as(tracked.token));
    expect(intruder.status).toBe(200);
    // Meanwhile the app enrolls the person's own factor, and it is activated.
    const own = await api.post(`/v1/users/${userId}/factors`, { type: 'totp' });
    expect((await api.post(`/v1/factors/${own.body.factor_id}/activate`, { code: await oathtool(own.body.secret) })).status).toBe(200);
    const refused = await anonymous.post('/v1/client/totp/verify', { code: await oathtool(intruder.body.secret) }, as(tracked.token));
    expect([refused.status, refused.body.error.code]).toEqual([422, 'invalid_code']);
    const factors = (await api.get(`/v1/users/${userId}`)).body.factors;
    expect(factors.map((factor: { factor_id: string; status: string }) => [factor.factor_id, factor.status])).toEqual([[own.body.factor_id, 'active']]);
    // The person's own factor passes the action's challenge (the next step: the activation used this one).
    const passed = await anonymous.post('/v1/client/totp/verify', { code: await oathtool(own.body.secret, { offsetSteps: 1 }) }, as(tracked.token));
    expect(passed.status).toBe(200);
  });

  it("leaves one unverified factor however often the user is offered enrolment; the app's own stays", async () => {
    const userId = newUserId();
    const ownEnrolment = await api.post(`/v1/users/${userId}/factors`, { type: 'totp' });
    expect(ownEnrolment.status).toBe(201);
    const secrets: string[] = [];
    for (const tracked of [await track(api, userId, 'signIn'), await track(api, userId, 'signIn')]) {
      for (let visit = 0; visit < 2; visit++) {
        const enrolled = await anonymous.post('/v1/client/totp/enroll', undefined, as(tracked.token));
        expect(enrolled.status).toBe(200);
        secrets.push(enrolled.body.secret);
      }
    }
    // Each action shows its own enrollment again (a reload must not void a QR code already scanned).
    expect([secrets[0] === secrets[1], secrets[2] === secrets[3], new Set(secrets).size]).toEqual([true, true, 2]);
    const factorIds = (await api.get(`/v1/users/${userId}`)).body.factors.map((factor: { factor_id: string }) => factor.factor_id).sort();
    expect(factorIds).toHaveLength(2);
    expect(factorIds).toContain(ownEnrolment.body.factor_id);
    // The one left is the last one offered: its first code passes the challenge.
    await awayFromStepBoundary();
    const last = await track(api, userId, 'signIn');
    const enrolled = await anonymous.post('/v1/client/totp/enroll', undefined, as(last.token));
    const verified = await anonymous.post('/v1/client/totp/verify', { code: await oathtool(enrolled.body.secret) }, as(last.token));
    expect(verified.status).toBe(200);
  });

  it('a recovery code passes the challenge too', async () => {
    const user = await totpUser(api);
    const codes = (await api.post(`/v1/users/${user.userId}/recovery-codes`)).body.codes as string[];
    const tracked = await track(api, user.userId, 'signIn');
    expect(tracked.enrolled_factors).toEqual(['recovery', 'totp']);
    const verified = await anonymous.post('/v1/client/recovery/verify', { code: codes[0] }, as(tracked.token));
    expect(verified.status).toBe(200);
    expect((await validate({ token: verified.body.token, action: 'signIn' })).body.is_valid).toBe(true);
  });

  it('the browser SDK’s ActionClient enrolls and verifies, with refusals as values', async () => {
    await awayFromStepBoundary();
    const tracked = await track(api, newUserId(), 'signIn');
    const sdk = new ActionClient({ baseUrl: server.url, token: tracked.token });
    const enrolled = await sdk.totp.enroll();
    if (!enrolled.ok) throw new Error(enrolled.error.message);
    const wrong = await sdk.totp.verify({ code: '000000' });
    expect(wrong).toMatchObject({ ok: false, error: { code: 'invalid_code', status: 422 } });
    const right = await sdk.totp.verify({ code: await oathtool(enrolled.data.secret) });
    if (!right.ok) throw new Error(right.error.message);
    expect((await validate({ token: right.data.token, action: 'signIn' })).body.state).toBe('CHALLENGE_SUCCEEDED');
    sdk.setToken(right.data.token);
    expect(await sdk.recovery.verify({ code: 'abcd-efgh-jkmn-pqrs' })).toMatchObject({ ok: false, error: { code: 'client_token_scope' } });
  });

  it('answers CORS preflights, and refuses origins the app does not list', async () => {
    const preflight = await fetch(`${server.url}/v1/client/totp/verify`, {
      method: 'OPTIONS',
      headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    expect(preflight.headers.get('access-control-allow-headers')).toContain('authorization');
    const admin = client(server.url);
    const strict = (await admin.post('/v1/apps', { name: 'Strict', allowed_origins: ['https://shop.example'] })).body;
    const strictApi = client(server.url, { app: strict });
    const tracked = await track(strictApi, newUserId(), 'signIn');
    const foreign = await anonymous.post('/v1/client/totp/enroll', undefined, { as: null, headers: { authorization: `Bearer ${tracked.token}`, origin: 'https://evil.example' } });
    expect(foreign.status).toBe(403);
    expect(foreign.body.error.code).toBe('origin_not_allowed');
    const own = await anonymous.post('/v1/client/totp/enroll', undefined, { as: null, headers: { authorization: `Bearer ${tracked.token}`, origin: 'https://shop.example' } });
    expect(own.status).toBe(200);
    expect(own.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    // The page can read every refusal, a body that fails its checks or is not JSON too.
    const page = { authorization: `Bearer ${tracked.token}`, origin: 'https://shop.example' };
    for (const refused of [
      await anonymous.post('/v1/client/totp/verify', {}, { as: null, headers: page }),
      await anonymous.call('POST', '/v1/client/totp/verify', { as: null, raw: '{"code":', headers: { ...page, 'content-type': 'application/json' } }),
      await anonymous.get('/v1/client/challenges/chl_x?wait=-1', { as: null, headers: page }),
    ]) {
      expect([refused.status, refused.headers.get('access-control-allow-origin')]).toEqual([400, 'https://shop.example']);
    }
  });

  it('sends action.tracked and action.challenge_succeeded events through the outbox', async () => {
    const { tracked } = await passedChallenge();
    const events = await eventually(async () => {
      const types = receiver.received
        .map((request) => JSON.parse(request.body))
        .filter((event) => event.data?.idempotency_key === tracked.idempotency_key)
        .map((event) => `${event.type}:${event.data.state}`);
      return types.length >= 2 ? types : undefined;
    });
    expect(events.sort()).toEqual(['action.challenge_succeeded:CHALLENGE_SUCCEEDED', 'action.tracked:CHALLENGE_REQUIRED']);
  });
});

function toClaims(claims: Record<string, string>) {
  return { appId: claims.app as string, userId: claims.sub as string, action: claims.act as string, actionId: claims.aid as string };
}

describe('the browser SDK’s ActionClient, when the answer is not the API’s', () => {
  it('says unexpected_response with the status for a proxy’s HTML page, and network_error when nothing answers', async () => {
    const proxy = createServer((_request, response) => response.writeHead(502, { 'content-type': 'text/html' }).end('<html>Bad gateway</html>'));
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const { port } = proxy.address() as AddressInfo;
    try {
      const answer = await new ActionClient({ baseUrl: `http://127.0.0.1:${port}`, token: 'x' }).totp.verify({ code: '123456' });
      expect(answer).toMatchObject({ ok: false, error: { code: 'unexpected_response', status: 502 } });
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
    const unreachable = await new ActionClient({ baseUrl: `http://127.0.0.1:${port}`, token: 'x' }).totp.verify({ code: '123456' });
    expect(unreachable).toMatchObject({ ok: false, error: { code: 'network_error', status: 0 } });
  });
});
