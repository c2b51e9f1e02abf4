import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { InMemoryNonceStore } from './nonce-store.ts';

describe('in-memory nonce store', () => {
  it('accepts a value once until it expires, then again', async () => {
    const store = new InMemoryNonceStore();
    expect(await store.claim('a', 50)).toBe(true);
    expect(await store.claim('a', 50)).toBe(false);
    await sleep(60);
    expect(await store.claim('a', 50)).toBe(true);
  });

  it('forgets expired values when it grows, never live ones, and then not before it holds twice as many', async () => {
    const store = new InMemoryNonceStore(10);
    for (let i = 0; i < 5; i++) await store.claim(`short-${i}`, 20);
    for (let i = 0; i < 5; i++) await store.claim(`long-${i}`, 60_000);
    await sleep(30);
    await store.claim('live-0', 60_000); // the 10th value: the 5 expired ones go
    expect(store.size).toBe(6);
    for (let i = 0; i < 5; i++) expect(await store.claim(`long-${i}`, 60_000)).toBe(false);
    // 5 were left: the next sweep comes at twice that, 10 values, expired or not.
    for (let i = 0; i < 3; i++) await store.claim(`short-again-${i}`, 20);
    await sleep(30);
    await store.claim('live-1', 60_000);
    expect(store.size).toBe(10);
    await store.claim('live-2', 60_000);
    expect(store.size).toBe(8);
  });
});
