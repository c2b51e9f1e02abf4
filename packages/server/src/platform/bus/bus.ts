export type BusMessage = Record<string, unknown>;
export type BusHandler = (message: BusMessage) => void;
export type Unsubscribe = () => void;

/**
 * "Tell whoever waits for this": a device socket, a browser socket, a long-poll, a cache.
 * In one process by default; through Redis pub/sub when several instances share the work.
 * Delivery is best effort: what must not be lost lives in the database, and the bus only
 * says that something changed.
 */
export interface RealtimeBus {
  publish(topic: string, message: BusMessage): Promise<void>;
  subscribe(topic: string, handler: BusHandler): Unsubscribe;
  /** Resolves once messages published on `topic` from now on reach this instance's subscribers. */
  subscribed(topic: string): Promise<void>;
  /**
   * Calls `listener` whenever messages may have been lost: the connection to Redis dropped and is back (and
   * resubscribed). Whoever waits for a change reads again what it waits for, instead of polling for it.
   */
  onGap(listener: () => void): Unsubscribe;
  /** Resolves when the bus can carry messages (for /readyz). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Keeps handlers per topic; both bus kinds use it for their local fan-out. */
export class TopicHandlers {
  readonly #handlers = new Map<string, Set<BusHandler>>();

  /** Adds a handler; returns true when it is the topic's first one. */
  add(topic: string, handler: BusHandler): boolean {
    let set = this.#handlers.get(topic);
    const first = set === undefined;
    if (!set) this.#handlers.set(topic, (set = new Set()));
    set.add(handler);
    return first;
  }

  /** Removes a handler; returns true when the topic has none left. */
  remove(topic: string, handler: BusHandler): boolean {
    const set = this.#handlers.get(topic);
    if (!set?.delete(handler)) return false;
    if (set.size > 0) return false;
    this.#handlers.delete(topic);
    return true;
  }

  deliver(topic: string, message: BusMessage, onError: (error: unknown) => void): void {
    for (const handler of this.#handlers.get(topic) ?? []) {
      try {
        handler(message);
      } catch (error) {
        onError(error);
      }
    }
  }
}

export class InProcessBus implements RealtimeBus {
  readonly #handlers = new TopicHandlers();
  readonly #onError: (error: unknown) => void;

  constructor(onError: (error: unknown) => void = () => {}) {
    this.#onError = onError;
  }

  async publish(topic: string, message: BusMessage): Promise<void> {
    // Handlers run after the publisher's current work, as they would with a remote bus.
    queueMicrotask(() => this.#handlers.deliver(topic, message, this.#onError));
  }

  subscribe(topic: string, handler: BusHandler): Unsubscribe {
    this.#handlers.add(topic, handler);
    return () => void this.#handlers.remove(topic, handler);
  }

  async subscribed(): Promise<void> {}

  /** In one process nothing is lost. */
  onGap(): Unsubscribe {
    return () => {};
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}
}
