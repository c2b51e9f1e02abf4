import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { ApiError } from '../../platform/http/api-error.ts';
import { callingApp, type AuthGuards } from '../../platform/http/auth.ts';
import type { Idempotency } from '../../platform/http/idempotency.ts';
import { errorResponses, securityOf } from '../../platform/http/openapi.ts';
import { emptyBody } from '../../platform/http/schema-kit.ts';
import { userIdParams } from '../users/schemas.ts';
import {
  codeBody,
  enrollFactorBody,
  enrolledTotpSchema,
  factorIdParams,
  factorListSchema,
  factorSchema,
  recoveryCodesSchema,
} from './schemas.ts';
import type { EnrollTotp, FactorService } from './service.ts';

const tags = ['factors'];
const security = securityOf.app;

export function factorRoutes(
  app: FastifyInstance,
  deps: { factors: FactorService; guards: AuthGuards; idempotency: Idempotency },
): void {
  const { factors, guards, idempotency } = deps;

  app.post<{ Params: { user_id: string }; Body: EnrollTotp & { type: string } }>(
    '/v1/users/:user_id/factors',
    {
      onRequest: guards.app,
      schema: {
        tags,
        summary: 'Enroll a TOTP factor',
        description:
          'Answers with the secret, its otpauth:// URI and a QR code, shown only now; the factor is unverified until ' +
          'activated with a first code. With `secret` and a current `code`, imports an existing secret, active at once.',
        security,
        params: userIdParams,
        body: enrollFactorBody,
        response: { 201: enrolledTotpSchema, ...errorResponses(400, 401, 403, 422) },
      },
    },
    (request, reply) => {
      const { type, ...totp } = request.body;
      if (type === 'recovery') throw ApiError.invalid('type', 'recovery codes are made with POST /v1/users/{user_id}/recovery-codes');
      if (type === 'push') throw ApiError.invalid('type', 'a push factor is made by registering a device');
      const appId = callingApp(request);
      return idempotency.run(request, reply, async () => ({
        status: 201,
        body: await factors.enrollTotp(appId, request.params.user_id, totp),
      }));
    },
  );

  app.get<{ Params: { user_id: string } }>(
    '/v1/users/:user_id/factors',
    {
      onRequest: guards.app,
      schema: {
        tags,
        summary: "List a user's factors",
        description: 'A user the app never used (or another app’s) has none: an empty list, which tells nothing of other apps.',
        security,
        params: userIdParams,
        response: { 200: factorListSchema, ...errorResponses(401, 403) },
      },
    },
    async (request) => ({ data: await factors.list(callingApp(request), request.params.user_id) }),
  );

  app.get<{ Params: { factor_id: string } }>(
    '/v1/factors/:factor_id',
    {
      onRequest: guards.app,
      schema: { tags, summary: 'Get a factor', security, params: factorIdParams, response: { 200: factorSchema, ...errorResponses(401, 403, 404) } },
    },
    (request) => factors.get(callingApp(request), request.params.factor_id),
  );

  app.delete<{ Params: { factor_id: string } }>(
    '/v1/factors/:factor_id',
    {
      onRequest: guards.app,
      schema: {
        tags,
        summary: 'Disable (delete) a factor',
        security,
        params: factorIdParams,
        response: { 204: Type.Null(), ...errorResponses(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await factors.remove(callingApp(request), request.params.factor_id);
      return reply.code(204).send();
    },
  );

  app.post<{ Params: { factor_id: string }; Body: { code: string } }>(
    '/v1/factors/:factor_id/activate',
    {
      onRequest: guards.app,
      schema: {
        tags,
        summary: 'Activate a TOTP factor with its first code',
        description: 'A wrong code is 422 invalid_code and counts toward the user’s lockout (10 wrong codes: 429 for 15 minutes).',
        security,
        params: factorIdParams,
        body: codeBody,
        response: { 200: factorSchema, ...errorResponses(400, 401, 403, 404, 409, 422, 429) },
      },
    },
    (request) => factors.activate(callingApp(request), request.params.factor_id, request.body.code),
  );

  app.post<{ Params: { user_id: string } }>(
    '/v1/users/:user_id/recovery-codes',
    {
      onRequest: guards.app,
      schema: {
        tags,
        summary: 'Generate recovery codes',
        description: 'Ten single-use codes, shown only now and stored hashed; the previous codes stop working. No body (or {}).',
        security,
        params: userIdParams,
        body: emptyBody,
        response: { 201: recoveryCodesSchema, ...errorResponses(401, 403, 422) },
      },
    },
    (request, reply) => {
      const appId = callingApp(request);
      return idempotency.run(request, reply, async () => ({
        status: 201,
        body: await factors.generateRecoveryCodes(appId, request.params.user_id),
      }));
    },
  );
}
