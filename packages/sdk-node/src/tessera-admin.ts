import { AdminApps } from './admin-apps.ts';
import { HttpClient } from './http-client.ts';
import { WebhookDeliveries, type AdminWebhookDeliveryQuery, type WebhookDeliveriesApi } from './webhook-deliveries.ts';

export interface TesseraAdminOptions {
  /** Where the Tessera server is, such as `https://tessera.example.com`. */
  baseUrl: string;
  /** The operator's token (`TESSERA_ADMIN_TOKEN`). */
  adminToken: string;
  /** Per attempt; 30 000 unless given. */
  timeoutMs?: number;
}

/** The operator's client: it calls the admin API with the admin token (Bearer). */
export class TesseraAdmin {
  readonly apps: AdminApps;
  readonly webhookDeliveries: WebhookDeliveriesApi<AdminWebhookDeliveryQuery>;

  constructor(options: TesseraAdminOptions) {
    if (!options.adminToken) throw new TypeError('adminToken is required');
    const http = new HttpClient({
      baseUrl: options.baseUrl,
      authorization: `Bearer ${options.adminToken}`,
      timeoutMs: options.timeoutMs,
    });
    this.apps = new AdminApps(http);
    this.webhookDeliveries = new WebhookDeliveries(http);
  }
}
