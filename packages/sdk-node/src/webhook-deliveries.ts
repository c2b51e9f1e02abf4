import type { Page, WebhookDelivery, WebhookDeliveryStatus } from '@tessera/contracts';
import type { HttpClient } from './http-client.ts';

export interface WebhookDeliveryQuery {
  status?: WebhookDeliveryStatus;
  eventType?: string;
  /** 1 to 100; 50 unless given. */
  limit?: number;
  /** The last `id` of the previous page (the list is newest first). */
  startingAfter?: string;
}

export interface AdminWebhookDeliveryQuery extends WebhookDeliveryQuery {
  /** Only this app's deliveries (the operator otherwise sees every app's). */
  appId?: string;
}

/** The delivery log, as an app (its own deliveries) or the operator (every app's) sees it. */
export interface WebhookDeliveriesApi<Query extends WebhookDeliveryQuery> {
  /** Newest first. */
  list(query?: Query): Promise<Page<WebhookDelivery>>;
  retrieve(id: string): Promise<WebhookDelivery>;
  /** Sends the delivery again now, whatever its state; answers with the delivery after that attempt. */
  retry(id: string): Promise<WebhookDelivery>;
}

const deliveryPath = (id: string) => `/v1/webhook-deliveries/${encodeURIComponent(id)}`;

export class WebhookDeliveries implements WebhookDeliveriesApi<AdminWebhookDeliveryQuery> {
  constructor(private readonly http: HttpClient) {}

  list(query: AdminWebhookDeliveryQuery = {}): Promise<Page<WebhookDelivery>> {
    return this.http.request({
      method: 'GET',
      path: '/v1/webhook-deliveries',
      query: {
        status: query.status,
        event_type: query.eventType,
        app_id: query.appId,
        limit: query.limit,
        starting_after: query.startingAfter,
      },
    });
  }

  retrieve(id: string): Promise<WebhookDelivery> {
    return this.http.request({ method: 'GET', path: deliveryPath(id) });
  }

  retry(id: string): Promise<WebhookDelivery> {
    return this.http.request({ method: 'POST', path: `${deliveryPath(id)}/retry` });
  }
}
