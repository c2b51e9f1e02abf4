import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { callingApp, type AuthGuards } from '../../platform/http/auth.ts';
import type { Idempotency } from '../../platform/http/idempotency.ts';
import { errorResponses, securityOf } from '../../platform/http/openapi.ts';
import { emptyBody } from '../../platform/http/schema-kit.ts';
import { userIdParams } from '../users/schemas.ts';
import { callingDevice, createDeviceGuard } from './device-guard.ts';
import { deviceIdParams, deviceListSchema, deviceRegistrationSchema, deviceSchema, registerDeviceBody } from './schemas.ts';
import type { DeviceService, RegisterDeviceInput } from './service.ts';

const tags = ['devices'];
const security = securityOf.app;
const deviceAuth =
  'Authenticated by the device key: `Authorization: Device <JWT>`, a JWT signed by the device ' +
  '(header {typ:"tessera-device+jwt", alg:"ES256"|"EdDSA", kid:<device_id>}, claims {iat, exp ≤ iat+120, jti, htm, htu}), ' +
  'used once, for this method (htm) and path (htu). A refused one is 401 unauthorized with details.reason.';

export function deviceRoutes(
  app: FastifyInstance,
  deps: { devices: DeviceService; guards: AuthGuards; idempotency: Idempotency },
): void {
  const { devices, guards, idempotency } = deps;
  const deviceGuard = createDeviceGuard(app, devices);
  // A person may remove their device from an app that has been suspended.
  const leavingDeviceGuard = createDeviceGuard(app, devices, { inactiveApp: 'allowed' });

  app.post<{ Params: { user_id: string } }>(
    '/v1/users/:user_id/device-registrations',
    {
      onRequest: guards.app,
      schema: {
        tags,
        summary: 'Start a device registration',
        description:
          'A one-time registration token, valid for 10 minutes, with its tessera://register URI and a QR code of it ' +
          'for the person to scan with their authenticator. The user is created on first use. No body (or {}).',
        security,
        params: userIdParams,
        body: emptyBody,
        response: { 201: deviceRegistrationSchema, ...errorResponses(400, 401, 403, 422) },
      },
    },
    (request, reply) => {
      const appId = callingApp(request);
      return idempotency.run(request, reply, async () => ({
        status: 201,
        body: await devices.createRegistration(appId, request.params.user_id),
      }));
    },
  );

  app.post<{ Body: RegisterDeviceInput }>(
    '/v1/devices',
    {
      schema: {
        tags,
        summary: 'Register a device (called by the authenticator)',
        description:
          'The registration token is the credential. Creates an active push factor for the user, holding this public key. ' +
          'Unknown token: 404 registration_token_invalid; used or expired: 410 registration_token_used / registration_token_expired; ' +
          'a key already registered: 409 device_key_in_use. Nothing changes on a refusal.',
        body: registerDeviceBody,
        response: { 201: deviceSchema, ...errorResponses(400, 403, 404, 409, 410, 422) },
      },
    },
    // The token binds the idempotency record: only the holder of the token can replay its answer.
    (request, reply) => idempotency.run(request, reply, async () => ({ status: 201, body: await devices.register(request.body) })),
  );

  app.get(
    '/v1/device',
    {
      onRequest: deviceGuard,
      schema: { tags, summary: 'The calling device', description: deviceAuth, response: { 200: deviceSchema, ...errorResponses(401, 403) } },
    },
    (request) => devices.view(callingDevice(request)),
  );

  app.delete(
    '/v1/device',
    {
      onRequest: leavingDeviceGuard,
      schema: {
        tags,
        summary: 'Unregister the calling device',
        description: `Deletes the device and its push factor (factor.deleted follows), also while its app is suspended. ${deviceAuth}`,
        response: { 204: Type.Null(), ...errorResponses(401) },
      },
    },
    async (request, reply) => {
      const device = callingDevice(request);
      await devices.removeForApp(device.app_id, device.id);
      return reply.code(204).send();
    },
  );

  app.get<{ Params: { user_id: string } }>(
    '/v1/users/:user_id/devices',
    {
      onRequest: guards.app,
      schema: {
        tags,
        summary: "List a user's devices",
        security,
        params: userIdParams,
        response: { 200: deviceListSchema, ...errorResponses(401, 403, 404) },
      },
    },
    async (request) => ({ data: await devices.listForUser(callingApp(request), request.params.user_id) }),
  );

  app.get<{ Params: { device_id: string } }>(
    '/v1/devices/:device_id',
    {
      onRequest: guards.app,
      schema: {
        tags,
        summary: 'Get a device',
        description: 'Another app’s device is 404.',
        security,
        params: deviceIdParams,
        response: { 200: deviceSchema, ...errorResponses(401, 403, 404) },
      },
    },
    (request) => devices.getForApp(callingApp(request), request.params.device_id),
  );

  app.delete<{ Params: { device_id: string } }>(
    '/v1/devices/:device_id',
    {
      onRequest: guards.app,
      schema: {
        tags,
        summary: 'Remove a device',
        description: 'Deletes the device and its push factor (factor.deleted follows). Another app’s device is 404.',
        security,
        params: deviceIdParams,
        response: { 204: Type.Null(), ...errorResponses(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await devices.removeForApp(callingApp(request), request.params.device_id);
      return reply.code(204).send();
    },
  );
}
