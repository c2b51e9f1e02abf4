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
 * order. If it throws for a batch of several, each item runs again alone, so that an item the database
 * refuses fails only its own request.
 */
export class Batcher<I, O> {
  readonly #queue: Array<Pending<I, O>> = [];
  #running = false;
  // Bound to the context the batcher was made in: a batch never joins the transaction of the request that started it.
  readonly #start = AsyncResource.bind(() => void this.#drain());

  /**
   * `inCallersScope`: while it holds for the caller (the caller is in a database transaction, say), an item runs at
   * once, alone, in the caller's context instead of waiting for a batch.
   */
  constructor(
    private readonly run: (items: I[]) => Promise<O[]>,
    private readonly inCallersScope: () => boolean = () => false,
    private readonly maxBatch = 256,
  ) {}

  submit(item: I): Promise<O> {
    if (this.inCallersScope()) return this.#runOne(item);
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
          if (batch.length === 1) (batch[0] as Pending<I, O>).reject(error);
          else for (const pending of batch) await this.#runAlone(pending);
        }
        // The callers' continuations run first, so that a caller's next step through this batcher (a track's
        // write after its read) joins the very next batch, not the one after it.
        await null;
      }
    } finally {
      this.#running = false;
    }
  }

  async #runOne(item: I): Promise<O> {
    return (await this.run([item]))[0] as O;
  }

  async #runAlone(pending: Pending<I, O>): Promise<void> {
    try {
      pending.resolve(await this.#runOne(pending.item));
    } catch (error) {
      pending.reject(error);
    }
  }
}
