import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import type { DeviceAlgorithm, DevicePublicJwk } from '@tessera/contracts';

/** A device public key that was checked: only the public members, its algorithm, its RFC 7638 thumbprint, and the key imported. */
export interface DeviceKey {
  jwk: DevicePublicJwk;
  alg: DeviceAlgorithm;
  thumbprint: string;
  /** For verifying its signatures without importing it again. */
  keyObject: KeyObject;
}

/** A key that is not a P-256 or Ed25519 public JWK; `field` names the member at fault (`public_key.crv`). */
export class DeviceKeyError extends Error {
  override name = 'DeviceKeyError';
  static readonly code = 'device_key_invalid';

  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

// RFC 7518 §6.2.2 (d), §6.3.2 (RSA private members), §6.4.1 (k): anything that would make it a secret.
const privateMembers = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** The algorithm a device key signs with: ES256 for P-256 (RFC 7518 §3.4), EdDSA for Ed25519 (RFC 8037 §3.1). */
export function algorithmOf(jwk: DevicePublicJwk): DeviceAlgorithm {
  return jwk.kty === 'EC' ? 'ES256' : 'EdDSA';
}


/**
 * Checks a JWK sent by an authenticator and keeps only its public members. Refuses private members
 * (the private key must never leave the device), other key types and curves, coordinates that are
 * not exactly 32 bytes of unpadded base64url, and points that are not on the curve.
 */
export function parseDevicePublicKey(input: unknown, field = 'public_key'): DeviceKey {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new DeviceKeyError(field, 'must be a JWK object');
  }
  const member = (name: string): unknown => (Object.hasOwn(input, name) ? (input as Record<string, unknown>)[name] : undefined);
  for (const name of privateMembers) {
    if (member(name) !== undefined) {
      throw new DeviceKeyError(`${field}.${name}`, 'is a private key member: send the public key only, the private key stays on the device');
    }
  }
  const kty = member('kty');
  const crv = member('crv');
  let jwk: DevicePublicJwk;
  if (kty === 'EC') {
    if (crv !== 'P-256') throw new DeviceKeyError(`${field}.crv`, 'must be P-256 for an EC key');
    jwk = { kty, crv, x: coordinate(member('x'), `${field}.x`), y: coordinate(member('y'), `${field}.y`) };
  } else if (kty === 'OKP') {
    if (crv !== 'Ed25519') throw new DeviceKeyError(`${field}.crv`, 'must be Ed25519 for an OKP key');
    if (member('y') !== undefined) throw new DeviceKeyError(`${field}.y`, 'is not a member of an Ed25519 key');
    jwk = { kty, crv, x: coordinate(member('x'), `${field}.x`) };
  } else {
    throw new DeviceKeyError(`${field}.kty`, 'must be EC (curve P-256) or OKP (curve Ed25519)');
  }
  const alg = algorithmOf(jwk);
  const declaredAlg = member('alg');
  // RFC 8037 §3.1 names Ed25519 signatures "EdDSA"; RFC 9864 adds the fully specified "Ed25519".
  const acceptedAlgs: unknown[] = alg === 'ES256' ? ['ES256'] : ['EdDSA', 'Ed25519'];
  if (declaredAlg !== undefined && !acceptedAlgs.includes(declaredAlg)) {
    throw new DeviceKeyError(`${field}.alg`, `must be ${acceptedAlgs.join(' or ')} for this key, or left out`);
  }
  const use = member('use');
  if (use !== undefined && use !== 'sig') throw new DeviceKeyError(`${field}.use`, 'must be "sig", or left out');
  let keyObject: KeyObject;
  try {
    // OpenSSL refuses a point that is not on the curve. node:crypto rather than WebCrypto (jose's importJWK): the same
    // check without a round trip to the thread pool, which a QR login's answer would wait for.
    keyObject = createPublicKey({ key: jwk, format: 'jwk' });
  } catch {
    throw new DeviceKeyError(field, `is not a valid ${jwk.crv} public key`);
  }
  return { jwk, alg, thumbprint: jwkThumbprint(jwk), keyObject };
}

/**
 * The RFC 7638 SHA-256 thumbprint: the required members in lexicographic order, no whitespace. Computed here rather
 * than with jose's `calculateJwkThumbprint`, which goes through WebCrypto: a round trip to the thread pool that a QR
 * login's answer would wait for (tested against jose's).
 */
export function jwkThumbprint(jwk: DevicePublicJwk): string {
  const canonical = jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
  return createHash('sha256').update(JSON.stringify(canonical)).digest('base64url');
}

/** A P-256 coordinate or an Ed25519 key: 32 bytes, base64url without padding, in its one canonical spelling. */
function coordinate(value: unknown, field: string): string {
  if (typeof value !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(value)) {
    throw new DeviceKeyError(field, 'must be 32 bytes in base64url without padding (43 characters)');
  }
  // The last character carries 2 spare bits; a non-zero spare bit spells the same bytes another way.
  if (Buffer.from(value, 'base64url').toString('base64url') !== value) {
    throw new DeviceKeyError(field, 'is not canonical base64url');
  }
  return value;
}
