import { compactVerify, decodeProtectedHeader, errors } from 'jose';
import { deviceIdentityProofType } from '@tessera/contracts';
import { ApiError } from '../../platform/http/api-error.ts';
import { sha256 } from '../../platform/secrets.ts';
import { isoUtc, signedObject } from '../../platform/signed-payload.ts';
import type { DeviceKey } from './device-key.ts';

const members = new Set(['registration', 'public_key', 'signed_at']);
/** A registration token lives 10 minutes: a proof made for it is no older. */
const maxSkewMs = 10 * 60 * 1000;

/**
 * Checks RegisterDevice.identity_proof (the format: DeviceIdentityProof in @tessera/contracts): signed by the identity
 * key, for this registration token and this device key, lately. A refusal is 400 naming `identity_proof`.
 */
export async function checkIdentityProof(
  proof: unknown,
  identity: DeviceKey,
  expected: { registrationToken: string; deviceKey: DeviceKey; nowMs: number },
): Promise<void> {
  const refuse = (reason: string) => ApiError.invalid('identity_proof', reason);
  if (typeof proof !== 'string' || proof.length > 4096) throw refuse('is required with identity_key: a JWS signed by the identity key');
  let typ: unknown;
  try {
    ({ typ } = decodeProtectedHeader(proof));
  } catch {
    throw refuse('must be a JWS in compact form');
  }
  if (typ !== deviceIdentityProofType) throw refuse(`must have typ "${deviceIdentityProofType}" in its header`);
  let payload: Uint8Array;
  try {
    ({ payload } = await compactVerify(proof, identity.keyObject, { algorithms: [identity.alg] }));
  } catch (error) {
    if (error instanceof errors.JOSEError) throw refuse('is not signed by identity_key');
    throw error;
  }
  const fields = signedObject(payload, members, 'an identity proof', (reason) => refuse(`is not well formed: ${reason}`));
  if (fields.registration !== sha256(expected.registrationToken).toString('base64url')) throw refuse('is signed for another registration token');
  if (fields.public_key !== expected.deviceKey.thumbprint) throw refuse('is signed for another public_key');
  const signedAt = typeof fields.signed_at === 'string' && isoUtc.test(fields.signed_at) ? Date.parse(fields.signed_at) : NaN;
  if (!(Math.abs(signedAt - expected.nowMs) <= maxSkewMs)) throw refuse('signed_at must be an ISO-8601 UTC time within 10 minutes of now');
}
