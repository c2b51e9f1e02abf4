import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { deviceAlgorithms, type DeviceAlgorithm, type DevicePublicJwk } from '@tessera/contracts';

/**
 * Key pairs the authenticator holds, as JWKs in its store (mode 0600). The identity key (made by
 * `init`) is this authenticator's: it signs QR logins and ties its registrations together. Each
 * registration with an app gets a key of its own (made by `register`), so that two apps cannot tell
 * that one authenticator answers for both.
 */
export interface KeyPair {
  alg: DeviceAlgorithm;
  public_jwk: DevicePublicJwk;
  private_jwk: JWK;
}

export interface Identity extends KeyPair {
  name: string;
  created_at: string;
}

/** A registration of this authenticator as a push device of one user of one app. */
export interface Registration extends KeyPair {
  device_id: string;
  /** The server's base URL, from the registration URI. */
  server: string;
  app_id: string;
  app_name: string;
  user_id: string;
  registered_at: string;
}

export async function newKeyPair(alg: DeviceAlgorithm = 'ES256'): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const { kty, crv, x, y } = await exportJWK(publicKey);
  const publicJwk = (kty === 'EC' ? { kty, crv, x, y } : { kty, crv, x }) as DevicePublicJwk;
  return { alg, public_jwk: publicJwk, private_jwk: await exportJWK(privateKey) };
}

export async function privateKeyOf(pair: KeyPair): Promise<CryptoKey> {
  return (await importJWK(pair.private_jwk, pair.alg)) as CryptoKey;
}

/** RFC 7638 thumbprint of the public key: how it is named without showing it whole. */
export function thumbprintOf(pair: KeyPair): Promise<string> {
  return calculateJwkThumbprint(pair.public_jwk, 'sha256');
}

/** Checks the key pair members of a stored object; `why` says what is wrong, or null. */
export function keyPairProblem(value: Record<string, unknown>): string | null {
  if (!deviceAlgorithms.includes(value.alg as DeviceAlgorithm)) return 'an unsupported key algorithm';
  if (!isRecord(value.public_jwk) || !isRecord(value.private_jwk)) return 'no key pair';
  if (typeof value.private_jwk.d !== 'string') return 'a private key without its secret member';
  return null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
