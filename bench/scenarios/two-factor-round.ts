import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { createPool, percentilesMs, type Flow, type LoadResult } from '../lib/load.ts';
import type { DatabaseStats } from '../lib/postgres.ts';
import { cpuTimesOf, startBaseline, startTessera, type ChildServer } from '../lib/processes.ts';
import type { ResultRow } from '../lib/report.ts';
import { measureAgainstBaseline, type Scenario, type ScenarioContext } from '../lib/scenario.ts';
import { bareRoute, createApp, onEachStorage, type Storage } from '../lib/tessera.ts';
import { enrollUsers, TotpUserPool } from '../lib/totp-users.ts';

const target = '2FA round: POST /v1/users/{id}/challenges + POST /v1/challenges/{id}/verify';

/** The server's per-user challenge limit (20 a minute by default) would refuse a user's second minute of rounds. */
const challengeLimitEnv = { TESSERA_CHALLENGES_PER_USER_PER_MINUTE: '1000000' };

/** Enrolment requests in flight. */
const enrollConcurrency = 32;
/** Users to enrol for the measurement: the warm-up's rate × the measured time × this (the rate rises once warm). */
const poolMargin = 2;

interface StorageFigures {
  storage: string;
  users: number;
  enrollSeconds: number;
  create: { p50Ms: number; p99Ms: number };
  verify: { p50Ms: number; p99Ms: number };
  starved: { waits: number; ms: number };
  rounds: number;
  /** The machine's 1-minute load average when the measured rounds began and ended (other work on it). */
  loadAverage: [number, number];
  database?: { before: DatabaseStats; after: DatabaseStats; backends: number; backendCpuSeconds: number | null };
}

/** CPU seconds (user + system) the processes have used, or null when one cannot be read (not on this machine). */
function cpuSecondsOf(pids: number[]): number | null {
  try {
    return pids.reduce((total, pid) => {
      const times = cpuTimesOf(pid);
      return total + times.user + times.system;
    }, 0);
  } catch {
    return null;
  }
}

function twoFactorFlow(users: TotpUserPool, authorization: string): Flow {
  const headers = { authorization, 'content-type': 'application/json' };
  return {
    unit: 'round',
    calls: ['create', 'verify'],
    async run(call) {
      const user = await users.take();
      try {
        const created = await call('create', {
          method: 'POST',
          path: `/v1/users/${user.userId}/challenges`,
          headers,
          body: '{}',
        });
        const challengeId = /"challenge_id":"([^"]+)"/.exec(created.body)?.[1];
        if (challengeId === undefined) throw new Error(`create: no challenge_id in ${created.body.slice(0, 200)}`);
        // The code is computed now, after the create, for the lowest step the user may still use.
        const picked = users.pick(user);
        if (picked === null) throw new Error(`no usable TOTP step for ${user.userId} (last ${user.lastStep})`);
        const verified = await call('verify', {
          method: 'POST',
          path: `/v1/challenges/${challengeId}/verify`,
          headers,
          body: `{"code":"${picked.code}"}`,
        });
        if (!verified.body.includes('"status":"verified"')) {
          throw new Error(`verify: 2xx without "verified": ${verified.body.slice(0, 200)}`);
        }
        user.lastStep = picked.step;
      } finally {
        users.giveBack(user);
      }
    },
  };
}

async function enroll(
  context: ScenarioContext,
  server: ChildServer,
  authorization: string,
  users: TotpUserPool,
  prefix: string,
  count: number,
): Promise<number> {
  context.progress(`enrolling ${count} users (TOTP import, ${enrollConcurrency} at a time)`);
  const pool = createPool(server.origin, enrollConcurrency);
  try {
    const { users: enrolled, seconds } = await enrollUsers({
      pool,
      authorization,
      prefix,
      first: users.size,
      count,
      concurrency: enrollConcurrency,
      progress: context.progress,
    });
    for (const user of enrolled) users.add(user);
    context.progress(`  enrolled ${enrolled.length} users in ${seconds.toFixed(1)} s (${(enrolled.length / seconds).toFixed(0)}/s)`);
    return seconds;
  } finally {
    await pool.close();
  }
}

