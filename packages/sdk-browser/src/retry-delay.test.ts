import { describe, expect, it } from 'vitest';
import { maxRetryDelayMs, retryDelayMs } from './retry-delay.ts';

describe('the QR widget’s reconnection delay', () => {
  it('doubles from 0.5 s and stops growing at 15 s, each within ±50 %', () => {
    const bounds = (attempt: number) => [retryDelayMs(attempt, () => 0), retryDelayMs(attempt, () => 0.999_999)];
    expect(bounds(0).map(Math.round)).toEqual([250, 750]);
    expect(bounds(1).map(Math.round)).toEqual([500, 1500]);
    expect(bounds(4).map(Math.round)).toEqual([4000, 12000]);
    for (const attempt of [5, 6, 20, 1000]) expect(bounds(attempt).map(Math.round)).toEqual([maxRetryDelayMs / 2, maxRetryDelayMs * 1.5]);
  });

  it('spreads the browsers of one restart over the whole window', () => {
    const delays = Array.from({ length: 2000 }, () => retryDelayMs(3));
    const [low, high] = [Math.min(...delays), Math.max(...delays)];
    expect(low).toBeGreaterThanOrEqual(2000);
    expect(high).toBeLessThan(6000);
    // 2,000 browsers: the earliest and the latest come back more than 3.5 s apart, in many distinct instants.
    expect(high - low).toBeGreaterThan(3500);
    expect(new Set(delays.map((delay) => Math.floor(delay / 100))).size).toBe(40);
  });
});
