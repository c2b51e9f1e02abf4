import { AuthenticatorError } from './errors.ts';

const BASE32_ALPHABET = /^[A-Z2-7]+$/;
/** Unpadded Base32 lengths that end on a whole byte (RFC 4648 §6: 8 characters per 5 bytes). */
const VALID_REMAINDERS: ReadonlySet<number> = new Set([0, 2, 4, 5, 7]);

/**
 * A Base32 secret as people and issuers write it, made canonical: upper case, no spaces, no padding.
 * Issuers vary (lower case, `=` padding, groups of four separated by spaces); the bytes they mean do not.
 */
export function normalizeBase32Secret(raw: string): string {
  const secret = raw.replace(/\s/g, '').toUpperCase().replace(/=+$/, '');
  if (secret === '') {
    throw new AuthenticatorError('invalid_secret', 'The secret is empty.');
  }
  if (!BASE32_ALPHABET.test(secret)) {
    throw new AuthenticatorError(
      'invalid_secret',
      'The secret is not Base32: only the letters A-Z and the digits 2-7 may appear in it.',
    );
  }
  if (!VALID_REMAINDERS.has(secret.length % 8)) {
    throw new AuthenticatorError(
      'invalid_secret',
      `The secret is not Base32: ${secret.length} characters cannot encode a whole number of bytes.`,
    );
  }
  return secret;
}
