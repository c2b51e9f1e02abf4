import { describe, expect, it } from 'vitest';
import { InProcessBus, type BusMessage, type RealtimeBus } from './bus.ts';
import { killRedisClients } from '../../../test/redis-clients.ts';
import { RedisBus } from './redis-bus.ts';

function nextMessage(bus: RealtimeBus, topic: string): Promise<BusMessage> {
  return new Promise((resolve) => {
    const unsubscribe = bus.subscribe(topic, (message) => {
      unsubscribe();
      resolve(message);
    });
  });
}

describe('in-process bus', () => {
  it('delivers to every subscriber of a topic, and to none after they leave', async () => {
    const bus = new InProcessBus();
    const got: string[] = [];
    const leave = bus.subscribe('t', (m) => got.push(`a:${m.n}`));
    bus.subscribe('t', (m) => got.push(`b:${m.n}`));
    bus.subscribe('other', (m) => got.push(`other:${m.n}`));
    await bus.publish('t', { n: 1 });
    await new Promise((resolve) => setTimeout(resolve, 0));
    leave();
    await bus.publish('t', { n: 2 });
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(got).toEqual(['a:1', 'b:1', 'b:2']);
  });

  it('keeps delivering when one handler throws', async () => {
    const errors: unknown[] = [];
    const bus = new InProcessBus((error) => errors.push(error));
    bus.subscribe('t', () => {
      throw new Error('bad handler');
    });
    const received = nextMessage(bus, 't');
    await bus.publish('t', { ok: true });
    expect(await received).toEqual({ ok: true });
    expect(errors).toHaveLength(1);
  });
});

describe.runIf(process.env.TESSERA_TEST_REDIS_URL)('Redis bus', () => {
  it('carries a message from one instance to another', async () => {
    const url = process.env.TESSERA_TEST_REDIS_URL as string;
    const [a, b] = await Promise.all([RedisBus.connect(url), RedisBus.connect(url)]);
    try {
      const topic = `test.${Math.random()}`;
      const received = nextMessage(b, topic);
      await new Promise((resolve) => setTimeout(resolve, 100)); // let SUBSCRIBE reach Redis
      await a.publish(topic, { challenge_id: 'chl_1', status: 'approved' });
      expect(await received).toEqual({ challenge_id: 'chl_1', status: 'approved' });
      await a.ping();
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('reports a gap when its subscription connection drops, and carries messages again after it', async () => {
    const url = process.env.TESSERA_TEST_REDIS_URL as string;
    const name = `tessera-bus-test-${process.pid}-${Math.random().toString(36).slice(2)}`;
    const [a, b] = await Promise.all([RedisBus.connect(url), RedisBus.connect(url, () => {}, name)]);
    try {
      const topic = `test.${Math.random()}`;
      const gaps: number[] = [];
      b.onGap(() => gaps.push(Date.now()));
      const leave = b.subscribe(topic, () => {});
      await b.subscribed(topic);
      expect(gaps).toEqual([]);
      const gap = new Promise<void>((resolve) => b.onGap(resolve));
      expect(await killRedisClients(`${name}:subscriber`)).toBe(1);
      await gap;
      expect(gaps).toHaveLength(1);
      // ioredis resubscribed before the gap was reported: a message published now arrives.
      const received = nextMessage(b, topic);
      await a.publish(topic, { after: 'gap' });
      expect(await received).toEqual({ after: 'gap' });
      leave();
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
