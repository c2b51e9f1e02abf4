import type { FastifyInstance, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { ApiError } from '../../platform/http/api-error.ts';
import { DeviceAuthError } from './device-request-token.ts';
import type { DeviceService } from './service.ts';
import type { DeviceRecord } from './store.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The device that signed the request, on routes guarded by the device guard. */
    device: DeviceRecord | null;
  }
}

const challengeHeaders = { 'www-authenticate': 'Device realm="tessera"' };

/**
 * The onRequest hook of device routes (before the body is read): checks `Authorization: Device <JWT>`
 * (device-request-token.ts) for this method and path and sets `request.device`, or answers 401 `unauthorized` with
 * `details.reason` (missing, malformed, unknown_device, bad_signature, expired, not_yet_valid, lifetime_too_long,
 * wrong_method, wrong_path, replayed), so that an authenticator can tell a removed device from a bad clock.
 * A suspended app's devices get 403 app_inactive, except on routes whose guard allows an inactive app.
 */
export function createDeviceGuard(
  app: FastifyInstance,
  devices: DeviceService,
  options: { inactiveApp: 'refused' | 'allowed' } = { inactiveApp: 'refused' },
): onRequestAsyncHookHandler {
  if (!app.hasRequestDecorator('device')) app.decorateRequest('device', null);
  return async (request: FastifyRequest) => {
    try {
      const path = request.url.split('?')[0] ?? '/';
      request.device = await devices.authenticate(request.headers.authorization, request.method, path, options.inactiveApp);
    } catch (error) {
      if (!(error instanceof DeviceAuthError)) throw error;
      throw deviceRefusal(error);
    }
  };
}

/** The 401 a device gets when its request is not taken (`details.reason` says why). */
export function deviceRefusal(error: DeviceAuthError): ApiError {
  return new ApiError('unauthorized', error.message, { details: { reason: error.reason }, headers: challengeHeaders });
}

/** The calling device, on a route guarded by the device guard. */
export function callingDevice(request: FastifyRequest): DeviceRecord {
  if (!request.device) throw new ApiError('unauthorized', 'This call needs a device signature.', { headers: challengeHeaders });
  return request.device;
}
