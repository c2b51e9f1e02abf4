import type { FastifyInstance } from 'fastify';
import type { RealtimeBus } from '../bus/bus.ts';
import type { Database } from '../database/database.ts';
import type { Metrics } from '../metrics.ts';
import { secretsEqual } from '../secrets.ts';
import { ApiError } from './api-error.ts';
import { authorizationOf } from './auth.ts';

/**
 * Liveness, readiness and Prometheus metrics; no secrets. The probes need no credentials; the metrics need the
 * metrics token as a bearer token when one is configured.
 */
export function healthRoutes(
  app: FastifyInstance,
  deps: { db: Database; bus: RealtimeBus; metrics: Metrics; metricsToken: string | null },
): void {
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

  app.get('/metrics', hidden, async (request, reply) => {
    const { metricsToken } = deps;
    if (metricsToken !== null) {
      const { scheme, value } = authorizationOf(request);
      if (scheme !== 'bearer' || !secretsEqual(value, metricsToken)) {
        throw new ApiError('unauthorized', 'The metrics need "Authorization: Bearer <TESSERA_METRICS_TOKEN>".', {
          headers: { 'www-authenticate': 'Bearer realm="tessera-metrics"' },
        });
      }
    }
    reply.type(deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
}
