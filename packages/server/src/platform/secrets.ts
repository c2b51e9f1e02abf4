import { hash, randomBytes, timingSafeEqual } from 'node:crypto';

export function sha256(value: string | Buffer): Buffer {
  return hash('sha256', value, 'buffer');
}

/** Compares two secrets in time that does not depend on where they differ (nor on their lengths). */
export function secretsEqual(a: string | Buffer, b: string | Buffer): boolean {
  return timingSafeEqual(sha256(a), sha256(b));
}

/** A random token of `bytes` bytes, base64url, with a readable prefix (`sk_…`). */
export function randomToken(prefix: string, bytes = 32): string {
  return `${prefix}${randomBytes(bytes).toString('base64url')}`;
}
