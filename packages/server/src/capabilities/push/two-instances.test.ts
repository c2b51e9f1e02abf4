import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signDeviceDecision } from '@tessera/contracts';
import { startTestServer } from '../../../test/harness.ts';
import { client } from '../../../test/http.ts';
import { openDeviceStream } from '../../../test/device-stream.ts';
import { registerPushDevice } from '../../../test/push-device.ts';

// Two stateless instances behind one load balancer share PostgreSQL and Redis: a device connected to
// one hears of a challenge created on the other, and its answer on the first wakes a long-poll on the other.
describe.runIf(process.env.TESSERA_TEST_DATABASE_URL && process.env.TESSERA_TEST_REDIS_URL)('push across two instances', () => {
  let first: Awaited<ReturnType<typeof startTestServer>>;
  let second: Awaited<ReturnType<typeof startTestServer>>;

  beforeAll(async () => {
    first = await startTestServer('postgres');
    second = await startTestServer('postgres', { storage: first.storage });
  });
  afterAll(async () => {
    await second?.stop();
    await first?.stop();
  });

  it('delivers a challenge made on one instance to a device connected to the other, and carries the answer back', async () => {
    const app = (await client(first.url).post('/v1/apps', { name: 'Shared' })).body;
    const onFirst = client(first.url, { app });
    const onSecond = client(second.url, { app });
    const device = await registerPushDevice(onFirst, first.url);
    const stream = await openDeviceStream(first.url, device);
    try {
      const created = (await onSecond.post(`/v1/users/${device.userId}/challenges`, { number_matching: true })).body;
      const delivered = await stream.next('challenge', (message) => message.challenge.challenge_id === created.challenge_id);
      expect(delivered.challenge.number_choices).toContain(created.number);

      const waiting = onSecond.get(`/v1/challenges/${created.challenge_id}?wait=10`);
      const signed = await signDeviceDecision(device.privateKey, { challenge_id: created.challenge_id, decision: 'approve', number: created.number });
      const answered = await device.call('POST', `/v1/device/challenges/${created.challenge_id}/answer`, { body: { signed_decision: signed } });
      expect(answered.body.status).toBe('approved');
      expect((await waiting).body.status).toBe('approved');
      await stream.next('notification', (message) => message.notification.challenge_id === created.challenge_id);
    } finally {
      stream.close();
    }
  });
});
