import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import pino, { type Logger, type LoggerOptions } from 'pino';

/**
 * JSON logs without secrets: credentials never reach a log line. Requests are logged by path only,
 * since a query string may carry a token, and any field named like a secret is censored.
 */
export const loggerOptions = (level: string): LoggerOptions => ({
  level,
  base: { service: 'tessera' },
  timestamp: pino.stdTimeFunctions.isoTime,
  redact: {
    paths: [
      'req.headers.authorization',
      'req.headers.cookie',
      '*.app_secret',
      '*.webhook_secret',
      '*.secret',
      '*.token',
      '*.admin_token',
      '*.code',
      '*.password',
    ],
    censor: '[redacted]',
  },
  serializers: {
    err: errorWithItsCode,
    req: (req: { method: string; url: string; ip?: string; id?: string }) => ({
      method: req.method,
      path: req.url.split('?')[0],
      ip: req.ip,
    }),
  },
});

// A system error's code (ECONNREFUSED) or a SQLSTATE (57P01): never a one-time code (6 or 8 digits, or a recovery code).
const errorCode = /^(E[A-Z0-9_]+|[0-9A-Z]{5})$/;

/**
 * pino's error serializer, plus the error's code as `error_code`: `*.code` is censored (a field of that name may hold
 * a one-time code), and an error's code went with it, though it is what tells an operator what failed.
 */
function errorWithItsCode(error: Error): Record<string, unknown> {
  const serialized = pino.stdSerializers.err(error) as unknown as Record<string, unknown>;
  if (typeof serialized.code === 'string' && errorCode.test(serialized.code)) serialized.error_code = serialized.code;
  return serialized;
}

export function createLogger(level: string): Logger {
  return pino(loggerOptions(level));
}

/**
 * One line per request, when it completes, at info (with the status and time); the arrival only at
 * debug. Health probes and metrics scrapes log at debug, so they do not drown the rest.
 */
export class RequestLogController extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(error: Error | null, request: FastifyRequest, reply: FastifyReply): void {
    const line = { res: { statusCode: reply.statusCode }, ms: Math.round(reply.elapsedTime * 10) / 10 };
    if (error) reply.log.error({ ...line, err: error }, 'request errored');
    else if (probePaths.has(request.url)) reply.log.debug(line, 'request completed');
    else reply.log.info(line, 'request completed');
  }
}

const probePaths = new Set(['/healthz', '/readyz', '/metrics']);
