import { base64url, calculateJwkThumbprint, CompactSign, SignJWT, type CryptoKey } from 'jose';
import {
  deviceDecisionType,
  deviceIdentityProofType,
  deviceRequestTokenType,
  type DeviceAlgorithm,
  type DeviceDecision,
  type DeviceIdentityProof,
  type DevicePublicJwk,
} from './devices.ts';

/**
 * The signing side of the device wire formats, for authenticators (and tests): the server's
 * verifiers, which document the formats, are packages/server/src/capabilities/devices/
 * device-request-token.ts and device-signature.ts. WebCrypto keys only, so it runs in a browser too.
 */

/** The JWS algorithm of a private key made by WebCrypto or jose's generateKeyPair (P-256 or Ed25519). */
export function algorithmOfPrivateKey(key: CryptoKey): DeviceAlgorithm {
  const { name } = key.algorithm;
  if (name === 'ECDSA' && (key.algorithm as { namedCurve?: string }).namedCurve === 'P-256') return 'ES256';
  if (name === 'Ed25519') return 'EdDSA';
  throw new TypeError(`a device key must be P-256 or Ed25519, not ${name}`);
}

/** `Authorization: Device <this>`: one token per request, for this method and path (without query). */
export async function signDeviceRequestToken(
  privateKey: CryptoKey,
  options: { deviceId: string; method: string; path: string; nowMs?: number; lifetimeSeconds?: number; jti?: string },
): Promise<string> {
  const iat = Math.floor((options.nowMs ?? Date.now()) / 1000);
  return new SignJWT({ htm: options.method.toUpperCase(), htu: options.path })
    .setProtectedHeader({ typ: deviceRequestTokenType, alg: algorithmOfPrivateKey(privateKey), kid: options.deviceId })
    .setIssuedAt(iat)
    .setExpirationTime(iat + (options.lifetimeSeconds ?? 60))
    .setJti(options.jti ?? randomJti())
    .sign(privateKey);
}

/** A signed approve/deny of a push challenge; signed_at defaults to now. */
export async function signDeviceDecision(
  privateKey: CryptoKey,
  decision: Omit<DeviceDecision, 'signed_at'> & { signed_at?: string },
  options: { deviceId?: string } = {},
): Promise<string> {
  const payload: DeviceDecision = { ...decision, signed_at: decision.signed_at ?? new Date().toISOString() };
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({
      typ: deviceDecisionType,
      alg: algorithmOfPrivateKey(privateKey),
      ...(options.deviceId ? { kid: options.deviceId } : {}),
    })
    .sign(privateKey);
}

/** 128 random bits, base64url: a `jti`. */
export function randomJti(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** RegisterDevice.identity_proof: the identity key signs this registration token and this device key. */
export async function signDeviceIdentityProof(
  identityPrivateKey: CryptoKey,
  options: { registrationToken: string; publicKey: DevicePublicJwk; signedAt?: string },
): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(options.registrationToken));
  const payload: DeviceIdentityProof = {
    registration: base64url.encode(new Uint8Array(digest)),
    public_key: await calculateJwkThumbprint(options.publicKey, 'sha256'),
    signed_at: options.signedAt ?? new Date().toISOString(),
  };
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ typ: deviceIdentityProofType, alg: algorithmOfPrivateKey(identityPrivateKey) })
    .sign(identityPrivateKey);
}
