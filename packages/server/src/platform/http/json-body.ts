import type { FastifyInstance } from 'fastify';
import { ApiError } from './api-error.ts';

/** Deeper JSON is refused: no request of ours needs it, and deep nesting can exhaust the stack later on. */
export const maxJsonDepth = 32;

// A high surrogate not followed by a low one, or a low one not after a high one (String#isWellFormed is ES2024).
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why PostgreSQL could not store a string (in text or jsonb), if it could not. */
function unstorable(text: string): string | null {
  if (text.includes('\u0000')) return 'contains the NUL character (U+0000), which cannot be stored';
  if (loneSurrogate.test(text)) return 'contains an unpaired surrogate (U+D800–U+DFFF), which cannot be stored';
  return null;
}

/** Where a body goes wrong: the keys down to the value, deepest first (built only when something is found). */
interface Problem {
  keysUp: string[];
  reason: string;
}

/** The first problem under `node` (bodyProblem's walk; depth is capped before each step down, so it stays shallow). */
function problemIn(node: unknown, depth: number): Problem | 'too deep' | null {
  if (typeof node === 'string') {
    const reason = unstorable(node);
    return reason ? { keysUp: [], reason } : null;
  }
  // JSON.parse reads 1e400 as Infinity, which JSON (and jsonb) cannot hold: it would be stored as null.
  if (typeof node === 'number') return Number.isFinite(node) ? null : { keysUp: [], reason: 'is a number too large to store' };
  if (node === null || typeof node !== 'object') return null;
  if (depth >= maxJsonDepth) return 'too deep';
  for (const key of Object.keys(node)) {
    const keyReason = unstorable(key);
    if (keyReason) return { keysUp: [key], reason: `has a key that ${keyReason}` };
    const found = problemIn((node as Record<string, unknown>)[key], depth + 1);
    if (found === null) continue;
    if (found !== 'too deep') found.keysUp.push(key);
    return found;
  }
  return null;
}

/**
 * What the route schemas do not check in a parsed body: its depth, numbers too large for a double, and strings (values
 * or keys, anywhere, in free-form objects too) that the database would refuse, which would otherwise fail the
 * statement (with the other requests of a batched one) and the request with a 500. The error names the field by its
 * dotted path (`details.amount`).
 */
function bodyProblem(value: unknown): ApiError | null {
  const found = problemIn(value, 0);
  if (found === null) return null;
  if (found === 'too deep') return ApiError.invalid('(body)', `is nested more than ${maxJsonDepth} levels deep`);
  return ApiError.invalid(found.keysUp.reverse().join('.') || '(body)', found.reason);
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** A body schema whose fields are all optional: the body may be left out. */
export function isOptionalBody(schema: unknown): boolean {
  const { type, required } = (schema ?? {}) as { type?: unknown; required?: unknown[] };
  return type === 'object' && (required === undefined || required.length === 0);
}

/**
 * The JSON body parser for every JSON content type we take: Fastify's own (it refuses `__proto__` and
 * `constructor` keys) plus a limit on nesting and a check of every string (bodyProblem). An empty body is no body,
 * whatever its content type: a route whose body fields are all optional then takes it as `{}` (so `curl -X POST`
 * works), and the others say what is required.
 */
export function installJsonBodyParser(app: FastifyInstance, contentTypes: string[]): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addHook('onRoute', (route) => {
    if (!isOptionalBody(route.schema?.body)) return;
    const hooks = route.preValidation === undefined ? [] : [route.preValidation].flat();
    route.preValidation = [
      (request, _reply, done) => {
        if (request.body === undefined) request.body = {};
        done();
      },
      ...hooks,
    ];
  });
  app.addContentTypeParser(contentTypes, { parseAs: 'string' }, (request, body, done) => {
    const text = body.toString();
    if (text.trim() === '') return done(null, undefined);
    parse(request, text, (error, value) => {
      // Fastify's parser refuses a "__proto__" or "constructor" key with the error of broken JSON: tell them apart.
      if (error) return done(isJson(text) ? ApiError.invalid('(body)', 'has a "__proto__" or "constructor" key, which is refused') : error, undefined);
      const problem = bodyProblem(value);
      if (problem) return done(problem, undefined);
      done(null, value);
    });
  });
}
