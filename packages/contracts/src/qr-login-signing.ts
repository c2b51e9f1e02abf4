import { CompactEncrypt, CompactSign, exportJWK, importJWK, type CryptoKey } from 'jose';
import { algorithmOfPrivateKey, randomJti } from './device-signing.ts';
import type { DevicePublicJwk } from './devices.ts';
import { qrLoginProofType, type Profile, type QrLoginProof } from './qr-logins.ts';

/**
 * The authenticator's side of QR login: signing claims and answers with the identity key, and
 * encrypting the consented profile to the login's key. WebCrypto keys only, so it runs in a browser too.
 */

/** A `tessera-qr-login+jws`; `signed_at` and `jti` default to now and a random value. */
export async function signQrLoginProof(
  identityKey: { privateKey: CryptoKey; publicJwk: DevicePublicJwk },
  proof: Omit<QrLoginProof, 'signed_at' | 'jti'> & { signed_at?: string; jti?: string },
): Promise<string> {
  const payload: QrLoginProof = {
    ...proof,
    signed_at: proof.signed_at ?? new Date().toISOString(),
    jti: proof.jti ?? randomJti(),
  };
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ typ: qrLoginProofType, alg: algorithmOfPrivateKey(identityKey.privateKey), jwk: identityKey.publicJwk })
    .sign(identityKey.privateKey);
}

/** The public JWK of a WebCrypto public key, public members only. */
export async function publicJwkOf(publicKey: CryptoKey): Promise<DevicePublicJwk> {
  const { kty, crv, x, y } = await exportJWK(publicKey);
  return (kty === 'EC' ? { kty, crv, x, y } : { kty, crv, x }) as DevicePublicJwk;
}

/** The profile as a compact JWE (ECDH-ES, A256GCM) to the login's `encryption_key`. */
export async function encryptProfile(encryptionKey: DevicePublicJwk & { kid: string }, profile: Profile): Promise<string> {
  const key = await importJWK(encryptionKey, 'ECDH-ES');
  return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(profile)))
    .setProtectedHeader({ alg: 'ECDH-ES', enc: 'A256GCM', kid: encryptionKey.kid })
    .encrypt(key);
}

