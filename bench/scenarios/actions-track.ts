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

/** What the measured figures mean; written below the table. */
const analysis = [
  '### Statements and commits per track',
  '',
  'A track needs one read of the user’s history (active factor types; whether the device was seen on an allowed or ' +
    'passed action; failed challenges, fraud reports and earlier tracks of the action, each only as far back and as ' +
    'many rows as the rules compare with) and one write (the action, and its user on first use). Both are steps of ' +
    'one batcher (platform/batcher.ts, actions/track-store.ts): **each statement writes the tracks decided since ' +
    'the last one and reads the histories of the tracks that arrived**, one batch at a time, so a track takes part ' +
    'in two statements, each shared with the other tracks in flight. The batcher lets the answered callers run ' +
    'before it takes the next batch, so that a track\'s write joins the statement right after its read: at 32 ' +
    'concurrent tracks that measures **0.10–0.11 commits (statements) per track**, i.e. batches of ≈ 10 (0.14 and ' +
    'batches of ≈ 7 before 2026-12-04, when the write waited for the statement after next). A lone track runs at ' +
    'once (2 statements, 1 durable commit, the answer after the commit). The first version (separate read and write ' +
    'batchers) measured 0.24–0.64 commits per track. With a `callback_url` each track adds an outbox INSERT in ' +
    'its batch’s transaction.',
  '',
  '### Where the time goes (profiled 2026-12-03 08:37 on PostgreSQL; redo after server changes)',
  '',
  'CPU per track in these runs: Tessera ≈ 290–430 µs, its PostgreSQL backends ≈ 140–460 µs (fewer when idle backends left the count), the load client ≈ ' +
    '90–130 µs; the bare route ≈ 45–75 µs plus 50–80 µs of client. Tessera (V8 profile, busy samples): 20 % in the ' +
    '`writev` syscalls of node-postgres (each statement wakes a backend: dear on this VM), 7 % building the Bind ' +
    'message of the 20 array parameters (node-postgres escapes them element by element; sending each list as one ' +
    'JSON parameter read with `jsonb_to_recordset` saved ≈ 50 µs per track here but cost PostgreSQL ≈ 150 µs more ' +
    'and PGlite 2–3 × as much, so it was reverted), 19 % in Fastify’s reply (mostly the response’s own write), ' +
    '6 % the JSON body parser, 3 % app authentication, 3 % signing the token; the rules themselves are noise. ' +
    'PostgreSQL: per batch, the commit and its WAL, the users `ON CONFLICT` probe, the foreign-key check of each ' +
    'action on its user (a `FOR KEY SHARE` row lock), three index inserts per action, and the history sub-plans ' +
    '(≈ 30 µs per user on an idle server). PGlite plans the whole statement on every call, in WASM, in the server ' +
    'process: 3–10 ms of server CPU per track.',
  '',
  '**Target** (PostgreSQL): ≥ 30 % of the bare route. **Not met**. 2026-12-04 (AMD EPYC VM, no server change for ' +
    'tracks but the shared Batcher\'s): 13.6 %, 11.0 % and 11.5 % in three runs (3,432, 3,904 and 4,831 tracks/s, p99 ' +
    '21–36 ms) against bare routes of 25,000, 35,000 and 42,000 req/s: the bare route\'s rate swings with the VM more ' +
    'than the track\'s. Earlier: 13.2 % (2026-12-03 19:47, an AMD ' +
    'EPYC VM, bare route 19,000–21,000 req/s: 2,784 tracks/s, p99 26 ms, 202 µs of Tessera\'s CPU per track); 11.0 % ' +
    'that afternoon on an Intel Xeon VM whose bare route ran at 31,000–42,000 req/s, 2–3 × the figure of ' +
    '/work/shared/MEASURED.md (3,454 tracks/s, p99 27 ms, 142 µs of Tessera\'s CPU and 84 µs of PostgreSQL\'s per ' +
    'track), 9–17 % in runs earlier that day on a loaded machine (1,404 tracks/s at best). At ≈ 0.3 ms of CPU per track ' +
    'in all (Tessera, PostgreSQL and the load client) on 2 cores the ceiling is ≈ 6,500 tracks/s, ≈ 18 % of a 36,000 ' +
    'req/s bare route; 30 % needs ≈ 0.18 ms per track in all. What would cut it: larger batches (a short gathering delay under load, at the cost of latency); no ' +
    'foreign key from actions to users (delete a user’s actions in UserService.remove instead: no row lock per ' +
    'action); fewer indexes on actions (the device index could be a table of known devices, written only on ' +
    'ALLOW/CHALLENGE_SUCCEEDED); a smaller answer (the token is ≈ 300 bytes and appears twice, in `token` and `url`).',
  '',
  '### 2026-12-04, evening',
  '',
  'A slower machine: the same AMD EPYC VM model ran HMAC-SHA1 at 188,000/s (480,000 in /work/shared/MEASURED.md) and ' +
    'the bare route at 8,400–13,200 req/s, so absolute rates and CPU times are 2–3 × those above and only the ratio ' +
    'compares. Sixteen runs on PostgreSQL while trying the changes below: 14.4–21.3 % of the bare route (1,351–2,506 tracks/s, p99 25–56 ms). Two changes:',
  '- **The write joins the next statement** (the batcher change above): 0.135–0.141 → 0.103–0.111 commits per ' +
    'track, in three runs each way.',
  '- **No promise hook outside transactions**: the transaction scope (an AsyncLocalStorage) made Node run a hook for ' +
    'every promise of the process once the first transaction had run; it is now enabled only while a transaction is ' +
    'open (platform/database/database.ts). A loop of async calls ran 2.6 × slower with it enabled; Tessera\'s CPU per ' +
    'track fell from 289–334 µs to 274–288 µs (three runs each way, the same hour).',
  '',
  'The plan-cache lead of the morning is closed. EXPLAIN ANALYZE of the statement for a batch of 7 on an idle server: ' +
    'planning 0.5 ms, execution 0.6 ms, so PostgreSQL plans it afresh for every batch (a custom plan, which sees the ' +
    'arrays and the time bounds, always looks cheaper than the generic one). But a generic plan kept from the first ' +
    'executions, over tables still empty, ran a batch of 7 in 9–10 ms instead of 2.3 ms in a microbenchmark ' +
    '(`force_generic_plan`): a cached generic plan cannot be trusted as tables grow, so the plans stay custom. Hiding ' +
    'the arrays\' lengths behind a text parameter (`$2::text::text[]`) did not make PostgreSQL choose the generic plan: ' +
    'the time bounds still make the custom one look cheaper.',
  '',
  '### 2026-12-04, night: where a statement\'s time goes',
  '',
  'Seven runs on PostgreSQL (bare route 6,400–12,900 req/s): **14.6–22.9 % of the bare route**. The batcher, timed ' +
    'in one run (a scratch patch, not committed), was busy for the whole of every track round, and each statement ' +
    'took 6–9 ms for ≈ 19 steps (≈ 9.5 reads and 9.5 writes). In one such cycle Tessera spends ≈ 4.6 ms of CPU ' +
    '(9.5 tracks × ≈ 490 µs) and PostgreSQL ≈ 2.8 ms, and the two barely overlap: Node\'s one thread waits while ' +
    'PostgreSQL runs the statement, and PostgreSQL waits while Node answers the batch and reads the next requests. ' +
    'On 2 cores, a perfect overlap would bring the cycle near 4.6 ms and the rate near 2,000 tracks/s, ≈ 30 % here. ' +
    'A probe of the statement alone, on a database seeded like the bench\'s (15,000 actions, 3,000 users): an ' +
    'empty statement costs 1.0–1.2 ms (a round trip of 0.34 ms and 0.59 ms of planning), each read adds ≈ 90 µs and ' +
    'each write ≈ 130 µs. Tried and dropped, each in runs taken in turns with the current code:',
  '- **A generic plan.** Reading each array parameter through a sub-select (`(SELECT $2::text[])`) hides its length ' +
    'from custom plans too, so PostgreSQL switches to the generic plan after five executions: planning 0.59 → 0.045 ms, ' +
    'the same plan shape on the seeded database. In the bench, though, PostgreSQL\'s CPU per track rose from 150–216 ' +
    'to 331–376 µs and the ratio fell from 17.4–21.8 % to 12.5–13.4 % (two runs each): the generic plan is built on the ' +
    'sixth execution, over a fresh database\'s empty tables, and kept.',
  '- **A second statement in flight once 8 steps wait**, to overlap Node and PostgreSQL: 16.3 and 18.1 % against ' +
    '17.4 and 16.2 % with one; 0.18 commits per track instead of 0.11. No clear gain for 60 % more commits.',
  '',
  '**The ceiling without the database.** With the track statement replaced by a stub that answers empty histories at ' +
    'once and writes nothing (a scratch patch, one run): **31.3 % of the bare route** (3,809 tracks/s, p99 19 ms, ' +
    '259 µs of Tessera\'s CPU per track, against 268 µs with the database in the run above and 73 µs for the bare ' +
    'route). So the 30 % target leaves the database nothing: Node\'s own work per track (HTTP, app authentication, ' +
    'parsing and checking the body, policy lookup and rules, the token, serialising the answer) already costs ' +
    '3.5 × the bare route\'s, and PostgreSQL\'s ≈ 150–200 µs per track comes on top, on the same 2 cores.',
  '',
  '2026-12-04, 23:30, a fast, quiet VM (bare route 31,800–37,300 req/s, 21–24 µs of server CPU per request; no server ' +
    'change for tracks since the night\'s runs): 16.2 and 16.5 % in two runs, 5,245–5,411 tracks/s, p99 11–46 ms, ' +
    '0.098–0.101 commits per track, Tessera 102–127 µs and PostgreSQL 71–96 µs of CPU per track. With the load client\'s ' +
    '43 µs that is ≈ 0.24 ms of CPU per track on 2 cores: the machine, not a wait, caps it near 8,000 tracks/s (≈ 24 %), ' +
    'and 30 % of this bare route (≈ 10,000 tracks/s) would need ≈ 0.2 ms per track in all, perfectly overlapped. A V8 ' +
    'profile of that run spreads Tessera\'s time thinly: the track service 14 % inclusive, signing the token 5 %, the ' +
    'JSON body 5 %, node-postgres 17 %, rules 4 %, the IP lists 2.4 %.',
  '',
  '2026-12-05, 21:15–21:30, the same kind of VM (bare route 28,800–36,800 req/s; no server change for tracks): 16.9 % ' +
    '(5,776 tracks/s; per track Tessera 106 µs, PostgreSQL 56 µs, the load client 42 µs of CPU). That is ≈ 1.2 s of ' +
    'CPU a second on 2 cores: 40 % of the machine idles while Node waits for a statement or PostgreSQL for the next ' +
    'one. Three tries to use it, each in runs taken in turns with the current code, none kept:',
  '- **The next statement sent before the answers of the last** (the batcher answered a track\'s read at once, as ' +
    'now, but its write only after sending the next statement, so that the HTTP answers cost Node\'s time while ' +
    'PostgreSQL works): 15.2 and 16.2 %, 0.128 commits per track instead of 0.099 (smaller batches); on the 2FA round ' +
    '16.6 and 15.9 % against 18.2 and 16.9 %.',
  '- **Two server processes** (node:cluster, one listening socket, a scratch entry point; with the first try in ' +
    'place): 16.2 and 16.6 % against its 15.2 and 16.2 %, commits per track unchanged (0.128–0.131): no clear gain.',
  '- **A generic plan, and an ANALYZE after the warm-up** (the sub-select trick above, with statistics the plan can ' +
    'trust; measured with the first try in place, so against its runs): PostgreSQL 57–68 µs per track against ' +
    '74–82, ratio 16.6–17.4 % against 15.2–16.2 %; without the ANALYZE one of two runs fell ' +
    'to 11.6 % (PostgreSQL 152 µs per track, the empty-table plan again). A small gain that a production database ' +
    '(analysed) would keep but a fresh one does not: not worth the risk.',
  '',
  '**Why 30 % is out of reach here (2026-12-05, 23:45, bare route 35,000 req/s).** A run on the code of that evening: ' +
    '17.4 %, 6,078 tracks/s, p99 10.9 ms; per track Tessera 107 µs of CPU, PostgreSQL 61 µs, the load client 45 µs: ' +
    '213 µs in all. 30 % of this bare route is 10,500 tracks/s, which at 213 µs needs 2.24 cores of the 2, busy all the ' +
    'time, and Tessera\'s own share alone 1.12 of its one thread. The bare route costs ≈ 55 µs of CPU per request ' +
    '(server and client) and uses both cores fully; so the track would have to cost at most 3.3 × that, ≈ 185 µs in ' +
    'all, perfectly overlapped with PostgreSQL, against 213 µs and ≈ 65 % of the machine used. The stub run above ' +
    '(31 % with no database at all) is the same ceiling seen from the other side. What is left per track is spread ' +
    'thin (a V8 profile of this run: the response write 14 %, node-postgres 12 % of which the array parameters 3 %, ' +
    'routing and hooks 6 %, the JSON body 5 %, crypto 4 %, GC 5 %): no one change gives 15 %. The absolute rate is ' +
    'not the problem: 6,078 tracks/s is more than the 4,800 that 30 % of /work/shared/MEASURED.md\'s 16,000 req/s ' +
    'asked for; the bare route\'s rate grows with the CPU\'s speed, PostgreSQL\'s commits and the context ' +
    'switches between three processes much less. Five more runs that night on the same code (00:58–01:10) gave 9.7, 15.0, 14.0, 11.6 and 13.3 % (PostgreSQL ' +
    '75–174 µs of CPU per track, Tessera 109–142 µs): the spread of the earlier days; the table above is the 11.6 % run. ' +
    'In the low runs PostgreSQL\'s CPU per track doubles or triples; vmstat showed no steal and no I/O wait, and the ' +
    'cause is still not found.',
  '',
  '2026-12-06, 02:24–03:30 (bare route 24,000–28,000 req/s; no server change for tracks): 14.1, 12.0 (under the ' +
    'profiler) and 13.8 % at 32 connections (3,078–3,497 tracks/s). At 128 connections (`BENCH_CONNECTIONS=128`, ' +
    'both rows): 17.3 and 18.1 % (4,251–4,348 tracks/s, p99 70–80 ms), 0.028 commits per track (batches of ≈ 35), ' +
    'PostgreSQL 94 µs of CPU per track, Tessera 163–176 µs against the bare route\'s 30. Four times the requests in ' +
    'flight make the statements larger but do not lower Tessera\'s own CPU per track, and the machine is still ≈ 70 ' +
    '% busy: the ceiling is Tessera\'s work per request on 2 shared cores, not the database\'s commits.',
].join('\n');

export const actionsTrack: Scenario = {
  name: 'actions-track',
  title: 'Adaptive MFA: track an action against 20 rules',
  about:
    'One request = `POST /v1/users/{user_id}/actions/signIn` with a context (ip, amount, currency, country, device_id, ' +
    'user_agent), app Basic auth, over 3,000 users in turn (each exists after the warm-up), against 20 rules of every ' +
    'kind (in, cidr, contains, gt/gte, not_in, nested all/any, and the signals new_device, has_factor, failed_challenges, ' +
    'velocity, fraud_reported); 19 rules do not hold, the last one does (ALLOW). Per track: the app and the compiled ' +
    'rules come from memory (0 queries); the rules run in memory (≈ 1.5 µs for 20, rules-engine.test.ts); an HS256 ' +
    'token is signed (node:crypto HMAC).',
  async run(context) {
    notes.length = 0;
    context.progress('starting the baseline server');
    const baseline = await startBaseline();
    try {
      const result = await onEachStorage(context, (storage) => measureOn(context, baseline, storage));
      return { rows: result.rows, notes: [...result.notes, ...notes, analysis] };
    } finally {
      await baseline.stop();
    }
  },
};
