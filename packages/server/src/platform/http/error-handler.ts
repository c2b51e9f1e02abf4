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

/** Writes the documented error on a socket that has no reply to answer through, then closes it. */
function answerOnSocket(socket: Socket, code: ErrorCode, message: string, extra: { details?: unknown; headers?: Record<string, string> } = {}): void {
  const { status } = errorCatalog[code];
  const body = JSON.stringify({ error: { code, message, ...(extra.details === undefined ? {} : { details: extra.details }) } } satisfies ErrorBody);
  const headers = Object.entries(extra.headers ?? {}).map(([name, value]) => `${name}: ${value}\r\n`).join('');
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\n${headers}` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
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
  answerOnSocket(socket, code, code === 'validation_failed' ? 'The request is not valid HTTP.' : errorCatalog[code].message);
  socket.destroy(error);
}

/**
 * A WebSocket upgrade that ws refuses after our route has taken it (a missing or malformed Sec-WebSocket-Key, an
 * unknown Sec-WebSocket-Version, …): the documented 400 naming the header, instead of ws's text/html page. ws's
 * messages name the header ("Missing or invalid Sec-WebSocket-Key header").
 */
export function onWebSocketHandshakeError(error: Error, socket: Socket): void {
  if (socket.destroyed) return;
  const header = /(Sec-WebSocket-[A-Za-z]+|Upgrade) header/.exec(error.message)?.[1]?.toLowerCase() ?? '(headers)';
  const reason = 'is missing or not valid for a WebSocket upgrade';
  const headers: Record<string, string> = header === 'sec-websocket-version' ? { 'Sec-WebSocket-Version': '13' } : {};
  answerOnSocket(socket, 'validation_failed', `headers.${header}: ${reason}`, { details: { field: `headers.${header}`, reason }, headers });
  socket.destroy();
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
    if (sqlState === '23503') {
      // A row this request refers to (a user, a factor, a device, the app) was deleted while it ran: nothing was written.
      request.log.warn({ err: error }, 'a referenced row was deleted concurrently');
      return send(reply, 'not_found', 'Something this request refers to was deleted meanwhile.');
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