/** Tessera on one storage: enrol users, then rounds measured in alternation with the baseline. */
async function measureOn(
  context: ScenarioContext,
  baseline: ChildServer,
  storage: Storage,
  figures: StorageFigures[],
): Promise<ResultRow[]> {
  const adminToken = randomBytes(32).toString('hex');
  context.progress(`starting Tessera on ${storage.label} (${Object.entries(challengeLimitEnv).map(([k, v]) => `${k}=${v}`).join(' ')})`);
  const tessera = await startTessera({ ...storage.env, ...challengeLimitEnv, TESSERA_ADMIN_TOKEN: adminToken });
  try {
    const { authorization } = await createApp(tessera, adminToken);
    const users = new TotpUserPool();
    const prefix = `bench-${randomBytes(4).toString('hex')}`;
    const { warmupRequests, durationS, connections } = context.options;

    // Enough users for the warm-up: a new user has at least two codes to give (steps C and C+1).
    const warmupRounds = Math.ceil(warmupRequests / 2);
    let enrollSeconds = await enroll(context, tessera, authorization, users, prefix, Math.ceil((warmupRounds * 1.2) / 2) + connections);

    let before: DatabaseStats | undefined;
    let backends: number[] = [];
    let backendCpuBefore: number | null = null;
    const flow = twoFactorFlow(users, authorization);
    let loadAtStart = NaN;
    const rows = await measureAgainstBaseline(context, bareRoute(baseline), [
      {
        server: tessera,
        target,
        storage: storage.label,
        flow,
        async afterWarmup(warmup: LoadResult) {
          // Top up the pool for the rate the warm-up reached.
          const needed = Math.ceil(warmup.requestsPerSecond * durationS * poolMargin) + connections;
          const left = users.usesLeft();
          context.progress(
            `  warm-up: ${warmup.requestsPerSecond.toFixed(0)} rounds/s; the measurement may need ${needed} verifies, ` +
              `the ${users.size} users have ${left} left before the next step` +
              (users.starved.waits > 0 ? ` (the pool ran dry ${users.starved.waits} times in the warm-up)` : ''),
          );
          users.starved = { waits: 0, ms: 0 }; // from here on, count only the measured rounds
          if (left < needed) enrollSeconds += await enroll(context, tessera, authorization, users, prefix, Math.ceil((needed - left) / 2));
          if (storage.database) {
            // PostgreSQL's backends report their counters when idle for 10 s (or at their next transaction after 1 s).
            context.progress('  waiting 11 s for PostgreSQL statistics to settle');
            await sleep(11_000);
            before = await storage.database.stats();
            backends = await storage.database.backendPids();
            backendCpuBefore = cpuSecondsOf(backends);
          }
          loadAtStart = os.loadavg()[0] ?? NaN;
        },
      },
    ]);
    const loadAtEnd = os.loadavg()[0] ?? NaN;
    const row = rows[1];
    let database: StorageFigures['database'];
    if (storage.database && before) {
      const backendCpuAfter = cpuSecondsOf(backends);
      await tessera.stop(); // its backends report their counters as they exit
      await sleep(1_000);
      database = {
        before,
        after: await storage.database.stats(),
        backends: backends.length,
        backendCpuSeconds: backendCpuBefore !== null && backendCpuAfter !== null ? backendCpuAfter - backendCpuBefore : null,
      };
    }
    if (!row) throw new Error('no measurement of Tessera');
    const calls = row.load.calls;
    figures.push({
      storage: storage.label,
      users: users.size,
      enrollSeconds,
      create: percentilesMs(calls?.get('create') ?? row.load.histogram),
      verify: percentilesMs(calls?.get('verify') ?? row.load.histogram),
      starved: users.starved,
      rounds: row.load.requests,
      loadAverage: [loadAtStart, loadAtEnd],
      ...(database ? { database } : {}),
    });
    if (users.starved.waits > 0) {
      context.progress(`  the user pool ran dry ${users.starved.waits} times (${(users.starved.ms / 1000).toFixed(1)} s of waiting in all)`);
    }
    return rows;
  } finally {
    await tessera.stop();
  }
}

