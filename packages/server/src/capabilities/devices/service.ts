import type { App, Device, DeviceApp, DeviceRegistration, ErrorCode } from '@tessera/contracts';
import type { Database } from '../../platform/database/database.ts';
import { ApiError } from '../../platform/http/api-error.ts';
import { isId, newId } from '../../platform/ids.ts';
import type { NonceStore } from '../../platform/nonce-store.ts';
import { randomToken, sha256 } from '../../platform/secrets.ts';
import type { AppService } from '../apps/service.ts';
import type { FactorService } from '../factors/service.ts';
import type { UserService } from '../users/service.ts';
import type { Outbox } from '../webhooks/outbox.ts';
import { DeviceKeyError, parseDevicePublicKey } from './device-key.ts';
import { checkIdentityProof } from './identity-proof.ts';
import { DeviceAuthError, defaultDeviceClockSkewMs, deviceIdOf, removedDeviceMessage, verifyDeviceRequestToken } from './device-request-token.ts';
import { DeviceStore, type DeviceRecord } from './store.ts';
import { qrDataUrl } from '../../platform/qr-code.ts';

export interface DeviceOptions {
  /** How long a registration token stays valid (10 minutes; tests make it short). */
  registrationTtlSeconds: number;
}

const tokenErrors = {
  unknown: 'registration_token_invalid',
  used: 'registration_token_used',
  expired: 'registration_token_expired',
} as const satisfies Record<string, ErrorCode>;

export const defaultDeviceOptions: DeviceOptions = { registrationTtlSeconds: 600 };

/** How often a device's last_seen_at moves: a request within this time of the last one writes nothing. */
const lastSeenResolutionMs = 60_000;

export interface RegisterDeviceInput {
  registration_token: string;
  public_key: unknown;
  name?: string;
  identity_key?: unknown;
  identity_proof?: string;
}

/**
 * Devices: the authenticator's key behind a push factor. Registration trades a one-time token (which
 * the app showed as a QR code) and a public key for an active push factor; afterwards the device
 * proves itself on every request with a token signed by that key (device-request-token.ts), so the
 * server holds no secret of the device. Deleting the push factor deletes the device.
 */
export class DeviceService {
  readonly #store: DeviceStore;
  readonly #options: DeviceOptions;
  // A public URL with a path (behind a proxy that strips it): the device signs the path it called.
  readonly #publicPathPrefix: string;

  constructor(
    private readonly db: Database,
    private readonly apps: AppService,
    private readonly users: UserService,
    private readonly factors: FactorService,
    private readonly outbox: Outbox,
    private readonly nonces: NonceStore,
    private readonly publicUrl: string,
    options: Partial<DeviceOptions> = {},
  ) {
    this.#store = new DeviceStore(db);
    this.#options = { ...defaultDeviceOptions, ...options };
    this.#publicPathPrefix = new URL(publicUrl).pathname.replace(/\/+$/, '');
  }

  /** A one-time token (256 random bits, stored as its SHA-256) with its tessera://register URI and QR code. */
  async createRegistration(appId: string, userId: string): Promise<DeviceRegistration> {
    const token = randomToken('drt_');
    const expiresAt = await this.db.transaction(async () => {
      await this.users.upsert(appId, userId, {});
      return this.#store.insertRegistration(sha256(token), appId, userId, this.#options.registrationTtlSeconds);
    });
    const uri = `tessera://register?server=${encodeURIComponent(this.publicUrl)}&token=${encodeURIComponent(token)}`;
    return {
      registration_token: token,
      registration_uri: uri,
      qr_data_url: qrDataUrl(uri),
      expires_at: expiresAt.toISOString(),
    };
  }

  /** Forgets registrations that ended more than a day ago (housekeeping); answers how many. */
  purgeEndedRegistrations(): Promise<number> {
    return this.#store.purgeEndedRegistrations();
  }

