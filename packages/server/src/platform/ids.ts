import { randomBytes } from 'node:crypto';

// Crockford's base32, lower case: ids sort by creation time and read without ambiguity.
const alphabet = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * A new id `<prefix>_<26 characters>`: 48 bits of milliseconds then 80 random bits, so ids of
 * one kind sort by creation time (cursor pagination) and cannot be guessed.
 */
export function newId(prefix: string): string {
  const bytes = Buffer.alloc(16);
  bytes.writeUIntBE(Date.now(), 0, 6);
  randomBytes(10).copy(bytes, 6);
  let value = BigInt(`0x${bytes.toString('hex')}`);
  let out = '';
  for (let i = 0; i < 26; i++) {
    out = alphabet[Number(value & 31n)] + out;
    value >>= 5n;
  }
  return `${prefix}_${out}`;
}

export function isId(prefix: string, value: string): boolean {
  return value.length === prefix.length + 27 && value.startsWith(`${prefix}_`) && /^[0-9a-z]{26}$/.test(value.slice(-26));
}

/** The creation time (ms since the epoch) of an id made by `newId`, from its first 48 bits. */
export function idTimeMs(id: string): number {
  let value = 0n;
  for (const char of id.slice(-26)) value = (value << 5n) | BigInt(alphabet.indexOf(char));
  return Number(value >> 80n);
}
