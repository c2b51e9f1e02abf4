import { Secret, TOTP } from 'otpauth';
import type { TotpAlgorithm } from '@tessera/contracts';

export interface TotpParams {
  algorithm: TotpAlgorithm;
  digits: 6 | 8;
  period: 30 | 60;
}

// RFC 6238 §5.1 recommends a key as long as the hash's output.
const secretBytes: Record<TotpAlgorithm, number> = { SHA1: 20, SHA256: 32, SHA512: 64 };
export const minimumSecretBytes = 16;

export function newTotpSecret(algorithm: TotpAlgorithm): string {
  return new Secret({ size: secretBytes[algorithm] }).base32;
}

/** The secret's bytes when `base32` is valid RFC 4648 Base32 (case, spaces and padding tolerated), else null. */
export function decodeBase32Secret(base32: string): Uint8Array | null {
  const normalized = base32.replace(/[\s=]/g, '').toUpperCase();
  if (!/^[A-Z2-7]+$/.test(normalized)) return null;
  try {
    return new Uint8Array(Secret.fromBase32(normalized).buffer);
  } catch {
    return null;
  }
}

export function base32Of(bytes: Uint8Array): string {
  return new Secret({ buffer: bytes.slice().buffer }).base32;
}

/**
 * The Key URI (https://github.com/google/google-authenticator/wiki/Key-Uri-Format):
 * `otpauth://totp/ISSUER:LABEL?secret=…&issuer=…&algorithm=…&digits=…&period=…`.
 */
export function totpUri(options: TotpParams & { issuer: string; label: string; secret: string }): string {
  const e = encodeURIComponent;
  // The format forbids a colon in the issuer (authenticators split the label at the first one): an app's name, used
  // when it sets no issuer_name (which refuses colons), may hold one.
  const issuer = options.issuer.replaceAll(':', ' ').replace(/\s+/g, ' ').trim();
  return (
    `otpauth://totp/${e(issuer)}:${e(options.label)}?secret=${options.secret}&issuer=${e(issuer)}` +
    `&algorithm=${options.algorithm}&digits=${options.digits}&period=${options.period}`
  );
}

/** The code for a time (RFC 6238 §4): for tests and the authenticator. */
export function totpCode(secret: string, params: TotpParams, timestampMs: number): string {
  return totp(secret, params).generate({ timestamp: timestampMs });
}

/**
 * The time step whose code `code` is, within ±`window` steps of `timestampMs` (RFC 6238 §5.2 allows for
 * clock drift), or null. Comparison is constant-time. The caller rejects steps already used.
 */
export function matchTotpStep(
  secret: string,
  params: TotpParams,
  code: string,
  timestampMs: number,
  window = 1,
): number | null {
  const delta = totp(secret, params).validate({ token: code, timestamp: timestampMs, window });
  return delta === null ? null : Math.floor(timestampMs / 1000 / params.period) + delta;
}

function totp(secret: string, params: TotpParams): TOTP {
  return new TOTP({ secret: Secret.fromBase32(secret), ...params });
}
