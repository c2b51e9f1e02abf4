import { randomBytes } from 'node:crypto';
import { startBaseline, startTessera, type ChildServer } from '../lib/processes.ts';
import type { ResultRow } from '../lib/report.ts';
import { measureAgainstBaseline, type Scenario, type ScenarioContext } from '../lib/scenario.ts';
import { bareRoute, createApp, onEachStorage, type Storage } from '../lib/tessera.ts';

const target = 'GET /v1/apps/{app_id} (app Basic auth)';

/** Tessera on one storage, measured in alternation with the baseline. */
async function measureOn(context: ScenarioContext, baseline: ChildServer, storage: Storage): Promise<ResultRow[]> {
  const adminToken = randomBytes(32).toString('hex');
  context.progress(`starting Tessera on ${storage.label}`);
  const tessera = await startTessera({ ...storage.env, TESSERA_ADMIN_TOKEN: adminToken });
  try {
    const { appId, authorization } = await createApp(tessera, adminToken);
    return await measureAgainstBaseline(context, bareRoute(baseline), [
      {
        server: tessera,
        target,
        storage: storage.label,
        request: () => ({ method: 'GET', path: `/v1/apps/${appId}`, headers: { authorization } }),
      },
    ]);
  } finally {
    await tessera.stop();
  }
}

export const appsGet: Scenario = {
  name: 'apps-get',
  title: 'App-authenticated GET /v1/apps/{app_id}',
  about:
    'Work per request: the app record is cached in memory after the first lookup (30 s TTL, dropped at once ' +
    'on a change), so a request does **0 database queries**. It decodes the Basic header, hashes the presented ' +
    'secret (SHA-256) and compares it with the stored hash in constant time (`secretsEqual` hashes both sides ' +
    'once more before `timingSafeEqual`: 3 SHA-256 of short inputs in all, ≈ 2–3 µs each with `createHash` here), checks ' +
    '`active` and the IP allowlist, validates the path parameter (ajv), serialises the app through its response ' +
    'schema and observes the Prometheus request-duration histogram. The storage matters only for the first ' +
    'request of each 30 s cache window, so PGlite and PostgreSQL should be within noise of each other. Memory ' +
    'differs: PGlite runs PostgreSQL (WASM) inside the server process, so its RSS counts there, with a peak while ' +
    'a fresh data directory is initialised.',
  async run(context) {
    context.progress('starting the baseline server');
    const baseline = await startBaseline();
    try {
      return await onEachStorage(context, (storage) => measureOn(context, baseline, storage));
    } finally {
      await baseline.stop();
    }
  },
};
