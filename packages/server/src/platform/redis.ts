import { Redis } from 'ioredis';

/** A Redis connection with the server's settings: a few retries, a short connect timeout, errors reported. */
export function openRedis(url: string, onError: (error: unknown) => void, options: { lazyConnect?: boolean; connectionName?: string } = {}): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: 2, connectTimeout: 3_000, ...options });
  redis.on('error', onError);
  return redis;
}

/** Closes politely (QUIT), or at once when Redis cannot be reached. */
export async function closeRedis(redis: Redis): Promise<void> {
  await redis.quit().catch(() => redis.disconnect());
}
