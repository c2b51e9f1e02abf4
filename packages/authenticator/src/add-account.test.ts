import { describe, expect, it } from 'vitest';
import { addAccount } from './add-account.ts';
import { AuthenticatorError } from './errors.ts';
import type { TotpParameters } from './totp-account.ts';

const now = new Date('2026-03-01T12:00:00.000Z');
const later = new Date('2026-03-02T12:00:00.000Z');
const alice: TotpParameters = { issuer: 'Example', label: 'alice', secret: 'JBSWY3DPEHPK3PXP', algorithm: 'SHA1', digits: 6, period: 30 };

describe('addAccount', () => {
  it('adds a new account with the time it was added', () => {
    const outcome = addAccount([], alice, { force: false, now });
    expect(outcome.status).toBe('added');
    expect(outcome.accounts).toEqual([{ ...alice, added_at: now.toISOString() }]);
  });

  it('treats the same issuer, label and secret again as a no-op', () => {
    const { accounts } = addAccount([], alice, { force: false, now });
    const again = addAccount(accounts, alice, { force: true, now: later });
    expect(again.status).toBe('unchanged');
    expect(again.accounts).toEqual(accounts);
  });

  it('refuses another secret for the same issuer and label without force (a working secret is not lost by accident)', () => {
    const { accounts } = addAccount([], alice, { force: false, now });
    const other = { ...alice, secret: 'GEZDGNBVGY3TQOJQ' };
    expect(() => addAccount(accounts, other, { force: false, now: later })).toThrow(AuthenticatorError);
    expect(() => addAccount(accounts, other, { force: false, now: later })).toThrow(/--force/);
  });

  it('refuses other settings with the same secret without force', () => {
    const { accounts } = addAccount([], alice, { force: false, now });
    expect(() => addAccount(accounts, { ...alice, digits: 8 }, { force: false, now })).toThrow(/already exists/);
  });

  it('replaces in place with force', () => {
    const bob = { ...alice, label: 'bob' };
    const { accounts } = addAccount(addAccount([], alice, { force: false, now }).accounts, bob, { force: false, now });
    const replaced = addAccount(accounts, { ...alice, secret: 'GEZDGNBVGY3TQOJQ' }, { force: true, now: later });
    expect(replaced.status).toBe('replaced');
    expect(replaced.accounts.map((account) => [account.label, account.secret])).toEqual([
      ['alice', 'GEZDGNBVGY3TQOJQ'],
      ['bob', alice.secret],
    ]);
  });

  it('keeps accounts apart that differ in issuer only', () => {
    const { accounts } = addAccount([], alice, { force: false, now });
    expect(addAccount(accounts, { ...alice, issuer: 'Other' }, { force: false, now }).accounts).toHaveLength(2);
  });
});
