import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import { errorResponses } from '../../platform/http/openapi.ts';
import { callingDevice } from '../devices/device-guard.ts';
import { answerBody, deviceChallengeListSchema, deviceChallengeParams, deviceChallengeSchema } from './schemas.ts';
import type { PushChallenges } from './service.ts';

const tags = ['devices'];
const deviceAuth = 'Authenticated by the device key (`Authorization: Device <JWT>`, see GET /v1/device).';

/** The device side of push challenges: list, read, answer (signed). The stream is in device-stream.ts. */
export function pushRoutes(app: FastifyInstance, deps: { push: PushChallenges; deviceGuard: onRequestAsyncHookHandler }): void {
  const { push, deviceGuard } = deps;

  app.get(
    '/v1/device/challenges',
    {
      onRequest: deviceGuard,
      schema: {
        tags,
        summary: 'Challenges waiting for this device’s answer',
        description: `The pending push challenges of the device's user that this user has not answered, oldest first. ${deviceAuth}`,
        response: { 200: deviceChallengeListSchema, ...errorResponses(401, 403) },
      },
    },
    async (request) => ({ data: await push.listForDevice(callingDevice(request)) }),
  );

  app.get<{ Params: { challenge_id: string } }>(
    '/v1/device/challenges/:challenge_id',
    {
      onRequest: deviceGuard,
      schema: {
        tags,
        summary: 'A challenge, as the device shows it',
        description: `App name and logo, message, details, and the three numbers for number matching. ${deviceAuth}`,
        params: deviceChallengeParams,
        response: { 200: deviceChallengeSchema, ...errorResponses(401, 403, 404) },
      },
    },
    (request) => push.getForDevice(callingDevice(request), request.params.challenge_id),
  );

  app.post<{ Params: { challenge_id: string }; Body: { signed_decision: string } }>(
    '/v1/device/challenges/:challenge_id/answer',
    {
      onRequest: deviceGuard,
      schema: {
        tags,
        summary: 'Approve or deny, signed by the device key',
        description:
          'The signature, the challenge id and the time are checked before anything changes: another key 422 ' +
          'decision_signature_invalid, another challenge 422 decision_challenge_mismatch, more than 60 s off 422 decision_stale. ' +
          'A challenge no longer pending is 409 challenge_not_pending; a second answer of the same user 409 already_answered. ' +
          'Number matching: a number that was not offered is 422 number_not_offered (nothing changes); a wrong one of the ' +
          `three denies the challenge (deny_reason "wrong_number"). ${deviceAuth}`,
        params: deviceChallengeParams,
        body: answerBody,
        response: { 200: deviceChallengeSchema, ...errorResponses(400, 401, 403, 404, 409, 422) },
      },
    },
    (request) => push.answer(callingDevice(request), request.params.challenge_id, request.body.signed_decision),
  );
}
