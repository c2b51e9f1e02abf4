import type { FastifyInstance } from 'fastify';
import type { RealtimeBus } from '../bus/bus.ts';
import type { Database } from '../database/database.ts';
import type { Metrics } from '../metrics.ts';

/** Liveness, readiness and Prometheus metrics; no credentials, no secrets. */
export function healthRoutes(app: FastifyInstance, deps: { db: Database; bus: RealtimeBus; metrics: Metrics }): void {
  const hidden = { schema: { hide: true } };
  app.get('/healthz', hidden, async () => ({ status: 'ok' }));

  app.get('/readyz', hidden, async (request, reply) => {
    const checks = await Promise.all([
      deps.db.ping().then(() => 'ok', () => 'unavailable'),
      deps.bus.ping().then(() => 'ok', () => 'unavailable'),
    ]);
    const [database, bus] = checks;
    const ready = checks.every((check) => check === 'ok');
    if (!ready) {
      request.log.warn({ database, bus }, 'not ready');
      reply.code(503).header('retry-after', '1');
    }
    return { status: ready ? 'ready' : 'unavailable', database, bus };
  });

  app.get('/metrics', hidden, async (_request, reply) => {
    reply.type(deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
}
