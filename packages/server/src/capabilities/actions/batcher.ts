import { AsyncResource } from 'node:async_hooks';

interface Pending<I, O> {
  item: I;
  resolve(value: O): void;
  reject(error: unknown): void;
}

/**
 * Group commit: items submitted while a batch is running wait and run together as the next batch, so that
 * under load many requests share one statement (and one commit), while a lone request runs at once. One
 * batch at a time: on this 2-core VM each statement's round trip costs more CPU than the rows in it
 * (bench/RESULTS.md), so fewer, larger batches beat parallel ones. `run` answers one result per item, in
 * order; if it throws, every item of that batch fails with the error.
 */
export class Batcher<I, O> {
  readonly #queue: Array<Pending<I, O>> = [];
  #running = false;
  // Bound to the context the batcher was made in: a batch never joins the transaction of the request that started it.
  readonly #start = AsyncResource.bind(() => void this.#drain());

  constructor(
    private readonly run: (items: I[]) => Promise<O[]>,
    private readonly maxBatch = 256,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      if (!this.#running) this.#start();
    });
  }

  async #drain(): Promise<void> {
    this.#running = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, this.maxBatch);
        try {
          const results = await this.run(batch.map((pending) => pending.item));
          batch.forEach((pending, index) => pending.resolve(results[index] as O));
        } catch (error) {
          for (const pending of batch) pending.reject(error);
        }
      }
    } finally {
      this.#running = false;
    }
  }
}
