import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import type { DatabaseStats } from '../lib/postgres.ts';
import { cpuTimesOf, startBaseline, startTessera, type ChildServer } from '../lib/processes.ts';
import type { ResultRow } from '../lib/report.ts';
import { measureAgainstBaseline, type Scenario, type ScenarioContext } from '../lib/scenario.ts';
import { bareRoute, createApp, onEachStorage, type Storage } from '../lib/tessera.ts';

const target = 'POST /v1/users/{id}/actions/signIn (20 rules)';
const users = 3_000;

/** 20 rules over every kind of condition; with the context the bench sends, none holds but the last. */
export function benchRules(): Array<Record<string, unknown>> {
  const rules: Array<Record<string, unknown>> = [
    { name: 'sanctioned', conditions: { field: 'context.country', op: 'in', value: ['KP', 'IR', 'SY', 'CU'] }, outcome: 'BLOCK' },
    { name: 'tor', conditions: { field: 'context.ip', op: 'cidr', value: ['10.0.0.0/8', '2001:db8::/32', '198.51.100.0/24'] }, outcome: 'BLOCK' },
    { name: 'fraud', conditions: { signal: 'fraud_reported', within_seconds: 86400 }, outcome: 'BLOCK' },
    { name: 'failing', conditions: { signal: 'failed_challenges', within_seconds: 3600, gte: 3 }, outcome: 'BLOCK' },
    { name: 'burst', conditions: { signal: 'velocity', within_seconds: 60, gte: 50 }, outcome: 'REVIEW' },
    { name: 'headless', conditions: { field: 'context.user_agent', op: 'contains', value: 'Headless' }, outcome: 'CHALLENGE_REQUIRED' },
  ];
  for (let i = 0; rules.length < 19; i++) {
    rules.push({
      name: `large-${i}`,
      conditions: {
        all: [
          { field: 'context.amount', op: 'gt', value: 100_000 + i * 1000 },
          { any: [{ signal: 'new_device' }, { field: 'context.currency', op: 'not_in', value: ['EUR', 'USD'] }] },
          { signal: 'has_factor', type: 'totp' },
        ],
      },
      outcome: 'CHALLENGE_REQUIRED',
    });
  }
  rules.push({ name: 'everyone', conditions: { field: 'context.amount', op: 'gte', value: 0 }, outcome: 'ALLOW' });
  return rules;
}

async function setRules(server: ChildServer, appId: string, authorization: string): Promise<void> {
  const reply = await request(`${server.origin}/v1/apps/${appId}/actions/signIn/rules`, {
    method: 'PUT',
    headers: { authorization, 'content-type': 'application/json' },
    body: JSON.stringify({ default_outcome: 'CHALLENGE_REQUIRED', rules: benchRules() }),
  });
  const text = await reply.body.text();
  if (reply.statusCode !== 200) throw new Error(`PUT rules answered ${reply.statusCode}: ${text}`);
}

const notes: string[] = [];

/** CPU seconds (user + system) each process has used so far; a process that has exited is left out. */
function cpuSecondsOf(pids: number[]): Map<number, number> {
  const seconds = new Map<number, number>();
  for (const pid of pids) {
    try {
      const times = cpuTimesOf(pid);
      seconds.set(pid, times.user + times.system);
    } catch {
      // The pool closes connections idle for 30 s: such a backend did next to nothing in the window.
    }
  }
  return seconds;
}

