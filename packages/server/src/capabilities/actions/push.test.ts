import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signDeviceDecision } from '@tessera/contracts';
import { ActionClient } from '../../../../sdk-browser/src/actions.ts';
import { makeTempDir, runCli, startCli } from '../../../../authenticator/test/run-cli.ts';
import { hostedPath, putRules, track } from '../../../test/actions.ts';
import { launchBrowser } from '../../../test/browser.ts';
import { databaseKinds, startTestServer } from '../../../test/harness.ts';
import { client, type Client } from '../../../test/http.ts';
import { registerPushDevice, type PushDevice } from '../../../test/push-device.ts';
import { WebhookReceiver } from '../../../test/webhook-receiver.ts';

/** Adaptive MFA with push: the client API, the fraud_reported signal, and the hosted page with the authenticator CLI. */
describe.each(databaseKinds())('adaptive MFA with push on %s', (kind) => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let api: Client;
  let appId: string;
  let landing: WebhookReceiver;
  let counter = 0;

  beforeAll(async () => {
    [server, landing] = await Promise.all([startTestServer(kind), new WebhookReceiver().start()]);
    const app = (await client(server.url).post('/v1/apps', { name: 'shop', branding: { display_name: 'Acme Shop' } })).body;
    api = client(server.url, { app });
    appId = app.app_id;
    await putRules(api, appId, 'signIn', {
      default_outcome: 'CHALLENGE_REQUIRED',
      rules: [{ name: 'reported fraud', conditions: { signal: 'fraud_reported', within_seconds: 86400 }, outcome: 'BLOCK' }],
    });
  });
  afterAll(async () => {
    await landing?.stop();
    await server?.stop();
  });

  const newDevice = () => registerPushDevice(api, server.url, { userId: `push-actor-${kind}-${++counter}` });
  const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
  const answer = async (device: PushDevice, challengeId: string, decision: 'approve' | 'deny', extra: { number?: number; reason?: 'fraud' } = {}) =>
    device.call('POST', `/v1/device/challenges/${challengeId}/answer`, {
      body: { signed_decision: await signDeviceDecision(device.privateKey, { challenge_id: challengeId, decision, ...extra }) },
    });

  it('sends a push request with number matching; once approved, the long-poll answers a token that validates', async () => {
    const device = await newDevice();
    const tracked = await track(api, device.userId, 'signIn');
    expect(tracked).toMatchObject({ state: 'CHALLENGE_REQUIRED', enrolled_factors: ['push'] });
    const anonymous = client(server.url, null);
    const started = await anonymous.post('/v1/client/push', undefined, bearer(tracked.token));
    expect(started.status).toBe(200);
    expect(started.body).toMatchObject({ status: 'pending', number: expect.any(Number) });
    // Asking again while it is pending answers the same request.
    expect((await anonymous.post('/v1/client/push', undefined, bearer(tracked.token))).body.challenge_id).toBe(started.body.challenge_id);

    const path = `/v1/client/challenges/${started.body.challenge_id}`;
    const waiting = anonymous.get(`${path}?wait=10`, bearer(tracked.token));
    expect((await answer(device, started.body.challenge_id, 'approve', { number: started.body.number })).body.status).toBe('approved');
    const result = (await waiting).body;
    expect(result).toMatchObject({ status: 'approved', state: 'CHALLENGE_SUCCEEDED', token: expect.any(String) });
    const validated = await api.post('/v1/actions/validate', { token: result.token, action: 'signIn' });
    expect(validated.body).toMatchObject({ state: 'CHALLENGE_SUCCEEDED', is_valid: true, user_id: device.userId });
    // Another action's track token cannot read this challenge.
    const other = await track(api, device.userId, 'signIn');
    expect((await anonymous.get(path, bearer(other.token))).status).toBe(404);
  });

  it('a denial gives no token and a new request can be sent; after a fraud report none can, and the next sign-in is blocked', async () => {
    const device = await newDevice();
    const tracked = await track(api, device.userId, 'signIn');
    const anonymous = client(server.url, null);
    const first = (await anonymous.post('/v1/client/push', undefined, bearer(tracked.token))).body;
    await answer(device, first.challenge_id, 'deny');
    const denied = (await anonymous.get(`/v1/client/challenges/${first.challenge_id}`, bearer(tracked.token))).body;
    expect(denied).toMatchObject({ status: 'denied' });
    expect(denied.token).toBeUndefined();
    const second = (await anonymous.post('/v1/client/push', undefined, bearer(tracked.token))).body;
    expect(second.challenge_id).not.toBe(first.challenge_id);
    // "I did not start this": whoever holds the token cannot send request after request until one is approved.
    await answer(device, second.challenge_id, 'deny', { reason: 'fraud' });
    expect((await anonymous.get(`/v1/client/challenges/${second.challenge_id}`, bearer(tracked.token))).body).toMatchObject({ status: 'denied', deny_reason: 'fraud' });
    const refused = await anonymous.post('/v1/client/push', undefined, bearer(tracked.token));
    expect([refused.status, refused.body.error.code, refused.body.error.details?.reason]).toEqual([409, 'action_not_challengeable', 'fraud_reported']);
    // The hosted page says so, and offers no new request (not even through its "again" link).
    for (const path of [hostedPath(tracked.url), `${hostedPath(tracked.url)}&method=push&again=1`]) {
      const page = await (await fetch(server.url + path)).text();
      expect(page, path).toContain('not started by you');
      expect(page, path).not.toContain('again=1');
    }
    expect((await track(api, device.userId, 'signIn')).state).toBe('BLOCK');
  });

  it('the browser SDK’s ActionClient sends the request and waits for the approval', async () => {
    const device = await newDevice();
    const tracked = await track(api, device.userId, 'signIn');
    const actions = new ActionClient({ baseUrl: server.url, token: tracked.token });
    const started = await actions.push.start();
    if (!started.ok) throw new Error(started.error.message);
    const waiting = actions.push.wait(started.data.challenge_id, 10);
    await answer(device, started.data.challenge_id, 'approve', { number: started.data.number as number });
    const result = await waiting;
    expect(result).toMatchObject({ ok: true, data: { status: 'approved', state: 'CHALLENGE_SUCCEEDED' } });
    expect(await actions.push.wait('chl_00000000000000000000000000', 0)).toMatchObject({ ok: false, error: { status: 404 } });
  });

  describe('the hosted page in a browser, approved with the authenticator CLI', () => {
    let browser: Browser;
    let temp: { dir: string; remove: () => Promise<void> };
    beforeAll(async () => {
      [browser, temp] = await Promise.all([launchBrowser(), makeTempDir()]);
    });
    afterAll(async () => {
      await browser?.close();
      await temp?.remove();
    });

    it('shows the number, waits for the approval, then lands with a token that validates', { timeout: 90_000 }, async () => {
      const home = path.join(temp.dir, 'home');
      const userId = `hosted-push-${kind}`;
      const registration = await api.post(`/v1/users/${userId}/device-registrations`);
      const png = path.join(temp.dir, 'register.png');
      await writeFile(png, Buffer.from(registration.body.qr_data_url.split(',')[1], 'base64'));
      expect((await runCli(['init'], { home })).status).toBe(0);
      expect((await runCli(['register', png], { home })).status).toBe(0);
      const listener = startCli(['listen', '--json'], { home });
      try {
        await listener.line(/"listening"/);
        const tracked = await track(api, userId, 'signIn', { redirect_url: landing.url });
        const page = await browser.newPage();
        const response = await page.goto(server.url + hostedPath(tracked.url));
        expect(response?.status()).toBe(200);
        const number = Number(await page.locator('.number').textContent());
        expect(await page.getByRole('status').textContent()).toContain('Approve it there');
        // While it waits, the page is not replaced every few seconds (a keyboard or screen-reader user keeps it).
        let replaced = 0;
        page.on('framenavigated', () => replaced++);
        await page.waitForTimeout(4_000);
        expect(replaced).toBe(0);

        const shown = JSON.parse(await listener.line(/"type":"challenge"/));
        expect(shown.number_choices).toContain(number);
        // The server holds the page's refresh for 25 s: landing sooner means the approval ended the wait.
        const landed = page.waitForURL(`${landing.url}?token=*`, { timeout: 15_000 });
        expect((await runCli(['approve', shown.challenge_id, '--number', String(number)], { home })).status).toBe(0);
        await landed;
        const token = new URL(page.url()).searchParams.get('token') as string;
        const validated = await api.post('/v1/actions/validate', { token, action: 'signIn' });
        expect(validated.body).toMatchObject({ state: 'CHALLENGE_SUCCEEDED', is_valid: true, user_id: userId });
      } finally {
        await listener.stop();
      }
    });
  });
});
