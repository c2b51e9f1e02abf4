import { describe, expect, it } from 'vitest';
import { refusingServer, silentServer } from '../test/unreachable-server.ts';
import { keepStreamOpen } from './device-stream.ts';
import { newKeyPair, type Registration } from './identity.ts';

async function registrationOn(server: string, deviceId = 'dev_test'): Promise<Registration> {
  return {
    ...(await newKeyPair()),
    device_id: deviceId,
    server,
    app_id: 'app_test',
    app_name: 'Test',
    user_id: 'user',
    registered_at: new Date().toISOString(),
  };
}

describe('the device stream reconnecting', () => {
  it('spreads the retries of devices dropped together over ±50 % of the delay, which doubles', async () => {
    const server = await refusingServer();
    const drops = Array.from({ length: 12 }, async (_, index) => {
      const registration = await registrationOn(server, `dev_${index}`);
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

  it('gives up a connection a server never answers after 10 s, and says so, instead of waiting for ever', { timeout: 20_000 }, async () => {
    const server = await silentServer();
    try {
      const registration = await registrationOn(server.url);
      const startedAt = Date.now();
      const reason = await new Promise<string>((resolve, reject) => {
        const stop = keepStreamOpen(registration, {
          message: () => reject(new Error('a silent server sends nothing')),
          removed: () => reject(new Error('a silent server refuses nothing')),
          dropped(why) {
            stop();
            resolve(why);
          },
        });
      });
      expect(reason).toMatch(/timed out/);
      expect(Date.now() - startedAt).toBeLessThan(12_000);
    } finally {
      await server.close();
    }
  });
});
