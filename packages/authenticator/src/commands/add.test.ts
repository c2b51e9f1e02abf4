import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PNG } from 'pngjs';
import QRCode from 'qrcode';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTempDir, runCli } from '../../test/run-cli.ts';

const SECRET = 'JBSWY3DPEHPK3PXP';
const URI = `otpauth://totp/Example:alice@example.com?secret=${SECRET}&issuer=Example`;

let temp: { dir: string; remove: () => Promise<void> };
let home: string;
beforeEach(async () => {
  temp = await makeTempDir();
  home = path.join(temp.dir, 'home');
});
afterEach(() => temp.remove());

const storeFile = (): string => path.join(home, 'store.json');
const storedAccounts = async (): Promise<unknown[]> => (JSON.parse(await readFile(storeFile(), 'utf8')) as { accounts: unknown[] }).accounts;

describe('add', () => {
  it('adds an account from a URI into a private store', async () => {
    const result = await runCli(['add', URI], { home });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('Added Example: alice@example.com (SHA1, 6 digits, every 30 s).');
    expect(result.stdout).toMatch(/Current code: \d{6} \(\d+ s left\)/);
    expect((await stat(storeFile())).mode & 0o777).toBe(0o600);
    expect((await stat(home)).mode & 0o777).toBe(0o700);
    expect(await storedAccounts()).toMatchObject([{ issuer: 'Example', label: 'alice@example.com', secret: SECRET }]);
  });

  it('adds an account from a QR code PNG, by a path relative to the working directory', async () => {
    await QRCode.toFile(path.join(temp.dir, 'qr.png'), 'otpauth://totp/ACME:bob?secret=GEZDGNBVGY3TQOJQ&algorithm=SHA512&digits=8');
    const result = await runCli(['add', 'qr.png', '--json'], { home, cwd: temp.dir });
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      status: 'added',
      account: { issuer: 'ACME', label: 'bob', algorithm: 'SHA512', digits: 8, period: 30, added_at: expect.any(String) },
    });
  });

  it('reads the URI from standard input with -, keeping the secret out of the process list', async () => {
    const result = await runCli(['add', '-'], { home, stdin: `${URI}\n` });
    expect(result.status).toBe(0);
    expect(await storedAccounts()).toHaveLength(1);
  });

  it('never prints the secret', async () => {
    const result = await runCli(['add', URI, '--json'], { home });
    expect(result.stdout + result.stderr).not.toContain(SECRET);
  });

  it('treats adding the same account and secret again as a no-op success', async () => {
    await runCli(['add', URI], { home });
    const again = await runCli(['add', URI, '--json'], { home });
    expect(again.status).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ status: 'unchanged' });
    expect(await storedAccounts()).toHaveLength(1);
  });

  it('replaces an account with another secret only with --force', async () => {
    await runCli(['add', URI], { home });
    const other = URI.replace(SECRET, 'GEZDGNBVGY3TQOJQ');
    const refused = await runCli(['add', other], { home });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/already exists.*--force/);
    expect(await storedAccounts()).toMatchObject([{ secret: SECRET }]);

    const forced = await runCli(['add', other, '--force', '--json'], { home });
    expect(forced.status).toBe(0);
    expect(JSON.parse(forced.stdout)).toMatchObject({ status: 'replaced' });
    expect(await storedAccounts()).toMatchObject([{ secret: 'GEZDGNBVGY3TQOJQ' }]);
  });

  it('loses no account when several adds run at once', async () => {
    const labels = ['a', 'b', 'c', 'd', 'e'];
    const results = await Promise.all(labels.map((label) => runCli(['add', `otpauth://totp/X:${label}?secret=${SECRET}`], { home })));
    expect(results.map((result) => result.status)).toEqual([0, 0, 0, 0, 0]);
    expect(await storedAccounts()).toHaveLength(5);
  });

  it('uses ~/.config/tessera-authenticator when no directory is given, or $XDG_CONFIG_HOME', async () => {
    const fakeHome = path.join(temp.dir, 'user');
    await runCli(['add', URI], { env: { HOME: fakeHome, XDG_CONFIG_HOME: undefined } });
    expect((await stat(path.join(fakeHome, '.config/tessera-authenticator/store.json'))).mode & 0o777).toBe(0o600);
    const xdg = path.join(temp.dir, 'xdg');
    await runCli(['add', URI], { env: { HOME: fakeHome, XDG_CONFIG_HOME: xdg } });
    expect((await stat(path.join(xdg, 'tessera-authenticator/store.json'))).isFile()).toBe(true);
  });

  describe('refuses bad input with exit status 1 and a message, storing nothing', () => {
    async function expectRefused(args: string[], code: string, message: RegExp): Promise<void> {
      const text = await runCli(['add', ...args], { home, cwd: temp.dir });
      expect(text.status).toBe(1);
      expect(text.stderr).toMatch(message);
      const json = await runCli(['add', ...args, '--json'], { home, cwd: temp.dir });
      expect(json.status).toBe(1);
      expect(JSON.parse(json.stderr)).toMatchObject({ error: { code } });
      await expect(stat(storeFile())).rejects.toThrow(/ENOENT/);
    }

    it.each([
      ['a malformed URI', 'otpauth:/totp/alice?secret=JBSWY3DPEHPK3PXP', 'invalid_uri', /malformed/],
      ['another kind of URI', 'https://example.com/', 'invalid_uri', /not an otpauth URI/],
      ['an HOTP URI', `otpauth://hotp/Example:alice?secret=${SECRET}&counter=1`, 'not_totp', /only TOTP/],
      ['a URI without secret', 'otpauth://totp/Example:alice?issuer=Example', 'missing_secret', /no secret/],
      ['a secret that is not Base32', 'otpauth://totp/Example:alice?secret=NOT-BASE32!', 'invalid_secret', /not Base32/],
      ['a secret shorter than 80 bits', 'otpauth://totp/Iss:ok5?secret=JB', 'invalid_secret', /too short.*at least 16/],
      ['a secret one character short of 80 bits', 'otpauth://totp/Iss:ok5?secret=JBSWY3DPEHPK3PX', 'invalid_secret', /too short/],
      ['an unsupported algorithm', `otpauth://totp/a?secret=${SECRET}&algorithm=MD5`, 'unsupported_algorithm', /Unsupported algorithm "MD5"/],
      ['unsupported digits', `otpauth://totp/a?secret=${SECRET}&digits=10`, 'unsupported_digits', /Unsupported number of digits/],
      ['an unsupported period', `otpauth://totp/a?secret=${SECRET}&period=abc`, 'unsupported_period', /Unsupported period/],
      ['a missing image', 'nothing-here.png', 'unreadable_image', /no such file/],
    ])('%s', async (_what, argument, code, message) => {
      await expectRefused([argument], code, message);
    });

    it('an image that is not a PNG', async () => {
      await writeFile(path.join(temp.dir, 'fake.png'), 'GIF89a not really');
      await expectRefused(['fake.png'], 'unreadable_image', /not a PNG/);
    });

    it('an image without a QR code', async () => {
      const png = new PNG({ width: 120, height: 120 });
      png.data.fill(255);
      await writeFile(path.join(temp.dir, 'blank.png'), PNG.sync.write(png));
      await expectRefused(['blank.png'], 'no_qr_code', /No QR code was found/);
    });

    it('a QR code that holds something else than an otpauth URI', async () => {
      await QRCode.toFile(path.join(temp.dir, 'hello.png'), 'hello world');
      await expectRefused(['hello.png'], 'invalid_uri', /QR code in hello.png: This is not an otpauth URI/);
    });

    it('an empty standard input', async () => {
      const result = await runCli(['add', '-'], { home, stdin: '' });
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(/not an otpauth URI/);
    });
  });
});
