import type { Redis } from 'ioredis';

/**
 * Remembers single-use values (the `jti` of a signed request) until they expire: in memory for one
 * instance, in Redis for several, so that a value used on one instance is refused on every other.
 */
export interface NonceStore {
  /** True the first time `key` is claimed within `ttlMs`; false for a replay. Atomic. */
  claim(key: string, ttlMs: number): Promise<boolean>;
}

export class InMemoryNonceStore implements NonceStore {
  readonly #expiries = new Map<string, number>();
  /**
   * Expired values are forgotten when the map holds this many, which then becomes twice what is left (at least
   * `minSweepSize`): a sweep visits every entry, so sweeping at a fixed size would cost every claim the whole map
   * once more live values than that are held.
   */
  #sweepAtSize: number;

  constructor(private readonly minSweepSize = 100_000) {
    this.#sweepAtSize = minSweepSize;
  }

  get size(): number {
    return this.#expiries.size;
  }

  async claim(key: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    const expiresAt = this.#expiries.get(key);
    if (expiresAt !== undefined && expiresAt > now) return false;
    if (this.#expiries.size >= this.#sweepAtSize) this.#sweep(now);
    this.#expiries.set(key, now + Math.max(1, ttlMs));
    return true;
  }

  #sweep(now: number): void {
    for (const [key, expiresAt] of this.#expiries) if (expiresAt <= now) this.#expiries.delete(key);
    this.#sweepAtSize = Math.max(this.minSweepSize, 2 * this.#expiries.size);
  }
}

/** Remembers in Redis, on a connection the server owns (and closes). */
export class RedisNonceStore implements NonceStore {
  constructor(private readonly redis: Redis) {}

  async claim(key: string, ttlMs: number): Promise<boolean> {
    // SET NX answers OK only to the first writer; PX lets Redis forget the value when it has expired.
    const set = await this.redis.set(`tessera:nonce:${key}`, '1', 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX');
    return set === 'OK';
  }
}
