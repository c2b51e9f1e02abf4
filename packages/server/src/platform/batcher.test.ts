import { describe, expect, it } from 'vitest';
import { Batcher } from './batcher.ts';

describe('Batcher', () => {
  it('runs a lone item at once and groups the items that arrive while a batch runs', async () => {
    const batches: number[][] = [];
    const batcher = new Batcher(async (items: number[]) => {
      batches.push(items);
      await new Promise((resolve) => setTimeout(resolve, 20));
      return items.map((item) => item * 10);
    });
    const first = batcher.submit(1);
    const rest = [2, 3, 4].map((item) => batcher.submit(item));
    expect(await Promise.all([first, ...rest])).toEqual([10, 20, 30, 40]);
    expect(batches).toEqual([[1], [2, 3, 4]]);
  });

  it("puts a caller's next step, submitted as its first one is answered, in the very next batch", async () => {
    const batches: string[][] = [];
    const batcher = new Batcher(async (items: string[]) => {
      batches.push(items);
      await new Promise((resolve) => setTimeout(resolve, 20));
      return items;
    });
    // Two steps each, as a track's read then write: the second step is submitted when the first is answered.
    const twoSteps = async (name: string) => {
      await batcher.submit(`${name} read`);
      return batcher.submit(`${name} write`);
    };
    const first = twoSteps('a');
    const second = twoSteps('b');
    await Promise.all([first, second]);
    expect(batches).toEqual([['a read'], ['b read', 'a write'], ['b write']]);
  });

  it('runs the items of a refused batch alone, so that only the bad one fails', async () => {
    const batches: string[][] = [];
    const batcher = new Batcher(async (items: string[]) => {
      batches.push(items);
      if (items.includes('bad')) throw new Error('refused');
      return items.map((item) => item.toUpperCase());
    });
    const blocker = batcher.submit('first');
    const results = await Promise.allSettled(['a', 'bad', 'b'].map((item) => batcher.submit(item)));
    await blocker;
    expect(results).toEqual([
      { status: 'fulfilled', value: 'A' },
      { status: 'rejected', reason: new Error('refused') },
      { status: 'fulfilled', value: 'B' },
    ]);
    expect(batches).toEqual([['first'], ['a', 'bad', 'b'], ['a'], ['bad'], ['b']]);
  });

  it("runs an item submitted in the caller's scope at once, alone, beside a batch under way", async () => {
    const batches: string[][] = [];
    let callersScope = false;
    const batcher = new Batcher(
      async (items: string[]) => {
        batches.push([...items]);
        await new Promise((resolve) => setTimeout(resolve, 20));
        return items;
      },
      () => callersScope,
    );
    const running = batcher.submit('batched');
    callersScope = true;
    const alone = batcher.submit('alone');
    callersScope = false;
    expect(batches).toEqual([['batched'], ['alone']]);
    expect(await Promise.all([running, alone])).toEqual(['batched', 'alone']);
  });
});
