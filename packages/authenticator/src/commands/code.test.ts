import { chmod, mkdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeTempDir, oathtoolCode, runCli, withinOneStep } from '../../test/run-cli.ts';
import type { OathtoolAccount } from '../../test/run-cli.ts';

let temp: { dir: string; remove: () => Promise<void> };
let home: string;
beforeEach(async () => {
  temp = await makeTempDir();
  home = path.join(temp.dir, 'home');
});
afterEach(() => temp.remove());

/** A store with every account of ACCOUNTS, shared by the tests that only read it. */
let shared: { dir: string; remove: () => Promise<void> };
beforeAll(async () => {
  shared = await makeTempDir();
  await addAll(shared.dir);
});
afterAll(() => shared.remove());

interface CodeJson {
  issuer: string;
  label: string;
  code: string;
  seconds_left: number;
  expires_at: string;
}

const ACCOUNTS: (OathtoolAccount & { issuer: string; label: string })[] = [
  { issuer: 'Example', label: 'alice', secret: 'JBSWY3DPEHPK3PXP', algorithm: 'SHA1', digits: 6, period: 30 },
  {
    issuer: 'GitHub',
    label: 'bob',
    secret: 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA',
    algorithm: 'SHA256',
    digits: 8,
    period: 60,
  },
  { issuer: 'GitLab', label: 'carol', secret: 'GEZDGNBVGY3TQOJQ', algorithm: 'SHA512', digits: 8, period: 30 },
];

async function addAll(storeHome: string): Promise<void> {
  for (const a of ACCOUNTS) {
    const uri = `otpauth://totp/${a.issuer}:${a.label}?secret=${a.secret}&algorithm=${a.algorithm}&digits=${a.digits}&period=${a.period}`;
    expect((await runCli(['add', uri], { home: storeHome })).status).toBe(0);
  }
}

describe('code', () => {
  it.each(ACCOUNTS)('prints the same code as oathtool for $algorithm/$digits/$period', async (account) => {
    await withinOneStep(account.period, async () => {
      const result = await runCli(['code', account.label, '--json'], { home: shared.dir });
      expect(result.status).toBe(0);
      const printed = JSON.parse(result.stdout) as CodeJson;
      expect(printed).toMatchObject({ issuer: account.issuer, label: account.label });
      expect(printed.code).toBe(oathtoolCode(account));
      expect(printed.seconds_left).toBeGreaterThanOrEqual(1);
      expect(printed.seconds_left).toBeLessThanOrEqual(account.period);
      expect(Date.parse(printed.expires_at) % (account.period * 1000)).toBe(0);
    });
  });

  it('prints every account with its code and seconds left when no account is named', async () => {
    await withinOneStep(30, async () => {
      const text = await runCli(['code'], { home: shared.dir });
      expect(text.status).toBe(0);
      const lines = text.stdout.trimEnd().split('\n');
      expect(lines).toHaveLength(3);
      expect(lines[0]).toMatch(/^Example: alice\s+\d{6}\s+\d+ s left$/);
      expect(lines[2]).toMatch(/^GitLab: carol\s+\d{8}\s+\d+ s left$/);
      expect(lines[0]).toContain(oathtoolCode(ACCOUNTS[0]!));
    });
    const json = JSON.parse((await runCli(['code', '--json'], { home: shared.dir })).stdout) as CodeJson[];
    expect(json.map((entry) => entry.label)).toEqual(['alice', 'bob', 'carol']);
  });

  it('matches a case-insensitive part of the issuer or label, and prints all the matches', async () => {
    const one = await runCli(['code', 'EXAMPLE'], { home: shared.dir });
    expect(one.stdout).toMatch(/^Example: alice\s+\d{6}\s+\d+ s left\n$/);
    const several = JSON.parse((await runCli(['code', 'git', '--json'], { home: shared.dir })).stdout) as CodeJson[];
    expect(several.map((entry) => entry.issuer)).toEqual(['GitHub', 'GitLab']);
    const exact = JSON.parse((await runCli(['code', 'github:bob', '--json'], { home: shared.dir })).stdout) as CodeJson;
    expect(exact.label).toBe('bob');
  });

  it('exits 1 with a message when no account matches, or there are none', async () => {
    const none = await runCli(['code'], { home });
    expect(none.status).toBe(1);
    expect(none.stderr).toMatch(/no accounts yet/);
    const missing = await runCli(['code', 'nobody', '--json'], { home: shared.dir });
    expect(missing.status).toBe(1);
    expect(JSON.parse(missing.stderr)).toMatchObject({ error: { code: 'no_matching_account' } });
  });

  it('exits 1 with a message when the store is damaged', async () => {
    await mkdir(home, { mode: 0o700 });
    await writeFile(path.join(home, 'store.json'), '{ not json', { mode: 0o600 });
    const result = await runCli(['code'], { home });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/store .* is damaged: it is not valid JSON/);
  });

  it('makes a store someone made readable to others private again', async () => {
    await addAll(home);
    await chmod(path.join(home, 'store.json'), 0o644);
    await runCli(['code'], { home });
    expect((await stat(path.join(home, 'store.json'))).mode & 0o777).toBe(0o600);
  });
});
