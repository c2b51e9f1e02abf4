import { webhookHeaders, type WebhookEvent } from '@tessera/contracts';
import { TesseraWebhookError } from './errors.ts';
import { readHeader, type WebhookHeaders } from './webhook-headers.ts';
import { signatureHeaderMatches, webhookKey, webhookMac } from './webhook-signature.ts';

export interface VerifyWebhookOptions {
  /** How far `webhook-timestamp` may be from now, either way, in seconds (replay protection). Default 300. */
  toleranceSeconds?: number;
  /** The time to check the timestamp against; now unless given (for tests and replays of old vectors). */
  currentDate?: Date;
}

export const defaultToleranceSeconds = 300;

function requireHeader(headers: WebhookHeaders, name: string): string {
  const value = readHeader(headers, name);
  if (value === undefined) throw new TesseraWebhookError('missing_header', `The ${name} header is missing.`);
  return value;
}

function isWebhookEvent(value: unknown): value is WebhookEvent {
  return (
    typeof value === 'object' &&
    value !== null &&
    'type' in value &&
    typeof value.type === 'string' &&
    'timestamp' in value &&
    typeof value.timestamp === 'string' &&
    'data' in value
  );
}

function parseEvent<T>(rawBody: string | Uint8Array): WebhookEvent<T> {
  const text = typeof rawBody === 'string' ? rawBody : Buffer.from(rawBody).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new TesseraWebhookError('invalid_payload', 'The webhook body is not JSON.');
  }
  if (!isWebhookEvent(parsed)) {
    throw new TesseraWebhookError('invalid_payload', 'The webhook body is not a {type, timestamp, data} event.');
  }
  return parsed as WebhookEvent<T>;
}

/**
 * Checks a webhook from Tessera as Standard Webhooks says (https://www.standardwebhooks.com): the
 * signature over `webhook-id.webhook-timestamp.body` with the app's webhook secret, and a timestamp
 * within the tolerance. Answers with the event, or throws a TesseraWebhookError.
 *
 * `rawBody` must be the bytes as received: a body parsed and serialized again no longer matches.
 * `T` is the type the caller expects of `data`, as it knows from `type`; it is not checked.
 */
export function verifyWebhook<T = unknown>(
  secret: string,
  headers: WebhookHeaders,
  rawBody: string | Uint8Array,
  options: VerifyWebhookOptions = {},
): WebhookEvent<T> {
  const key = webhookKey(secret);
  const id = requireHeader(headers, webhookHeaders.id);
  const timestamp = requireHeader(headers, webhookHeaders.timestamp);
  const signature = requireHeader(headers, webhookHeaders.signature);

  if (!/^\d{1,15}$/.test(timestamp)) {
    throw new TesseraWebhookError('invalid_timestamp', 'The webhook-timestamp header is not a number of seconds.');
  }
  const tolerance = options.toleranceSeconds ?? defaultToleranceSeconds;
  const nowSeconds = Math.floor((options.currentDate ?? new Date()).getTime() / 1000);
  if (Math.abs(nowSeconds - Number(timestamp)) > tolerance) {
    throw new TesseraWebhookError(
      'timestamp_out_of_tolerance',
      `The webhook timestamp is more than ${tolerance} seconds away from now.`,
    );
  }

  if (!signatureHeaderMatches(signature, webhookMac(key, id, timestamp, rawBody))) {
    throw new TesseraWebhookError('invalid_signature', 'No webhook signature matches this body and secret.');
  }
  return parseEvent<T>(rawBody);
}
