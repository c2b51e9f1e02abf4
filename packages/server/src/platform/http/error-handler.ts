import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import type { ErrorObject } from 'ajv';
import { errorCatalog, type ErrorBody, type ErrorCode } from '@tessera/contracts';
import { DatabaseUnavailableError } from '../database/database.ts';
import { ApiError } from './api-error.ts';
import { describeAjvError } from './validation.ts';

// Fastify's own request errors, each given our code.
const fastifyCodes: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'validation_failed',
};

function send(reply: FastifyReply, code: ErrorCode, message: string, details?: unknown): FastifyReply {
  const body: ErrorBody = { error: { code, message, ...(details === undefined ? {} : { details }) } };
  return reply.code(errorCatalog[code].status).type('application/json; charset=utf-8').send(body);
}

/** Renders every failure in the documented error format; nothing else ever reaches a client. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setNotFoundHandler((request, reply) =>
    send(reply, 'route_not_found', `No route ${request.method} ${request.url.split('?')[0]}.`),
  );

  app.setErrorHandler((error: FastifyError | ApiError | Error, request, reply) => {
    if (error instanceof ApiError) {
      reply.headers(error.headers);
      return send(reply, error.code, error.message, error.details);
    }
    if (error instanceof DatabaseUnavailableError) {
      request.log.warn({ err: error }, 'database unavailable');
      reply.header('retry-after', '1');
      return send(reply, 'service_unavailable', errorCatalog.service_unavailable.message);
    }
    const sqlState = (error as { code?: unknown }).code;
    if (sqlState === '22021' || sqlState === '22P05') {
      // PostgreSQL stores no NUL character (U+0000) in text: the input is at fault, and nothing was written.
      return send(reply, 'validation_failed', 'Text may not contain the NUL character (U+0000).', {
        field: '(body)',
        reason: 'contains U+0000',
      });
    }
    const fastifyError = error as FastifyError;
    if (fastifyError.validation) {
      const first = fastifyError.validation[0] as ErrorObject | undefined;
      const { field, reason } = first ? describeAjvError(first) : { field: '(body)', reason: 'is not valid' };
      const prefix = fastifyError.validationContext === 'body' ? '' : `${fastifyError.validationContext}.`;
      return send(reply, 'validation_failed', `${prefix}${field}: ${reason}`, { field: prefix + field, reason });
    }
    const mapped = fastifyError.code ? fastifyCodes[fastifyError.code] : undefined;
    if (mapped) return send(reply, mapped, errorCatalog[mapped].message);
    if (error instanceof SyntaxError || (fastifyError.statusCode !== undefined && fastifyError.statusCode < 500)) {
      const code: ErrorCode = error instanceof SyntaxError ? 'invalid_json' : 'validation_failed';
      return send(reply, code, errorCatalog[code].message);
    }
    request.log.error({ err: error }, 'unhandled error');
    return send(reply, 'internal_error', errorCatalog.internal_error.message);
  });
}
