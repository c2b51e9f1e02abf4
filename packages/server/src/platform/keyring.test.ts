import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Keyring, KeyringError } from './keyring.ts';

describe('keyring', () => {
  const master = randomBytes(32);

  it('encrypts so that only the same key and context decrypt', () => {
    const keyring = new Keyring(master);
    const sealed = keyring.encrypt('JBSWY3DPEHPK3PXP', 'totp.secret:fac_1');
    expect(sealed).toMatch(/^tk1\.[0-9a-f]{12}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain('JBSWY3DPEHPK3PXP');
    expect(keyring.decryptString(sealed, 'totp.secret:fac_1')).toBe('JBSWY3DPEHPK3PXP');
    // A ciphertext moved to another row does not open there.
    expect(() => keyring.decrypt(sealed, 'totp.secret:fac_2')).toThrow(KeyringError);
    expect(() => new Keyring(randomBytes(32)).decrypt(sealed, 'totp.secret:fac_1')).toThrow(KeyringError);
  });

  it('gives a different ciphertext each time (fresh data key and nonce)', () => {
    const keyring = new Keyring(master);
    expect(keyring.encrypt('same', 'c')).not.toBe(keyring.encrypt('same', 'c'));
  });

  it('refuses an altered ciphertext', () => {
    const keyring = new Keyring(master);
    const sealed = keyring.encrypt('secret value', 'c');
    const parts = sealed.split('.');
    const body = Buffer.from(parts[3]!, 'base64url');
    body[14]! ^= 1;
    parts[3] = body.toString('base64url');
    expect(() => keyring.decrypt(parts.join('.'), 'c')).toThrow(KeyringError);
    expect(() => keyring.decrypt('plaintext', 'c')).toThrow(KeyringError);
    expect(() => keyring.decrypt('tk1.abc.AA.AA', 'c')).toThrow(KeyringError);
  });

  it('keeps old values readable after a rotation, and says which to re-encrypt', () => {
    const before = new Keyring(master);
    const old = before.encrypt('kept', 'c');
    const next = randomBytes(32);
    const after = new Keyring(next, [master]);
    expect(after.decryptString(old, 'c')).toBe('kept');
    expect(after.isCurrent(old)).toBe(false);
    const fresh = after.encrypt('kept', 'c');
    expect(after.isCurrent(fresh)).toBe(true);
    expect(after.currentKeyId).not.toBe(before.currentKeyId);
    // Without the previous key the old value cannot be read, and the error says why.
    expect(() => new Keyring(next).decrypt(old, 'c')).toThrow(/not configured/);
  });

  it('refuses a master key that is not 32 bytes', () => {
    expect(() => new Keyring(randomBytes(16))).toThrow(KeyringError);
  });
});
