export const webhookDeliveryStatuses = ['pending', 'failed', 'delivered'] as const;
export type WebhookDeliveryStatus = (typeof webhookDeliveryStatuses)[number];

/** The body POSTed to an app's `callback_url`. */
export interface WebhookEvent<T = unknown> {
  type: string;
  timestamp: string;
  data: T;
}

/** One entry of the delivery log. */
export interface WebhookDelivery {
  id: string;
  app_id: string;
  event_type: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  payload: WebhookEvent;
  created_at: string;
  last_attempt_at: string | null;
  next_attempt_at: string | null;
  delivered_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
}

/** Standard Webhooks headers (https://www.standardwebhooks.com). */
export const webhookHeaders = {
  id: 'webhook-id',
  timestamp: 'webhook-timestamp',
  signature: 'webhook-signature',
} as const;
