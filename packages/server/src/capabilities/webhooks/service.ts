import type { WebhookDelivery, WebhookDeliveryStatus } from '@tessera/contracts';
import type { Database } from '../../platform/database/database.ts';
import { ApiError } from '../../platform/http/api-error.ts';
import { inSlices } from '../../platform/in-slices.ts';
import type { WebhookDispatcher } from './dispatcher.ts';
import { WebhookStore } from './store.ts';

export interface DeliveryQuery {
  status?: WebhookDeliveryStatus;
  event_type?: string;
  app_id?: string;
  limit: number;
  starting_after?: string;
}

/** Rows a purge statement deletes at most: short statements, short locks. */
const purgeSlice = 1_000;

/** The delivery log: what was sent where, and a manual retry. `appId` null is the operator's view of all. */
export class WebhookService {
  readonly #store: WebhookStore;

  constructor(
    db: Database,
    private readonly dispatcher: WebhookDispatcher,
  ) {
    this.#store = new WebhookStore(db);
  }

  async list(appId: string | null, query: DeliveryQuery): Promise<{ data: WebhookDelivery[]; has_more: boolean }> {
    const rows = await this.#store.list({
      appId: appId ?? query.app_id ?? null,
      status: query.status ?? null,
      eventType: query.event_type ?? null,
      startingAfter: query.starting_after ?? null,
      limit: query.limit + 1,
    });
    return { data: rows.slice(0, query.limit), has_more: rows.length > query.limit };
  }

  async get(appId: string | null, id: string): Promise<WebhookDelivery> {
    const delivery = await this.#store.find(id, appId);
    if (!delivery) throw ApiError.notFound('Webhook delivery');
    return delivery;
  }

  /** Forgets the deliveries that ended more than `retentionDays` ago (housekeeping), in slices; answers how many. */
  purgeEnded(retentionDays: number): Promise<number> {
    return inSlices(purgeSlice, (limit) => this.#store.purgeEnded(retentionDays, limit));
  }

  /** Sends the delivery again now, whatever its state, and answers with the outcome. */
  async retry(appId: string | null, id: string): Promise<WebhookDelivery> {
    const claimed = await this.#store.claimOne(id, appId, this.dispatcher.leaseSeconds);
    if (!claimed) throw ApiError.notFound('Webhook delivery');
    await this.dispatcher.attempt(claimed);
    return this.get(appId, id);
  }
}
