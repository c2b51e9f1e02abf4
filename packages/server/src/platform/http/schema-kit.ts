import { Type, type Static, type TSchema } from 'typebox';

/**
 * `T` or null, written as JSON Schema `type: [T, "null"]`: validation errors read better than an
 * anyOf's, and fast-json-stringify serialises it directly.
 */
export function nullable<T extends TSchema>(schema: T) {
  return Type.Unsafe<Static<T> | null>({ ...schema, type: [(schema as unknown as { type: string }).type, 'null'] });
}

/** One of the given constants (an enum). */
export function literals<T extends string | number>(values: readonly T[]) {
  return Type.Union(values.map((value) => Type.Literal(value)));
}

export const dateTime = Type.String({ format: 'date-time' });
export const nullableDateTime = nullable(dateTime);

const patternReasons = new Map<string, string>();

/** A schema's `pattern`, with what a value that does not match is told (a sentence, not the expression). */
export function pattern(expression: string, reason: string): string {
  patternReasons.set(expression, reason);
  return expression;
}

/** The reason registered with `pattern`, if any. */
export function patternReason(expression: string): string | undefined {
  return patternReasons.get(expression);
}

/** No control character: refused by the schema, naming the parameter, rather than by PostgreSQL (NUL) later. */
const printable = pattern('^[^\\x00-\\x1f\\x7f]*$', 'must not contain control characters');

/** An id in a path or a query (`app_…`, `chl_…`, a list cursor): up to 64 printable characters. */
export function idString(description?: string) {
  return Type.String({ maxLength: 64, pattern: printable, ...(description === undefined ? {} : { description }) });
}

/** An id in a path (an app's, a challenge's, a delivery's, a login's): an unknown one is a 404. */
export const pathId = idString();

/** A creating call that takes no input: no body, or `{}` (json-body.ts takes a missing body as `{}`). */
export const emptyBody = Type.Object({}, { additionalProperties: false });
