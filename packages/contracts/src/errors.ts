/**
 * The one registry of error codes: each code has one HTTP status and a default message.
 * The server answers with these codes; the SDKs expose them on their error class.
 */
export const errorCatalog = {
  validation_failed: { status: 400, message: 'The request is not valid.' },
  invalid_json: { status: 400, message: 'The request body is not valid JSON.' },
  invalid_patch: { status: 400, message: 'The patch cannot be applied.' },
  decision_malformed: { status: 400, message: 'The signed decision is not in the documented format.' },
  unauthorized: { status: 401, message: 'Missing or invalid credentials.' },
  forbidden: { status: 403, message: 'These credentials may not do this.' },
  app_inactive: { status: 403, message: 'This app is inactive.' },
  ip_not_allowed: { status: 403, message: 'Calls from this address are not allowed for this app.' },
  not_found: { status: 404, message: 'Not found.' },
  registration_token_invalid: { status: 404, message: 'This registration token is not known.' },
  route_not_found: { status: 404, message: 'No such route.' },
  method_not_allowed: { status: 405, message: 'This method is not allowed here.' },
  factor_already_active: { status: 409, message: 'This factor is already active.' },
  no_active_factor: { status: 409, message: 'The user has no active factor of the kind this needs.' },
  challenge_not_pending: { status: 409, message: 'This challenge is no longer pending.' },
  device_key_in_use: {
    status: 409,
    message: 'This public key is already registered: each device registration needs its own key.',
  },
  patch_test_failed: { status: 409, message: 'A "test" operation of the patch failed; nothing was changed.' },
  registration_token_used: { status: 410, message: 'This registration token was already used: ask for a new one.' },
  registration_token_expired: { status: 410, message: 'This registration token has expired: ask for a new one.' },
  // Adaptive MFA
  action_token_invalid: { status: 400, message: 'This action token is not valid (malformed, altered, or for another app).' },
  action_token_used: { status: 409, message: 'This action token was already validated.' },
  action_token_expired: { status: 410, message: 'This action token has expired: track the action again.' },
  client_token_invalid: { status: 401, message: 'The client token is missing, malformed, altered or expired.' },
  client_token_scope: { status: 403, message: 'This token cannot be used here (a success token is for validate only).' },
  origin_not_allowed: { status: 403, message: 'This web origin is not allowed for this app.' },
  action_not_challengeable: { status: 409, message: 'This action cannot be challenged in its state.' },
  enrollment_not_allowed: {
    status: 409,
    message: 'The user already has a factor: a new one cannot be enrolled with an action token.',
  },
  action_not_in_review: { status: 409, message: 'Only an action in REVIEW can be set to ALLOW or BLOCK.' },
  request_timeout: { status: 408, message: 'The request took too long to arrive.' },
  payload_too_large: { status: 413, message: 'The request body is too large.' },
  unsupported_media_type: { status: 415, message: 'This content type is not supported here.' },
  upgrade_required: { status: 426, message: 'This route is a WebSocket: open it with an Upgrade request.' },
  headers_too_large: { status: 431, message: 'The request headers are too large.' },
  idempotency_key_reused: {
    status: 422,
    message: 'This Idempotency-Key was already used with a different request.',
  },
  invalid_code: { status: 422, message: 'The code is not valid.' },
  decision_signature_invalid: { status: 422, message: 'The decision is not signed by this device.' },
  decision_challenge_mismatch: { status: 422, message: 'The decision is signed for another challenge.' },
  decision_stale: { status: 422, message: 'The decision was signed too long ago (or in the future): check the clock.' },
  // Push approvals
  number_not_offered: { status: 422, message: 'This number is not one of the choices the device was shown.' },
  already_answered: { status: 409, message: 'This approver has already answered this challenge.' },
  answered_on_device: { status: 409, message: 'This push challenge is answered on the device, not with a code.' },
  too_many_pending_challenges: {
    status: 429,
    message: 'This user already has 3 push challenges waiting for an answer; wait for one to end.',
  },
  user_locked: {
    status: 429,
    message: 'Too many wrong codes for this user: code verification is locked for a while.',
  },
  rate_limited: { status: 429, message: 'Too many requests; retry later.' },
  // QR login
  qr_payload_invalid: { status: 400, message: 'This is not a valid Tessera login QR code (forged, altered or damaged).' },
  qr_login_proof_malformed: { status: 400, message: 'The signed QR login proof is not in the documented format.' },
  qr_login_profile_invalid: { status: 400, message: 'The encrypted profile does not hold what was consented to.' },
  qr_login_wrong_identity: { status: 403, message: 'This QR login was claimed by another authenticator.' },
  login_token_invalid: { status: 404, message: 'This login token is not known.' },
  qr_login_not_found: { status: 404, message: 'This QR login is not known.' },
  qr_login_already_claimed: { status: 409, message: 'This QR code was already scanned by an authenticator.' },
  qr_login_not_pending: { status: 409, message: 'This QR login was already answered.' },
  qr_login_proof_replayed: { status: 409, message: 'This signed proof was already used: sign a new one.' },
  identity_already_linked: { status: 409, message: 'This identity is already linked to another user of this app.' },
  qr_login_expired: { status: 410, message: 'This QR login has expired: show a new QR code.' },
  login_token_used: { status: 410, message: 'This login token was already verified.' },
  login_token_expired: { status: 410, message: 'This login token has expired (it is valid for 2 minutes).' },
  qr_login_signature_invalid: { status: 422, message: 'The QR login proof is not signed by the key it names.' },
  qr_login_proof_stale: { status: 422, message: 'The QR login proof was signed too long ago (or in the future): check the clock.' },
  internal_error: { status: 500, message: 'Something went wrong on our side.' },
  service_unavailable: { status: 503, message: 'The service is temporarily unavailable; retry later.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof errorCatalog;

/** The body of every error response: `{"error":{"code","message","details"}}`. */
export interface ErrorBody {
  error: {
    code: ErrorCode | (string & {});
    message: string;
    details?: unknown;
  };
}

/** Details of a `validation_failed` error: the offending field as a dotted path. */
export interface ValidationErrorDetails {
  field: string;
  reason: string;
}

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(errorCatalog, code);
}