const ms = (value: number) => value.toFixed(2);
const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** The per-call latencies, the user pool and (PostgreSQL) the database's counters per round, as notes. */
function figureNotes(figures: StorageFigures[], rows: ResultRow[]): string[] {
  if (figures.length === 0) return [];
  const lines = [
    'Per call, and the test users (whole measured window, Tessera rows above):',
    '',
    '| storage | create p50 / p99 ms | verify p50 / p99 ms | users enrolled (time) | pool ran dry | load average (1 min) at start / end |',
    '|---|---:|---:|---:|---:|---:|',
    ...figures.map(
      (f) =>
        `| ${f.storage} | ${ms(f.create.p50Ms)} / ${ms(f.create.p99Ms)} | ${ms(f.verify.p50Ms)} / ${ms(f.verify.p99Ms)} | ` +
        `${integer.format(f.users)} (${f.enrollSeconds.toFixed(1)} s, ${integer.format(f.users / f.enrollSeconds)}/s) | ` +
        `${f.starved.waits === 0 ? 'never' : `${f.starved.waits} times, ${(f.starved.ms / 1000).toFixed(1)} s`} | ` +
        `${f.loadAverage[0].toFixed(1)} / ${f.loadAverage[1].toFixed(1)} |`,
    ),
  ];
  const notes = [lines.join('\n')];
  const busy = figures.some((f) => Math.max(...f.loadAverage) > 2.5);
  notes.push(
    `The machine has 2 cores; a load average well above 2 during the rounds means other work (other sessions' test ` +
      `runs${busy ? ', as in this run' : ''}) took CPU from the servers, the database and the load client alike: ` +
      'absolute rates are noisy (±30 % or more), the ratio to the bare route less so, CPU per round least.',
  );
  const postgres = rows.find((row) => row.storage === 'PostgreSQL' && row.unit);
  if (postgres?.baselineRps) {
    const share = (postgres.load.requestsPerSecond * (postgres.unit?.requests ?? 1)) / postgres.baselineRps;
    const met = share >= 0.25 && postgres.load.p99Ms < 25;
    notes.push(
      `**Target** (PostgreSQL, 32 concurrent rounds): (rounds/s × 2) ≥ 25 % of the bare route's requests/s ` +
        `(≈ ${integer.format((postgres.baselineRps * 0.25) / 2)} rounds/s in this run, ≈ 2,000 at the 16,000 req/s of ` +
        '/work/shared/MEASURED.md) with p99 < 25 ms. ' +
        `This run: ${(share * 100).toFixed(1)} %, p99 ${postgres.load.p99Ms.toFixed(0)} ms: **${met ? 'met' : 'not met'}**.`,
    );
  }
  for (const f of figures) {
    if (!f.database || f.rounds === 0) continue;
    const { before, after, backends, backendCpuSeconds } = f.database;
    const per = (pick: (stats: DatabaseStats) => number) => ((pick(after) - pick(before)) / f.rounds).toFixed(2);
    const cpu =
      backendCpuSeconds === null
        ? ''
        : ` The ${backends} PostgreSQL backends of the server used **${integer.format((backendCpuSeconds * 1e6) / f.rounds)} µs of CPU ` +
          `per round** over the same window (/proc/<pid>/stat; the baseline's rounds in between add only the background work).`;
    notes.push(
      `Measured on ${f.storage} (pg_stat_database of the bench database, from the end of the warm-up to the server's ` +
        `exit, divided by the ${integer.format(f.rounds)} measured rounds; the server's background work — the ` +
        `expiry sweep and the webhook poll, each once a second — adds a few transactions a second): ` +
        `**${per((s) => s.commits)} transactions committed per round** (each autocommit statement counts as one, ` +
        `read-only ones included), ${per((s) => s.rollbacks)} rolled back, rows inserted ${per((s) => s.rowsInserted)}, ` +
        `updated ${per((s) => s.rowsUpdated)}, deleted ${per((s) => s.rowsDeleted)}, fetched ${per((s) => s.rowsFetched)} per round.` +
        cpu,
    );
  }
  return notes;
}

