import type { FastifyInstance } from 'fastify';
import type { JsonPatchOperation } from '@tessera/contracts';
import { Type } from 'typebox';
import { ApiError } from '../../platform/http/api-error.ts';
import type { AuthGuards } from '../../platform/http/auth.ts';
import type { Idempotency } from '../../platform/http/idempotency.ts';
import { errorResponses, securityOf } from '../../platform/http/openapi.ts';
import { emptyBody } from '../../platform/http/schema-kit.ts';
import { applyJsonPatchToConfig, applyMergePatchToConfig } from './patch.ts';
import {
  appIdParams,
  appPageSchema,
  appSchema,
  createAppBody,
  createdAppSchema,
  jsonPatchBody,
  listAppsQuery,
  mergePatchBody,
  rotatedSecretSchema,
  type CreateAppBody,
} from './schemas.ts';
import type { AppService } from './service.ts';

interface Deps {
  apps: AppService;
  guards: AuthGuards;
  idempotency: Idempotency;
}

const tags = ['apps'];
const admin = securityOf.admin;

export function appRoutes(app: FastifyInstance, { apps, guards, idempotency }: Deps): void {
  app.post<{ Body: CreateAppBody }>(
    '/v1/apps',
    {
      onRequest: guards.admin,
      schema: {
        tags,
        summary: 'Create an app',
        description:
          'Answers with the app secret and the webhook secret: the only time they are shown. An app created with a ' +
          'callback_url is sent an app.created event (the app without its secrets), the first its endpoint can verify.',
        security: admin,
        body: createAppBody,
        response: { 201: createdAppSchema, ...errorResponses(400, 401, 403, 422) },
      },
    },
    (request, reply) =>
      idempotency.run(request, reply, async () => ({ status: 201, body: await apps.create(request.body) })),
  );

  app.get<{ Querystring: { limit: number; starting_after?: string } }>(
    '/v1/apps',
    {
      onRequest: guards.admin,
      schema: {
        tags,
        summary: 'List apps',
        security: admin,
        querystring: listAppsQuery,
        response: { 200: appPageSchema, ...errorResponses(400, 401, 403) },
      },
    },
    (request) => apps.list(request.query.limit, request.query.starting_after ?? null),
  );

  app.get<{ Params: { app_id: string } }>(
    '/v1/apps/:app_id',
    {
      onRequest: guards.adminOrApp,
      schema: {
        tags,
        summary: 'Get an app',
        description: 'With the admin token, or with the credentials of the app itself.',
        security: securityOf.adminOrApp,
        params: appIdParams,
        response: { 200: appSchema, ...errorResponses(401, 403, 404) },
      },
    },
    async (request) => {
      const { principal } = request;
      // An app sees only itself; any other id is "not found", never a hint that it exists.
      if (principal?.kind === 'app' && principal.appId !== request.params.app_id) throw ApiError.notFound('App');
      return apps.get(request.params.app_id);
    },
  );

  app.patch<{ Params: { app_id: string }; Body: Record<string, unknown> | JsonPatchOperation[] }>(
    '/v1/apps/:app_id',
    {
      onRequest: guards.admin,
      schema: {
        tags,
        summary: 'Update an app',
        description:
          'Send a JSON Merge Patch (application/merge-patch+json, or application/json) or a JSON Patch ' +
          '(application/json-patch+json). The result is checked as a whole; an app.updated event follows.',
        security: admin,
        params: appIdParams,
        body: {
          content: {
            'application/merge-patch+json': { schema: mergePatchBody },
            'application/json': { schema: mergePatchBody },
            'application/json-patch+json': { schema: jsonPatchBody },
          },
        },
        response: { 200: appSchema, ...errorResponses(400, 401, 403, 404, 409, 415) },
      },
    },
    (request) => {
      const body = request.body;
      const isJsonPatch = (request.headers['content-type'] ?? '').toLowerCase().startsWith('application/json-patch+json'); // media types ignore case
      return apps.update(request.params.app_id, (current) =>
        isJsonPatch
          ? applyJsonPatchToConfig(current, body as JsonPatchOperation[])
          : applyMergePatchToConfig(current, body as Record<string, unknown>),
      );
    },
  );

  app.delete<{ Params: { app_id: string } }>(
    '/v1/apps/:app_id',
    {
      onRequest: guards.admin,
      schema: {
        tags,
        summary: 'Delete an app',
        description: 'Deletes the app with its users, factors and delivery log. To suspend it instead, set active to false.',
        security: admin,
        params: appIdParams,
        response: { 204: Type.Null(), ...errorResponses(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await apps.remove(request.params.app_id);
      return reply.code(204).send();
    },
  );

  app.post<{ Params: { app_id: string } }>(
    '/v1/apps/:app_id/rotate-secret',
    {
      onRequest: guards.admin,
      schema: {
        tags,
        summary: "Rotate an app's secret",
        description: 'Answers with the new secret, shown only now; the old one stops working at once. No body (or {}).',
        security: admin,
        params: appIdParams,
        body: emptyBody,
        response: { 200: rotatedSecretSchema, ...errorResponses(401, 403, 404, 422) },
      },
    },
    (request, reply) =>
      idempotency.run(request, reply, async () => ({
        status: 200,
        body: await apps.rotateSecret(request.params.app_id),
      })),
  );
}
