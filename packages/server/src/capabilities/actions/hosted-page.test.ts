import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostedPath, newUserId, putRules, track } from '../../../test/actions.ts';
import { launchBrowser } from '../../../test/browser.ts';
import { databaseKinds, startTestServer } from '../../../test/harness.ts';
import { client, type Client } from '../../../test/http.ts';
import { awayFromStepBoundary, oathtool, zbarimg } from '../../../test/otp-tools.ts';
import { pngDataUrl } from '../../../test/png.ts';
import { totpUser } from '../../../test/totp-user.ts';
import { WebhookReceiver } from '../../../test/webhook-receiver.ts';

/** The hosted page in a real browser (Debian's chromium), against a real server, with codes from oathtool. */
describe.each(databaseKinds())('adaptive MFA: the hosted page in a browser, on %s', (kind) => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let browser: Browser;
  let api: Client;
  let landing: WebhookReceiver;
  const logo = pngDataUrl(120, 40);

  beforeAll(async () => {
    [server, browser, landing] = await Promise.all([startTestServer(kind), launchBrowser(), new WebhookReceiver().start()]);
    const app = (await client(server.url).post('/v1/apps', { name: 'shop-prod', branding: { display_name: 'Acme Shop', logo } })).body;
    api = client(server.url, { app });
    await putRules(api, app.app_id, 'signIn', { default_outcome: 'CHALLENGE_REQUIRED', rules: [] });
  });
  afterAll(async () => {
    await browser?.close();
    await landing?.stop();
    await server?.stop();
  });

  /**
   * Opens the page of a track, collecting what the console says (a CSP violation would show there), and waits
   * for the code field to take the focus: Chromium applies `autofocus` after the first frame, not at load.
   */
  async function open(url: string): Promise<{ page: Page; console: string[] }> {
    const page = await browser.newPage();
    const console: string[] = [];
    page.on('console', (message) => console.push(message.text()));
    const response = await page.goto(server.url + hostedPath(url));
    expect(response?.status()).toBe(200);
    expect(response?.headers()['referrer-policy']).toBe('no-referrer');
    expect(response?.headers()['content-security-policy']).toContain("default-src 'none'");
    expect(response?.headers()['cache-control']).toBe('no-store');
    await page.locator('#code:focus').waitFor({ timeout: 5_000 });
    return { page, console };
  }

  /** Types the code as a person would (the field has the focus), presses Enter, and answers the token it lands with. */
  async function typeCodeAndLand(page: Page, code: string): Promise<string> {
    await page.keyboard.type(code);
    await Promise.all([page.waitForURL(`${landing.url}?token=*`), page.keyboard.press('Enter')]);
    return new URL(page.url()).searchParams.get('token') as string;
  }

  it('challenges a user with a TOTP factor: a code typed and Enter lead back with a token that validates', async () => {
    await awayFromStepBoundary();
    const user = await totpUser(api);
    const tracked = await track(api, user.userId, 'signIn', { redirect_url: landing.url });
    const { page, console } = await open(tracked.url);
    // Branded with the app's display name and logo; one code field, focused, for one-time codes.
    await expect(page.title()).resolves.toContain('Acme Shop');
    expect(await page.locator('header img').getAttribute('src')).toBe(logo);
    const field = page.getByLabel('Code from your authenticator app');
    expect(await field.getAttribute('autocomplete')).toBe('one-time-code');

    // A wrong code first: the page says so, with the field still there.
    await page.keyboard.type('000000');
    await page.keyboard.press('Enter');
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toContain('not right');

    const token = await typeCodeAndLand(page, await oathtool(user.secret));
    const validated = await api.post('/v1/actions/validate', { token, action: 'signIn' });
    expect(validated.body).toMatchObject({ state: 'CHALLENGE_SUCCEEDED', is_valid: true, user_id: user.userId });
    // The redirect carried no Referer (the track token is in the page's URL), and nothing broke the CSP.
    expect(landing.received.filter((request) => request.headers.referer?.includes('/hosted/'))).toEqual([]);
    expect(console.filter((line) => line.includes('Content Security Policy'))).toEqual([]);
    await page.close();
  });

  it('enrolls a user with no factor: the QR code (decoded by zbarimg), then its first code', async () => {
    await awayFromStepBoundary();
    const userId = newUserId('browser');
    const tracked = await track(api, userId, 'signIn', { redirect_url: landing.url });
    expect(tracked.enrolled_factors).toEqual([]);
    const { page } = await open(tracked.url);
    await expect(page.getByRole('heading').textContent()).resolves.toBe('Set up your authenticator app');
    const qr = page.getByRole('img', { name: /QR code/ });
    const uri = new URL(await zbarimg((await qr.getAttribute('src')) as string));
    expect(uri.protocol).toBe('otpauth:');
    expect(decodeURIComponent(uri.pathname)).toContain('Acme Shop');
    const secret = uri.searchParams.get('secret') as string;
    expect(await page.locator('code').textContent()).toBe(secret.replace(/(.{4})/g, '$1 ').trim());
    // A reload shows the same key: the QR code already scanned stays good.
    await page.reload();
    expect(await page.locator('code').textContent()).toBe(secret.replace(/(.{4})/g, '$1 ').trim());

    // Typed as authenticator apps show it, with a space in the middle.
    const code = await oathtool(secret);
    const token = await typeCodeAndLand(page, `${code.slice(0, 3)} ${code.slice(3)}`);
    expect((await api.post('/v1/actions/validate', { token, action: 'signIn' })).body).toMatchObject({ state: 'CHALLENGE_SUCCEEDED', is_valid: true });
    expect((await api.get(`/v1/users/${userId}`)).body).toMatchObject({ two_factor_enabled: true });
    await page.close();
  });

  it('offers a recovery code instead, by keyboard alone', async () => {
    const user = await totpUser(api);
    const codes = (await api.post(`/v1/users/${user.userId}/recovery-codes`)).body.codes as string[];
    const tracked = await track(api, user.userId, 'signIn', { redirect_url: landing.url });
    const { page } = await open(tracked.url);
    // From the focused code field, Tab reaches the button, then the link.
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    expect(await page.locator(':focus').textContent()).toBe('Use a recovery code instead');
    await Promise.all([page.waitForURL(/method=recovery/), page.keyboard.press('Enter')]);
    await page.getByLabel('Recovery code').waitFor();
    const token = await typeCodeAndLand(page, codes[0] as string);
    expect((await api.post('/v1/actions/validate', { token, action: 'signIn' })).body.is_valid).toBe(true);
    await page.close();
  });

  it('shows a page, not JSON, for a link that is not valid', async () => {
    const page = await browser.newPage();
    const response = await page.goto(`${server.url}/hosted/actions?token=nonsense`);
    expect(response?.status()).toBe(401);
    expect(await page.getByRole('heading').textContent()).toBe('Something went wrong');
    // A link or a form the page would never make (an unknown method, no token) gets a page too.
    for (const path of ['/hosted/actions?token=nonsense&method=sms', '/hosted/actions']) {
      const refused = await page.goto(server.url + path);
      expect([refused?.status(), refused?.headers()['content-type']], path).toEqual([400, 'text/html; charset=utf-8']);
      expect(await page.getByRole('heading').textContent()).toBe('Something went wrong');
    }
    await page.close();
  });
});