  /**
   * Redeems a registration token for a device. The keys are checked first (an identity key with the proof that the
   * caller holds it: identity-proof.ts); then, in one transaction,
   * the token is used up, the push factor and the device are created and `factor.activated` is
   * recorded: any refusal rolls all of it back, the token included.
   */
  async register(input: RegisterDeviceInput): Promise<Device> {
    const keyOf = (jwk: unknown, field: string) => {
      try {
        return parseDevicePublicKey(jwk, field);
      } catch (error) {
        throw error instanceof DeviceKeyError ? ApiError.invalid(error.field, error.reason) : error;
      }
    };
    const key = keyOf(input.public_key, 'public_key');
    const identity = input.identity_key === undefined ? null : keyOf(input.identity_key, 'identity_key');
    if (identity) {
      const expected = { registrationToken: input.registration_token, deviceKey: key, nowMs: Date.now() };
      await checkIdentityProof(input.identity_proof, identity, expected);
    } else if (input.identity_proof !== undefined) {
      throw ApiError.invalid('identity_key', 'is required with identity_proof');
    }
    const deviceId = newId('dev');
    const factorId = newId('fac');
    const name = input.name ?? null;
    return this.db.transaction(async () => {
      const redeemed = await this.#store.redeemRegistration(sha256(input.registration_token), deviceId);
      if (!redeemed.ok) throw new ApiError(tokenErrors[redeemed.reason]);
      const { appId, userId } = redeemed;
      const app = await this.apps.get(appId);
      if (!app.active) throw new ApiError('app_inactive');
      // Under the user's lock, so that registrations at once cannot take the user past the most factors a user may hold.
      await this.users.lock(appId, userId);
      await this.factors.makeRoom(appId, userId);
      await this.#store.insertPushFactor(factorId, appId, userId, name);
      const device = await this.#store.insertDevice({
        id: deviceId,
        appId,
        userId,
        factorId,
        publicKey: key.jwk,
        thumbprint: key.thumbprint,
        identityThumbprint: identity?.thumbprint ?? null,
        alg: key.alg,
        name,
      });
      if (!device) throw new ApiError('device_key_in_use');
      await this.outbox.enqueue(appId, 'factor.activated', await this.factors.get(appId, factorId));
      return viewOf(device, app);
    });
  }

  /**
   * The device that signed this request (`Authorization: Device <JWT>`), or a DeviceAuthError (or 403 app_inactive
   * when its app is suspended, unless `inactiveApp` is 'allowed'). The jti is claimed last, once the signature is known
   * to be the device's, so nobody else can burn it.
   */
  async authenticate(
    authorization: string | undefined,
    method: string,
    path: string,
    inactiveApp: 'refused' | 'allowed' = 'refused',
  ): Promise<DeviceRecord> {
    const match = /^Device +(\S+)$/i.exec(authorization ?? '');
    if (!match) throw new DeviceAuthError('missing', 'Use "Authorization: Device <JWT signed by the device key>".');
    const jwt = match[1] as string;
    const deviceId = deviceIdOf(jwt);
    const device = isId('dev', deviceId) ? await this.#store.find(deviceId) : null;
    if (!device) throw new DeviceAuthError('unknown_device', removedDeviceMessage);
    const nowMs = Date.now();
    const paths = this.#publicPathPrefix ? [path, this.#publicPathPrefix + path] : [path];
    const verified = await verifyDeviceRequestToken({ jwk: device.public_key, alg: device.alg }, jwt, { method, paths, nowMs });
    // A suspended app's devices answer nothing either (its own calls get the same 403); they may only leave.
    if (inactiveApp === 'refused' && !(await this.apps.get(device.app_id)).active) throw new ApiError('app_inactive');
    const ttlMs = verified.exp * 1000 + defaultDeviceClockSkewMs - nowMs;
    if (!(await this.nonces.claim(`device:${device.id}:${verified.jti}`, ttlMs))) {
      throw new DeviceAuthError('replayed', 'This device token was already used: sign a new one for each request.');
    }
    const lastSeenMs = device.last_seen_at?.getTime();
    if (lastSeenMs !== undefined && nowMs - lastSeenMs < lastSeenResolutionMs) return device;
    return (await this.#store.touch(device.id)) ?? device;
  }

  async view(device: DeviceRecord): Promise<Device> {
    return viewOf(device, await this.apps.get(device.app_id));
  }

  async getForApp(appId: string, deviceId: string): Promise<Device> {
    const device = await this.#store.findForApp(appId, deviceId);
    if (!device) throw ApiError.notFound('Device');
    return this.view(device);
  }

  async listForUser(appId: string, userId: string): Promise<Device[]> {
    await this.users.get(appId, userId);
    const app = await this.apps.get(appId);
    return (await this.#store.listForUser(appId, userId)).map((device) => viewOf(device, app));
  }

  /** Unregisters a device of the app: deletes its push factor (with a factor.deleted event), which deletes the device. */
  async removeForApp(appId: string, deviceId: string): Promise<void> {
    await this.db.transaction(async () => {
      const device = await this.#store.findForApp(appId, deviceId);
      if (!device) throw ApiError.notFound('Device');
      await this.factors.remove(appId, device.factor_id);
    });
  }
}

function viewOf(device: DeviceRecord, app: App): Device {
  return {
    device_id: device.id,
    factor_id: device.factor_id,
    user_id: device.user_id,
    app: appOnDevice(app),
    name: device.name,
    alg: device.alg,
    created_at: device.created_at.toISOString(),
    last_seen_at: device.last_seen_at ? device.last_seen_at.toISOString() : null,
  };
}

/** The app as an authenticator shows it. */
export function appOnDevice(app: App): DeviceApp {
  return { app_id: app.app_id, display_name: app.branding.display_name ?? app.issuer_name ?? app.name, logo: app.branding.logo };
}
