import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { keepStreamOpen } from './device-stream.ts';
import { newKeyPair, type Registration } from './identity.ts';

/** A local port nobody listens on: every connection is refused at once. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('the device stream reconnecting', () => {
  it('spreads the retries of devices dropped together over ±50 % of the delay, which doubles', async () => {
    const server = `http://127.0.0.1:${await closedPort()}`;
    const keys = await newKeyPair();
    const drops = Array.from({ length: 12 }, (_, index) => {
      const registration: Registration = {
        ...keys,
        device_id: `dev_${index}`,
        server,
        app_id: 'app_test',
        app_name: 'Test',
        user_id: 'user',
        registered_at: new Date().toISOString(),
      };
      const retries: number[] = [];
      return new Promise<number[]>((resolve, reject) => {
        const stop = keepStreamOpen(registration, {
          message: () => reject(new Error('no server: no message')),
          removed: () => reject(new Error('no server: not removed')),
          dropped(reason, retryInMs) {
            expect(reason).toMatch(/ECONNREFUSED/);
            retries.push(retryInMs);
            if (retries.length === 2) {
              stop();
              resolve(retries);
            }
          },
        });
      });
    });
    const retries = await Promise.all(drops);
    const first = retries.map(([delay]) => delay as number);
    const second = retries.map(([, delay]) => delay as number);
    expect(Math.min(...first)).toBeGreaterThanOrEqual(500);
    expect(Math.max(...first)).toBeLessThanOrEqual(1500);
    expect(Math.min(...second)).toBeGreaterThanOrEqual(1000);
    expect(Math.max(...second)).toBeLessThanOrEqual(3000);
    // Twelve devices do not come back in one instant (without the spread, all twelve would wait exactly 1 s).
    expect(Math.max(...first) - Math.min(...first)).toBeGreaterThan(250);
  });
});
