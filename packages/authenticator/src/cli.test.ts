import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, runCli } from '../test/run-cli.ts';

let temp: { dir: string; remove: () => Promise<void> };
beforeAll(async () => {
  temp = await makeTempDir();
});
afterAll(() => temp.remove());

describe('tessera-authenticator (as a process)', () => {
  it('prints the commands with --help and exits 0', async () => {
    const result = await runCli(['--help'], { home: temp.dir });
    expect(result.status).toBe(0);
    for (const command of ['add', 'list', 'code']) expect(result.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
  });

  it.each(['add', 'list', 'code'])('prints the help of %s with --help, and with the help command', async (command) => {
    const flag = await runCli([command, '--help'], { home: temp.dir });
    expect(flag.status).toBe(0);
    expect(flag.stdout).toContain(`Usage: tessera-authenticator ${command}`);
    expect(flag.stdout).toContain('Example');
    const topic = await runCli(['help', command], { home: temp.dir });
    expect(topic.stdout).toBe(flag.stdout);
  });

  it('prints its version', async () => {
    const result = await runCli(['--version'], { home: temp.dir });
    expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('exits 2 with the overview on stderr when given no command', async () => {
    const result = await runCli([], { home: temp.dir });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('Usage: tessera-authenticator');
  });

  it.each([
    [['frobnicate'], /Unknown command "frobnicate"/],
    [['list', '--bogus'], /list: unknown option --bogus/],
    [['list', 'extra'], /list: unexpected argument "extra"/],
    [['add'], /add: missing argument/],
    [['code', 'a', 'b'], /code: unexpected argument "b"/],
  ])('exits 2 with a message for the command line %j', async (args, message) => {
    const result = await runCli(args, { home: temp.dir });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
  });

  it('reports errors as one JSON object on stderr with --json', async () => {
    const result = await runCli(['add', 'otpauth://hotp/a?secret=JBSWY3DPEHPK3PXP', '--json'], { home: temp.dir });
    expect(result.status).toBe(1);
    expect(JSON.parse(result.stderr)).toEqual({ error: { code: 'not_totp', message: expect.stringContaining('HOTP') } });
  });

  it('prints --json output as one JSON object on one line, as scripts reading lines expect', async () => {
    const home = `${temp.dir}/json-lines`;
    for (const args of [
      ['init', '--name', 'Scripted'],
      ['profile', 'set', '--first-name', 'Ada', '--last-name', 'Lovelace', '--email', 'ada@example.com'],
      ['profile', 'show'],
      ['add', 'otpauth://totp/Example:alice?secret=JBSWY3DPEHPK3PXP'],
      ['list'],
      ['code', 'alice'],
    ]) {
      const result = await runCli([...args, '--json'], { home });
      expect([args, result.status]).toEqual([args, 0]);
      expect(result.stdout).toMatch(/^[^\n]+\n$/);
      expect(JSON.parse(result.stdout)).toBeTypeOf('object');
    }
  });
});
