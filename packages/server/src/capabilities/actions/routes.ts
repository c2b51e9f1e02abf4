import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ActionOutcome, TrackActionInput, ValidateActionInput } from '@tessera/contracts';
import { ApiError } from '../../platform/http/api-error.ts';
import { callingApp, type AuthGuards } from '../../platform/http/auth.ts';
import type { Idempotency } from '../../platform/http/idempotency.ts';
import { errorResponses, securityOf } from '../../platform/http/openapi.ts';
import { appIdParams } from '../apps/schemas.ts';
import { userIdParams } from '../users/schemas.ts';
import type { RulesService } from './rules-service.ts';
import {
  actionPageSchema,
  actionParams,
  actionRecordParams,
  actionRecordSchema,
  appActionParams,
  listActionsQuery,
  putRulesBody,
  reviewBody,
  rulesListSchema,
  rulesSchema,
  trackBody,
  trackedSchema,
  validateBody,
  validatedSchema,
} from './schemas.ts';
import type { ActionService } from './service.ts';

const tags = ['actions'];
const security = securityOf.app;
type ActionParams = { user_id: string; action: string };
type RecordParams = ActionParams & { idempotency_key: string };

/** Adaptive MFA for the app's backend: track, read and review actions, validate tokens, manage rules. */
export function actionRoutes(
  app: FastifyInstance,
  deps: { actions: ActionService; rules: RulesService; guards: AuthGuards; idempotency: Idempotency },
): void {
  const { actions, rules, guards, idempotency } = deps;

  app.post<{ Params: ActionParams; Body: TrackActionInput }>(
    '/v1/users/:user_id/actions/:action',
    {
      onRequest: guards.app,
      schema: {
        tags,
        summary: 'Track an action',
        description:
          'The rules of this action decide its state (ALLOW, CHALLENGE_REQUIRED, BLOCK, REVIEW); an action never configured ' +
          'is recorded on first use with the default ALLOW. The token serves the browser (client API, hosted page `url`).',
        security,
        params: actionParams,
        body: trackBody,
        response: { 200: trackedSchema, ...errorResponses(400, 401, 403, 422) },
      },
    },
    (request, reply) => {
      const appId = callingApp(request);
      const { user_id: userId, action } = request.params;
      return idempotency.run(request, reply, async () => ({ status: 200, body: await actions.track(appId, userId, action, request.body ?? {}) }));
    },
  );

  app.get<{ Params: { user_id: string }; Querystring: { action?: string; limit: number; starting_after?: string } }>(
    '/v1/users/:user_id/actions',
    {
      onRequest: guards.app,
      schema: { tags, summary: "List a user's actions, newest first", security, params: userIdParams, querystring: listActionsQuery, response: { 200: actionPageSchema, ...errorResponses(400, 401, 403) } },
    },
    (request) => actions.list(callingApp(request), request.params.user_id, request.query),
  );

  app.get<{ Params: RecordParams }>(
    '/v1/users/:user_id/actions/:action/:idempotency_key',
    {
      onRequest: guards.app,
      schema: { tags, summary: 'Get a tracked action', security, params: actionRecordParams, response: { 200: actionRecordSchema, ...errorResponses(400, 401, 403, 404) } },
    },
    (request) => {
      const { user_id: userId, action, idempotency_key: id } = request.params;
      return actions.get(callingApp(request), userId, action, id);
    },
  );

  app.patch<{ Params: RecordParams; Body: { state: 'ALLOW' | 'BLOCK' } }>(
    '/v1/users/:user_id/actions/:action/:idempotency_key',
    {
      onRequest: guards.app,
      schema: {
        tags,
        summary: 'Decide an action in REVIEW',
        description: 'Sets an action in REVIEW to ALLOW or BLOCK (an action.reviewed event follows); any other state is 409 action_not_in_review.',
        security,
        params: actionRecordParams,
        body: reviewBody,
        response: { 200: actionRecordSchema, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    (request) => {
      const { user_id: userId, action, idempotency_key: id } = request.params;
      return actions.review(callingApp(request), userId, action, id, request.body.state);
    },
  );

  app.post<{ Body: ValidateActionInput }>(
    '/v1/actions/validate',
    {
      onRequest: guards.app,
      schema: {
        tags,
        summary: 'Validate an action token',
        description:
          'A success token (from the client API or the hosted page) answers state CHALLENGE_SUCCEEDED with is_valid true, once; a ' +
          'track token does so for an action the rules (or a review) allowed. A token of another action or user: is_valid false. ' +
          'Malformed, altered or another app’s: 400 action_token_invalid; expired: 410 action_token_expired; validated before: ' +
          '409 action_token_used.',
        security,
        body: validateBody,
        response: { 200: validatedSchema, ...errorResponses(400, 401, 403, 409, 410) },
      },
    },
    (request) => actions.validate(callingApp(request), request.body),
  );

  const appOrItself = async (request: FastifyRequest<{ Params: { app_id: string } }>) => {
    const { principal } = request;
    // An app manages only its own rules; another app's id is "not found".
    if (principal?.kind === 'app' && principal.appId !== request.params.app_id) throw ApiError.notFound('App');
  };

  app.put<{ Params: { app_id: string; action: string }; Body: { default_outcome: ActionOutcome; rules: unknown[] } }>(
    '/v1/apps/:app_id/actions/:action/rules',
    {
      onRequest: guards.adminOrApp,
      preHandler: appOrItself,
      schema: {
        tags,
        summary: "Set an action's rules",
        description:
          'Rules are tried in order; the first whose conditions hold decides the outcome, else default_outcome. A malformed ' +
          'rule set is 400 with details.field naming the bad path (rules[2].conditions.all[0].op) and changes nothing.',
        security: securityOf.adminOrApp,
        params: appActionParams,
        body: putRulesBody,
        response: { 200: rulesSchema, ...errorResponses(400, 401, 403, 404) },
      },
    },
    (request) => rules.put(request.params.app_id, request.params.action, request.body.default_outcome, request.body.rules),
  );

  app.get<{ Params: { app_id: string; action: string } }>(
    '/v1/apps/:app_id/actions/:action/rules',
    {
      onRequest: guards.adminOrApp,
      preHandler: appOrItself,
      schema: { tags, summary: "Get an action's rules", security: securityOf.adminOrApp, params: appActionParams, response: { 200: rulesSchema, ...errorResponses(401, 403, 404) } },
    },
    (request) => rules.get(request.params.app_id, request.params.action),
  );

  app.get<{ Params: { app_id: string } }>(
    '/v1/apps/:app_id/actions',
    {
      onRequest: guards.adminOrApp,
      preHandler: appOrItself,
      schema: { tags, summary: "List an app's actions with their rules", security: securityOf.adminOrApp, params: appIdParams, response: { 200: rulesListSchema, ...errorResponses(401, 403, 404) } },
    },
    async (request) => ({ data: await rules.list(request.params.app_id) }),
  );
}
