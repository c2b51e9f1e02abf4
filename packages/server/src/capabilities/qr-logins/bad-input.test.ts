import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { qrSocketUnexpectedMessageCode } from '@tessera/contracts';
import { databaseKinds, startTestServer, type TestServer } from '../../../test/harness.ts';
import { client, type Client } from '../../../test/http.ts';
import { BrowserSocket, expectError, newIdentity, qrAuthenticator } from '../../../test/qr-login.ts';
import { defaultQrLoginOptions } from './service.ts';

const base64urlAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const paramsOf = (payload: string) => new URL(payload.replace('tessera://login?', 'http://x/?')).searchParams;

describe.each(databaseKinds())('bad input to QR login on %s', (kind) => {
  let server: TestServer & { stop(): Promise<void> };
  let api: Client;
  let appId: string;
  let anonymous: Client;
  const rows = async () => (await server.db.query<{ status: string }>('SELECT status FROM qr_logins ORDER BY id')).map((row) => row.status);

  beforeAll(async () => {
    server = await startTestServer(kind);
    const admin = client(server.url);
    const created = await admin.post('/v1/apps', { name: 'Shop', profile_scopes: ['email'], allowed_origins: [] });
    appId = created.body.app_id;
    api = client(server.url, { app: created.body });
    anonymous = client(server.url, null);
  });
  afterAll(() => server?.stop());

  it('refuses forged, altered and made-up QR payloads, and changes nothing', async () => {
    const identity = await newIdentity();
    const authenticator = qrAuthenticator(server.url, identity);
    const browser = await BrowserSocket.open(server.url, appId);
    const payload = await browser.qrPayload();
    const before = await rows();
    const params = paramsOf(payload);
    const altered = [
      payload.replace(`app_id=${appId}`, `app_id=${appId.slice(0, -1)}${appId.endsWith('0') ? '1' : '0'}`),
      payload.replace(/nonce=[\w-]/, (match) => (match.endsWith('A') ? match.slice(0, -1) + 'B' : match.slice(0, -1) + 'A')),
      payload.replace(/sig=[\w-]+/, 'sig=AAAAAAAAAAAAAAAAAAAAAA'),
      // The signature's last character, changed only in the bits that base64url decoding ignores.
      payload.replace(/(sig=[\w-]{21})([\w-])/, (_, start: string, last: string) => start + base64urlAlphabet[base64urlAlphabet.indexOf(last) ^ 1]),
      payload.replace('server=', 'server=https%3A%2F%2Fevil.example'),
      `${payload}&extra=1`,
      `tessera://login?server=x&app_id=${appId}&login_id=${params.get('login_id')}&nonce=${params.get('nonce')}`,
      'not a uri',
    ];
    for (const qr of altered) {
      const proof = await authenticator.sign({ login_id: params.get('login_id') as string, nonce: params.get('nonce') as string, action: 'claim' });
      expectError(await anonymous.post('/v1/qr-logins/claim', { qr_payload: qr, proof }), 400, 'qr_payload_invalid');
    }
    expect(await rows()).toEqual(before);
    expect(browser.messages.map((message) => message.type)).toEqual(['qr']);
  });

  it('refuses a second claim, answers by another identity, bad signatures, replays and proofs for another code', async () => {
    const identity = await newIdentity();
    const intruder = await newIdentity('EdDSA');
    const authenticator = qrAuthenticator(server.url, identity);
    const other = qrAuthenticator(server.url, intruder);
    const browser = await BrowserSocket.open(server.url, appId);
    const payload = await browser.qrPayload();
    const params = paramsOf(payload);
    const loginId = params.get('login_id') as string;
    const nonce = params.get('nonce') as string;

    // A proof for another nonce, or another action, does not claim.
    expectError(await authenticator.claim(payload, { proof: await authenticator.sign({ login_id: loginId, nonce: 'x'.repeat(22), action: 'claim' }) }), 400, 'qr_login_proof_malformed');
    expectError(await authenticator.claim(payload, { proof: await authenticator.sign({ login_id: loginId, nonce, action: 'deny' }) }), 400, 'qr_login_proof_malformed');
    // Signed by another key than the one in its header.
    const claimProof = await authenticator.sign({ login_id: loginId, nonce, action: 'claim' });
    const [header, body] = claimProof.split('.');
    const foreign = (await other.sign({ login_id: loginId, nonce, action: 'claim' })).split('.')[2];
    expectError(await authenticator.claim(payload, { proof: `${header}.${body}.${foreign}` }), 422, 'qr_login_signature_invalid');
    // Too old a signature.
    const stale = await authenticator.sign({ login_id: loginId, nonce, action: 'claim', signed_at: new Date(Date.now() - 5 * 60_000).toISOString() });
    expectError(await authenticator.claim(payload, { proof: stale }), 422, 'qr_login_proof_stale');
    expectError(await authenticator.claim(payload, { proof: 'garbage' }), 400, 'qr_login_proof_malformed');
    expect(await rows()).not.toContain('claimed');

    const claim = await authenticator.claim(payload, { proof: claimProof });
    expect(claim.status).toBe(200);
    // The same proof again, and a second device.
    expectError(await authenticator.claim(payload, { proof: claimProof }), 409, 'qr_login_proof_replayed');
    expectError(await other.claim(payload), 409, 'qr_login_already_claimed');

    // Answers: another identity, a made-up login, a wrong nonce, a profile that is not what was consented.
    expectError(await other.approve(claim.body, payload, { email: 'x@example.test' }), 403, 'qr_login_wrong_identity');
    expectError(await authenticator.answerWith('qrl_00000000000000000000000000', await authenticator.sign({ login_id: 'qrl_00000000000000000000000000', nonce, action: 'deny' })), 404, 'qr_login_not_found');
    expectError(await authenticator.answerWith(loginId, await authenticator.sign({ login_id: loginId, nonce: 'y'.repeat(22), action: 'deny' })), 400, 'qr_login_proof_malformed');
    expectError(await authenticator.approve(claim.body, payload, { first_name: 'Ada' }), 400, 'validation_failed');
    const jweForOtherFields = await authenticator.sign({ login_id: loginId, nonce, action: 'approve', fields: ['email'], profile: 'a.b.c.d.e' });
    expectError(await authenticator.answerWith(loginId, jweForOtherFields), 400, 'qr_login_profile_invalid');
    expect(browser.messages.map((message) => message.type)).toEqual(['qr', 'scanned']);
    expect(await rows()).toContain('claimed');

    // The genuine answer still works once; replaying it is refused.
    const approve = await authenticator.sign({ login_id: loginId, nonce, action: 'approve', fields: [] });
    expect((await authenticator.answerWith(loginId, approve)).body).toEqual({ status: 'approved' });
    expectError(await authenticator.answerWith(loginId, approve), 409, 'qr_login_proof_replayed');
    await browser.next('approved');
  });

  it('refuses made-up and malformed login tokens and calls without app credentials', async () => {
    expectError(await api.post('/v1/qr-logins/verify', { login_token: 'qlt_made-up' }), 404, 'login_token_invalid');
    expectError(await api.post('/v1/qr-logins/verify', { login_token: '' }), 400, 'validation_failed');
    expectError(await api.post('/v1/qr-logins/verify', { login_token: 'x', extra: 1 }), 400, 'validation_failed');
    expectError(await anonymous.post('/v1/qr-logins/verify', { login_token: 'qlt_x' }), 401, 'unauthorized');
    expectError(await api.post('/v1/qr-logins/links', { identity_id: 'idn_nope', user_id: 'u' }), 400, 'validation_failed');
  });

  it('refuses sockets for unknown or inactive apps and from origins the app does not allow', async () => {
    await expect(BrowserSocket.open(server.url, 'app_00000000000000000000000000')).rejects.toThrow('upgrade refused: 404');
    await expect(BrowserSocket.open(server.url, 'x'.repeat(100))).rejects.toThrow('upgrade refused: 400');
    const admin = client(server.url);
    const strict = await admin.post('/v1/apps', { name: 'Strict', allowed_origins: ['https://shop.example'] });
    await expect(BrowserSocket.open(server.url, strict.body.app_id, { origin: 'https://evil.example' })).rejects.toThrow('upgrade refused: 403');
    await expect(BrowserSocket.open(server.url, strict.body.app_id)).rejects.toThrow('upgrade refused: 403');
    const allowed = await BrowserSocket.open(server.url, strict.body.app_id, { origin: 'https://shop.example' });
    await allowed.next('qr');
    allowed.ws.close();
    await admin.patch(`/v1/apps/${strict.body.app_id}`, { active: false });
    await expect(BrowserSocket.open(server.url, strict.body.app_id, { origin: 'https://shop.example' })).rejects.toThrow('upgrade refused: 403');
    // Plain HTTP to the socket's address: told to upgrade, in the error format.
    const plain = await anonymous.get(`/v1/qr-logins/connect?app_id=${appId}`);
    expect([plain.status, plain.body.error.code, plain.headers.get('upgrade')]).toEqual([426, 'upgrade_required', 'websocket']);
  });

  it('refuses an approval once the app was suspended after the claim: the page gets no token', async () => {
    const admin = client(server.url);
    const app = (await admin.post('/v1/apps', { name: 'Suspended later', profile_scopes: ['email'] })).body;
    const browser = await BrowserSocket.open(server.url, app.app_id);
    const payload = await browser.qrPayload();
    const authenticator = qrAuthenticator(server.url, await newIdentity());
    const claim = await authenticator.claim(payload);
    expect(claim.status).toBe(200);
    await admin.patch(`/v1/apps/${app.app_id}`, { active: false });
    expectError(await authenticator.approve(claim.body, payload, { email: 'ada@example.test' }), 403, 'app_inactive');
    expect(browser.messages.map((message) => message.type)).not.toContain('approved');
    browser.ws.close();
    await browser.closed;
  });

  it('answers a malformed upgrade (the WebSocket key or version) with the documented 400 naming the header', async () => {
    const upgrade = (headers: Record<string, string>) =>
      new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
        const request = httpRequest(`${server.url}/v1/qr-logins/connect?app_id=${appId}`, {
          headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers },
        });
        request.on('response', (response) => {
          let body = '';
          response.on('data', (chunk: Buffer) => (body += chunk.toString()));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, type: response.headers['content-type'] ?? '', body }));
        });
        request.on('upgrade', () => reject(new Error('upgraded')));
        request.on('error', reject);
        request.end();
      });
    for (const [headers, field] of [
      [{ 'sec-websocket-key': 'not a key' }, 'headers.sec-websocket-key'],
      [{ 'sec-websocket-version': '99' }, 'headers.sec-websocket-version'],
    ] as const) {
      const reply = await upgrade(headers);
      expect([reply.status, reply.type], field).toEqual([400, 'application/json; charset=utf-8']);
      expect(JSON.parse(reply.body).error).toMatchObject({ code: 'validation_failed', details: { field } });
    }
  });

  it('lets one address hold a bounded number of sockets open: the next is refused with 429 until one closes', async () => {
    const limit = defaultQrLoginOptions.hub.maxSocketsPerIp;
    const open: BrowserSocket[] = [];
    // Up to the limit (sockets of the tests before this one may still count), then refused.
    let refusal: unknown = null;
    while (refusal === null && open.length <= limit) {
      await BrowserSocket.open(server.url, appId).then((socket) => open.push(socket), (error: unknown) => (refusal = error));
    }
    expect(String(refusal)).toContain('upgrade refused: 429');
    expect(open.length).toBeGreaterThan(limit / 2);
    const told = await anonymous.get(`/v1/qr-logins/connect?app_id=${appId}`);
    expect([told.status, told.body.error.code, told.headers.get('retry-after')]).toEqual([429, 'rate_limited', '30']);
    const first = open.shift() as BrowserSocket;
    first.ws.close();
    await first.closed;
    const again = await BrowserSocket.open(server.url, appId);
    await again.next('qr');
    for (const socket of [...open, again]) socket.ws.close();
    await Promise.all([...open, again].map((socket) => socket.closed));
  });

  it('lets one address open a bounded number of sockets a minute, however soon it closes them: the next is refused with 429', async () => {
    const limited = await startTestServer(kind, { qrLogins: { socketOpensPerIpPerMinute: 3 } });
    try {
      const app = await client(limited.url).post('/v1/apps', { name: 'Shop' });
      for (let opened = 0; opened < 3; opened++) {
        const socket = await BrowserSocket.open(limited.url, app.body.app_id);
        await socket.next('qr');
        socket.ws.close();
        await socket.closed;
      }
      await expect(BrowserSocket.open(limited.url, app.body.app_id)).rejects.toThrow('upgrade refused: 429');
      // Counted per app: another app's page from the same address still opens.
      const other = await client(limited.url).post('/v1/apps', { name: 'Other shop' });
      const elsewhere = await BrowserSocket.open(limited.url, other.body.app_id);
      await elsewhere.next('qr');
      elsewhere.ws.close();
      await elsewhere.closed;
      const told = await client(limited.url, null).get(`/v1/qr-logins/connect?app_id=${app.body.app_id}`);
      expect([told.status, told.body.error.code]).toEqual([429, 'rate_limited']);
      expect(told.body.error.message).toContain('opened from this address in the last minute');
      expect(Number(told.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(Number(told.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    } finally {
      await limited.stop();
    }
  });

  it('closes a socket that sends anything, with a close code that says so, and stays healthy', async () => {
    const browser = await BrowserSocket.open(server.url, appId);
    await browser.next('qr');
    browser.ws.send('{"type":"approved","login_token":"please"}');
    expect(await browser.closed).toEqual({ code: qrSocketUnexpectedMessageCode, reason: 'the browser socket only receives' });
    const huge = await BrowserSocket.open(server.url, appId);
    huge.ws.send(Buffer.alloc(100 * 1024));
    expect((await huge.closed).code).toBe(1009); // over the 64 KB message limit
    const raw = new WebSocket(`${server.url.replace('http', 'ws')}/v1/qr-logins/connect?app_id=${appId}`);
    await new Promise((resolve) => raw.once('open', resolve));
    (raw as unknown as { _socket: import('node:net').Socket })._socket.write(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    await new Promise((resolve) => raw.once('close', resolve));
    expect((await anonymous.get('/healthz')).status).toBe(200);
    expect((await BrowserSocket.open(server.url, appId).then((socket) => socket.next('qr'))).type).toBe('qr');
  });
});
