import type { FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Type } from 'typebox';
import { isOptionalBody } from './json-body.ts';

export const errorBodySchema = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'A stable snake_case code.' }),
      message: Type.String({ description: 'A sentence for a person.' }),
      details: Type.Optional(Type.Unknown()),
    }),
  },
  { $id: 'ErrorBody', title: 'ErrorBody' },
);

const descriptions: Record<number, string> = {
  400: 'The request is not valid (details.field names the field)',
  401: 'Missing or invalid credentials',
  403: 'Not allowed: app_inactive, ip_not_allowed, forbidden',
  404: 'Not found',
  409: 'The resource is not in a state that allows this',
  415: 'Unsupported content type',
  426: 'A WebSocket route asked without the Upgrade',
  422: 'Idempotency-Key reused with another request',
  429: 'Too many requests (see Retry-After)',
};

type SecurityRequirement = Record<string, string[]>;

/** Which credentials a route takes, for the OpenAPI document. */
export const securityOf: Record<'admin' | 'app' | 'adminOrApp', SecurityRequirement[]> = {
  admin: [{ adminToken: [] }],
  app: [{ appCredentials: [] }],
  adminOrApp: [{ adminToken: [] }, { appCredentials: [] }],
};

/** The error responses of a route, for the OpenAPI document. */
export function errorResponses(...statuses: number[]): Record<number, object> {
  return Object.fromEntries(
    statuses.map((status) => [status, { description: descriptions[status] ?? 'Error', $ref: 'ErrorBody#' }]),
  );
}

interface OpenApiDocument {
  paths?: Record<string, Record<string, { requestBody?: { required?: boolean; content?: Record<string, { schema?: unknown }> } }>>;
}

/** A body whose fields are all optional may be left out (json-body.ts): the document says so. */
function withOptionalBodies<T extends OpenApiDocument>(document: T): T {
  for (const operations of Object.values(document.paths ?? {})) {
    for (const { requestBody } of Object.values(operations)) {
      if (requestBody && isOptionalBody(requestBody.content?.['application/json']?.schema)) requestBody.required = false;
    }
  }
  return document;
}

/** The OpenAPI document, generated from the route schemas, at /v1/openapi.json, and a browsable copy at /docs. */
export async function registerOpenApi(app: FastifyInstance, publicUrl: string): Promise<void> {
  app.addSchema(errorBodySchema);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Tessera API',
        version: '1',
        description:
          'Second factors and passwordless sign-in: TOTP, push approval, QR login, adaptive MFA. ' +
          'Errors are {"error":{"code","message","details"}}. Creating calls accept an Idempotency-Key header.',
      },
      servers: [{ url: publicUrl }],
      components: {
        securitySchemes: {
          adminToken: { type: 'http', scheme: 'bearer', description: 'The operator token (TESSERA_ADMIN_TOKEN).' },
          appCredentials: { type: 'http', scheme: 'basic', description: 'app_id:app_secret' },
          actionToken: { type: 'http', scheme: 'bearer', description: 'The track token of an action, for the client API.' },
        },
      },
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
    transformObject: (document) => withOptionalBodies(('openapiObject' in document ? document.openapiObject : {}) as OpenApiDocument),
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { deepLinking: true } });
  app.get('/v1/openapi.json', { schema: { hide: true } }, () => app.swagger());
}
