import type { FastifyInstance } from 'fastify';
import type { User } from '@tessera/contracts';
import { Type } from 'typebox';
import { callingApp, type AuthGuards } from '../../platform/http/auth.ts';
import { errorResponses, securityOf } from '../../platform/http/openapi.ts';
import type { FactorService } from '../factors/service.ts';
import { putUserBody, userIdParams, userSchema } from './schemas.ts';
import type { UserService } from './service.ts';
import type { UserProfile, UserRecord } from './store.ts';

const tags = ['users'];
const security = securityOf.app;
type Params = { Params: { user_id: string } };

export function userRoutes(app: FastifyInstance, deps: { users: UserService; factors: FactorService; guards: AuthGuards }): void {
  const { users, factors, guards } = deps;

  async function view(appId: string, user: UserRecord): Promise<User> {
    const list = await factors.list(appId, user.user_id);
    return {
      user_id: user.user_id,
      email: user.email,
      phone: user.phone,
      display_name: user.display_name,
      two_factor_enabled: list.some((f) => f.status === 'active' && (f.type === 'totp' || f.type === 'push')),
      factors: list,
      created_at: user.created_at.toISOString(),
      updated_at: user.updated_at.toISOString(),
    };
  }

  app.get<Params>(
    '/v1/users/:user_id',
    {
      onRequest: guards.app,
      schema: {
        tags,
        summary: 'Get a user with their factors',
        description: 'A user the app never used, or another app’s user, is 404.',
        security,
        params: userIdParams,
        response: { 200: userSchema, ...errorResponses(401, 403, 404) },
      },
    },
    async (request) => {
      const appId = callingApp(request);
      return view(appId, await users.get(appId, request.params.user_id));
    },
  );

  app.put<Params & { Body: UserProfile }>(
    '/v1/users/:user_id',
    {
      onRequest: guards.app,
      schema: {
        tags,
        summary: 'Create or update a user',
        description: 'Sets email, phone and display name (fields left out stay as they are). The email labels TOTP enrollments.',
        security,
        params: userIdParams,
        body: putUserBody,
        response: { 200: userSchema, ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const appId = callingApp(request);
      return view(appId, await users.upsert(appId, request.params.user_id, request.body));
    },
  );

  app.delete<Params>(
    '/v1/users/:user_id',
    {
      onRequest: guards.app,
      schema: {
        tags,
        summary: 'Delete a user',
        description: 'Removes the user with their factors, recovery codes and challenges.',
        security,
        params: userIdParams,
        response: { 204: Type.Null(), ...errorResponses(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await users.remove(callingApp(request), request.params.user_id);
      return reply.code(204).send();
    },
  );
}
