import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { accountMatches, accountName, summarizeAccount, totpCode } from './totp-account.ts';
import type { TotpAccount, TotpParameters } from './totp-account.ts';

function oathtoolAt(account: TotpParameters, unixSeconds: number): string {
  const args = [`--totp=${account.algorithm}`, '--base32', `--digits=${account.digits}`, `--time-step-size=${account.period}s`];
  return execFileSync('oathtool', [...args, `--now=@${unixSeconds}`, account.secret], { encoding: 'utf8' }).trim();
}

const SHA256_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA';

describe('totpCode', () => {
  it.each([
    { issuer: 'A', label: 'a', secret: 'JBSWY3DPEHPK3PXP', algorithm: 'SHA1', digits: 6, period: 30 },
    { issuer: 'B', label: 'b', secret: SHA256_SECRET, algorithm: 'SHA256', digits: 8, period: 60 },
    { issuer: 'C', label: 'c', secret: 'GEZDGNBVGY3TQOJQ', algorithm: 'SHA512', digits: 8, period: 30 },
  ] satisfies TotpParameters[])('agrees with oathtool for $algorithm/$digits/$period', (account) => {
    for (const unixSeconds of [59, 1_111_111_109, 1_234_567_890, 2_000_000_000]) {
      expect(totpCode(account, unixSeconds * 1000).code).toBe(oathtoolAt(account, unixSeconds));
    }
  });

  it('counts the seconds left in the step and when it ends', () => {
    const account: TotpParameters = { issuer: '', label: 'a', secret: 'JBSWY3DPEHPK3PXP', algorithm: 'SHA1', digits: 6, period: 30 };
    expect(totpCode(account, 60_000)).toMatchObject({ seconds_left: 30, expires_at: '1970-01-01T00:01:30.000Z' });
    expect(totpCode(account, 89_001)).toMatchObject({ seconds_left: 1, expires_at: '1970-01-01T00:01:30.000Z' });
    expect(totpCode(account, 75_500).seconds_left).toBe(15);
  });
});

describe('accounts', () => {
  const account: TotpAccount = {
    issuer: 'GitHub',
    label: 'alice@example.com',
    secret: 'JBSWY3DPEHPK3PXP',
    algorithm: 'SHA1',
    digits: 6,
    period: 30,
    added_at: '2026-01-01T00:00:00.000Z',
  };

  it('match a case-insensitive part of the issuer, the label or issuer:label', () => {
    expect(accountMatches(account, 'git')).toBe(true);
    expect(accountMatches(account, 'ALICE')).toBe(true);
    expect(accountMatches(account, 'hub:alice')).toBe(true);
    expect(accountMatches(account, 'bob')).toBe(false);
  });

  it('are named issuer: label, or label alone', () => {
    expect(accountName(account)).toBe('GitHub: alice@example.com');
    expect(accountName({ issuer: '', label: 'alice' })).toBe('alice');
  });

  it('are summarized without their secret', () => {
    expect(summarizeAccount(account)).not.toHaveProperty('secret');
    expect(JSON.stringify(summarizeAccount(account))).not.toContain(account.secret);
  });
});
