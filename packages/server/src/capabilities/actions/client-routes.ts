import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../platform/http/api-error.ts';
import { errorResponses } from '../../platform/http/openapi.ts';
import { codeBody } from '../factors/schemas.ts';
import type { ClientService, ClientSession, CodeFactorType } from './client-service.ts';
import { clientEnrollmentSchema, clientSuccessSchema } from './schemas.ts';

const tags = ['client'];
const security = [{ actionToken: [] }];
const auth =
  'Called by the browser with `Authorization: Bearer <token>`, the track token of an action: 401 client_token_invalid when ' +
  'it is missing, altered or expired, 403 client_token_scope for a success token, 403 origin_not_allowed from an Origin ' +
  'the app does not list in allowed_origins.';

/**
 * The client API of adaptive MFA, for the browser SDK. Any site may call it (CORS), since the track token is
 * the credential; an app that lists `allowed_origins` limits it to those. Push (POST /v1/client/push and
 * GET /v1/client/challenges/{challenge_id}) joins here, beside the code routes.
 */
export function clientRoutes(app: FastifyInstance, deps: { client: ClientService }): void {
  const { client } = deps;

  async function sessionOf(request: FastifyRequest, reply: FastifyReply): Promise<ClientSession> {
    const match = /^Bearer +(\S+)$/i.exec(request.headers.authorization ?? '');
    const origin = request.headers.origin;
    if (origin) reply.header('access-control-allow-origin', origin).header('vary', 'origin');
    if (!match) {
      throw new ApiError('client_token_invalid', 'Use "Authorization: Bearer <track token>".', {
        details: { reason: 'missing' },
        headers: { 'www-authenticate': 'Bearer realm="tessera"' },
      });
    }
    const session = await client.session(match[1] as string);
    const allowed = session.app.allowed_origins;
    if (origin && allowed.length > 0 && !allowed.includes(origin)) throw new ApiError('origin_not_allowed');
    return session;
  }

  // Preflight: the browser asks before sending Authorization; the origin is checked on the call itself.
  app.options('/v1/client/*', { schema: { hide: true } }, async (request, reply) =>
    reply
      .code(204)
      .header('access-control-allow-origin', request.headers.origin ?? '*')
      .header('access-control-allow-methods', 'GET, POST')
      .header('access-control-allow-headers', 'authorization, content-type')
      .header('access-control-max-age', '600')
      .header('vary', 'origin')
      .send(),
  );

  app.post(
    '/v1/client/totp/enroll',
    {
      schema: {
        tags,
        summary: 'Enroll a first TOTP factor',
        description: `For a user with no active factor: a new secret with its otpauth URI and QR code; the first code (totp/verify) activates it. A user who has one: 409 enrollment_not_allowed. ${auth}`,
        security,
        response: { 200: clientEnrollmentSchema, ...errorResponses(401, 403, 409) },
      },
    },
    async (request, reply) => client.enrollTotp(await sessionOf(request, reply)),
  );

  for (const type of ['totp', 'recovery'] as const satisfies CodeFactorType[]) {
    app.post<{ Body: { code: string } }>(
      `/v1/client/${type}/verify`,
      {
        schema: {
          tags,
          summary: type === 'totp' ? 'Verify a TOTP code' : 'Verify a recovery code',
          description:
            'Answers a success token for POST /v1/actions/validate. A wrong code is 422 invalid_code (details.attempts_left); ' +
            `the challenge fails after 5, and 10 in a row lock the user (429). An action not to be challenged: 409. ${auth}`,
          security,
          body: codeBody,
          response: { 200: clientSuccessSchema, ...errorResponses(400, 401, 403, 404, 409, 422, 429) },
        },
      },
      async (request, reply) => client.verifyCode(await sessionOf(request, reply), type, request.body.code),
    );
  }
}
