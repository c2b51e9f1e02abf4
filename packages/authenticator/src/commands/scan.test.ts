import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { databaseKinds, startTestServer } from '../../../server/test/harness.ts';
import { client } from '../../../server/test/http.ts';
import { freePort } from '../../../server/test/process.ts';
import { BrowserSocket } from '../../../server/test/qr-login.ts';
import { makeTempDir, runCli, startCliAtTerminal } from '../../test/run-cli.ts';

describe('scan refuses a login code it cannot use, saying why', () => {
  it.each([
    ['a server that is not http(s)', 'tessera://login?server=ftp%3A%2F%2Fx&app_id=app_x&login_id=qrl_x&nonce=n', /The server of this login code, ftp:\/\/x, is not an http\(s\) URL/],
    ['a server with control characters', 'tessera://login?server=ftp%3A%2F%2Fx%1B%5B2J&login_id=qrl_x&nonce=n', /server of this login code, ftp:\/\/x\\x1b\[2J, is not/],
    ['a server with a query', 'tessera://login?server=http%3A%2F%2Fx%2F%3Fa%3D1&login_id=qrl_x&nonce=n', /has a query or a fragment/],
    ['no nonce', 'tessera://login?server=http%3A%2F%2Fx&login_id=qrl_x', /This login code lacks its nonce\./],
    ['another kind of URI', 'https://example.com/login', /not a Tessera login code/],
  ])('%s', async (_what, payload, message) => {
    const temp = await makeTempDir();
    try {
      const result = await runCli(['scan', payload, '--deny'], { home: temp.dir });
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(message);
    } finally {
      await temp.remove();
    }
  });
});

// scan at a terminal, as a person runs it, against a real server and a page waiting on its socket.
describe.each(databaseKinds())('scan at a terminal on %s', (kind) => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let appId: string;
  let temp: { dir: string; remove: () => Promise<void> };
  let home: string;

  beforeAll(async () => {
    // The QR code names the server the authenticator calls: its real address.
    const port = await freePort();
    server = await startTestServer(kind, { env: { PORT: String(port), TESSERA_PUBLIC_URL: `http://127.0.0.1:${port}` } });
    const created = await client(server.url).post('/v1/apps', { name: 'Shop', branding: { display_name: 'Example Shop' }, profile_scopes: ['email'] });
    appId = created.body.app_id;
  });
  afterAll(() => server?.stop());
  beforeEach(async () => {
    temp = await makeTempDir();
    home = path.join(temp.dir, 'home');
    expect((await runCli(['init'], { home })).status).toBe(0);
  });
  afterEach(() => temp.remove());

  it('with --json and neither --approve nor --deny, refuses instead of asking without showing what it asks', async () => {
    const browser = await BrowserSocket.open(server.url, appId);
    const payload = await browser.qrPayload();
    const scanning = startCliAtTerminal(['scan', payload, '--json'], { home });
    try {
      const { status, stdout } = await scanning.exited;
      expect(status).toBe(1);
      expect(stdout).not.toContain('Approve this sign-in?');
      expect(JSON.parse(stdout.trim())).toEqual({ error: { code: 'decision_required', message: expect.stringContaining('--approve or --deny') } });
    } finally {
      await scanning.stop();
    }
    // Nothing was claimed: the code still works.
    expect((await runCli(['scan', payload, '--deny', '--json'], { home })).status).toBe(0);
    await browser.next('denied');
  });

  it('Ctrl-C at "Approve this sign-in?" cancels with status 130 and denies the sign-in, so the page does not wait', async () => {
    const browser = await BrowserSocket.open(server.url, appId);
    const scanning = startCliAtTerminal(['scan', await browser.qrPayload()], { home });
    try {
      await scanning.waitFor(/Approve this sign-in\? \[y\/N\]/);
      await browser.next('scanned');
      scanning.type('\u0003');
      const { status, stdout } = await scanning.exited;
      expect(status).toBe(130);
      expect(stdout).toContain('tessera-authenticator: Cancelled: the sign-in was denied.');
      expect(stdout).not.toMatch(/AbortError|Unexpected error|node:internal/);
      await browser.next('denied');
    } finally {
      await scanning.stop();
    }
  });

  it('shows the browser’s user agent with its control characters escaped', async () => {
    const browser = await BrowserSocket.open(server.url, appId, { 'user-agent': 'Evil/1.0 \u009b2J\u009b1;1H' });
    const scan = await runCli(['scan', await browser.qrPayload(), '--deny'], { home });
    expect(scan.status).toBe(0);
    expect(scan.stdout).toContain('started from 127.0.0.1, Evil/1.0 \\x9b2J\\x9b1;1H');
    expect(scan.stdout).not.toMatch(/[\u0080-\u009f]/);
  });
});