async function measureOn(context: ScenarioContext, baseline: ChildServer, storage: Storage): Promise<ResultRow[]> {
  const adminToken = randomBytes(32).toString('hex');
  context.progress(`starting Tessera on ${storage.label}`);
  const tessera = await startTessera({ ...storage.env, TESSERA_ADMIN_TOKEN: adminToken });
  try {
    const { appId, authorization } = await createApp(tessera, adminToken);
    await setRules(tessera, appId, authorization);
    const headers = { authorization, 'content-type': 'application/json' };
    let n = 0;
    let before: DatabaseStats | undefined;
    let backends: number[] = [];
    let backendCpuBefore = new Map<number, number>();
    const rows = await measureAgainstBaseline(context, bareRoute(baseline), [
      {
        server: tessera,
        target,
        storage: storage.label,
        request: () => {
          const i = n++;
          const context = { ip: `203.0.113.${i % 250}`, amount: i % 20_000, currency: 'EUR', country: 'FR', device_id: `device-${i % 3}`, user_agent: 'Mozilla/5.0' };
          return { method: 'POST', path: `/v1/users/bench-user-${i % users}/actions/signIn`, headers, body: JSON.stringify({ context }) };
        },
        async afterWarmup() {
          if (!storage.database) return;
          context.progress('  waiting 11 s for PostgreSQL statistics to settle');
          await sleep(11_000);
          before = await storage.database.stats();
          backends = await storage.database.backendPids();
          backendCpuBefore = cpuSecondsOf(backends);
        },
      },
    ]);
    const measured = rows[1]?.load.requests ?? 0;
    if (storage.database && before && measured > 0) {
      let backendCpu = 0;
      for (const [pid, seconds] of cpuSecondsOf(backends)) backendCpu += seconds - (backendCpuBefore.get(pid) ?? seconds);
      await tessera.stop(); // its backends report their counters as they exit
      await sleep(1_000);
      const after = await storage.database.stats();
      const per = (pick: (stats: DatabaseStats) => number) => ((pick(after) - pick(before as DatabaseStats)) / measured).toFixed(3);
      notes.push(
        `Measured on PostgreSQL (pg_stat_database, from the end of the warm-up to the server's exit, ÷ the ${measured} measured ` +
          `tracks): **${per((s) => s.commits)} transactions committed per track** (each batched statement is one), rows inserted ` +
          `${per((s) => s.rowsInserted)}, updated ${per((s) => s.rowsUpdated)}, fetched ${per((s) => s.rowsFetched)} per track. ` +
          `The ${backends.length} PostgreSQL backends used **${((backendCpu * 1e6) / measured).toFixed(0)} µs of CPU per track** ` +
          '(/proc/<pid>/stat, same window; the baseline rounds in between add only the background work).',
      );
    }
    return rows;
  } finally {
    await tessera.stop();
  }
}

export const actionsTrack: Scenario = {
  name: 'actions-track',
  title: 'Adaptive MFA: track an action against 20 rules',
  about:
    'One request = `POST /v1/users/{user_id}/actions/signIn` with a context (ip, amount, currency, country, device_id, ' +
    'user_agent), app Basic auth, over 3,000 users in turn (each exists after the warm-up), against 20 rules of every kind (in, cidr, contains, gt/gte, ' +
    'not_in, nested all/any, and the signals new_device, has_factor, failed_challenges, velocity, fraud_reported). Per ' +
    'track: the app and the compiled rules come from memory (0 queries); **one read** of the user’s history (factors, ' +
    'known device, failed challenges, fraud reports, recent tracks) and **one write** (the action, and the user on first ' +
    'use, in one statement); the rules run in memory (≈ 1.5 µs for 20, rules-engine.test.ts); an HS256 token is signed ' +
    '(node:crypto HMAC). The read and the write each go through a batcher (capabilities/actions/batcher.ts): requests ' +
    'that arrive while a batch is in flight share the next one, so under load N tracks cost 2 statements and 1 commit ' +
    'in all, and a lone track runs at once.',
  async run(context) {
    notes.length = 0;
    context.progress('starting the baseline server');
    const baseline = await startBaseline();
    try {
      const result = await onEachStorage(context, (storage) => measureOn(context, baseline, storage));
      return { rows: result.rows, notes: [...result.notes, ...notes] };
    } finally {
      await baseline.stop();
    }
  },
};
