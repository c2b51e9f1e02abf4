import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tessera, type QrLoginVerification } from '@tessera/sdk-node';
import { makeTempDir, runCli } from '../../../../authenticator/test/run-cli.ts';
import { launchBrowser } from '../../../test/browser.ts';
import { startTestServer, type TestServer } from '../../../test/harness.ts';
import { client } from '../../../test/http.ts';
import { freePort } from '../../../test/process.ts';
import { zbarimg } from '../../../test/otp-tools.ts';

const email = 'ada.browser-test@example.test';

/** The app: a page that uses the browser SDK, and its backend, which verifies tokens with the Node SDK. */
async function startShop(tessera: Tessera, tesseraUrl: string) {
  const verified: Array<QrLoginVerification | { error: string }> = [];
  const page = `<!doctype html><html><body><h1>Shop</h1><div id="login"></div><p id="result"></p>
<script src="${tesseraUrl}/sdk/tessera.js"></script>
<script>
  window.statuses = [];
  Tessera.qrLogin({
    server: ${JSON.stringify(tesseraUrl)}, appId: new URLSearchParams(location.search).get('app'), container: '#login',
    onStatus: (status) => window.statuses.push(status),
    onError: (refusal) => (window.refusal = refusal),
    onToken: async ({ loginToken, encryptedProfile }) => {
      window.token = loginToken; window.encryptedProfile = encryptedProfile;
      const answer = await fetch('/login', { method: 'POST', body: loginToken });
      document.querySelector('#result').textContent = await answer.text();
    },
  });
</script></body></html>`;
  const server: Server = createServer((request, response) => {
    if (request.method === 'GET') return void response.writeHead(200, { 'content-type': 'text/html' }).end(page);
    let token = '';
    request.on('data', (chunk: Buffer) => (token += chunk));
    request.on('end', async () => {
      try {
        const result = await tessera.qrLogins.verify(token);
        verified.push(result);
        response.writeHead(200).end(`Signed in as ${result.profile.email ?? result.identity_id}`);
      } catch (error) {
        verified.push({ error: (error as { code: string }).code });
        response.writeHead(401).end('refused');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, verified, close: () => new Promise((r) => server.close(r)) };
}

describe('QR login in a real browser (chromium), approved by the authenticator CLI', () => {
  let server: TestServer & { stop(): Promise<void> };
  let browser: Browser;
  let shop: Awaited<ReturnType<typeof startShop>>;
  let appId: string;
  let home: Awaited<ReturnType<typeof makeTempDir>>;

  beforeAll(async () => {
    // The QR code names the server the authenticator calls: its real address.
    const port = await freePort();
    server = await startTestServer('pglite', { env: { PORT: String(port), TESSERA_PUBLIC_URL: `http://127.0.0.1:${port}` } });
    const created = await client(server.url).post('/v1/apps', {
      name: 'Shop',
      branding: { display_name: 'Browser Shop' },
      profile_scopes: ['first_name', 'email'],
    });
    appId = created.body.app_id;
    shop = await startShop(new Tessera({ baseUrl: server.url, appId, appSecret: created.body.app_secret }), server.url);
    browser = await launchBrowser();
    home = await makeTempDir();
    expect((await runCli(['init', '--name', 'Test phone'], { home: home.dir })).status).toBe(0);
    const profile = await runCli(['profile', 'set', '--first-name', 'Ada', '--last-name', 'Lovelace', '--email', email], { home: home.dir });
    expect(profile.status).toBe(0);
  });
  afterAll(async () => {
    await browser?.close();
    await shop?.close();
    await home?.remove();
    await server?.stop();
  });

  /** Opens the shop's page and saves a screenshot of the QR code it shows. */
  async function openPage(): Promise<{ page: Page; png: string }> {
    const page = await browser.newPage();
    await page.goto(`${shop.url}/?app=${appId}`);
    const image = page.getByRole('img', { name: /QR code/ });
    await image.waitFor({ state: 'visible' });
    await expect.poll(() => page.getByRole('status').textContent()).toContain('Scan this code');
    const png = path.join(home.dir, `qr-${Date.now()}.png`);
    await writeFile(png, await image.screenshot());
    return { page, png };
  }

  it('signs the page in: the CLI scans the QR code on screen and approves; the backend verifies the token', async () => {
    const { page, png } = await openPage();
    const payload = await zbarimg(`data:image/png;base64,${(await readFile(png)).toString('base64')}`);
    expect(payload).toMatch(new RegExp(`^tessera://login\\?server=.+&app_id=${appId}&login_id=qrl_`));

    const scan = await runCli(['scan', png, '--approve', '--json'], { home: home.dir });
    expect(scan.stderr).toBe('');
    expect(scan.status).toBe(0);
    const shown = JSON.parse(scan.stdout);
    expect(shown).toMatchObject({
      app: { app_id: appId, display_name: 'Browser Shop' },
      requested_fields: ['first_name', 'email'],
      shared_fields: ['first_name', 'email'],
      browser: { ip: '127.0.0.1', user_agent: expect.stringContaining('Chrome') },
      status: 'approved',
    });
    await expect.poll(() => page.locator('#result').textContent(), { timeout: 10_000 }).toBe(`Signed in as ${email}`);
    expect(shop.verified).toEqual([{ identity_id: expect.stringMatching(/^idn_/), user_id: null, profile: { first_name: 'Ada', email } }]);
    // Runs in the page, where the SDK's callbacks kept what they saw on the global object.
    const seen = await page.evaluate(() => {
      const page = globalThis as unknown as { statuses: string[]; token: string; encryptedProfile: string };
      return { statuses: page.statuses, token: page.token, jwe: page.encryptedProfile };
    });
    expect(seen.statuses).toEqual(['connecting', 'waiting', 'scanned', 'approved']);
    expect(seen.jwe).not.toContain('Ada'); // the browser held ciphertext only

    // The same token again (a replay from the page): refused.
    expect(await page.evaluate((token) => fetch('/login', { method: 'POST', body: token }).then((r) => r.status), seen.token)).toBe(401);
    expect(shop.verified.at(-1)).toEqual({ error: 'login_token_used' });

    // No profile field is stored in plaintext.
    for (const table of ['qr_logins', 'webhook_deliveries', 'identity_links', 'server_secrets']) {
      const dump = JSON.stringify(await server.db.query(`SELECT * FROM ${table}`));
      expect(dump).not.toContain(email);
      expect(dump).not.toContain('Lovelace');
      expect(dump).not.toContain('"Ada"');
    }
    await page.close();
  });

  it('stops and says why when the server refuses the app or the page’s origin, instead of reconnecting for ever', async () => {
    const strict = await client(server.url).post('/v1/apps', { name: 'Strict', allowed_origins: ['https://elsewhere.example'] });
    for (const [app, status, code] of [
      ['app_doesnotexist', 404, 'not_found'],
      [strict.body.app_id, 403, 'origin_not_allowed'],
    ] as const) {
      const page = await browser.newPage();
      await page.goto(`${shop.url}/?app=${app}`);
      await expect.poll(() => page.getByRole('status').textContent()).toBe('Sign-in with a QR code is not available here.');
      const seen = await page.evaluate(() => {
        const page = globalThis as unknown as { statuses: string[]; refusal: { status: number; code: string } };
        return { statuses: page.statuses, refusal: page.refusal };
      });
      expect(seen).toMatchObject({ statuses: ['connecting', 'refused'], refusal: { status, code } });
      await page.close();
    }
  });

  it('says "reconnecting" once while the server is down, however many tries it takes', async () => {
    const other = await startTestServer('pglite');
    const created = await client(other.url).post('/v1/apps', { name: 'Gone' });
    const otherShop = await startShop(new Tessera({ baseUrl: other.url, appId: created.body.app_id, appSecret: created.body.app_secret }), other.url);
    try {
      const page = await browser.newPage();
      await page.goto(`${otherShop.url}/?app=${created.body.app_id}`);
      await expect.poll(() => page.getByRole('status').textContent()).toContain('Scan this code');
      await other.stop();
      // Tries after 0.5, 1 and 2 s (±50 %): several fail within 5 s.
      await page.waitForTimeout(5_000);
      const statuses = await page.evaluate(() => (globalThis as unknown as { statuses: string[] }).statuses);
      expect(statuses).toEqual(['connecting', 'waiting', 'reconnecting']);
      await page.close();
    } finally {
      await otherShop.close();
      await other.stop().catch(() => {});
    }
  });

  it('shows "declined" when the person denies, and the backend gets no token', async () => {
    const { page, png } = await openPage();
    const verifiedBefore = shop.verified.length;
    const scan = await runCli(['scan', png, '--deny'], { home: home.dir });
    expect(scan.status).toBe(0);
    expect(scan.stdout).toContain('Browser Shop asks you to sign in.');
    expect(scan.stdout).toMatch(/started from 127\.0\.0\.1, .*Chrome/);
    await expect.poll(() => page.getByRole('status').textContent()).toContain('declined');
    await expect(page.getByRole('button', { name: 'Show a new code' }).isVisible()).resolves.toBe(true);
    expect(shop.verified.length).toBe(verifiedBefore);
    // The code was used: scanning it again is refused, and the CLI says so with a non-zero status.
    const again = await runCli(['scan', png, '--approve'], { home: home.dir });
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/refused/);
    // Without a terminal and without --approve or --deny, scan refuses to guess.
    const unattended = await runCli(['scan', png], { home: home.dir });
    expect(unattended.status).toBe(1);
    expect(unattended.stderr).toContain('--approve or --deny');
    // A new code from the keyboard: focus stays in the widget, on the status line, and a new code is shown.
    const loginBefore = await page.locator('.tessera-qr-login').getAttribute('data-login-id');
    await page.getByRole('button', { name: 'Show a new code' }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('.tessera-qr-login').getAttribute('data-login-id')).not.toBe(loginBefore);
    const focusedRole = await page.evaluate(() => {
      type Focus = { document: { activeElement: { getAttribute(name: string): string | null } | null } };
      return (globalThis as unknown as Focus).document.activeElement?.getAttribute('role');
    });
    expect(focusedRole).toBe('status');
    await page.close();
  });
});
