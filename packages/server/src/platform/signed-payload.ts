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
