import type { FastifyInstance } from 'fastify';
import { ApiError } from './api-error.ts';

/** Deeper JSON is refused: no request of ours needs it, and deep nesting can exhaust the stack later on. */
export const maxJsonDepth = 32;

function nestedDeeperThan(value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth >= limit) return true;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return false;
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
 * `constructor` keys) plus a limit on nesting. An empty body is no body, whatever its content type: a route whose
 * body fields are all optional then takes it as `{}` (so `curl -X POST` works), and the others say what is required.
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
      if (nestedDeeperThan(value, maxJsonDepth)) {
        return done(ApiError.invalid('(body)', `is nested more than ${maxJsonDepth} levels deep`), undefined);
      }
      done(null, value);
    });
  });
}
