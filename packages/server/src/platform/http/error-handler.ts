import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
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

/**
 * The longest path parameter the router takes: an id of 255 characters fits, each character up to 4 bytes of UTF-8,
 * percent-encoded (12 characters each).
 */
export const maxPathParamLength = 255 * 12;

/**
 * The router's own refusals, before any route or hook runs: a path segment that is not well percent-encoded,
 * or a path parameter over maxPathParamLength.
 */
export function onFrameworkError(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const reason =
    error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? `has a part longer than ${maxPathParamLength} characters` : 'is not well percent-encoded';
  send(reply, 'validation_failed', `The path ${reason}.`, { field: '(path)', reason });
}

/**
 * What Node's HTTP parser refuses (headers over its limit, a malformed request line, a request that took too long
 * to arrive) gets the documented error too, written on the socket, which then closes: there is no request to
 * answer through Fastify.
 */
export function onClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const code: ErrorCode =
    error.code === 'HPE_HEADER_OVERFLOW' ? 'headers_too_large' : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'request_timeout' : 'validation_failed';
  const { status } = errorCatalog[code];
  const message = code === 'validation_failed' ? 'The request is not valid HTTP.' : errorCatalog[code].message;
  const body = JSON.stringify({ error: { code, message } } satisfies ErrorBody);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
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
