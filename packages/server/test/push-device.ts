import { exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { expect } from 'vitest';
import { signDeviceRequestToken, type DeviceAlgorithm } from '@tessera/contracts';
import { client, type Client, type Reply } from './http.ts';

export interface DeviceKeys {
  alg: DeviceAlgorithm;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: Record<string, unknown>;
}

/** A fresh device key pair, as an authenticator makes one for each registration. */
export async function deviceKeys(alg: DeviceAlgorithm = 'ES256'): Promise<DeviceKeys> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const { kty, crv, x, y } = await exportJWK(publicKey);
  return { alg, privateKey, publicKey, publicJwk: { kty, crv, x, ...(y ? { y } : {}) } };
}

export interface PushDevice extends DeviceKeys {
  deviceId: string;
  factorId: string;
  userId: string;
  /** A request signed as this device (a fresh token each time unless `authorization` is given). */
  call<T = any>(method: string, path: string, options?: { body?: unknown; authorization?: string }): Promise<Reply<T>>;
  /** `Device <JWT>` for one request. */
  authorization(method: string, path: string, options?: { nowMs?: number; lifetimeSeconds?: number; signWith?: CryptoKey }): Promise<string>;
}

let counter = 0;

/** The token from a tessera://register URI, read the way an authenticator reads it. */
export function tokenOf(registrationUri: string): string {
  const token = new URL(registrationUri).searchParams.get('token');
  expect(token).toBeTruthy();
  return token as string;
}

/** Registers a new device with its own key for `userId` (a new user by default), through the public API. */
export async function registerPushDevice(
  api: Client,
  baseUrl: string,
  options: { userId?: string; alg?: DeviceAlgorithm; name?: string } = {},
): Promise<PushDevice> {
  const userId = options.userId ?? `device-user-${process.pid}-${++counter}-${Math.random().toString(36).slice(2, 8)}`;
  const registration = await api.post(`/v1/users/${encodeURIComponent(userId)}/device-registrations`);
  expect(registration.status).toBe(201);
  const keys = await deviceKeys(options.alg);
  const anonymous = client(baseUrl, null);
  const registered = await anonymous.post('/v1/devices', {
    registration_token: tokenOf(registration.body.registration_uri),
    public_key: keys.publicJwk,
    ...(options.name ? { name: options.name } : {}),
  });
  expect(registered.status).toBe(201);
  const deviceId: string = registered.body.device_id;
  const authorization: PushDevice['authorization'] = async (method, path, signOptions = {}) =>
    `Device ${await signDeviceRequestToken(signOptions.signWith ?? keys.privateKey, { deviceId, method, path, ...signOptions })}`;
  return {
    ...keys,
    deviceId,
    factorId: registered.body.factor_id,
    userId,
    authorization,
    async call(method, path, callOptions = {}) {
      const header = callOptions.authorization ?? (await authorization(method, path.split('?')[0] as string));
      return anonymous.call(method, path, { body: callOptions.body, headers: { authorization: header } });
    },
  };
}
