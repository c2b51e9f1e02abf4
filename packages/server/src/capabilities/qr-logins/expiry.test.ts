import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds, startTestServer, type TestServer } from '../../../test/harness.ts';
import { client, type Client } from '../../../test/http.ts';
import { BrowserSocket, expectError, newIdentity, qrAuthenticator } from '../../../test/qr-login.ts';

const hub = { rotateLeadMs: 1_000, sessionMs: 5_000 };

describe.each(databaseKinds())('QR login expiry on %s', (kind) => {
  let server: TestServer & { stop(): Promise<void> };
  let api: Client;
  let appId: string;

  beforeAll(async () => {
    server = await startTestServer(kind, { qrLogins: { qrTtlSeconds: 3, answerSeconds: 2, tokenSeconds: 2, hub } });
    const created = await client(server.url).post('/v1/apps', { name: 'Shop', profile_scopes: ['email'] });
    appId = created.body.app_id;
    api = client(server.url, { app: created.body });
  });
  afterAll(() => server?.stop());

  it('replaces the QR code before it expires; the replaced one no longer claims; the socket ends after its time', async () => {
    const browser = await BrowserSocket.open(server.url, appId);
    const first = await browser.next('qr');
    await expect.poll(() => browser.messages.filter((message) => message.type === 'qr').length, { timeout: 5_000 }).toBe(2);
    const second = await browser.next('qr');
    expect(second.login_id).not.toBe(first.login_id);
    expect(Date.parse(second.expires_at)).toBeGreaterThan(Date.parse(first.expires_at));
    const authenticator = qrAuthenticator(server.url, await newIdentity());
    expectError(await authenticator.claim(first.qr_payload), 410, 'qr_login_expired');
    await browser.next('expired', 10_000);
    expect(await browser.closed).toEqual({ code: 1000, reason: 'expired' });
    expectError(await authenticator.claim((await browser.next('qr')).qr_payload), 410, 'qr_login_expired');
  });

  it('ends the socket at its time, though its code would live much longer, and that code no longer claims', async () => {
    const longCodes = await startTestServer(kind, { qrLogins: { qrTtlSeconds: 60, hub: { rotateLeadMs: 1_000, sessionMs: 2_000 } } });
    try {
      const app = await client(longCodes.url).post('/v1/apps', { name: 'Shop' });
      const opened = Date.now();
      const browser = await BrowserSocket.open(longCodes.url, app.body.app_id);
      const payload = await browser.qrPayload();
      await browser.next('expired', 5_000);
      // The sweep runs every second: the end comes within one sweep of the session's time.
      expect(Date.now() - opened).toBeLessThan(3_500);
      expectError(await qrAuthenticator(longCodes.url, await newIdentity()).claim(payload), 410, 'qr_login_expired');
    } finally {
      await longCodes.stop();
    }
  });

  it('ends a scan nobody answers: the browser hears "expired", the key is deleted, a late answer is refused', async () => {
    const browser = await BrowserSocket.open(server.url, appId);
    const payload = await browser.qrPayload();
    const authenticator = qrAuthenticator(server.url, await newIdentity());
    const claim = await authenticator.claim(payload);
    expect(claim.status).toBe(200);
    await browser.next('expired', 5_000);
    expectError(await authenticator.approve(claim.body, payload, { email: 'late@example.test' }), 410, 'qr_login_expired');
    await expect
      .poll(async () => (await server.db.query('SELECT status, private_key_enc FROM qr_logins WHERE id = $1', [claim.body.login_id]))[0], { timeout: 5_000 })
      .toEqual({ status: 'expired', private_key_enc: null });
  });

  it('refuses a token after its lifetime and deletes the key and the encrypted profile', async () => {
    const browser = await BrowserSocket.open(server.url, appId);
    const payload = await browser.qrPayload();
    const authenticator = qrAuthenticator(server.url, await newIdentity());
    const claim = await authenticator.claim(payload);
    await authenticator.approve(claim.body, payload, { email: 'ada@example.test' });
    const { login_token: token } = await browser.next('approved');
    await new Promise((resolve) => setTimeout(resolve, 2_200));
    expectError(await api.post('/v1/qr-logins/verify', { login_token: token }), 410, 'login_token_expired');
    await expect
      .poll(async () => (await server.db.query('SELECT status, private_key_enc, encrypted_profile FROM qr_logins WHERE id = $1', [claim.body.login_id]))[0], { timeout: 5_000 })
      .toEqual({ status: 'expired', private_key_enc: null, encrypted_profile: null });
  });
});
