import type { WebhookEvent } from '@tessera/contracts';
import type { RealtimeBus } from '../../platform/bus/bus.ts';
import type { Database } from '../../platform/database/database.ts';
import { newId } from '../../platform/ids.ts';
import { WebhookStore } from './store.ts';

export const deliveriesTopic = 'webhooks.enqueued';

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
    const event: WebhookEvent = { type, timestamp: new Date().toISOString(), data };
    const written = await this.#store.insert(newId('msg'), appId, type, JSON.stringify(event));
    if (written) this.db.afterCommit(() => void this.bus.publish(deliveriesTopic, {}).catch(() => {}));
  }
}
