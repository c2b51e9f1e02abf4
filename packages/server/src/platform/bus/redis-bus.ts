import type { Redis } from 'ioredis';
import { closeRedis, openRedis } from '../redis.ts';
import type { BusHandler, BusMessage, RealtimeBus, Unsubscribe } from './bus.ts';
import { TopicHandlers } from './bus.ts';

const channelPrefix = 'tessera:';

/** The bus across instances: Redis pub/sub, one connection to publish and one to listen. */
export class RedisBus implements RealtimeBus {
  readonly #publisher: Redis;
  readonly #subscriber: Redis;
  readonly #handlers = new TopicHandlers();
  // Topics whose SUBSCRIBE Redis has not confirmed yet.
  readonly #confirming = new Map<string, Promise<unknown>>();
  readonly #onError: (error: unknown) => void;
  readonly #gapListeners = new Set<() => void>();

  private constructor(publisher: Redis, subscriber: Redis, onError: (error: unknown) => void) {
    this.#publisher = publisher;
    this.#subscriber = subscriber;
    this.#onError = onError;
    // After the first connection, "ready" means a reconnection: what was published meanwhile is lost. ioredis
    // sends the resubscriptions right after this event; the listeners run after them, so that what they
    // subscribe or unsubscribe in turn goes to Redis in order.
    subscriber.on('ready', () => {
      queueMicrotask(() => {
        for (const listener of [...this.#gapListeners]) listener();
      });
    });
    subscriber.on('message', (channel: string, raw: string) => {
      let message: BusMessage;
      try {
        message = JSON.parse(raw) as BusMessage;
      } catch (error) {
        onError(error);
        return;
      }
      this.#handlers.deliver(channel.slice(channelPrefix.length), message, onError);
    });
  }

  /** `name` names the two connections in Redis's CLIENT LIST (`<name>:publisher`, `<name>:subscriber`). */
  static async connect(url: string, onError: (error: unknown) => void = () => {}, name = 'tessera-bus'): Promise<RedisBus> {
    const publisher = openRedis(url, onError, { lazyConnect: true, connectionName: `${name}:publisher` });
    const subscriber = openRedis(url, onError, { lazyConnect: true, connectionName: `${name}:subscriber` });
    await Promise.all([publisher.connect(), subscriber.connect()]);
    return new RedisBus(publisher, subscriber, onError);
  }

  async publish(topic: string, message: BusMessage): Promise<void> {
    await this.#publisher.publish(channelPrefix + topic, JSON.stringify(message));
  }

  subscribe(topic: string, handler: BusHandler): Unsubscribe {
    if (this.#handlers.add(topic, handler)) {
      const confirmed = this.#subscriber
        .subscribe(channelPrefix + topic)
        .catch(this.#onError)
        .finally(() => this.#confirming.delete(topic));
      this.#confirming.set(topic, confirmed);
    }
    return () => {
      if (this.#handlers.remove(topic, handler)) {
        this.#subscriber.unsubscribe(channelPrefix + topic).catch(this.#onError);
      }
    };
  }

  async subscribed(topic: string): Promise<void> {
    await this.#confirming.get(topic);
  }

  onGap(listener: () => void): Unsubscribe {
    this.#gapListeners.add(listener);
    return () => void this.#gapListeners.delete(listener);
  }

  async ping(): Promise<void> {
    await this.#publisher.ping();
  }

  async close(): Promise<void> {
    this.#subscriber.disconnect();
    await closeRedis(this.#publisher);
  }
}
