import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The Prometheus registry and the instruments the platform and capabilities share. */
export class Metrics {
  readonly registry = new Registry();
  readonly httpDuration = new Histogram({
    name: 'tessera_http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly webhookAttempts = new Counter({
    name: 'tessera_webhook_attempts_total',
    help: 'Webhook delivery attempts by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly busGaps = new Counter({
    name: 'tessera_realtime_bus_gaps_total',
    help: 'Reconnections of the realtime bus to Redis, after which messages may have been lost (waiters read again)',
    registers: [this.registry],
  });

  readonly #durationByLabels = new Map<string, Histogram.Internal<'method' | 'route' | 'status_code'>>();

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'tessera_' });
  }

  /** Records one request; the labelled child is looked up once per route and status, not built each time. */
  observeRequest(method: string, route: string, statusCode: number, seconds: number): void {
    const key = `${method} ${route} ${statusCode}`;
    let child = this.#durationByLabels.get(key);
    if (!child) {
      child = this.httpDuration.labels({ method, route, status_code: statusCode });
      this.#durationByLabels.set(key, child);
    }
    child.observe(seconds);
  }
}
