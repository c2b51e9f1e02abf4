import type { FastifyInstance } from 'fastify';
import { callingApp, type AuthGuards } from '../../platform/http/auth.ts';
import type { Idempotency } from '../../platform/http/idempotency.ts';
import { errorResponses, securityOf } from '../../platform/http/openapi.ts';
import { codeBody } from '../factors/schemas.ts';
import { userIdParams } from '../users/schemas.ts';
import { challengeIdParams, challengeSchema, createChallengeBody, createQuorumChallengeBody, getChallengeQuery } from './schemas.ts';
import type { ChallengeService, CreateChallenge, CreateQuorumChallenge } from './service.ts';

const tags = ['challenges'];
const security = securityOf.app;

export function challengeRoutes(
  app: FastifyInstance,
  deps: { challenges: ChallengeService; guards: AuthGuards; idempotency: Idempotency },
): void {
  const { challenges, guards, idempotency } = deps;

  app.post<{ Params: { user_id: string }; Body: CreateChallenge }>(
    '/v1/users/:user_id/challenges',
    {
      onRequest: guards.app,
      schema: {
        tags,
        summary: 'Create a challenge',
        description:
          'For the factor named, or the user’s active factor of `type`, or else their active push factor, else TOTP. ' +
          '`type: "recovery"` redeems a recovery code. A push challenge goes to all the user’s devices; with ' +
          '`number_matching` the answer has `number`, which the person must pick on the device among three. At most 3 ' +
          'push challenges of a user may be pending at once (429 too_many_pending_challenges).',
        security,
        params: userIdParams,
        body: createChallengeBody,
        response: { 201: challengeSchema, ...errorResponses(400, 401, 403, 404, 409, 422, 429) },
      },
    },
    (request, reply) => {
      const appId = callingApp(request);
      return idempotency.run(request, reply, async () => ({
        status: 201,
        body: await challenges.create(appId, request.params.user_id, request.body),
      }));
    },
  );

  app.post<{ Body: CreateQuorumChallenge }>(
    '/v1/challenges',
    {
      onRequest: guards.app,
      schema: {
        tags,
        summary: 'Create a push challenge for several approvers',
        description:
          'Delivered to the push devices of every user in `user_ids`; `approved` once `quorum` of them approve, `denied` ' +
          'once that can no longer happen. Each user answers once, from any of their devices. Every user needs an active ' +
          'push factor (409 no_active_factor names those without).',
        security,
        body: createQuorumChallengeBody,
        response: { 201: challengeSchema, ...errorResponses(400, 401, 403, 404, 409, 429) },
      },
    },
    (request, reply) => {
      const appId = callingApp(request);
      return idempotency.run(request, reply, async () => ({ status: 201, body: await challenges.createForQuorum(appId, request.body) }));
    },
  );

  app.post<{ Params: { challenge_id: string }; Body: { code: string } }>(
    '/v1/challenges/:challenge_id/verify',
    {
      onRequest: guards.app,
      schema: {
        tags,
        summary: 'Verify a code (TOTP or recovery)',
        description:
          'A wrong or used code is 422 invalid_code with details.attempts_left; the fifth fails the challenge; a ' +
          'challenge no longer pending is 409; ten wrong codes in a row lock the user’s code checks for 15 minutes (429).',
        security,
        params: challengeIdParams,
        body: codeBody,
        response: { 200: challengeSchema, ...errorResponses(400, 401, 403, 404, 409, 422, 429) },
      },
    },
    (request) => challenges.verify(callingApp(request), request.params.challenge_id, request.body.code),
  );

  app.get<{ Params: { challenge_id: string }; Querystring: { wait?: number } }>(
    '/v1/challenges/:challenge_id',
    {
      onRequest: guards.app,
      schema: {
        tags,
        summary: 'Get a challenge (long-poll with ?wait=)',
        security,
        params: challengeIdParams,
        querystring: getChallengeQuery,
        response: { 200: challengeSchema, ...errorResponses(400, 401, 403, 404) },
      },
    },
    (request, reply) => {
      const gone = new AbortController();
      reply.raw.on('close', () => gone.abort());
      return challenges.get(callingApp(request), request.params.challenge_id, request.query.wait ?? 0, gone.signal);
    },
  );
}