/**
 * Where the time went and what would cut it: written by hand from profiles of 2026-11-23 (server at 876222f plus the
 * uncommitted TOTP work of that day); re-profile after server changes. Appended to the notes of every run.
 */
const analysis = [
  '### Where the time goes (profiled 2026-11-23; redo after server changes)',
  '',
  'Per round on PostgreSQL the Tessera process used ≈ 2.3 ms of CPU, its PostgreSQL backends ≈ 4.0 ms and the load ' +
    'client ≈ 0.55 ms: ≈ 7 ms of CPU per round on a 2-core machine, so ≈ 290 rounds/s at most even with the machine ' +
    'to itself. Both processes spend it per statement, and a round sends 13.',
  '',
  '- **Tessera** (`perf record -g` of the child under 32 concurrent rounds, with `--perf-basic-prof-only-functions`; ' +
    'the V8 profile from `BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=…"` agrees but puts 35–40 % of its samples in ' +
    '`writev`, since it also counts the time the thread waits for the CPU after waking a PostgreSQL backend): 47 % of ' +
    'the on-CPU samples have node-postgres on the stack — sending (`client.query` down to the loopback `writev`, 27 %), ' +
    'receiving and parsing rows (≈ 22 %: row descriptions, `SELECT *`/`RETURNING *` rows, date parsing; a released ' +
    'connection starts the next queued query from there, so the two overlap) and pg-pool acquire/release for each ' +
    'autocommit statement (8 %); Fastify, schemas and HTTP ≈ 17 %; keyring, otpauth and ids ≈ 5 %; GC ≈ 4 %. A quarter ' +
    'of the samples are in the kernel, 16 % in the hypervisor\'s interrupt-enable path of loopback wake-ups: syscalls ' +
    'are dear on this VM, which makes every round trip dearer.',
  '- **PostgreSQL** (`perf record -g` of the 16 backends): ≈ 32 % parsing, analysing and planning (every statement ' +
    'is sent unnamed, so planned every time: planner 16–18 %, parse analysis 8–9 %, raw parser 5 %), executor ≈ 15–17 %, ' +
    'commit and WAL flush ≈ 10 %, reading the socket ≈ 15 %; 37 % of all its samples are kernel time.',
  '- **The same SQL without HTTP** (a one-off replay of the round\'s statements from a script, 32 loops, same ' +
    'database, two passes): as sent today 250–340 rounds/s with PostgreSQL at 3.1–4.3 ms and node-postgres at ' +
    '1.0–1.4 ms of CPU per round; as named (prepared) statements 420–485 rounds/s, PostgreSQL 1.7–1.8 ms; merged into ' +
    '3 statements (below) but unnamed 530–590 rounds/s, PostgreSQL 2.0–2.2 ms, client 0.4 ms; merged **and** named ' +
    '980–1,030 rounds/s, PostgreSQL 0.9 ms, client 0.33 ms. (Under heavier load from other sessions the same variant ' +
    'fell to 400–700 rounds/s: PostgreSQL\'s CPU per round grows with contention on this VM.)',
  '- **PGlite** runs the database in the server process, one statement at a time: 7–10 ms of server CPU per round ' +
    '(0.5–0.8 ms per statement) in the runs of that day, 60 % of it in PGlite\'s WASM and JS (V8 profile); it scales ' +
    'with the statement count.',
  '',
  '### Server changes that would cut it, with estimates (1, 2a and most of 3 are made since; the profile above is from before them)',
  '',
  '1. **Prepared statements** in the PostgreSQL driver: send `{ name, text, values }` (a name derived from the SQL) so ' +
    'each connection parses and plans a statement once. PostgreSQL CPU per round −55 to −60 % in the replay (no change ' +
    'of SQL or semantics).',
  '2. **Verify in 2 statements instead of 8 + BEGIN/COMMIT.** (a) Skip `UPDATE users … failed_codes = 0` when the row ' +
    'read under lock already has no failures (−1, no behaviour change). (b) Skip the outbox `INSERT` when the cached ' +
    'app has no `callback_url` (−1; the cache is dropped when the app changes). (c) Read challenge, user and factor in ' +
    'one `SELECT … JOIN … FOR UPDATE OF c, u` (−3). (d) Write the factor\'s step, the challenge\'s status, the user\'s ' +
    'reset and the outbox row in one statement with data-modifying CTEs (−1 to −3). Or, for the success path only: a ' +
    'lock-free read, then one autocommit statement whose `WHERE` re-checks the step (`last_step < $step`), the ' +
    'challenge (pending, not expired) and the user\'s lock, keeping today\'s locking transaction for wrong codes so the ' +
    'lockout count stays exact.',
  '3. **Create in 1 statement instead of 3**: `INSERT INTO challenges … SELECT … FROM factors WHERE … AND type IN ' +
    '(\'push\', \'totp\') AND status = \'active\' ORDER BY type = \'push\' DESC, id DESC LIMIT 1 RETURNING …`, with the ' +
    '404 / no-factor lookups only when it inserts nothing.',
  '4. Smaller: select the columns needed instead of `SELECT *`/`RETURNING *` and the recovery-code count subselect in ' +
    'every factor read (less row parsing), make the outbox id only when a row is written (`randomBytes` ≈ 2 %).',
  '5. **Commits**: 2 durable commits per round remain (the challenge, the verify). `SET LOCAL synchronous_commit = ' +
    'off` for the create would drop one flush (a crash could lose a challenge made milliseconds before; its verify ' +
    'then answers 404); the verify must stay durable (the replay guard). Or keep pending TOTP challenges out of the ' +
    'database (memory/Redis, written when they end): 1 commit and no create statement, at the price of reworking ' +
    'GET /v1/challenges and expiry. Not measurable here while CPU is the limit; by /work/shared/MEASURED.md it moves ' +
    'the commit ceiling from ≈ 2,700 to ≈ 5,000 rounds/s.',
  '',
  '**Estimate.** With 1–3 (13 → 3 statements, prepared): Tessera ≈ 0.6–0.7 ms per round (2 × ≈ 150 µs of HTTP and ' +
    'route work, 3 × ≈ 110 µs per statement), PostgreSQL ≈ 0.9 ms, the load client ≈ 0.3 ms: ≈ 1.9 ms of CPU per ' +
    'round, ≈ 1,000 rounds/s on an otherwise idle 2-core machine — about 5 × today, ≈ 12 % of the bare route for 2 ' +
    'calls; PGlite ≈ 3–4 × today. The target (25 %, ≈ 2,000 rounds/s) needs ≈ 1 ms of CPU per round for Tessera, ' +
    'PostgreSQL and the client together; it is also what p99 < 25 ms needs, since 32 clients in a closed loop wait ' +
    '32 ÷ rate on average (16 ms at 2,000 rounds/s, 160 ms at today\'s ≈ 200). Not reachable on this machine with two ' +
    'durable writes and a dozen statements per round; with 1–3 plus 5 it may come within a factor of two.',
  '',
  'Enrolment (not measured in the table) ran at 60–100 users/s: an import still renders the QR code PNG ' +
    '(`QRCode.toDataURL`, ≈ 6 ms of CPU here) though the caller already holds the secret; leaving it out for imports ' +
    'would speed up bulk imports several times.',
].join('\n');

