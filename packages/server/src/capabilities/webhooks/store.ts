import type { WebhookDelivery, WebhookDeliveryStatus } from '@tessera/contracts';
import type { Database } from '../../platform/database/database.ts';

interface DeliveryRow {
  id: string;
  app_id: string;
  event_type: string;
  payload: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  created_at: Date;
  last_attempt_at: Date | null;
  next_attempt_at: Date | null;
  delivered_at: Date | null;
  last_status_code: number | null;
  last_error: string | null;
}

/** A delivery taken for sending, with what is needed to send it. */
export interface ClaimedDelivery {
  id: string;
  payload: string;
  createdAt: Date;
  attempts: number;
  appId: string;
  callbackUrl: string | null;
  webhookSecretEnc: string;
  /** It reached the app before: this attempt is a manual resend, and a failure leaves it delivered. */
  deliveredBefore: boolean;
}

export interface AttemptOutcome {
  delivered: boolean;
  statusCode: number | null;
  error: string | null;
  /** When to try again; null: give up (the delivery is failed). Ignored when delivered. */
  nextAttemptAt: Date | null;
}

export interface DeliveryFilter {
  appId: string | null;
  status: WebhookDeliveryStatus | null;
  eventType: string | null;
  startingAfter: string | null;
  limit: number;
}

const columns = `d.id, d.app_id, d.event_type, d.payload, d.status, d.attempts, d.created_at, d.last_attempt_at,
  d.next_attempt_at, d.delivered_at, d.last_status_code, d.last_error`;
const claimedColumns = `d.id, d.payload, d.created_at, d.attempts, d.app_id, a.callback_url, a.webhook_secret_enc,
  d.delivered_at IS NOT NULL AS delivered_before`;

const iso = (date: Date | null) => (date ? date.toISOString() : null);

function toDelivery(row: DeliveryRow): WebhookDelivery {
  return {
    id: row.id,
    app_id: row.app_id,
    event_type: row.event_type,
    status: row.status,
    attempts: row.attempts,
    payload: JSON.parse(row.payload),
    created_at: row.created_at.toISOString(),
    last_attempt_at: iso(row.last_attempt_at),
    next_attempt_at: iso(row.next_attempt_at),
    delivered_at: iso(row.delivered_at),
    last_status_code: row.last_status_code,
    last_error: row.last_error,
  };
}

function toClaimed(row: Record<string, unknown>): ClaimedDelivery {
  return {
    id: row.id as string,
    payload: row.payload as string,
    createdAt: row.created_at as Date,
    attempts: row.attempts as number,
    appId: row.app_id as string,
    callbackUrl: row.callback_url as string | null,
    webhookSecretEnc: row.webhook_secret_enc as string,
    deliveredBefore: row.delivered_before as boolean,
  };
}

export class WebhookStore {
  constructor(private readonly db: Database) {}

  /** Records an event for an app that has a callback URL; returns whether a delivery was written. */
  async insert(id: string, appId: string, eventType: string, payload: string): Promise<boolean> {
    const rows = await this.db.query(
      `INSERT INTO webhook_deliveries (id, app_id, event_type, payload, next_attempt_at)
       SELECT $1, id, $2, $3, now() FROM apps WHERE id = $4 AND callback_url IS NOT NULL
       RETURNING 1`,
      [id, eventType, payload, appId],
    );
    return rows.length > 0;
  }

  /**
   * Takes up to `limit` due deliveries and leases them for `leaseSeconds`: another instance skips
   * them meanwhile, and if this one dies they come due again when the lease ends.
   */
  async claimDue(limit: number, leaseSeconds: number): Promise<ClaimedDelivery[]> {
    const rows = await this.db.query(
      `UPDATE webhook_deliveries d SET next_attempt_at = now() + make_interval(secs => $2)
       FROM apps a
       WHERE a.id = d.app_id AND d.id IN (
         SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= now()
         ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
       RETURNING ${claimedColumns}`,
      [limit, leaseSeconds],
    );
    return rows.map(toClaimed);
  }

  /** Takes one delivery for an attempt now, whatever its state (a manual retry). */
  async claimOne(id: string, appId: string | null, leaseSeconds: number): Promise<ClaimedDelivery | null> {
    const [row] = await this.db.query(
      `UPDATE webhook_deliveries d SET status = 'pending', next_attempt_at = now() + make_interval(secs => $3)
       FROM apps a
       WHERE a.id = d.app_id AND d.id = $1 AND ($2::text IS NULL OR d.app_id = $2)
       RETURNING ${claimedColumns}`,
      [id, appId, leaseSeconds],
    );
    return row ? toClaimed(row) : null;
  }

  /**
   * Forgets up to `limit` deliveries that ended (delivered or failed) and were created more than `days` days ago;
   * answers how many. Pending ones stay, whatever their age: the dispatcher still owns them.
   */
  async purgeEnded(days: number, limit: number): Promise<number> {
    const rows = await this.db.query(
      `DELETE FROM webhook_deliveries WHERE id IN (
         SELECT id FROM webhook_deliveries WHERE status <> 'pending' AND created_at < now() - make_interval(days => $1) LIMIT $2)
       RETURNING 1`,
      [days, limit],
    );
    return rows.length;
  }

  /**
   * Records an attempt. A delivery delivered before stays delivered when a manual resend fails (its code and error are
   * kept): the event reached the app once, so it does not go back into the automatic retries.
   */
  async recordAttempt(id: string, outcome: AttemptOutcome): Promise<void> {
    const status: WebhookDeliveryStatus = outcome.delivered ? 'delivered' : outcome.nextAttemptAt ? 'pending' : 'failed';
    await this.db.query(
      `UPDATE webhook_deliveries SET status = CASE WHEN delivered_at IS NOT NULL THEN 'delivered' ELSE $2::text END,
         attempts = attempts + 1, last_attempt_at = now(), last_status_code = $3, last_error = $4,
         next_attempt_at = CASE WHEN delivered_at IS NOT NULL THEN NULL ELSE $5::timestamptz END,
         delivered_at = CASE WHEN $2 = 'delivered' THEN now() ELSE delivered_at END
       WHERE id = $1`,
      [id, status, outcome.statusCode, outcome.error, outcome.delivered ? null : outcome.nextAttemptAt],
    );
  }

  async find(id: string, appId: string | null): Promise<WebhookDelivery | null> {
    const [row] = await this.db.query<DeliveryRow>(
      `SELECT ${columns} FROM webhook_deliveries d WHERE d.id = $1 AND ($2::text IS NULL OR d.app_id = $2)`,
      [id, appId],
    );
    return row ? toDelivery(row) : null;
  }

  /** Newest first; `startingAfter` is the last id of the previous page. */
  async list(filter: DeliveryFilter): Promise<WebhookDelivery[]> {
    const rows = await this.db.query<DeliveryRow>(
      `SELECT ${columns} FROM webhook_deliveries d
       WHERE ($1::text IS NULL OR d.app_id = $1) AND ($2::text IS NULL OR d.status = $2)
         AND ($3::text IS NULL OR d.event_type = $3) AND ($4::text IS NULL OR d.id < $4)
       ORDER BY d.id DESC LIMIT $5`,
      [filter.appId, filter.status, filter.eventType, filter.startingAfter, filter.limit],
    );
    return rows.map(toDelivery);
  }
}
