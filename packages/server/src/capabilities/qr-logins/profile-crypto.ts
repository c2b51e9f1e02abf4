import { createPrivateKey, type JsonWebKey } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import { profileFields, type DevicePublicJwk, type Profile, type ProfileField } from '@tessera/contracts';
import type { Keyring } from '../../platform/keyring.ts';
import { openEcdhEsJwe } from './jwe-ecdh-es.ts';

/**
 * The key a QR login's profile is encrypted to: a P-256 key pair made for that one login. The public
 * half goes to the authenticator; the private half is sealed with the keyring (bound to the login) and
 * is deleted when the login is verified, denied or expires, so the JWE that stays behind is unreadable.
 */
export const loginKeyContext = (loginId: string) => `qr_logins.private_key:${loginId}`;

export interface LoginKey {
  publicJwk: DevicePublicJwk & { kid: string };
  sealedPrivateKey: string;
}

export class ProfileError extends Error {
  override name = 'ProfileError';
}

const maxLengths: Record<ProfileField, number> = { first_name: 100, last_name: 100, email: 320, picture: 2048 };

export async function newLoginKey(keyring: Keyring, loginId: string): Promise<LoginKey> {
  const { publicKey, privateKey } = await generateKeyPair('ECDH-ES', { crv: 'P-256', extractable: true });
  const { x, y } = await exportJWK(publicKey);
  const publicJwk = { kty: 'EC', crv: 'P-256', x: x as string, y: y as string, kid: loginId } as const;
  const sealedPrivateKey = keyring.encrypt(JSON.stringify(await exportJWK(privateKey)), loginKeyContext(loginId));
  return { publicJwk, sealedPrivateKey };
}

/**
 * Opens the profile JWE with the login's sealed key and checks that it holds exactly the `consented`
 * fields, each a string of sensible length; a ProfileError says what is wrong.
 */
export function decryptProfile(keyring: Keyring, loginId: string, sealedPrivateKey: string, jwe: string, consented: readonly ProfileField[]): Profile {
  const jwk = JSON.parse(keyring.decryptString(sealedPrivateKey, loginKeyContext(loginId))) as JsonWebKey;
  let plaintext: Buffer;
  try {
    plaintext = openEcdhEsJwe(jwe, createPrivateKey({ key: jwk, format: 'jwk' }));
  } catch {
    throw new ProfileError('profile must be a compact JWE (ECDH-ES, A256GCM) to this login’s encryption_key');
  }
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(plaintext));
  } catch {
    throw new ProfileError('the encrypted profile must be UTF-8 JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ProfileError('the encrypted profile must be a JSON object');
  const record = value as Record<string, unknown>;
  const names = Object.keys(record);
  if (names.length !== consented.length || names.some((name) => !consented.includes(name as ProfileField))) {
    throw new ProfileError(`the encrypted profile must hold exactly the consented fields (${consented.join(', ') || 'none'})`);
  }
  const profile: Profile = {};
  for (const field of profileFields) {
    if (!Object.hasOwn(record, field)) continue;
    const text = record[field];
    if (typeof text !== 'string' || text.length === 0 || text.length > maxLengths[field] || text.includes('\u0000')) {
      throw new ProfileError(`${field} must be a string of 1 to ${maxLengths[field]} characters`);
    }
    profile[field] = text;
  }
  return profile;
}
