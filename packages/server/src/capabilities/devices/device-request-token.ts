import { decodeProtectedHeader, errors, jwtVerify } from 'jose';
import {
  deviceRequestTokenType,
  maxDeviceRequestTokenSeconds,
  type DeviceAlgorithm,
  type DevicePublicJwk,
} from '@tessera/contracts';

/**
 * How a device authenticates a request, with no secret stored on the server: each request carries
 * `Authorization: Device <JWT>`, a JWT (RFC 7519) in JWS compact form (RFC 7515 §7.1) signed with the
 * device's private key, in the spirit of DPoP (RFC 9449 §4.2):
 *
 *   header  {"typ":"tessera-device+jwt","alg":"ES256"|"EdDSA","kid":"<device_id>"}
 *   claims  {"iat":<seconds>,"exp":<seconds, at most iat + 120>,"jti":"<16–128 random characters>",
 *            "htm":"<HTTP method, upper case>","htu":"<request path, without query>"}
 *
 * `alg` is the device key's: ES256 (P-256, signature r‖s, RFC 7518 §3.4) or EdDSA (Ed25519, RFC 8037 §3.1).
 * A token is accepted once (its `jti` is remembered until `exp`), for the one method and path it names.
 * Clocks may differ by up to `skewMs` either way.
 */
export type DeviceAuthFailure =
  | 'missing'
  | 'malformed'
  | 'unknown_device'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'lifetime_too_long'
  | 'wrong_method'
  | 'wrong_path'
  | 'replayed';

export const removedDeviceMessage = 'This device is not registered (or was removed).';

export class DeviceAuthError extends Error {
  override name = 'DeviceAuthError';

  constructor(
    readonly reason: DeviceAuthFailure,
    message: string,
  ) {
    super(message);
  }
}

export const defaultDeviceClockSkewMs = 30_000;

export interface VerifiedDeviceRequest {
  jti: string;
  /** Seconds since the epoch: the jti must be remembered until then (plus the skew). */
  exp: number;
}

/** The device a request token claims to come from: read before verifying, to find the key to verify with. */
export function deviceIdOf(jwt: string): string {
  try {
    const { kid } = decodeProtectedHeader(jwt);
    if (typeof kid === 'string' && kid.length > 0) return kid;
  } catch {
    // falls through: not a JWS
  }
  throw new DeviceAuthError('malformed', 'The device token must be a JWS in compact form with the device id as kid.');
}

export async function verifyDeviceRequestToken(
  key: { jwk: DevicePublicJwk; alg: DeviceAlgorithm },
  jwt: string,
  expected: { method: string; paths: readonly string[]; nowMs: number; skewMs?: number },
): Promise<VerifiedDeviceRequest> {
  const skewSeconds = (expected.skewMs ?? defaultDeviceClockSkewMs) / 1000;
  let claims: Record<string, unknown>;
  try {
    ({ payload: claims } = await jwtVerify(jwt, key.jwk, {
      algorithms: [key.alg],
      typ: deviceRequestTokenType,
      currentDate: new Date(expected.nowMs),
      clockTolerance: skewSeconds,
      requiredClaims: ['iat', 'exp', 'jti', 'htm', 'htu'],
    }));
  } catch (error) {
    throw failureOf(error);
  }
  const { iat, exp, jti, htm, htu } = claims;
  if (typeof iat !== 'number' || typeof exp !== 'number') throw new DeviceAuthError('malformed', 'iat and exp must be numbers.');
  const nowSeconds = expected.nowMs / 1000;
  if (iat > nowSeconds + skewSeconds) throw new DeviceAuthError('not_yet_valid', 'The device token is issued in the future: check the clock.');
  if (exp <= iat || exp - iat > maxDeviceRequestTokenSeconds) {
    throw new DeviceAuthError('lifetime_too_long', `exp must be after iat, by at most ${maxDeviceRequestTokenSeconds} seconds.`);
  }
  if (typeof jti !== 'string' || jti.length < 16 || jti.length > 128) {
    throw new DeviceAuthError('malformed', 'jti must be a random string of 16 to 128 characters.');
  }
  if (htm !== expected.method) throw new DeviceAuthError('wrong_method', `The device token is for another method (htm), not ${expected.method}.`);
  if (typeof htu !== 'string' || !expected.paths.includes(htu)) {
    throw new DeviceAuthError('wrong_path', 'The device token is for another path (htu).');
  }
  return { jti, exp };
}

function failureOf(error: unknown): DeviceAuthError {
  if (error instanceof errors.JWTExpired) return new DeviceAuthError('expired', 'The device token has expired.');
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return new DeviceAuthError('bad_signature', 'The device token is not signed by this device’s key.');
  }
  if (error instanceof errors.JOSEAlgNotAllowed) {
    return new DeviceAuthError('bad_signature', 'The device token is signed with another algorithm than this device’s key.');
  }
  if (error instanceof errors.JOSEError) return new DeviceAuthError('malformed', `The device token is not valid: ${error.message}`);
  throw error;
}
