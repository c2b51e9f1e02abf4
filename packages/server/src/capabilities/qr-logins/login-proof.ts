import { verify } from 'node:crypto';
import { decodeProtectedHeader } from 'jose';
import { profileFields, qrLoginProofType, type ProfileField, type QrLoginAction, type QrLoginProof } from '@tessera/contracts';
import { algorithmOf, DeviceKeyError, parseDevicePublicKey, type DeviceKey } from '../devices/device-key.ts';
import { compactParts, isoUtc, signedObject } from '../../platform/signed-payload.ts';

/**
 * How an authenticator claims and answers a QR login: a JWS in compact form (RFC 7515 §7.1) signed by
 * its identity key, which it names by carrying the public key in the protected header (RFC 7515 §4.1.3):
 *
 *   header   {"typ":"tessera-qr-login+jws","alg":"ES256"|"EdDSA","jwk":{<P-256 or Ed25519 public JWK>}}
 *   payload  UTF-8 JSON object, exactly these members:
 *            login_id   the login (qrl_…) from the QR code
 *            nonce      the nonce from the QR code: the proof is for this code, not another of the login
 *            action     "claim" | "approve" | "deny"
 *            fields     approve only: the profile fields the person consents to share (a subset of the
 *                       requested ones, no repeats)
 *            profile    approve only, when fields is not empty: the consented fields as a compact JWE
 *                       (ECDH-ES, A256GCM) to the login's encryption_key
 *            signed_at  ISO-8601 UTC with Z
 *            jti        16–128 characters, random: a proof is accepted once
 *
 * The identity is the key's RFC 7638 thumbprint: the claim fixes it, and only the same identity may
 * answer. Pure: no I/O, no clock other than the one passed in.
 */
export type LoginProofErrorCode = 'qr_login_proof_malformed' | 'qr_login_signature_invalid' | 'qr_login_proof_stale';

export class LoginProofError extends Error {
  override name = 'LoginProofError';

  constructor(
    readonly code: LoginProofErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface VerifiedLoginProof {
  proof: QrLoginProof;
  /** RFC 7638 thumbprint of the identity key that signed it. */
  thumbprint: string;
}

const members = new Set(['login_id', 'nonce', 'action', 'fields', 'profile', 'signed_at', 'jti']);
const maxProofLength = 64 * 1024;

export function verifyLoginProof(jws: unknown, expected: { nowMs: number; maxSkewMs: number }): VerifiedLoginProof {
  if (typeof jws !== 'string' || jws.length > maxProofLength) throw malformed('it must be a JWS in compact form');
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(jws);
  } catch {
    throw malformed('it must be a JWS in compact form');
  }
  if (header.typ !== qrLoginProofType) throw malformed(`its header must have typ "${qrLoginProofType}"`);
  let key: DeviceKey;
  try {
    key = parseDevicePublicKey(header.jwk, 'jwk');
  } catch (error) {
    if (error instanceof DeviceKeyError) throw malformed(`its header's ${error.message}`);
    throw error;
  }
  if (header.crit !== undefined || header.b64 !== undefined) throw malformed('its header must have neither crit nor b64');
  if (header.alg !== algorithmOf(key.jwk)) throw new LoginProofError('qr_login_signature_invalid', 'The proof is not signed by the key in its header.');
  const parts = compactParts(jws, 3);
  if (!parts) throw malformed('it must be a JWS in compact form');
  const [encodedHeader, encodedPayload, encodedSignature] = parts as [string, string, string];
  if (!signatureValid(key, `${encodedHeader}.${encodedPayload}`, Buffer.from(encodedSignature, 'base64url'))) {
    throw new LoginProofError('qr_login_signature_invalid', 'The proof is not signed by the key in its header.');
  }
  const payload = Buffer.from(encodedPayload, 'base64url');
  const proof = parsePayload(payload);
  const skew = Math.abs(Date.parse(proof.signed_at) - expected.nowMs);
  if (!(skew <= expected.maxSkewMs)) {
    throw new LoginProofError('qr_login_proof_stale', `signed_at is more than ${expected.maxSkewMs} ms away from the server's clock.`);
  }
  return { proof, thumbprint: key.thumbprint };
}

/**
 * RFC 7515 §5.2 with node:crypto: ES256 signatures are r ‖ s (RFC 7518 §3.4), EdDSA ones as RFC 8037 §3.1 defines.
 * Synchronous rather than jose's compactVerify, whose WebCrypto calls are round trips to the thread pool that the
 * answer of a QR login waits for (README, Design); the tests check proofs signed by jose.
 */
function signatureValid(key: DeviceKey, signingInput: string, signature: Buffer): boolean {
  try {
    const data = Buffer.from(signingInput, 'ascii');
    if (key.alg === 'ES256') return verify('sha256', data, { key: key.keyObject, dsaEncoding: 'ieee-p1363' }, signature);
    return verify(null, data, key.keyObject, signature);
  } catch {
    return false; // a signature of the wrong length
  }
}

function parsePayload(bytes: Uint8Array): QrLoginProof {
  const fields = signedObject(bytes, members, 'a proof', malformed);
  const { login_id: loginId, nonce, action, fields: consented, profile, signed_at: signedAt, jti } = fields;
  if (typeof loginId !== 'string' || loginId.length > 64) throw malformed('login_id must be the login id');
  if (typeof nonce !== 'string' || nonce.length > 64) throw malformed('nonce must be the nonce of the QR code');
  if (action !== 'claim' && action !== 'approve' && action !== 'deny') throw malformed('action must be "claim", "approve" or "deny"');
  if (typeof signedAt !== 'string' || !isoUtc.test(signedAt) || Number.isNaN(Date.parse(signedAt))) {
    throw malformed('signed_at must be an ISO-8601 UTC time such as 2025-01-31T12:00:00.000Z');
  }
  if (typeof jti !== 'string' || jti.length < 16 || jti.length > 128) throw malformed('jti must be a random string of 16 to 128 characters');
  const proof: QrLoginProof = { login_id: loginId, nonce, action: action as QrLoginAction, signed_at: signedAt, jti };
  if (action !== 'approve') {
    if (consented !== undefined || profile !== undefined) throw malformed('fields and profile come with an approval only');
    return proof;
  }
  if (!Array.isArray(consented) || consented.some((field) => !profileFields.includes(field)) || new Set(consented).size !== consented.length) {
    throw malformed(`fields must list distinct profile fields (${profileFields.join(', ')})`);
  }
  proof.fields = consented as ProfileField[];
  if (consented.length > 0 ? typeof profile !== 'string' : profile !== undefined) {
    throw malformed('profile must be the JWE of the consented fields, and only when fields is not empty');
  }
  if (profile !== undefined) proof.profile = profile as string;
  return proof;
}

function malformed(reason: string): LoginProofError {
  return new LoginProofError('qr_login_proof_malformed', `The proof is not well formed: ${reason}.`);
}
