import type { Redis } from 'ioredis';

export interface RateDecision {
  allowed: boolean;
  retryAfterSeconds: number;
}

/** Counts hits per key in fixed windows: in memory for one instance, in Redis for several. */
export interface RateLimiter {
  hit(key: string, limit: number, windowSeconds: number): Promise<RateDecision>;
  /** Takes back one hit of the current window: for a call that was refused for another reason and did nothing. */
  release(key: string): Promise<void>;
}

export class InMemoryRateLimiter implements RateLimiter {
  readonly #windows = new Map<string, { count: number; resetAt: number }>();

  async hit(key: string, limit: number, windowSeconds: number): Promise<RateDecision> {
    const now = Date.now();
    let window = this.#windows.get(key);
    if (!window || window.resetAt <= now) {
      if (this.#windows.size > 100_000) this.#sweep(now);
      window = { count: 0, resetAt: now + windowSeconds * 1000 };
      this.#windows.set(key, window);
    }
    window.count++;
    return { allowed: window.count <= limit, retryAfterSeconds: Math.ceil((window.resetAt - now) / 1000) };
  }

  async release(key: string): Promise<void> {
    const window = this.#windows.get(key);
    if (window && window.resetAt > Date.now() && window.count > 0) window.count--;
  }

  #sweep(now: number): void {
    for (const [key, window] of this.#windows) if (window.resetAt <= now) this.#windows.delete(key);
  }
}

// INCR, and start the window's clock on its first hit; answers the count and the milliseconds left.
const hitScript = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {count, redis.call('PTTL', KEYS[1])}`;

// DECR only a window that is still open and counted: never a negative count, never a window of its own.
const releaseScript = `
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count > 0 then redis.call('DECR', KEYS[1]) end
return 0`;

/** Counts in Redis, on a connection the server owns (and closes). */
export class RedisRateLimiter implements RateLimiter {
  constructor(private readonly redis: Redis) {}

  async hit(key: string, limit: number, windowSeconds: number): Promise<RateDecision> {
    const [count, ttl] = (await this.redis.eval(hitScript, 1, `tessera:rate:${key}`, windowSeconds * 1000)) as [number, number];
    return { allowed: count <= limit, retryAfterSeconds: Math.max(1, Math.ceil(ttl / 1000)) };
  }

  async release(key: string): Promise<void> {
    await this.redis.eval(releaseScript, 1, `tessera:rate:${key}`);
  }
}
