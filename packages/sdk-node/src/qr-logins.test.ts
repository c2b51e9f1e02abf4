import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds, startTestServer, testAdminToken, type TestServer } from '../../server/test/harness.ts';
import { BrowserSocket, newIdentity, qrAuthenticator, type TestIdentity } from '../../server/test/qr-login.ts';
import { failure } from '../test/failures.ts';
import { Tessera, TesseraAdmin } from './index.ts';

describe.each(databaseKinds())('qrLogins against a real server on %s', (kind) => {
  let server: TestServer & { stop(): Promise<void> };
  let tessera: Tessera;
  let appId: string;

  beforeAll(async () => {
    server = await startTestServer(kind);
    const admin = new TesseraAdmin({ baseUrl: server.url, adminToken: testAdminToken });
    const app = await admin.apps.create({ name: 'Shop', profile_scopes: ['first_name', 'email'] });
    appId = app.app_id;
    tessera = new Tessera({ baseUrl: server.url, appId: app.app_id, appSecret: app.app_secret });
  });
  afterAll(() => server?.stop());

  async function loginToken(identity: TestIdentity, profile: Record<string, string>): Promise<string> {
    const browser = await BrowserSocket.open(server.url, appId);
    const payload = await browser.qrPayload();
    const authenticator = qrAuthenticator(server.url, identity);
    const claim = await authenticator.claim(payload);
    await authenticator.approve(claim.body, payload, profile);
    return (await browser.next('approved')).login_token;
  }

  it('verifies a token once, links the identity to a user, and the next login names that user', async () => {
    const identity = await newIdentity();
    const token = await loginToken(identity, { email: 'ada@example.test' });
    const first = await tessera.qrLogins.verify(token);
    expect(first).toEqual({ identity_id: expect.stringMatching(/^idn_/), user_id: null, profile: { email: 'ada@example.test' } });
    expect(await failure(tessera.qrLogins.verify(token))).toMatchObject({ code: 'login_token_used', status: 410 });
    expect(await failure(tessera.qrLogins.verify('qlt_made_up'))).toMatchObject({ code: 'login_token_invalid', status: 404 });

    expect(await tessera.qrLogins.link(first.identity_id, 'ada')).toEqual({ identity_id: first.identity_id, user_id: 'ada' });
    expect(await tessera.qrLogins.verify(await loginToken(identity, {}))).toEqual({ identity_id: first.identity_id, user_id: 'ada', profile: {} });
  });
});
