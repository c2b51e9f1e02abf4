import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { secretsEqual } from '../secrets.ts';
import { ApiError } from './api-error.ts';

/** Who is calling: the operator (admin token) or an app's backend (its credentials). */
export type Principal = { kind: 'admin' } | { kind: 'app'; appId: string };

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

/** Checks an app's Basic credentials; throws 401/403 ApiErrors (wrong secret, inactive, address refused). */
export type AppAuthenticator = (appId: string, secret: string, ip: string) => Promise<void>;

/**
 * Route guards, run as `onRequest` hooks: credentials are checked before the body is read or validated, so a caller
 * without them learns nothing of the route's schema (401/403 before any 400) and costs no parsing.
 */
export interface AuthGuards {
  admin: onRequestAsyncHookHandler;
  app: onRequestAsyncHookHandler;
  adminOrApp: onRequestAsyncHookHandler;
}

const challengeHeaders = { 'www-authenticate': 'Bearer realm="tessera", Basic realm="tessera"' };

function unauthorized(message: string): ApiError {
  return new ApiError('unauthorized', message, { headers: challengeHeaders });
}

/** The scheme (lower case) and the credentials of an `Authorization` header; empty strings when absent. */
export function authorizationOf(request: FastifyRequest): { scheme: string; value: string } {
  const [scheme = '', value = ''] = (request.headers.authorization ?? '').split(' ', 2).map((part) => part.trim());
  return { scheme: scheme.toLowerCase(), value };
}

/** Route guards: each reads `Authorization` and sets `request.principal`, or refuses with 401/403. */
export function createAuthGuards(options: { adminToken: string; authenticateApp: AppAuthenticator }): AuthGuards {
  async function identify(request: FastifyRequest, allowAdmin: boolean, allowApp: boolean): Promise<void> {
    if (!request.headers.authorization) throw unauthorized('Credentials are required: an admin token or the app credentials.');
    const { scheme, value } = authorizationOf(request);
    if (scheme === 'bearer' && value) {
      if (!secretsEqual(value, options.adminToken)) throw unauthorized('The admin token is not valid.');
      if (!allowAdmin) throw new ApiError('forbidden', 'This call is made with app credentials, not the admin token.');
      request.principal = { kind: 'admin' };
      return;
    }
    if (scheme === 'basic' && value) {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 1) throw unauthorized('Basic credentials must be app_id:app_secret.');
      const appId = decoded.slice(0, colon);
      await options.authenticateApp(appId, decoded.slice(colon + 1), request.ip);
      if (!allowApp) throw new ApiError('forbidden', 'This call needs the admin token.');
      request.principal = { kind: 'app', appId };
      return;
    }
    throw unauthorized('Use "Authorization: Bearer <admin token>" or "Authorization: Basic <app_id:app_secret>".');
  }

  const guard =
    (allowAdmin: boolean, allowApp: boolean): onRequestAsyncHookHandler =>
    async (request: FastifyRequest, _reply: FastifyReply) =>
      identify(request, allowAdmin, allowApp);

  return { admin: guard(true, false), app: guard(false, true), adminOrApp: guard(true, true) };
}

/** The calling app's id, on a route guarded by `guards.app`. */
export function callingApp(request: FastifyRequest): string {
  if (request.principal?.kind !== 'app') throw new ApiError('forbidden', 'This call needs app credentials.');
  return request.principal.appId;
}
