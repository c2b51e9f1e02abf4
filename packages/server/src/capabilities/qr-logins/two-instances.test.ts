import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshStorage, startTestServer, type TestServer, type TestStorage } from '../../../test/harness.ts';
import { client, type Client } from '../../../test/http.ts';
import { busSubscriberName, killRedisClients } from '../../../test/redis-clients.ts';
import { BrowserSocket, expectError, newIdentity, qrAuthenticator } from '../../../test/qr-login.ts';

const shared = process.env.TESSERA_TEST_DATABASE_URL && process.env.TESSERA_TEST_REDIS_URL;

// Two instances behind one load balancer: the browser's socket on one, the authenticator's calls on the other.
describe.skipIf(!shared)('QR login across two instances (PostgreSQL and Redis)', () => {
  let storage: TestStorage;
  let first: TestServer & { stop(): Promise<void> };
  let second: TestServer & { stop(): Promise<void> };
  let appId: string;
  let secondApi: Client;

  beforeAll(async () => {
    storage = await freshStorage('postgres');
    const env = { TESSERA_MASTER_KEY: Buffer.alloc(32, 7).toString('base64') };
    first = await startTestServer('postgres', { storage, env });
    second = await startTestServer('postgres', { storage, env });
    const created = await client(first.url).post('/v1/apps', { name: 'Shop', profile_scopes: ['email'] });
    appId = created.body.app_id;
    secondApi = client(second.url, { app: created.body });
  });
  afterAll(async () => {
    await first?.stop();
    await second?.stop();
    await storage?.drop();
  });

  it('delivers the scan and the token to the browser on the other instance; the token verifies there once', async () => {
    // What crosses Redis, as anyone with access to it hears it: the token must not be readable there.
    const listener = new Redis(process.env.TESSERA_TEST_REDIS_URL as string);
    const heard: string[] = [];
    listener.on('message', (_channel: string, raw: string) => heard.push(raw));
    await listener.subscribe('tessera:qr-logins');
    const browser = await BrowserSocket.open(first.url, appId, { 'user-agent': 'FirstInstanceBrowser' });
    const payload = await browser.qrPayload();
    const authenticator = qrAuthenticator(second.url, await newIdentity());
    const claim = await authenticator.claim(payload);
    expect(claim.status).toBe(200);
    expect(claim.body.browser.user_agent).toBe('FirstInstanceBrowser');
    await browser.next('scanned');
    expect((await authenticator.approve(claim.body, payload, { email: 'two@example.test' })).body).toEqual({ status: 'approved' });
    const { login_token: token } = await browser.next('approved');
    listener.disconnect();
    expect(heard.filter((raw) => JSON.parse(raw).type === 'approved').length).toBeGreaterThan(0);
    expect(heard.join('\n')).not.toContain(token);
    const verified = await secondApi.post('/v1/qr-logins/verify', { login_token: token });
    expect(verified.body).toEqual({ identity_id: expect.stringMatching(/^idn_/), user_id: null, profile: { email: 'two@example.test' } });
    expectError(await secondApi.post('/v1/qr-logins/verify', { login_token: token }), 410, 'login_token_used');
  });

  it('refuses a second claim made through the other instance', async () => {
    const browser = await BrowserSocket.open(first.url, appId);
    const payload = await browser.qrPayload();
    expect((await qrAuthenticator(first.url, await newIdentity()).claim(payload)).status).toBe(200);
    expectError(await qrAuthenticator(second.url, await newIdentity()).claim(payload), 409, 'qr_login_already_claimed');
  });

  it('takes the answer on an instance that did not record the claim, and refuses a second one', async () => {
    const browser = await BrowserSocket.open(first.url, appId);
    const payload = await browser.qrPayload();
    const identity = await newIdentity();
    const claim = await qrAuthenticator(first.url, identity).claim(payload);
    const onSecond = qrAuthenticator(second.url, identity);
    expect((await onSecond.approve(claim.body, payload, { email: 'both@example.test' })).body).toEqual({ status: 'approved' });
    await browser.next('approved');
    expectError(await qrAuthenticator(first.url, identity).approve(claim.body, payload, {}), 409, 'qr_login_not_pending');
  });

  it('asks a browser to scan again when its answer may have been lost in a gap of the bus', async () => {
    const answered = await BrowserSocket.open(first.url, appId);
    const payload = await answered.qrPayload();
    const waiting = await BrowserSocket.open(first.url, appId);
    await waiting.qrPayload();
    expect((await qrAuthenticator(second.url, await newIdentity()).claim(payload)).status).toBe(200);
    await answered.next('scanned');
    // Denied, as recorded while the first instance's Redis subscription was down: its message never arrives there.
    const loginId = new URL(payload).searchParams.get('login_id');
    await first.db.query(`UPDATE qr_logins SET status = 'denied', answered_at = now() WHERE id = $1`, [loginId]);
    expect(await killRedisClients(busSubscriberName(first.url))).toBe(1);
    expect((await answered.closed).code).toBe(1012);
    // The browser nobody scanned keeps its socket and its code.
    const stillOpen = await Promise.race([waiting.closed.then(() => false), new Promise((resolve) => setTimeout(() => resolve(true), 500))]);
    expect(stillOpen).toBe(true);
  });

  it('tells a browser its code was scanned when that message was lost in a gap of the bus', async () => {
    const browser = await BrowserSocket.open(first.url, appId);
    const params = new URL((await browser.qrPayload()).replace('tessera://login?', 'http://x/?')).searchParams;
    // Claimed, as recorded while the first instance's Redis subscription was down: its "scanned" never arrives there.
    await first.db.query(
      `INSERT INTO qr_logins (id, nonce, app_id, status, identity_thumbprint, identity_id, requested_fields, browser_ip, browser_user_agent, expires_at)
       VALUES ($1, $2, $3, 'claimed', 'thumbprint', 'idn_test', '{}', '127.0.0.1', 'test', now() + interval '1 minute')`,
      [params.get('login_id'), params.get('nonce'), appId],
    );
    expect(await killRedisClients(busSubscriberName(first.url))).toBe(1);
    await browser.next('scanned');
    expect(browser.messages.map((message) => message.type)).toEqual(['qr', 'scanned']);
  });
});
