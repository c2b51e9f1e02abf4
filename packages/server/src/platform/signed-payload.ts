/**
 * The payload of a JWS that a device or an authenticator signed: UTF-8 JSON, one object, with only the
 * `members` its format names. `refuse(reason)` makes the format's own "malformed" error.
 */
export function signedObject(
  bytes: Uint8Array,
  members: ReadonlySet<string>,
  what: string,
  refuse: (reason: string) => Error,
): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw refuse('the payload must be UTF-8 JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw refuse('the payload must be a JSON object');
  const fields = value as Record<string, unknown>;
  const unknown = Object.keys(fields).find((name) => !members.has(name));
  if (unknown !== undefined) throw refuse(`"${unknown}" is not a member of ${what}`);
  return fields;
}

/** `signed_at` in the signed formats: ISO-8601 UTC with Z, milliseconds optional. */
export const isoUtc = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

/** Base64url without padding: never 1 character more than a multiple of 4 (Buffer would drop that character). */
const base64url = /^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2,3})?$/;

/** The `count` parts of a JOSE compact serialization (JWS: 3, JWE: 5), still encoded; null unless each is base64url. */
export function compactParts(text: string, count: number): string[] | null {
  const parts = text.split('.');
  return parts.length === count && parts.every((part) => base64url.test(part)) ? parts : null;
}
