import { compactVerify, decodeProtectedHeader, errors } from 'jose';
import { deviceDecisionType, type DeviceDecision, type DevicePublicJwk } from '@tessera/contracts';
import { algorithmOf } from './device-key.ts';
import { isoUtc, signedObject } from '../../platform/signed-payload.ts';

/**
 * A device's answer to a push challenge, signed with its private key, so that the server (and
 * anyone holding the device's public key) can tell that this device took this decision about this
 * challenge at about this time. Pure: no I/O, no clock other than the one passed in.
 *
 * Format: a JWS in compact form (RFC 7515 §7.1), `BASE64URL(header) "." BASE64URL(payload) "." BASE64URL(signature)`:
 *
 *   header   {"typ":"tessera-decision+jws","alg":"ES256"|"EdDSA","kid":"<device_id>"}   (kid optional)
 *   payload  UTF-8 JSON object, exactly these members:
 *            challenge_id  string, the challenge answered (chl_…)
 *            decision      "approve" | "deny"
 *            number        integer 10–99, number matching: the number the person picked (approve only, optional)
 *            reason        "fraud": the person did not start this (deny only, optional)
 *            signed_at     ISO-8601 UTC with Z, e.g. "2025-01-31T12:00:00.000Z"
 *
 * `alg` must be the device key's: ES256 for P-256 (signature is r‖s, 64 bytes, RFC 7518 §3.4), EdDSA
 * for Ed25519 (RFC 8037 §3.1). A decision is accepted for one challenge, within ±maxSkewMs of
 * signed_at; answering a challenge once is the challenge's rule (a second answer finds it no longer pending).
 */
export type DeviceDecisionErrorCode =
  | 'decision_malformed'
  | 'decision_signature_invalid'
  | 'decision_challenge_mismatch'
  | 'decision_stale';

/** Why a signed decision was refused; `code` is stable and is also an API error code. */
export class DeviceDecisionError extends Error {
  override name = 'DeviceDecisionError';

  constructor(
    readonly code: DeviceDecisionErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const members = new Set(['challenge_id', 'decision', 'number', 'reason', 'signed_at']);

export async function verifyDeviceDecision(
  publicJwk: DevicePublicJwk,
  jws: string,
  expected: { challengeId: string; nowMs: number; maxSkewMs: number },
): Promise<DeviceDecision> {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(jws);
  } catch {
    throw new DeviceDecisionError('decision_malformed', 'The decision must be a JWS in compact form.');
  }
  if (header.typ !== deviceDecisionType) {
    throw new DeviceDecisionError('decision_malformed', `The decision's header must have typ "${deviceDecisionType}".`);
  }
  let payload: Uint8Array;
  try {
    ({ payload } = await compactVerify(jws, publicJwk, { algorithms: [algorithmOf(publicJwk)] }));
  } catch (error) {
    if (error instanceof errors.JWSSignatureVerificationFailed || error instanceof errors.JOSEAlgNotAllowed) {
      throw new DeviceDecisionError('decision_signature_invalid', 'The decision is not signed by this device’s key.');
    }
    if (error instanceof errors.JOSEError) throw new DeviceDecisionError('decision_malformed', `The decision is not a valid JWS: ${error.message}`);
    throw error;
  }
  const decision = parsePayload(payload);
  if (decision.challenge_id !== expected.challengeId) {
    throw new DeviceDecisionError('decision_challenge_mismatch', 'The decision is signed for another challenge.');
  }
  const skew = Math.abs(Date.parse(decision.signed_at) - expected.nowMs);
  if (!(skew <= expected.maxSkewMs)) {
    throw new DeviceDecisionError('decision_stale', `signed_at is more than ${expected.maxSkewMs} ms away from the server's clock.`);
  }
  return decision;
}

function parsePayload(bytes: Uint8Array): DeviceDecision {
  const fields = signedObject(bytes, members, 'a decision', malformed);
  const { challenge_id: challengeId, decision, number, reason, signed_at: signedAt } = fields;
  if (typeof challengeId !== 'string' || challengeId.length === 0 || challengeId.length > 64) {
    throw malformed('challenge_id must be a challenge id');
  }
  if (decision !== 'approve' && decision !== 'deny') throw malformed('decision must be "approve" or "deny"');
  if (number !== undefined && (decision !== 'approve' || !Number.isInteger(number) || (number as number) < 10 || (number as number) > 99)) {
    throw malformed('number must be an integer from 10 to 99, with an approval only');
  }
  if (reason !== undefined && (decision !== 'deny' || reason !== 'fraud')) throw malformed('reason must be "fraud", with a denial only');
  if (typeof signedAt !== 'string' || !isoUtc.test(signedAt) || Number.isNaN(Date.parse(signedAt))) {
    throw malformed('signed_at must be an ISO-8601 UTC time such as 2025-01-31T12:00:00.000Z');
  }
  const result: DeviceDecision = { challenge_id: challengeId, decision, signed_at: signedAt };
  if (number !== undefined) result.number = number as number;
  if (reason !== undefined) result.reason = 'fraud';
  return result;
}

function malformed(reason: string): DeviceDecisionError {
  return new DeviceDecisionError('decision_malformed', `The decision is not well formed: ${reason}.`);
}
