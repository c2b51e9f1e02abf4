import { randomBytes } from 'node:crypto';
import { sha256 } from '../../platform/secrets.ts';

export const recoveryCodeCount = 10;
const alphabet = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford's base32: no i, l, o, u

/**
 * Ten codes of 16 characters (80 random bits each), shown as `xxxx-xxxx-xxxx-xxxx`. With that
 * much entropy a SHA-256 is a safe way to store them: no table of guesses can cover the space.
 */
export function newRecoveryCodes(): string[] {
  return Array.from({ length: recoveryCodeCount }, () => {
    const bytes = randomBytes(10);
    let value = BigInt(`0x${bytes.toString('hex')}`);
    let code = '';
    for (let i = 0; i < 16; i++) {
      code = alphabet[Number(value & 31n)] + code;
      value >>= 5n;
    }
    return code.match(/.{4}/g)!.join('-');
  });
}

/** The canonical form of a typed code (case, dashes and spaces ignored; Crockford's look-alikes mapped), or null. */
export function normalizeRecoveryCode(typed: string): string | null {
  const code = typed
    .toLowerCase()
    .replace(/[\s-]/g, '')
    .replace(/[il]/g, '1')
    .replace(/o/g, '0');
  return /^[0-9a-hjkmnp-tv-z]{16}$/.test(code) ? code : null;
}

export function hashRecoveryCode(normalized: string): Buffer {
  return sha256(`tessera recovery code:${normalized}`);
}
