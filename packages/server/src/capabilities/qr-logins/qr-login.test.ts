import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signDeviceIdentityProof, type DevicePublicJwk } from '@tessera/contracts';
import type { BusMessage } from '../../platform/bus/bus.ts';
import { databaseKinds, startTestServer, type TestServer } from '../../../test/harness.ts';
import { client, type Client } from '../../../test/http.ts';
import { zbarimg } from '../../../test/otp-tools.ts';
import { deviceKeys, tokenOf } from '../../../test/push-device.ts';
import { BrowserSocket, expectError, newIdentity, qrAuthenticator, type TestIdentity } from '../../../test/qr-login.ts';
import { WebhookReceiver } from '../../../test/webhook-receiver.ts';

const publicUrl = 'https://auth.example.test/tessera';
const profile = { first_name: 'Ada', last_name: 'Lovelace', email: 'ada.qr-login@example.test', picture: 'https://example.test/ada.png' };

describe.each(databaseKinds())('QR login on %s', (kind) => {
  let server: TestServer & { stop(): Promise<void> };
  let admin: Client;
  let api: Client;
  let appId: string;
  let otherApi: Client;
  let otherAppId: string;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    server = await startTestServer(kind, { env: { TESSERA_PUBLIC_URL: publicUrl }, webhooks: { pollIntervalMs: 100 } });
    receiver = await new WebhookReceiver().start();
    admin = client(server.url);
    const created = await admin.post('/v1/apps', {
      name: 'Shop',
      callback_url: receiver.url,
      branding: { display_name: 'Example Shop' },
      profile_scopes: ['first_name', 'email', 'identity_id', 'last_name'],
    });
    appId = created.body.app_id;
    api = client(server.url, { app: created.body });
    const other = await admin.post('/v1/apps', { name: 'Other', profile_scopes: ['email'] });
    otherAppId = other.body.app_id;
    otherApi = client(server.url, { app: other.body });
  });
  afterAll(async () => {
    await receiver?.stop();
    await server?.stop();
  });

  /** A browser's code, scanned and claimed by `identity`'s authenticator. */
  async function claimed(identity: TestIdentity, app = appId) {
    const browser = await BrowserSocket.open(server.url, app, { 'user-agent': 'TestBrowser/1.0' });
    const payload = await browser.qrPayload();
    const authenticator = qrAuthenticator(server.url, identity);
    const claim = await authenticator.claim(payload);
    expect(claim.status).toBe(200);
    return { browser, payload, authenticator, claim: claim.body };
  }

  /** Browser, scan, claim, approve with `shared` (a subset of the profile); answers the token message and the claim. */
  async function signIn(identity: TestIdentity, shared: Partial<typeof profile>, app = appId) {
    const { browser, payload, authenticator, claim } = await claimed(identity, app);
    await browser.next('scanned');
    expect((await authenticator.approve(claim, payload, shared)).body).toEqual({ status: 'approved' });
    const approved = await browser.next('approved');
    expect(await browser.closed).toEqual({ code: 1000, reason: 'approved' });
    return { approved, claim, browser };
  }

  it('signs a browser in: QR code, scan, consent screen, approval, one-time token with the consented profile', async () => {
    const identity = await newIdentity();
    const browser = await BrowserSocket.open(server.url, appId, { 'user-agent': 'TestBrowser/1.0' });
    const qr = await browser.next('qr');
    expect(qr.login_id).toMatch(/^qrl_[0-9a-z]{26}$/);
    expect(qr.qr_payload).toMatch(
      new RegExp(`^tessera://login\\?server=${encodeURIComponent(publicUrl)}&app_id=${appId}&login_id=${qr.login_id}&nonce=[\\w-]{22}&sig=[\\w-]{22}$`),
    );
    expect(await zbarimg(qr.qr_data_url)).toBe(qr.qr_payload);
    expect(Date.parse(qr.expires_at) - Date.now()).toBeGreaterThan(50_000);

    const authenticator = qrAuthenticator(server.url, identity);
    const claim = await authenticator.claim(qr.qr_payload);
    expect(claim.status).toBe(200);
    expect(claim.body).toEqual({
      login_id: qr.login_id,
      app: { app_id: appId, display_name: 'Example Shop', logo: null },
      requested_fields: ['first_name', 'email', 'last_name'],
      browser: { ip: '127.0.0.1', user_agent: 'TestBrowser/1.0', started_at: expect.any(String) },
      encryption_key: { kty: 'EC', crv: 'P-256', x: expect.any(String), y: expect.any(String), kid: qr.login_id },
      expires_at: expect.any(String),
    });
    await browser.next('scanned');

    // The person shares their first name and email, not their last name.
    const answer = await authenticator.approve(claim.body, qr.qr_payload, { first_name: profile.first_name, email: profile.email });
    expect(answer.body).toEqual({ status: 'approved' });
    const approved = await browser.next('approved');
    expect(approved.login_token).toMatch(/^qlt_[\w-]{43}$/);
    expect(approved.encrypted_profile?.split('.')).toHaveLength(5); // a compact JWE: the browser sees ciphertext only
    expect(approved.encrypted_profile).not.toContain('Ada');
    expect(await browser.closed).toEqual({ code: 1000, reason: 'approved' });

    const verified = await api.post('/v1/qr-logins/verify', { login_token: approved.login_token });
    expect(verified.status).toBe(200);
    expect(verified.body).toEqual({
      identity_id: expect.stringMatching(/^idn_[0-9a-z]{26}$/),
      user_id: null,
      profile: { first_name: 'Ada', email: profile.email },
    });
    // Once only.
    expectError(await api.post('/v1/qr-logins/verify', { login_token: approved.login_token }), 410, 'login_token_used');

    const events = (await receiver.waitFor(1)).map((hook) => JSON.parse(hook.body));
    expect(events).toContainEqual(
      expect.objectContaining({
        type: 'qr_login.approved',
        data: { login_id: qr.login_id, identity_id: verified.body.identity_id, user_id: null, approved_at: expect.any(String) },
      }),
    );
  });

  it('gives a person one identity_id per app, the same each time, different across apps; fields outside the scopes are not asked', async () => {
    const identity = await newIdentity('EdDSA');
    const verifyWith = async (as: Client, token: string) => (await as.post('/v1/qr-logins/verify', { login_token: token })).body;
    const first = await verifyWith(api, (await signIn(identity, {})).approved.login_token);
    const again = await verifyWith(api, (await signIn(identity, { email: profile.email })).approved.login_token);
    const other = await signIn(identity, { email: profile.email }, otherAppId);
    expect(other.claim.requested_fields).toEqual(['email']);
    const elsewhere = await verifyWith(otherApi, other.approved.login_token);
    expect(first).toEqual({ identity_id: again.identity_id, user_id: null, profile: {} });
    expect(again.profile).toEqual({ email: profile.email });
    expect(elsewhere.identity_id).toMatch(/^idn_/);
    expect(elsewhere.identity_id).not.toBe(first.identity_id);
    // The token is the app's: the other app's credentials do not verify it.
    const token = (await signIn(identity, {})).approved.login_token;
    expectError(await otherApi.post('/v1/qr-logins/verify', { login_token: token }), 404, 'login_token_invalid');
    expect((await api.post('/v1/qr-logins/verify', { login_token: token })).status).toBe(200);
  });

  /** Registers a device of `userId` for this identity, with the proof that it holds the identity key (or `proof`). */
  async function registerIdentity(userId: string, identity: TestIdentity, proof?: (token: string, publicKey: DevicePublicJwk) => Promise<string | undefined>) {
    const registration = await api.post(`/v1/users/${userId}/device-registrations`);
    const token = tokenOf(registration.body.registration_uri);
    const publicKey = (await deviceKeys()).publicJwk as DevicePublicJwk;
    const identityProof = proof ? await proof(token, publicKey) : await signDeviceIdentityProof(identity.privateKey, { registrationToken: token, publicKey });
    const body = { registration_token: token, public_key: publicKey, identity_key: identity.publicJwk, identity_proof: identityProof };
    return { token, reply: await client(server.url, null).post('/v1/devices', body) };
  }

  it('names the user whose device this authenticator registered, and notifies that device of the login', async () => {
    const identity = await newIdentity();
    const userId = `qr-device-user-${Math.random().toString(36).slice(2, 8)}`;
    const { reply: device } = await registerIdentity(userId, identity);
    expect(device.status).toBe(201);
    const told: BusMessage[] = [];
    const unsubscribe = server.bus.subscribe(`device:${device.body.device_id}`, (message) => told.push(message));
    try {
      const { approved } = await signIn(identity, { first_name: 'Ada' });
      const verified = await api.post('/v1/qr-logins/verify', { login_token: approved.login_token });
      expect(verified.body).toEqual({ identity_id: expect.any(String), user_id: userId, profile: { first_name: 'Ada' } });
      await expect.poll(() => told).toEqual([
        {
          type: 'notification',
          notification: { kind: 'login', app_id: appId, app_name: 'Example Shop', at: expect.any(String), ip: '127.0.0.1', user_agent: 'TestBrowser/1.0' },
        },
      ]);
    } finally {
      unsubscribe();
    }
  });

  it("refuses a registration of someone else's identity key without their proof: their QR logins keep naming their user", async () => {
    const victim = await newIdentity();
    const victimUser = `qr-victim-${Math.random().toString(36).slice(2, 8)}`;
    let victimProof = '';
    const victimDevice = await registerIdentity(victimUser, victim, async (token, publicKey) => {
      victimProof = await signDeviceIdentityProof(victim.privateKey, { registrationToken: token, publicKey });
      return victimProof;
    });
    expect(victimDevice.reply.status).toBe(201);
    const attacker = await newIdentity();
    const attempts: Array<[string, (token: string, publicKey: DevicePublicJwk) => Promise<string | undefined>, string]> = [
      ['no proof', async () => undefined, 'is required with identity_key: a JWS signed by the identity key'],
      ['signed by the attacker', (token, publicKey) => signDeviceIdentityProof(attacker.privateKey, { registrationToken: token, publicKey }), 'is not signed by identity_key'],
      ["the victim's, replayed", async () => victimProof, 'is signed for another registration token'],
      [
        'the victim’s key, another device key',
        async (token) => signDeviceIdentityProof(victim.privateKey, { registrationToken: token, publicKey: (await deviceKeys()).publicJwk as DevicePublicJwk }),
        'is signed for another public_key',
      ],
    ];
    for (const [name, proof, reason] of attempts) {
      const { reply } = await registerIdentity(`qr-mallory-${Math.random().toString(36).slice(2, 8)}`, victim, proof);
      expect([reply.status, reply.body.error?.details], name).toEqual([400, { field: 'identity_proof', reason }]);
    }
    const { approved } = await signIn(victim, {});
    expect((await api.post('/v1/qr-logins/verify', { login_token: approved.login_token })).body.user_id).toBe(victimUser);
  });

  it('onboards: the app links the identity to a new user, and the next QR login names that user', async () => {
    const identity = await newIdentity();
    const first = await api.post('/v1/qr-logins/verify', { login_token: (await signIn(identity, { email: profile.email })).approved.login_token });
    expect(first.body.user_id).toBeNull();
    const userId = `onboarded-${Math.random().toString(36).slice(2, 8)}`;
    const linked = await api.post('/v1/qr-logins/links', { identity_id: first.body.identity_id, user_id: userId });
    expect(linked.status).toBe(200);
    expect(linked.body).toEqual({ identity_id: first.body.identity_id, user_id: userId });
    expect((await api.get(`/v1/users/${userId}`)).status).toBe(200);
    // Linking again is harmless; linking to someone else is refused.
    expect((await api.post('/v1/qr-logins/links', { identity_id: first.body.identity_id, user_id: userId })).status).toBe(200);
    expectError(await api.post('/v1/qr-logins/links', { identity_id: first.body.identity_id, user_id: 'someone-else' }), 409, 'identity_already_linked');
    const next = await api.post('/v1/qr-logins/verify', { login_token: (await signIn(identity, {})).approved.login_token });
    expect(next.body).toEqual({ identity_id: first.body.identity_id, user_id: userId, profile: {} });
  });

  it("links only an identity this app's QR login verified: another app's, or a made-up one, is 404 and creates no user", async () => {
    const identity = await newIdentity();
    const verified = await api.post('/v1/qr-logins/verify', { login_token: (await signIn(identity, {})).approved.login_token });
    expect(verified.status).toBe(200);
    const other = client(server.url, { app: (await client(server.url).post('/v1/apps', { name: 'Other' })).body });
    for (const identityId of [verified.body.identity_id, 'idn_00000000000000000000000000']) {
      const refused = await other.post('/v1/qr-logins/links', { identity_id: identityId, user_id: 'linked-elsewhere' });
      expect([refused.status, refused.body.error.code]).toEqual([404, 'not_found']);
    }
    expect((await other.get('/v1/users/linked-elsewhere')).status).toBe(404);
    expect((await api.post('/v1/qr-logins/links', { identity_id: verified.body.identity_id, user_id: `linked-${Math.random().toString(36).slice(2, 8)}` })).status).toBe(200);
  });

  it('tells the browser when the person denies, and accepts no second answer', async () => {
    const { browser, payload, authenticator, claim } = await claimed(await newIdentity());
    expect((await authenticator.deny(payload)).body).toEqual({ status: 'denied' });
    await browser.next('denied');
    expect(await browser.closed).toEqual({ code: 1000, reason: 'denied' });
    expectError(await authenticator.approve(claim, payload, {}), 409, 'qr_login_not_pending');
  });

  it('refuses an approval once the page that showed the code is gone: no token that no browser would get', async () => {
    const { browser, payload, authenticator, claim } = await claimed(await newIdentity());
    browser.ws.close();
    await browser.closed;
    // The server sees the close a moment later.
    await expect.poll(async () => (await authenticator.approve(claim, payload, {})).status, { timeout: 5_000 }).toBe(410);
    expect((await server.db.query<{ status: string }>('SELECT status FROM qr_logins WHERE id = $1', [claim.login_id]))[0]?.status).toBe('claimed');
  });

  it('takes exactly one of many concurrent answers: one token or one denial, one event', async () => {
    const { browser, payload, authenticator, claim } = await claimed(await newIdentity());
    const loginId = claim.login_id;
    await browser.next('scanned');
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? authenticator.approve(claim, payload, { email: profile.email }) : authenticator.deny(payload))),
    );
    const taken = answers.filter((answer) => answer.status === 200);
    expect(taken).toHaveLength(1);
    for (const answer of answers) if (answer.status !== 200) expectError(answer, 409, 'qr_login_not_pending');
    const outcome = (taken[0]?.body as { status: string }).status;
    await browser.next(outcome as 'approved' | 'denied');
    expect(await browser.closed).toEqual({ code: 1000, reason: outcome });
    // The event is written with the approval: once the answers are in, the outbox holds all there will be.
    const deliveries = await api.get('/v1/webhook-deliveries?event_type=qr_login.approved&limit=100');
    const ofLogin = (deliveries.body.data as Array<{ payload: { data: { login_id: string } } }>).filter((delivery) => delivery.payload.data.login_id === loginId);
    expect(ofLogin).toHaveLength(outcome === 'approved' ? 1 : 0);
  });
});
