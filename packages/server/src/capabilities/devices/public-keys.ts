import type { DevicePublicJwk } from '@tessera/contracts';
import type { DeviceRecord } from './store.ts';

/**
 * One JWK object per recently seen device. jose keeps the key it imports from a JWK for that object, so a device's
 * request token and its signed decision, and its next requests, import the key once instead of at every verify.
 * A device's key never changes (another key is another device); at most `max` are kept, the oldest dropped first.
 */
export class DevicePublicKeys {
  readonly #keys = new Map<string, { thumbprint: string; jwk: DevicePublicJwk }>();

  constructor(private readonly max = 10_000) {}

  /** The device with the JWK object this instance holds for its key. */
  stable(device: DeviceRecord): DeviceRecord {
    const known = this.#keys.get(device.id);
    if (known?.thumbprint === device.key_thumbprint) return { ...device, public_key: known.jwk };
    if (this.#keys.size >= this.max) this.#keys.delete(this.#keys.keys().next().value as string);
    this.#keys.set(device.id, { thumbprint: device.key_thumbprint, jwk: device.public_key });
    return device;
  }
}
