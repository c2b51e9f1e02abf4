import type { FastifyInstance } from 'fastify';
import type { AuthGuards, Principal } from '../../platform/http/auth.ts';
import { errorResponses, securityOf } from '../../platform/http/openapi.ts';
import { deliveryIdParams, deliveryPageSchema, deliverySchema, listDeliveriesQuery } from './schemas.ts';
import type { DeliveryQuery, WebhookService } from './service.ts';

const tags = ['webhooks'];
const security = securityOf.adminOrApp;

/** The app whose deliveries a caller sees: its own for an app, all (null) for the operator. */
const ownApp = (principal: Principal | null) => (principal?.kind === 'app' ? principal.appId : null);

export function webhookRoutes(app: FastifyInstance, deps: { webhooks: WebhookService; guards: AuthGuards }): void {
  const { webhooks, guards } = deps;

  app.get<{ Querystring: DeliveryQuery }>(
    '/v1/webhook-deliveries',
    {
      onRequest: guards.adminOrApp,
      schema: {
        tags,
        summary: 'List webhook deliveries',
        description: 'Newest first. The admin token sees every app; app credentials see their own.',
        security,
        querystring: listDeliveriesQuery,
        response: { 200: deliveryPageSchema, ...errorResponses(400, 401, 403) },
      },
    },
    (request) => webhooks.list(ownApp(request.principal), request.query),
  );

  app.get<{ Params: { id: string } }>(
    '/v1/webhook-deliveries/:id',
    {
      onRequest: guards.adminOrApp,
      schema: {
        tags,
        summary: 'Get a webhook delivery',
        security,
        params: deliveryIdParams,
        response: { 200: deliverySchema, ...errorResponses(401, 403, 404) },
      },
    },
    (request) => webhooks.get(ownApp(request.principal), request.params.id),
  );

  app.post<{ Params: { id: string } }>(
    '/v1/webhook-deliveries/:id/retry',
    {
      onRequest: guards.adminOrApp,
      schema: {
        tags,
        summary: 'Send a webhook delivery again now',
        description: 'One attempt now, whatever the state; answers with the delivery after it.',
        security,
        params: deliveryIdParams,
        response: { 200: deliverySchema, ...errorResponses(401, 403, 404) },
      },
    },
    (request) => webhooks.retry(ownApp(request.principal), request.params.id),
  );
}
