import { hostname } from 'node:os';
import { Redis } from 'ioredis';

/**
 * Drops the Redis connections named `name` (CLIENT KILL), as a network fault would; answers how many there were.
 * ioredis then reconnects them by itself.
 */
export async function killRedisClients(name: string): Promise<number> {
  const redis = new Redis(process.env.TESSERA_TEST_REDIS_URL as string);
  try {
    const list = (await redis.call('CLIENT', 'LIST')) as string;
    const ids = list
      .split('\n')
      .filter((line) => line.includes(` name=${name} `))
      .map((line) => /\bid=(\d+)/.exec(line)?.[1] as string);
    for (const id of ids) await redis.call('CLIENT', 'KILL', 'ID', id);
    return ids.length;
  } finally {
    redis.disconnect();
  }
}

/** The name of a test server's bus subscription connection (server.ts names it by host and port). */
export function busSubscriberName(serverUrl: string): string {
  return `tessera-bus:${hostname()}:${new URL(serverUrl).port}:subscriber`;
}
