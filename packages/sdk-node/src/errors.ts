import type { ChallengeStatus, ErrorCode } from '@tessera/contracts';

/** Codes the SDK itself gives when no error body came back from the server. */
export type ClientErrorCode = 'network_error' | 'timeout' | 'unexpected_response';

/** A server code from the catalog, one of the SDK's own, or a code this SDK version does not know yet. */
export type TesseraErrorCode = ErrorCode | ClientErrorCode | (string & {});

export interface TesseraErrorInit {
  code: TesseraErrorCode;
  message: string;
  /** The HTTP status; 0 when no response came back (network error, timeout). */
  status: number;
  details?: unknown;
  /** Seconds to wait before trying again, from `Retry-After`. */
  retryAfter?: number;
  cause?: unknown;
}

/** A call to the Tessera API that failed: the server's `{"error":{code,message,details}}`, or why none came. */
export class TesseraError extends Error {
  override readonly name = 'TesseraError';
  readonly code: TesseraErrorCode;
  readonly status: number;
  readonly details: unknown;
  readonly retryAfter: number | undefined;

  constructor(init: TesseraErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.status = init.status;
    this.details = init.details;
    this.retryAfter = init.retryAfter;
  }
}

/**
 * `details` of `422 invalid_code`. From `challenges.verify`: the wrong codes this challenge still accepts
 * (the fifth fails it), its status, and whether this code locked the user. From `factors.activate`: the
 * user's wrong codes left before the lockout.
 */
export interface InvalidCodeDetails {
  attempts_left: number;
  status?: ChallengeStatus;
  user_locked?: boolean;
}

/** `details` of `409 challenge_not_pending`: what the challenge became. */
export interface ChallengeNotPendingDetails {
  status: ChallengeStatus;
}

/** `details` of `429 user_locked` (also in the error's `retryAfter`). */
export interface UserLockedDetails {
  retry_after: number;
}

export type WebhookErrorCode =
  | 'missing_header'
  | 'invalid_timestamp'
  | 'timestamp_out_of_tolerance'
  | 'invalid_signature'
  | 'invalid_payload';

/** A webhook that must not be trusted: answer it with a 4xx and do not act on it. */
export class TesseraWebhookError extends Error {
  override readonly name = 'TesseraWebhookError';
  readonly code: WebhookErrorCode;

  constructor(code: WebhookErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
