import type { TesseraError } from './errors.ts';

/**
 * What a call may do again without a risk of doing it twice:
 * - `create`: a creating call sent with an Idempotency-Key, which the server replays instead of repeating;
 * - `read`: a GET;
 * - `write`: anything else (an update, a delete, a webhook resend), never retried.
 */
export type CallKind = 'create' | 'read' | 'write';

/** The longest `Retry-After` the SDK waits out itself; a longer one goes back to the caller. */
export const maxRetryAfterSeconds = 5;
const defaultUnavailableDelayMs = 500;
const networkErrorDelayMs = 250;

/**
 * How long to wait before the one retry a failed call may get, or null for none. A creating call is
 * retried on a network error or a 503, a read on a 503; no other failure is retried.
 */
export function retryDelayMs(kind: CallKind, error: TesseraError): number | null {
  if (kind === 'write') return null;
  if (error.code === 'network_error') return kind === 'create' ? networkErrorDelayMs : null;
  if (error.status !== 503) return null;
  if (error.retryAfter === undefined) return defaultUnavailableDelayMs;
  return error.retryAfter <= maxRetryAfterSeconds ? error.retryAfter * 1000 : null;
}
