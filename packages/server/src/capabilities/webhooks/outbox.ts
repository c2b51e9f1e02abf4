import type { WebhookEvent } from '@tessera/contracts';
import type { RealtimeBus } from '../../platform/bus/bus.ts';
import type { Database } from '../../platform/database/database.ts';
import { newId } from '../../platform/ids.ts';
import { WebhookStore } from './store.ts';

export const deliveriesTopic = 'webhooks.enqueued';

/** An event ready to be written: its delivery id, type and JSON payload. */
export interface OutboxEvent {
  id: string;
  type: string;
  payload: string;
}

/**
 * Where capabilities record their events. Call it inside the transaction of the change: the event
 * is then written if and only if the change is, and the dispatcher is woken once it commits.
 */
export class Outbox {
  readonly #store: WebhookStore;

  constructor(
    private readonly db: Database,
    private readonly bus: RealtimeBus,
  ) {
    this.#store = new WebhookStore(db);
  }

  async enqueue(appId: string, type: string, data: unknown): Promise<void> {
    const event = this.event(type, data);
    if (await this.#store.insert(event.id, appId, type, event.payload)) this.written();
  }

  /**
   * The event for a statement that writes its delivery itself, with the change (the row and its condition, an
   * app with a callback URL, as in WebhookStore.insert); call `written` when it did.
   */
  event(type: string, data: unknown): OutboxEvent {
    const event: WebhookEvent = { type, timestamp: new Date().toISOString(), data };
    return { id: newId('msg'), type, payload: JSON.stringify(event) };
  }

  /** Wakes the dispatcher once the change that wrote an event commits. */
  written(): void {
    this.db.afterCommit(() => void this.bus.publish(deliveriesTopic, {}).catch(() => {}));
  }
}
