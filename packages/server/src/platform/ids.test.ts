import { describe, expect, it } from 'vitest';
import { idTimeMs, isId, newId } from './ids.ts';

describe('ids', () => {
  it('are prefixed by kind, unique, and sort by creation time', async () => {
    const first = newId('app');
    await new Promise((resolve) => setTimeout(resolve, 2));
    const ids = Array.from({ length: 1000 }, () => newId('app'));
    expect(first).toMatch(/^app_[0-9a-hjkmnp-tv-z]{26}$/);
    expect(new Set(ids).size).toBe(1000);
    expect(ids.every((id) => id > first)).toBe(true);
    expect(isId('app', first)).toBe(true);
    expect(isId('fac', first)).toBe(false);
    expect(isId('app', 'app_short')).toBe(false);
  });

  it('carry their creation time', () => {
    const before = Date.now();
    const id = newId('qrl');
    expect(idTimeMs(id)).toBeGreaterThanOrEqual(before);
    expect(idTimeMs(id)).toBeLessThanOrEqual(Date.now());
  });
});
