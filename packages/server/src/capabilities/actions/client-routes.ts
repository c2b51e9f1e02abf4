import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import { ApiError } from '../../platform/http/api-error.ts';
import { errorResponses } from '../../platform/http/openapi.ts';
import { codeBody } from '../factors/schemas.ts';
import type { ClientService, ClientSession, CodeFactorType } from './client-service.ts';
import { challengeIdParams, getChallengeQuery } from '../challenges/schemas.ts';
import { clientEnrollmentSchema, clientPushSchema, clientSuccessSchema } from './schemas.ts';

const tags = ['client'];
const security = [{ actionToken: [] }];
const auth =
  'Called by the browser with `Authorization: Bearer <token>`, the track token of an action: 401 client_token_invalid when ' +
  'it is missing, altered or expired, 403 client_token_scope for a success token, 403 origin_not_allowed from an Origin ' +
  'the app does not list in allowed_origins.';

/**
 * The client API of adaptive MFA, for the browser SDK. Any site may call it (CORS), since the track token is
 * the credential; an app that lists `allowed_origins` limits it to those.
 */
export function clientRoutes(app: FastifyInstance, deps: { client: ClientService }): void {
  const { client } = deps;

  async function sessionOf(request: FastifyRequest): Promise<ClientSession> {
    const match = /^Bearer +(\S+)$/i.exec(request.headers.authorization ?? '');
    const origin = request.headers.origin;
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

  // Every answer may be read by the calling page, its errors too (an invalid body, a refused origin): the header is
  // set before the body is parsed and checked.
  const readableByPage: onRequestHookHandler = (request, reply, done) => {
    const origin = request.headers.origin;
    if (origin) reply.header('access-control-allow-origin', origin).header('vary', 'origin');
    done();
  };

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
      onRequest: readableByPage,
      schema: {
        tags,
        summary: 'Enroll a first TOTP factor',
        description: `For a user with no active factor: a new secret with its otpauth URI and QR code; the first code (totp/verify) activates it. A user who has one: 409 enrollment_not_allowed. ${auth}`,
        security,
        response: { 200: clientEnrollmentSchema, ...errorResponses(401, 403, 409) },
      },
    },
    async (request) => client.enrollTotp(await sessionOf(request)),
  );

  for (const type of ['totp', 'recovery'] as const satisfies CodeFactorType[]) {
    app.post<{ Body: { code: string } }>(
      `/v1/client/${type}/verify`,
      {
        onRequest: readableByPage,
        schema: {
          tags,
          summary: type === 'totp' ? 'Verify a TOTP code' : 'Verify a recovery code',
          description:
            'Answers a success token for POST /v1/actions/validate. A wrong code is 422 invalid_code (details.attempts_left); ' +
            `after 5 the next code goes to a new challenge, and 10 in a row lock the user (429). An action not to be challenged: 409. ${auth}`,
          security,
          body: codeBody,
          response: { 200: clientSuccessSchema, ...errorResponses(400, 401, 403, 404, 409, 422, 429) },
        },
      },
      async (request) => client.verifyCode(await sessionOf(request), type, request.body.code),
    );
  }

  app.post(
    '/v1/client/push',
    {
      onRequest: readableByPage,
      schema: {
        tags,
        summary: 'Send a push request to the user’s devices',
        description:
          'With number matching: show `number`; the person picks it in their authenticator. The pending request is answered ' +
          `again if there is one; after a denial or an expiry, a new one is sent. A user without a device: 409 no_active_factor. ${auth}`,
        security,
        response: { 200: clientPushSchema, ...errorResponses(401, 403, 409, 429) },
      },
    },
    async (request) => client.startPush(await sessionOf(request)),
  );

  app.get<{ Params: { challenge_id: string }; Querystring: { wait?: number } }>(
    '/v1/client/challenges/:challenge_id',
    {
      onRequest: readableByPage,
      schema: {
        tags,
        summary: 'The push request’s status (long-poll with ?wait=)',
        description: `Once \`approved\`, the answer carries \`state: "CHALLENGE_SUCCEEDED"\` and a success \`token\` for validate. ${auth}`,
        security,
        params: challengeIdParams,
        querystring: getChallengeQuery,
        response: { 200: clientPushSchema, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const session = await sessionOf(request);
      const gone = new AbortController();
      reply.raw.on('close', () => gone.abort());
      return client.push(session, request.query.wait ?? 0, gone.signal, request.params.challenge_id);
    },
  );
}
