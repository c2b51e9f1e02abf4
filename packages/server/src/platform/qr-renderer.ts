import { Worker } from 'node:worker_threads';

type Pending = { resolve: (urls: string[]) => void; reject: (error: Error) => void };

/**
 * Draws compact QR codes (qrDataUrl) on a worker thread. Thousands of waiting browsers make a steady stream of
 * them, each new code about 0.4 ms of CPU: drawn on the main thread, a second's worth held the event loop, and every
 * request behind it, for hundreds of milliseconds. The worker starts with the first code and is started again after
 * a crash; `close` ends it.
 */
export class QrRenderer {
  #worker: Worker | null = null;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;

  /** The data URLs of `texts`, in their order. */
  render(texts: string[]): Promise<string[]> {
    const id = this.#nextId++;
    return new Promise<string[]>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#started().postMessage({ id, texts });
    });
  }

  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = null;
    this.#failAll(new Error('The QR renderer was closed.'));
    await worker?.terminate();
  }

  #started(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(new URL('./qr-render-thread.mjs', import.meta.url));
    worker.unref();
    worker.on('message', ({ id, urls, error }: { id: number; urls?: string[]; error?: string }) => {
      const pending = this.#pending.get(id);
      this.#pending.delete(id);
      if (urls) pending?.resolve(urls);
      else pending?.reject(new Error(`The QR renderer failed: ${error}`));
    });
    const lost = (error: Error) => {
      if (this.#worker !== worker) return;
      this.#worker = null;
      this.#failAll(error);
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`The QR renderer's thread exited (code ${code}).`)));
    this.#worker = worker;
    return worker;
  }

  #failAll(error: Error): void {
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }
}
