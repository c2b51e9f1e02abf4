import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds, startTestServer, testAdminToken, type TestServer } from '../../server/test/harness.ts';
import { failure } from '../test/failures.ts';
import { Tessera, TesseraAdmin } from './index.ts';

describe.each(databaseKinds())('Tessera#actions against a real server on %s', (kind) => {
  let server: TestServer & { stop(): Promise<void> };
  let tessera: Tessera;

  beforeAll(async () => {
    server = await startTestServer(kind);
    const app = await new TesseraAdmin({ baseUrl: server.url, adminToken: testAdminToken }).apps.create({ name: 'SDK shop' });
    tessera = new Tessera({ baseUrl: server.url, appId: app.app_id, appSecret: app.app_secret });
  });
  afterAll(() => server?.stop());

  it('sets rules, tracks against them, reviews, and validates the allowed token once', async () => {
    const rules = await tessera.actions.setRules('withdraw', {
      default_outcome: 'ALLOW',
      rules: [{ name: 'large', conditions: { field: 'context.amount', op: 'gt', value: 1000 }, outcome: 'REVIEW' }],
    });
    expect(rules).toMatchObject({ action: 'withdraw', default_outcome: 'ALLOW' });
    expect((await tessera.actions.getRules('withdraw')).rules).toHaveLength(1);
    expect((await tessera.actions.listRules()).map((listed) => listed.action)).toEqual(['withdraw']);

    const small = await tessera.actions.track('sdk/user 1', 'withdraw', { context: { amount: 5 } });
    expect(small.state).toBe('ALLOW');
    const large = await tessera.actions.track('sdk/user 1', 'withdraw', { context: { amount: 5000 }, redirectUrl: 'https://shop.example/done' });
    expect(large.state).toBe('REVIEW');
    expect(await tessera.actions.review('sdk/user 1', 'withdraw', large.idempotency_key, 'BLOCK')).toMatchObject({ state: 'BLOCK', rule: 'large' });
    expect((await tessera.actions.list('sdk/user 1', { action: 'withdraw' })).data.map((a) => a.state)).toEqual(['BLOCK', 'ALLOW']);

    expect(await tessera.actions.validate({ token: small.token, action: 'withdraw', userId: 'sdk/user 1' })).toMatchObject({ state: 'ALLOW', is_valid: true });
    expect(await failure(tessera.actions.validate({ token: small.token, action: 'withdraw' }))).toMatchObject({ code: 'action_token_used', status: 409 });
    expect((await tessera.actions.retrieve('sdk/user 1', 'withdraw', small.idempotency_key)).validated_at).not.toBeNull();
  });

  it("lets the operator set, read and list any app's rules with the admin token", async () => {
    const admin = new TesseraAdmin({ baseUrl: server.url, adminToken: testAdminToken });
    const other = await admin.apps.create({ name: 'SDK other shop' });
    const rules = admin.apps.actionRules(other.app_id);
    expect(await rules.set('signIn', { default_outcome: 'CHALLENGE_REQUIRED', rules: [] })).toMatchObject({ action: 'signIn', default_outcome: 'CHALLENGE_REQUIRED' });
    expect((await rules.get('signIn')).default_outcome).toBe('CHALLENGE_REQUIRED');
    expect((await rules.list()).map((listed) => listed.action)).toEqual(['signIn']);
    const appClient = new Tessera({ baseUrl: server.url, appId: other.app_id, appSecret: other.app_secret });
    expect((await appClient.actions.track('sdk-user-2', 'signIn')).state).toBe('CHALLENGE_REQUIRED');
  });

  it('surfaces a malformed rule set as a TesseraError naming the path', async () => {
    const error = await failure(
      tessera.actions.setRules('withdraw', { default_outcome: 'ALLOW', rules: [{ name: 'x', conditions: { any: [] }, outcome: 'BLOCK' }] }),
    );
    expect(error).toMatchObject({ code: 'validation_failed', status: 400, details: { field: 'rules[0].conditions.any' } });
  });
});
