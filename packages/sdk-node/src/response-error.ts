import { errorCatalog, type ErrorBody } from '@tessera/contracts';
import { TesseraError, type TesseraErrorCode } from './errors.ts';

/**
 * `Retry-After` in seconds: delta-seconds or an HTTP-date (RFC 9110 §10.2.3); undefined when absent
 * or unreadable.
 */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - now) / 1000));
}

function isErrorBody(value: unknown): value is ErrorBody {
  if (typeof value !== 'object' || value === null || !('error' in value)) return false;
  const { error } = value;
  return (
    typeof error === 'object' &&
    error !== null &&
    'code' in error &&
    typeof error.code === 'string' &&
    'message' in error &&
    typeof error.message === 'string'
  );
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** A body that is not Tessera's (a proxy's page, say) still gets a catalog code when its status has only one. */
function codeForStatus(status: number): TesseraErrorCode {
  const codes = Object.entries(errorCatalog).filter(([, entry]) => entry.status === status);
  return codes.length === 1 && codes[0] ? codes[0][0] : 'unexpected_response';
}

/** The error for a non-2xx answer. */
export function errorFromResponse(status: number, headers: Headers, text: string): TesseraError {
  const retryAfter = parseRetryAfter(headers.get('retry-after'));
  const body = parseJson(text);
  if (isErrorBody(body)) {
    const { code, message, details } = body.error;
    return new TesseraError({ code, message, status, details, retryAfter });
  }
  return new TesseraError({
    code: codeForStatus(status),
    message: `The server answered HTTP ${status} without a Tessera error body.`,
    status,
    details: text === '' ? undefined : { body: text.slice(0, 500) },
    retryAfter,
  });
}
