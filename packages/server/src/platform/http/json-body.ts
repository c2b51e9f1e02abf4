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

/**
 * The JSON body parser for every JSON content type we take: Fastify's own (it refuses `__proto__` and
 * `constructor` keys) plus a limit on nesting.
 */
export function installJsonBodyParser(app: FastifyInstance, contentTypes: string[]): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(contentTypes, { parseAs: 'string' }, (request, body, done) => {
    parse(request, body.toString(), (error, value) => {
      if (error) return done(error, undefined);
      if (nestedDeeperThan(value, maxJsonDepth)) {
        return done(ApiError.invalid('(body)', `is nested more than ${maxJsonDepth} levels deep`), undefined);
      }
      done(null, value);
    });
  });
}
