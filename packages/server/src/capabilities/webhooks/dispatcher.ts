import type { Logger } from 'pino';
import { request } from 'undici';
import type { RealtimeBus, Unsubscribe } from '../../platform/bus/bus.ts';
import type { Database } from '../../platform/database/database.ts';
import type { Keyring } from '../../platform/keyring.ts';
import type { Metrics } from '../../platform/metrics.ts';
import { webhookSecretContext } from '../apps/webhook-secret.ts';
import { deliveriesTopic } from './outbox.ts';
import { signWebhook } from './signature.ts';
import { WebhookStore, type AttemptOutcome, type ClaimedDelivery } from './store.ts';

export interface DispatcherOptions {
  /** The first retry waits this long; each next one twice as long, up to `maxDelayMs`. */
  retryBaseMs: number;
  maxDelayMs: number;
  /** A delivery is retried until this long after its event, then marked failed. */
  retryWindowMs: number;
  requestTimeoutMs: number;
  pollIntervalMs: number;
  batchSize: number;
}

export const defaultDispatcherOptions: DispatcherOptions = {
  retryBaseMs: 5_000,
  maxDelayMs: 2 * 60 * 60 * 1000,
  retryWindowMs: 24 * 60 * 60 * 1000,
  requestTimeoutMs: 10_000,
  pollIntervalMs: 1_000,
  batchSize: 20,
};

/**
 * Sends the outbox: polls for due deliveries (and wakes at once when one is written), POSTs each to
 * its app's callback URL with Standard Webhooks headers, and reschedules failures with exponential
 * backoff. Every state lives in the database, so a restart resumes where the last process stopped.
 */
export class WebhookDispatcher {
  readonly #store: WebhookStore;
  readonly #options: DispatcherOptions;
  #timer: NodeJS.Timeout | null = null;
  #unsubscribe: Unsubscribe | null = null;
  #running: Promise<void> | null = null;
  #again = false;
  #stopped = false;

  constructor(
    db: Database,
    private readonly keyring: Keyring,
    private readonly bus: RealtimeBus,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    options: Partial<DispatcherOptions> = {},
  ) {
    this.#store = new WebhookStore(db);
    this.#options = { ...defaultDispatcherOptions, ...options };
  }

  get leaseSeconds(): number {
    return Math.ceil(this.#options.requestTimeoutMs / 1000) * 4;
  }

  start(): void {
    this.#unsubscribe = this.bus.subscribe(deliveriesTopic, () => this.wake());
    this.#timer = setInterval(() => this.wake(), this.#options.pollIntervalMs);
    this.#timer.unref();
    this.wake();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#unsubscribe?.();
    await this.#running;
  }

  /** Runs a sending pass now, or right after the one under way. */
  wake(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#drain()
      .catch((error: unknown) => this.log.warn({ err: error }, 'webhook dispatch pass failed'))
      .finally(() => {
        this.#running = null;
        if (this.#again) {
          this.#again = false;
          this.wake();
        }
      });
  }

  async #drain(): Promise<void> {
    for (;;) {
      const batch = await this.#store.claimDue(this.#options.batchSize, this.leaseSeconds);
      await Promise.all(batch.map((delivery) => this.attempt(delivery)));
      if (batch.length < this.#options.batchSize || this.#stopped) return;
    }
  }

  /** Sends one claimed delivery and records the outcome. */
  async attempt(delivery: ClaimedDelivery): Promise<void> {
    const result = await this.#send(delivery);
    const outcome: AttemptOutcome =
      result.delivered || delivery.deliveredBefore
        ? { ...result, nextAttemptAt: null }
        : { ...result, nextAttemptAt: this.#nextAttempt(delivery) };
    this.metrics.webhookAttempts.inc({ outcome: result.delivered ? 'delivered' : 'failed' });
    if (!result.delivered) {
      this.log.info(
        { delivery_id: delivery.id, app_id: delivery.appId, status_code: result.statusCode, error: result.error },
        delivery.deliveredBefore
          ? 'webhook resend failed; the delivery stays delivered'
          : outcome.nextAttemptAt
            ? 'webhook attempt failed; will retry'
            : 'webhook delivery failed for good',
      );
    }
    await this.#store.recordAttempt(delivery.id, outcome);
  }

  #nextAttempt(delivery: ClaimedDelivery): Date | null {
    const { retryBaseMs, maxDelayMs, retryWindowMs } = this.#options;
    const exponential = Math.min(retryBaseMs * 2 ** delivery.attempts, maxDelayMs);
    // ±10 % jitter, so that deliveries that failed together do not all come back together.
    const delay = exponential * (0.9 + Math.random() * 0.2);
    const next = Date.now() + delay;
    return next > delivery.createdAt.getTime() + retryWindowMs ? null : new Date(next);
  }

  async #send(delivery: ClaimedDelivery): Promise<Omit<AttemptOutcome, 'nextAttemptAt'>> {
    if (!delivery.callbackUrl) return { delivered: false, statusCode: null, error: 'the app has no callback_url' };
    const secret = this.keyring.decryptString(delivery.webhookSecretEnc, webhookSecretContext(delivery.appId));
    const timestamp = Math.floor(Date.now() / 1000);
    try {
      const response = await request(delivery.callbackUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Tessera-Webhooks/1',
          'webhook-id': delivery.id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signWebhook(secret, delivery.id, timestamp, delivery.payload),
        },
        body: delivery.payload,
        // One deadline for the whole attempt: a receiver that trickles bytes cannot hold the dispatcher.
        signal: AbortSignal.timeout(this.#options.requestTimeoutMs),
      });
      // Only the status matters; the body is not read (destroying it reports an abort, which is expected).
      response.body.on('error', () => {}).destroy();
      const delivered = response.statusCode >= 200 && response.statusCode < 300;
      return {
        delivered,
        statusCode: response.statusCode,
        error: delivered ? null : `the receiver answered ${response.statusCode}`,
      };
    } catch (error) {
      const reason = error instanceof Error ? `${(error as { code?: string }).code ?? error.name}: ${error.message}` : String(error);
      return { delivered: false, statusCode: null, error: reason.slice(0, 500) };
    }
  }
}