export const twoFactorRound: Scenario = {
  name: 'two-factor-round',
  title: '2FA round: create a TOTP challenge, verify a correct code',
  about: [
    'One **round** = `POST /v1/users/{user_id}/challenges` (body `{}`) then `POST /v1/challenges/{challenge_id}/verify` ' +
      '`{"code": …}` with a correct TOTP code, both with the app\'s Basic credentials, one after the other on one ' +
      'connection; 32 rounds in flight. The rate column is rounds/s, p50/p99 are of the whole round (first byte ' +
      'sent to last byte of the verify read), server CPU is per round, errors counts non-2xx calls (a wrong or ' +
      'replayed code would be a 422), and **vs bare route** is (rounds/s × 2 calls) ÷ the bare route\'s requests/s. ' +
      'The Tessera server runs with `TESSERA_CHALLENGES_PER_USER_PER_MINUTE=1000000`: the default per-user limit ' +
      '(20 a minute) would otherwise refuse a user\'s later rounds.',
    '',
    '**Test users.** A TOTP code is accepted once per factor: only for a step within ±1 of the server\'s and newer ' +
      'than the factor\'s last accepted step, so at step C a factor gives at most three verifies (C-1, C, C+1, in ' +
      'that order) and one more every 30 s. Before the warm-up the bench enrols users by import ' +
      '(`POST /v1/users/{user_id}/factors {type: "totp", secret, code}`, a fresh 20-byte secret, SHA1/6 digits/30 s) ' +
      'with the code for step C-1, which the server accepts (it checks C, then C-1, then C+1) and records as the ' +
      'last step, leaving C and C+1 for rounds (C if within 2 s of the end of the step). After the warm-up it tops ' +
      `the pool up to the warm-up's rate × the measured seconds × ${poolMargin} verifies. Users are taken in turn, each by one ` +
      'round at a time; the code is computed (otpauth) after the create answers, for the lowest step the user may ' +
      'still use — C-1 only while more than 2 s from the end of step C, since the server may have moved to C+1 by ' +
      'the time it checks — and skipping a step whose code equals another of C-1…C+2 (the server would match the ' +
      'other). A user who has used C+1 waits for the next step; "pool ran dry" below counts the times no user ' +
      'could verify (0 in a well-sized run). Enrolment is not measured.',
    '',
    '**Statements per round** (from packages/server/src/capabilities: challenges/service.ts, factors/service.ts, ' +
      'users/service.ts and their stores; the app comes from the in-memory app cache, 0 queries, as in apps-get). ' +
      'On PostgreSQL every statement is a named prepared statement (parsed and planned once per connection). ' +
      '*Create*: in-memory rate-limit hit; one `SELECT` of the newest active factor, push first then TOTP; ' +
      '`INSERT INTO challenges … RETURNING *` — 2 autocommit statements, 1 durable commit. *Verify*: one transaction — ' +
      '`BEGIN`; `SELECT` the challenge `FOR UPDATE`; `SELECT` the user `FOR UPDATE` (the lockout guard); `SELECT` the ' +
      'factor; `UPDATE factors SET last_step` (the replay guard); `UPDATE challenges SET status = \'verified\'`; ' +
      '`INSERT INTO webhook_deliveries … SELECT … FROM apps WHERE callback_url IS NOT NULL` (the outbox: 0 rows here, ' +
      'the statement runs anyway); `COMMIT` — 6 statements + BEGIN/COMMIT, 1 durable commit (the users reset runs only ' +
      'after wrong codes). In all **10 round trips to the database and 2 durable commits per round**, 1 row inserted ' +
      'and 2 updated. Before the prepared statements and these cuts (first measurement, 2026-11-23 19:20): 13 round ' +
      'trips, all parsed and planned each time, 186 rounds/s on PostgreSQL. Besides the database: the secret is ' +
      'decrypted with the keyring (AES-256-GCM) and up to 3 HMAC-SHA1 are computed per verify; each call ' +
      'authenticates the app (one SHA-256), validates and serialises through its schemas and observes the request ' +
      'histogram. By /work/shared/MEASURED.md, 2 commits per round cap PostgreSQL at ≈ 2,700 rounds/s here, and PGlite ' +
      '(one statement at a time, ≈ 3,000–6,000 a second) at a few hundred rounds/s.',
  ].join('\n'),
  async run(context) {
    context.progress('starting the baseline server');
    const baseline = await startBaseline();
    const figures: StorageFigures[] = [];
    try {
      const { rows, notes } = await onEachStorage(context, (storage) => measureOn(context, baseline, storage, figures));
      return { rows, notes: [...figureNotes(figures, rows), ...notes, analysis] };
    } finally {
      await baseline.stop();
    }
  },
};
