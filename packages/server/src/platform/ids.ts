import { fillRandom } from './random-pool.ts';

// Crockford's base32, lower case: ids sort by creation time and read without ambiguity.
const alphabet = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * A new id `<prefix>_<26 characters>`: 48 bits of milliseconds then 80 random bits, so ids of
 * one kind sort by creation time (cursor pagination) and cannot be guessed.
 */
export function newId(prefix: string): string {
  const bytes = Buffer.allocUnsafe(16);
  bytes.writeUIntBE(Date.now(), 0, 6);
  fillRandom(bytes, 6, 10);
  // 128 bits as 26 base32 digits, most significant first: two leading zero bits make 130 = 26 × 5.
  let out = '';
  let buffer = 0;
  let bits = 2;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0x1fff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += alphabet[(buffer >> bits) & 31];
    }
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
