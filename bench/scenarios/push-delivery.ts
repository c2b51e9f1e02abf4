// push-delivery: 1,000 devices hold their live stream open; how fast a new push challenge reaches its device, how
// fast the app's waiting long-poll learns of the device's signed answer, and what an idle device stream costs in
// server memory — each against a bare `ws` server (bench/baseline-ws-server.ts) measured in the same run.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from 'undici';
import { ensureFileLimit } from '../lib/fd-limit.ts';
import { heapGrowth, startInspectable, startInspectableTessera, type HeapSummary, type InspectableServer, type MemoryReading } from '../lib/inspector.ts';
import { combine, createPool, type LoadResult } from '../lib/load.ts';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { readTableStats, subtractStats, type TableStats } from '../lib/pg-table-stats.ts';
import type { DatabaseStats } from '../lib/postgres.ts';
import { cpuSecondsOf, startBaseline, type ChildServer, type CpuTimes } from '../lib/processes.ts';
import {
  deviceAuthorization,
  eachLimited,
  openDeviceStream,
  registerDevices,
  signedApproval,
  TimedSocket,
  type BenchDevice,
} from '../lib/push-devices.ts';
import type { ResultRow } from '../lib/report.ts';
import type { Scenario, ScenarioContext } from '../lib/scenario.ts';
import { createApp, onEachStorage, type Storage } from '../lib/tessera.ts';

function positiveInteger(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer (got "${raw}").`);
  return value;
}

/** The scenario's own settings (environment); BENCH_DURATION_S, BENCH_CONNECTIONS and BENCH_WARMUP_REQUESTS do not apply. */
interface Settings {
  /** Devices (one user each) with an open stream: BENCH_PUSH_DEVICES (1000). */
  devices: number;
  /** Measured challenges, created and answered: BENCH_PUSH_CHALLENGES (2000). */
  challenges: number;
  /** Challenges (or answers) in flight at once: BENCH_PUSH_IN_FLIGHT (4). */
  inFlight: number;
  /** Challenges per round; each round alternates with a baseline round: BENCH_PUSH_ROUND (200). */
  perRound: number;
  /** At least this long between sending a long-poll and the answer it waits for: BENCH_PUSH_SETTLE_MS (250). */
  settleMs: number;
  /** Long-polls sent ahead of their answer (a sliding window): BENCH_PUSH_LONG_POLLS (32). */
  longPolls: number;
  /** Seconds the streams stay idle before the memory is read: BENCH_PUSH_IDLE_S (5). */
  idleS: number;
  /**
   * Clients of the bare ws server for its memory reading: BENCH_PUSH_BARE_CLIENTS (8000, at least `devices`). RSS moves
   * by megabytes on its own (V8 maps and unmaps 256 KiB pages), which 1,000 connections cannot rise above; 8,000 can.
   * All but `devices` of them are closed before the latency rounds.
   */
  bareClients: number;
  /**
   * BENCH_PUSH_HEAP_SNAPSHOTS=1: heap snapshots before and after opening the connections, diffed by constructor (they
   * disturb the RSS figures); BENCH_PUSH_HEAP_SNAPSHOT_DIR=<dir> keeps the raw .heapsnapshot files there too.
   */
  heapSnapshots: boolean;
  heapSnapshotDir: string | null;
  /** BENCH_PUSH_CPU_PROFILE=<dir>: a V8 CPU profile of each Tessera child over the measured rounds, written there. */
  cpuProfileDir: string | null;
}

function settingsFromEnv(): Settings {
  const devices = positiveInteger('BENCH_PUSH_DEVICES', 1000);
  const perRound = Math.min(positiveInteger('BENCH_PUSH_ROUND', 200), devices);
  return {
    devices,
    challenges: positiveInteger('BENCH_PUSH_CHALLENGES', 2000),
    inFlight: positiveInteger('BENCH_PUSH_IN_FLIGHT', 4),
    perRound,
    settleMs: positiveInteger('BENCH_PUSH_SETTLE_MS', 250),
    longPolls: positiveInteger('BENCH_PUSH_LONG_POLLS', 32),
    idleS: positiveInteger('BENCH_PUSH_IDLE_S', 5),
    bareClients: Math.max(devices, positiveInteger('BENCH_PUSH_BARE_CLIENTS', 8000)),
    heapSnapshots: process.env.BENCH_PUSH_HEAP_SNAPSHOTS === '1' || Boolean(process.env.BENCH_PUSH_HEAP_SNAPSHOT_DIR?.trim()),
    heapSnapshotDir: process.env.BENCH_PUSH_HEAP_SNAPSHOT_DIR?.trim() || null,
    cpuProfileDir: process.env.BENCH_PUSH_CPU_PROFILE?.trim() || null,
  };
}

/** The per-user limit (20 a minute by default) would refuse a user's later challenges; the pending cap (3) is kept. */
const challengeLimitEnv = { TESSERA_CHALLENGES_PER_USER_PER_MINUTE: '1000000' };
const registerConcurrency = 8;
const openConcurrency = 16;
/** Streams opened and closed before the first memory reading, so that code loaded on first use is not counted. */
const warmConnections = 10;

const targets = {
  wsPush: 'bare ws server: POST /push → message on the client’s socket',
  create: 'push delivery (a): POST /v1/users/{id}/challenges → challenge on the device stream',
  wsWake: 'bare ws server: POST /wake → the held GET /wait answers',
  answer: 'push answer (b): POST /v1/device/challenges/{id}/answer → waiting GET /v1/challenges/{id}?wait=30 answers approved',
} as const;

const ns = (ms: number) => Math.max(1, Math.round(ms * 1e6));

// ——— measuring ———

/** One measured path over all its rounds: the closed-loop results, and the server CPU they took. */
class PathStats {
  readonly rounds: LoadResult[] = [];
  readonly cpu: CpuTimes = { user: 0, system: 0 };

  add(result: LoadResult, cpu: CpuTimes): void {
    this.rounds.push(result);
    this.cpu.user += cpu.user;
    this.cpu.system += cpu.system;
  }

  result(): LoadResult {
    return combine(this.rounds);
  }

  cpuMicrosPerRequest(): number {
    const requests = this.rounds.reduce((total, round) => total + round.requests, 0);
    return ((this.cpu.user + this.cpu.system) * 1e6) / Math.max(1, requests);
  }
}

const cpuDelta = (before: CpuTimes, after: CpuTimes): CpuTimes => ({ user: after.user - before.user, system: after.system - before.system });

/**
 * Runs `iteration` over `items`, `inFlight` at a time (closed loops); each answers its latency in ms or throws.
 * `prepare(index)`, awaited before each iteration, is not measured: neither in the latency nor in the loop's time.
 * The rate is the sum over the loops of each loop's successes ÷ its own time (to its last answer, less its
 * prepare time), as in load.ts.
 */
async function closedLoop<T>(
  items: readonly T[],
  inFlight: number,
  iteration: (item: T, index: number) => Promise<number>,
  prepare?: (index: number) => Promise<void>,
): Promise<LoadResult> {
  const histogram = createHistogram();
  let next = 0;
  let ok = 0;
  let errors = 0;
  let firstError: string | null = null;
  const begin = performance.now();
  const loop = async () => {
    let mine = 0;
    let lastAt = begin;
    let preparing = 0;
    while (next < items.length) {
      const index = next++;
      if (prepare) {
        const t = performance.now();
        await prepare(index);
        preparing += performance.now() - t;
      }
      try {
        histogram.record(ns(await iteration(items[index] as T, index)));
        ok++;
        mine++;
      } catch (error) {
        errors++;
        firstError ??= error instanceof Error ? error.message : String(error);
      }
      lastAt = performance.now();
    }
    return mine > 0 ? mine / (Math.max(1, lastAt - begin - preparing) / 1000) : 0;
  };
  const rates = await Promise.all(Array.from({ length: Math.min(inFlight, items.length) }, () => loop()));
  const rate = rates.reduce((total, value) => total + value, 0);
  const seconds = rate > 0 ? ok / rate : (performance.now() - begin) / 1000;
  return {
    requests: histogram.count,
    ok,
    errors,
    firstError,
    seconds,
    requestsPerSecond: rate,
    p50Ms: histogram.count > 0 ? histogram.percentile(50) / 1e6 : NaN,
    p99Ms: histogram.count > 0 ? histogram.percentile(99) / 1e6 : NaN,
    histogram,
  };
}

/**
 * Long-polls sent ahead of the answers they wait for: before the answer to item i, the polls of items i … i + window − 1
 * are sent (those not sent yet), then `ready(i)` waits until item i's poll has been out for `settleMs`, so that the
 * server has it waiting when the answer comes.
 */
class LongPollWindow {
  readonly #sentAt: number[] = [];
  readonly #polls: Array<Promise<Answered | { error: string }>> = [];

  constructor(
    private readonly count: number,
    private readonly window: number,
    private readonly settleMs: number,
    private readonly send: (index: number) => Promise<Answered | { error: string }>,
  ) {}

  async ready(index: number): Promise<void> {
    for (let i = this.#polls.length; i < Math.min(this.count, index + this.window); i++) {
      this.#sentAt[i] = performance.now();
      this.#polls[i] = this.send(i);
    }
    const wait = (this.#sentAt[index] as number) + this.settleMs - performance.now();
    if (wait > 0) await sleep(wait);
  }

  poll(index: number): Promise<Answered | { error: string }> {
    return this.#polls[index] ?? Promise.resolve({ error: `long-poll ${index} was never sent` });
  }

  /** Every poll sent (they all answer once their item is answered). */
  settled(): Promise<unknown> {
    return Promise.all(this.#polls);
  }
}

/** Runs a phase on `server`, adds its result and the server's CPU to `stats` (when measured). */
async function phase(server: ChildServer, stats: PathStats | null, run: () => Promise<LoadResult>): Promise<LoadResult> {
  const before = server.cpuTimes();
  const result = await run();
  stats?.add(result, cpuDelta(before, server.cpuTimes()));
  return result;
}

interface Answered {
  at: number;
  status: number;
  text: string;
}

/** A request whose answer is awaited later (a long-poll); never rejects, the failure is in `error`. */
function heldRequest(pool: Pool, path: string, headers: Record<string, string>): Promise<Answered | { error: string }> {
  return pool.request({ method: 'GET', path, headers }).then(
    async (response) => {
      const text = await response.body.text();
      return { at: performance.now(), status: response.statusCode, text };
    },
    (error: unknown) => ({ error: error instanceof Error ? error.message : String(error) }),
  );
}

async function postText(pool: Pool, path: string, headers: Record<string, string>, body: string): Promise<{ status: number; text: string }> {
  const response = await pool.request({ method: 'POST', path, headers: { ...headers, 'content-type': 'application/json' }, body });
  return { status: response.statusCode, text: await response.body.text() };
}

// ——— memory of idle connections ———

interface IdleMemory {
  server: string;
  storage: string;
  connections: number;
  before: MemoryReading;
  /** After the first half of the connections. */
  half: MemoryReading;
  after: MemoryReading;
  growth?: ReturnType<typeof heapGrowth>;
}

const perConnectionKiB = (from: MemoryReading, to: MemoryReading, count: number, pick: (reading: MemoryReading) => number) =>
  (pick(to) - pick(from)) / count / 1024;

/**
 * Reads the server's settled memory, opens half of the `count` connections with `open(from, to)`, reads again, opens
 * the rest, lets them idle, reads again. Two halves: if both give about the same per connection, the figure is not
 * an artefact of the allocator giving pages back (or taking them) at the wrong moment.
 */
async function measureIdle(
  context: ScenarioContext,
  settings: Settings,
  child: InspectableServer,
  labels: { server: string; storage: string },
  count: number,
  open: (from: number, to: number) => Promise<void>,
): Promise<IdleMemory> {
  const snapshotFile = async (when: string) => {
    if (!settings.heapSnapshotDir) return undefined;
    await mkdir(settings.heapSnapshotDir, { recursive: true });
    const name = `${labels.server}-${labels.storage}-${child.server.pid}-${when}.heapsnapshot`.replace(/[^A-Za-z0-9.-]+/g, '_');
    return path.join(settings.heapSnapshotDir, name);
  };
  const before = await child.inspector.settledMemory();
  const heapBefore: HeapSummary | null = settings.heapSnapshots ? await child.inspector.heapSummary(await snapshotFile('before')) : null;
  const middle = Math.floor(count / 2);
  const started = performance.now();
  await open(0, middle);
  await sleep(settings.idleS * 1000);
  const half = await child.inspector.settledMemory();
  await open(middle, count);
  context.progress(`  ${count} connections open (in two halves; ${((performance.now() - started) / 1000).toFixed(1)} s); idle for ${settings.idleS} s`);
  await sleep(settings.idleS * 1000);
  const after = await child.inspector.settledMemory();
  const heapAfter: HeapSummary | null = settings.heapSnapshots ? await child.inspector.heapSummary(await snapshotFile('after')) : null;
  const idle: IdleMemory = { ...labels, connections: count, before, half, after };
  if (heapBefore && heapAfter) idle.growth = heapGrowth(heapBefore, heapAfter, count, 30);
  const show = (from: MemoryReading, to: MemoryReading, n: number) =>
    `RSS ${perConnectionKiB(from, to, n, (r) => r.rss).toFixed(2)}, heap ${perConnectionKiB(from, to, n, (r) => r.heapUsed).toFixed(2)}, ` +
    `external (array buffers included) ${perConnectionKiB(from, to, n, (r) => r.external).toFixed(2)}`;
  context.progress(
    `  ${labels.server}${labels.storage === '-' ? '' : ` on ${labels.storage}`}, KiB per idle connection: ${show(before, after, count)} ` +
      `(first half: ${show(before, half, middle)}; second: ${show(half, after, count - middle)}; ` +
      `RSS ${(before.rss / 2 ** 20).toFixed(1)} → ${(half.rss / 2 ** 20).toFixed(1)} → ${(after.rss / 2 ** 20).toFixed(1)} MiB)`,
  );
  for (const entry of idle.growth ?? []) {
    context.progress(`    heap +${entry.bytesPerUnit.toFixed(0)} B/conn  ${entry.countPerUnit.toFixed(2)}×  ${entry.key}`);
  }
  return idle;
}

// ——— the bare ws baseline ———

interface WsBaseline {
  child: InspectableServer;
  clients: TimedSocket[];
  memory: IdleMemory;
  pool: Pool;
  waitPool: Pool;
}

async function startWsBaseline(context: ScenarioContext, settings: Settings): Promise<WsBaseline> {
  context.progress('starting the bare ws server (bench/baseline-ws-server.ts)');
  const child = await startInspectable({ name: 'baseline-ws', script: 'bench/baseline-ws-server.ts', env: {}, readyPath: '/bare' });
  const wsOrigin = child.server.origin.replace(/^http/, 'ws');
  const connect = async (id: string) => {
    const client = new TimedSocket(`${wsOrigin}/ws?id=${id}`, {}, ['challenge', 'echo']);
    await client.opened();
    return client;
  };
  try {
    const warm = await Promise.all(Array.from({ length: warmConnections }, (_, i) => connect(`warm-${i}`)));
    await Promise.all(warm.map((client) => client.close()));
    await sleep(1_000);
    const clients: TimedSocket[] = new Array<TimedSocket>(settings.bareClients);
    context.progress(`  opening ${settings.bareClients} WebSocket clients to it`);
    const memory = await measureIdle(context, settings, child, { server: 'bare ws server', storage: '-' }, settings.bareClients, (from, to) =>
      eachLimited(
        Array.from({ length: to - from }, (_, i) => from + i),
        openConcurrency,
        async (index) => {
          clients[index] = await connect(String(index));
        },
      ),
    );
    // The latency rounds run with as many clients on it as Tessera has device streams.
    await Promise.all(clients.splice(settings.devices).map((client) => client.close()));
    return {
      child,
      clients,
      memory,
      pool: createPool(child.server.origin, settings.inFlight),
      waitPool: createPool(child.server.origin, settings.longPolls + settings.inFlight),
    };
  } catch (error) {
    child.inspector.close();
    await child.server.stop();
    throw error;
  }
}

async function stopWsBaseline(baseline: WsBaseline): Promise<void> {
  await Promise.all([baseline.pool.close(), baseline.waitPool.close()]);
  await Promise.all(baseline.clients.map((client) => client.close()));
  baseline.child.inspector.close();
  await baseline.child.server.stop();
}

/** A message like the challenge Tessera sends (≈ the same size), addressed by an id to match its arrival. */
function fakeChallenge(id: string): string {
  return JSON.stringify({
    type: 'challenge',
    challenge: {
      challenge_id: id,
      status: 'pending',
      app: { app_id: 'app_00000000000000000000000000', display_name: 'bench app', logo: null },
      message: 'Approve sign-in?',
      details: null,
      number_choices: null,
      expires_at: new Date(Date.now() + 300_000).toISOString(),
      created_at: new Date().toISOString(),
      answer: null,
    },
  });
}

interface BaselineStats {
  push: PathStats;
  wake: PathStats;
  echo: PathStats;
  bare: PathStats;
}

/** One baseline round: POST /push → message (K in flight), echo round trips, held GET /wait woken by POST /wake, GET /bare. */
async function baselineRound(
  settings: Settings,
  ws: WsBaseline,
  bare: { server: ChildServer; pool: Pool },
  round: string,
  users: number[],
  stats: BaselineStats | null,
): Promise<void> {
  const server = ws.child.server;
  await phase(server, stats?.push ?? null, () =>
    closedLoop(users, settings.inFlight, async (user) => {
      const client = ws.clients[user] as TimedSocket;
      const id = `chl_${round}_${user}`;
      const arrival = client.next('challenge', 30_000);
      const t0 = performance.now();
      let answer: { status: number; text: string };
      try {
        answer = await postText(ws.pool, `/push?id=${user}`, {}, fakeChallenge(id));
        if (answer.status !== 201) throw new Error(`POST /push: HTTP ${answer.status}: ${answer.text.slice(0, 200)}`);
      } catch (error) {
        client.forget('challenge');
        throw error;
      }
      const got = await arrival;
      if (got.message.challenge?.challenge_id !== id) throw new Error(`bare ws: got ${JSON.stringify(got.message).slice(0, 200)}, not ${id}`);
      return got.at - t0;
    }),
  );
  await phase(server, stats?.echo ?? null, () =>
    closedLoop(users, settings.inFlight, async (user) => {
      const client = ws.clients[user] as TimedSocket;
      const arrival = client.next('echo', 30_000);
      const t0 = performance.now();
      client.socket.send(JSON.stringify({ type: 'echo', round, user }));
      const got = await arrival;
      if (got.message.user !== user) throw new Error(`echo: got ${JSON.stringify(got.message).slice(0, 200)}`);
      return got.at - t0;
    }),
  );
  const held = new LongPollWindow(users.length, settings.longPolls, settings.settleMs, (index) =>
    heldRequest(ws.waitPool, `/wait?key=${round}-${users[index]}`, {}),
  );
  await phase(server, stats?.wake ?? null, () =>
    closedLoop(
      users,
      settings.inFlight,
      async (user, index) => {
        const t0 = performance.now();
        const woke = await postText(ws.pool, `/wake?key=${round}-${user}`, {}, '{"status":"approved"}');
        if (woke.status !== 200) throw new Error(`POST /wake: HTTP ${woke.status}: ${woke.text.slice(0, 200)}`);
        const waited = await held.poll(index);
        if ('error' in waited) throw new Error(`GET /wait: ${waited.error}`);
        if (waited.status !== 200 || !waited.text.includes('approved')) throw new Error(`GET /wait: HTTP ${waited.status}: ${waited.text}`);
        if (waited.at < t0) throw new Error('GET /wait answered before POST /wake was sent');
        return waited.at - t0;
      },
      (index) => held.ready(index),
    ),
  );
  await held.settled();
  await phase(bare.server, stats?.bare ?? null, () =>
    closedLoop(users, settings.inFlight, async () => {
      const t0 = performance.now();
      const response = await bare.pool.request({ method: 'GET', path: '/bare' });
      await response.body.text();
      if (response.statusCode !== 200) throw new Error(`GET /bare: HTTP ${response.statusCode}`);
      return performance.now() - t0;
    }),
  );
}

// ——— Tessera ———

interface TesseraSide {
  child: InspectableServer;
  appAuthorization: string;
  devices: BenchDevice[];
  streams: TimedSocket[];
  memory: IdleMemory;
  pool: Pool;
  longPollPool: Pool;
  registerSeconds: number;
}

interface TesseraStats {
  create: PathStats;
  answer: PathStats;
  /** The HTTP answers themselves: the create's 201 to the app, the answer's 200 to the device. */
  createHttp: RecordableHistogram;
  answerHttp: RecordableHistogram;
  /** Times the device had the challenge before the app had the create's 201. */
  deviceFirst: number;
}

async function startTesseraSide(context: ScenarioContext, settings: Settings, storage: Storage): Promise<TesseraSide> {
  const adminToken = randomBytes(32).toString('hex');
  context.progress(`starting Tessera on ${storage.label} (TESSERA_CHALLENGES_PER_USER_PER_MINUTE=1000000, --inspect)`);
  const child = await startInspectableTessera({ ...storage.env, ...challengeLimitEnv, TESSERA_ADMIN_TOKEN: adminToken });
  const server = child.server;
  try {
    const { authorization } = await createApp(server, adminToken);
    context.progress(`registering ${settings.devices} devices (one user each, ${registerConcurrency} at a time; not measured)`);
    const registerPool = createPool(server.origin, registerConcurrency);
    let registered: { devices: BenchDevice[]; seconds: number };
    try {
      registered = await registerDevices({
        pool: registerPool,
        authorization,
        prefix: `push-${randomBytes(4).toString('hex')}`,
        count: settings.devices,
        concurrency: registerConcurrency,
        progress: context.progress,
      });
    } finally {
      await registerPool.close();
    }
    const { devices, seconds } = registered;
    context.progress(`  registered ${devices.length} devices in ${seconds.toFixed(1)} s (${(devices.length / seconds).toFixed(0)}/s)`);
    const warm = await Promise.all(devices.slice(0, warmConnections).map((device) => openDeviceStream(server.origin, device)));
    await Promise.all(warm.map((stream) => stream.close()));
    await sleep(1_000);
    const streams: TimedSocket[] = new Array<TimedSocket>(devices.length);
    context.progress(`  opening ${devices.length} device streams (GET /v1/device/stream, ${openConcurrency} at a time), waiting for each "ready"`);
    const memory = await measureIdle(context, settings, child, { server: 'Tessera', storage: storage.label }, devices.length, (from, to) =>
      eachLimited(devices.slice(from, to), openConcurrency, async (device, index) => {
        streams[from + index] = await openDeviceStream(server.origin, device);
      }),
    );
    return {
      child,
      appAuthorization: authorization,
      devices,
      streams,
      memory,
      pool: createPool(server.origin, settings.inFlight),
      longPollPool: createPool(server.origin, settings.longPolls + settings.inFlight),
      registerSeconds: seconds,
    };
  } catch (error) {
    child.inspector.close();
    await server.stop();
    throw error;
  }
}

/** One Tessera round: create the round's challenges (K in flight), then answer them while the app long-polls each. */
async function tesseraRound(settings: Settings, side: TesseraSide, users: number[], stats: TesseraStats | null): Promise<void> {
  const server = side.child.server;
  const appHeaders = { authorization: side.appAuthorization };
  const created: Array<{ user: number; id: string }> = [];
  await phase(server, stats?.create ?? null, () =>
    closedLoop(users, settings.inFlight, async (user) => {
      const device = side.devices[user] as BenchDevice;
      const stream = side.streams[user] as TimedSocket;
      const arrival = stream.next('challenge', 30_000);
      const t0 = performance.now();
      let answer: { status: number; text: string };
      try {
        answer = await postText(side.pool, `/v1/users/${encodeURIComponent(device.userId)}/challenges`, appHeaders, '{}');
        if (answer.status !== 201) throw new Error(`create: HTTP ${answer.status}: ${answer.text.slice(0, 200)}`);
      } catch (error) {
        stream.forget('challenge');
        throw error;
      }
      const httpAt = performance.now();
      const id = /"challenge_id":"([^"]+)"/.exec(answer.text)?.[1];
      const got = await arrival;
      if (id === undefined || got.message.challenge?.challenge_id !== id) {
        throw new Error(`create answered ${id}, the device got ${JSON.stringify(got.message).slice(0, 200)}`);
      }
      stats?.createHttp.record(ns(httpAt - t0));
      if (stats && got.at < httpAt) stats.deviceFirst++;
      created.push({ user, id });
      return got.at - t0;
    }),
  );
  // Signed before the clock starts: the device's signing time is not the server's.
  const prepared = await Promise.all(
    created.map(async ({ user, id }) => {
      const device = side.devices[user] as BenchDevice;
      const path = `/v1/device/challenges/${id}/answer`;
      return {
        id,
        path,
        authorization: await deviceAuthorization(device, 'POST', path),
        body: JSON.stringify({ signed_decision: await signedApproval(device, id) }),
      };
    }),
  );
  const polls = new LongPollWindow(prepared.length, settings.longPolls, settings.settleMs, (index) =>
    heldRequest(side.longPollPool, `/v1/challenges/${(prepared[index] as { id: string }).id}?wait=30`, appHeaders),
  );
  await phase(server, stats?.answer ?? null, () =>
    closedLoop(
      prepared,
      settings.inFlight,
      async (item, index) => {
        const t0 = performance.now();
        const answer = await postText(side.pool, item.path, { authorization: item.authorization }, item.body);
        const answeredAt = performance.now();
        if (answer.status !== 200) throw new Error(`answer: HTTP ${answer.status}: ${answer.text.slice(0, 200)}`);
        const polled = await polls.poll(index);
        if ('error' in polled) throw new Error(`long-poll: ${polled.error}`);
        if (polled.status !== 200 || !polled.text.includes('"status":"approved"')) {
          throw new Error(`long-poll: HTTP ${polled.status}: ${polled.text.slice(0, 200)}`);
        }
        if (polled.at < t0) throw new Error(`the long-poll answered before the answer was sent: ${polled.text.slice(0, 200)}`);
        stats?.answerHttp.record(ns(answeredAt - t0));
        return polled.at - t0;
      },
      (index) => polls.ready(index),
    ),
  );
  await polls.settled();
}

async function stopTesseraSide(side: TesseraSide): Promise<void> {
  await Promise.all([side.pool.close(), side.longPollPool.close()]);
  await Promise.all(side.streams.map((stream) => stream?.close()));
  side.child.inspector.close();
  await side.child.server.stop();
}

// ——— one storage ———

interface StorageFigures {
  storage: string;
  tessera: TesseraStats;
  baseline: BaselineStats;
  memory: IdleMemory[];
  registerSeconds: number;
  devices: number;
  challenges: number;
  messages: Record<string, number>;
  unclaimed: number;
  loadAverage: [number, number];
  database?: { before: DatabaseStats; after: DatabaseStats; backends: number; backendCpuSeconds: number | null; tables: TableStats | null };
}


async function measureOn(
  context: ScenarioContext,
  settings: Settings,
  bare: { server: ChildServer; pool: Pool },
  storage: Storage,
  figures: StorageFigures[],
): Promise<ResultRow[]> {
  const ws = await startWsBaseline(context, settings);
  try {
    const side = await startTesseraSide(context, settings, storage);
    let stopped = false;
    try {
      let cursor = 0;
      const nextUsers = () => Array.from({ length: settings.perRound }, () => cursor++ % settings.devices);
      const rounds = Math.max(1, Math.ceil(settings.challenges / settings.perRound));
      context.progress(`warm-up: one round of ${settings.perRound} on each (not measured)`);
      await baselineRound(settings, ws, bare, 'warm', nextUsers(), null);
      await tesseraRound(settings, side, nextUsers(), null);

      let database: StorageFigures['database'];
      let statsBefore: DatabaseStats | undefined;
      let backends: number[] = [];
      let backendCpuBefore: number | null = null;
      let tablesBefore: TableStats | null = null;
      if (storage.database) {
        context.progress('  waiting 11 s for PostgreSQL statistics to settle');
        await sleep(11_000);
        statsBefore = await storage.database.stats();
        tablesBefore = await readTableStats(storage.database.url).catch(() => null);
        backends = await storage.database.backendPids();
        backendCpuBefore = cpuSecondsOf(backends);
      }
      const stats: TesseraStats = {
        create: new PathStats(),
        answer: new PathStats(),
        createHttp: createHistogram(),
        answerHttp: createHistogram(),
        deviceFirst: 0,
      };
      const baseline: BaselineStats = { push: new PathStats(), wake: new PathStats(), echo: new PathStats(), bare: new PathStats() };
      const loadAtStart = os.loadavg()[0] ?? NaN;
      context.progress(
        `measuring ${rounds} rounds of ${settings.perRound} challenges, ${settings.inFlight} in flight, alternating with the baselines`,
      );
      if (settings.cpuProfileDir) await side.child.inspector.startProfile();
      for (let round = 0; round < rounds; round++) {
        const users = nextUsers();
        await baselineRound(settings, ws, bare, String(round), users, baseline);
        await tesseraRound(settings, side, users, stats);
        const last = (path: PathStats) => path.rounds[path.rounds.length - 1];
        const show = (result: LoadResult | undefined) =>
          result ? `p50 ${result.p50Ms.toFixed(2)} p99 ${result.p99Ms.toFixed(2)} ms${result.errors ? `, ${result.errors} errors` : ''}` : '-';
        context.progress(
          `  round ${round + 1}/${rounds}: (a) ${show(last(stats.create))} [bare ${show(last(baseline.push))}]; ` +
            `(b) ${show(last(stats.answer))} [bare ${show(last(baseline.wake))}]`,
        );
      }
      const loadAtEnd = os.loadavg()[0] ?? NaN;
      if (settings.cpuProfileDir) {
        const profile = await side.child.inspector.stopProfile();
        await mkdir(settings.cpuProfileDir, { recursive: true });
        const file = path.join(settings.cpuProfileDir, `tessera-${storage.label}-${side.child.server.pid}.cpuprofile`);
        await writeFile(file, JSON.stringify(profile));
        context.progress(`  CPU profile of the measured rounds (Tessera only): ${file}`);
      }
      const tesseraMemory = side.child.server.memory();
      const wsMemory = ws.child.server.memory();
      const messages: Record<string, number> = {};
      for (const stream of side.streams) for (const [type, count] of stream.counts) messages[type] = (messages[type] ?? 0) + count;
      const unclaimed = side.streams.reduce((total, stream) => total + stream.unclaimed(), 0);
      for (const path of [stats.create, stats.answer]) {
        const result = path.result();
        if (result.errors > 0) context.progress(`  Tessera: ${result.errors} errors; the first: ${result.firstError ?? '?'}`);
      }
      if (storage.database && statsBefore) {
        const backendCpuAfter = cpuSecondsOf(backends);
        await stopTesseraSide(side);
        stopped = true;
        await sleep(1_000);
        const tablesAfter = tablesBefore ? await readTableStats(storage.database.url).catch(() => null) : null;
        database = {
          before: statsBefore,
          after: await storage.database.stats(),
          backends: backends.length,
          backendCpuSeconds: backendCpuBefore !== null && backendCpuAfter !== null ? backendCpuAfter - backendCpuBefore : null,
          tables: tablesBefore && tablesAfter ? subtractStats(tablesBefore, tablesAfter) : null,
        };
      }
      figures.push({
        storage: storage.label,
        tessera: stats,
        baseline,
        memory: [ws.memory, side.memory],
        registerSeconds: side.registerSeconds,
        devices: settings.devices,
        challenges: stats.create.result().ok,
        messages,
        unclaimed,
        loadAverage: [loadAtStart, loadAtEnd],
        ...(database ? { database } : {}),
      });
      const row = (target: string, rowStorage: string, path: PathStats, memory: { rssBytes: number; peakRssBytes: number }, baselineRps?: number): ResultRow => ({
        target,
        storage: rowStorage,
        load: path.result(),
        ...memory,
        cpuMicrosPerRequest: path.cpuMicrosPerRequest(),
        ...(baselineRps === undefined ? {} : { baselineRps }),
      });
      const wsPush = row(targets.wsPush, '-', baseline.push, wsMemory);
      const wsWake = row(targets.wsWake, '-', baseline.wake, wsMemory);
      return [
        wsPush,
        row(targets.create, storage.label, stats.create, tesseraMemory, wsPush.load.requestsPerSecond),
        wsWake,
        row(targets.answer, storage.label, stats.answer, tesseraMemory, wsWake.load.requestsPerSecond),
      ];
    } finally {
      if (!stopped) await stopTesseraSide(side);
    }
  } finally {
    await stopWsBaseline(ws);
  }
}

// ——— the notes under the table ———

const ms = (value: number) => value.toFixed(2);
const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

function latencyCells(histogram: RecordableHistogram): string {
  if (histogram.count === 0) return '- | - | - | 0';
  return `${ms(histogram.percentile(50) / 1e6)} | ${ms(histogram.percentile(99) / 1e6)} | ${ms(histogram.max / 1e6)} | ${integer.format(histogram.count)}`;
}

/** What a reading holds besides the V8 heap and the buffers: native memory (and, over few connections, noise). */
const restOf = (reading: MemoryReading) => reading.rss - reading.heapUsed - reading.external;

/** KiB per connection: the bare server's RSS; another server's heap and buffers plus the bare server's rest. */
function bestEstimateKiB(memory: IdleMemory, bare: IdleMemory): number {
  const per = (m: IdleMemory, pick: (r: MemoryReading) => number) => perConnectionKiB(m.before, m.after, m.connections, pick);
  if (memory === bare) return per(bare, (r) => r.rss);
  return per(memory, (r) => r.heapUsed + r.external) + Math.max(0, per(bare, restOf));
}

function ratio(value: number, base: number): string {
  return Number.isFinite(value / base) ? `${(value / base).toFixed(1)} ×` : '-';
}

function notesOf(figures: StorageFigures[], settings: Settings): string[] {
  if (figures.length === 0) return [];
  const notes: string[] = [];
  const memoryRows = figures.flatMap((f) => f.memory.map((m) => ({ f, m })));
  notes.push(
    [
      `**Memory per idle connection** (server child; readings after forced full GCs through the inspector, repeated ` +
        `2 s apart until three in a row lay within 128 KiB: before the first connection, after half of them and after ` +
        `all, ${settings.idleS} s after the last one opened; (after − before) ÷ connections; KiB = 1,024 bytes). **Best estimate**: ` +
        `the bare server's RSS per connection over its ${integer.format(settings.bareClients)} connections; for Tessera, its V8 heap ` +
        `and external memory per connection (exact: live objects after a full GC) plus the bare server's *rest* (RSS − heap − ` +
        `external per connection: the socket's native part, libuv and the TCP wrap, the same code in both), because ` +
        `its own RSS over 1,000 connections is within the noise (see **Memory** above).`,
      '',
      '| server | storage | connections | RSS before → half → all MiB | RSS per connection KiB (first half / second half) | V8 heap used KiB | external KiB (array buffers included) | rest KiB | **best estimate KiB (bytes)** | vs bare ws |',
      '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...memoryRows.map(({ f, m }) => {
        const per = (pick: (r: MemoryReading) => number) => perConnectionKiB(m.before, m.after, m.connections, pick);
        const middle = Math.floor(m.connections / 2);
        const halves =
          `${perConnectionKiB(m.before, m.half, middle, (r) => r.rss).toFixed(2)} / ` +
          `${perConnectionKiB(m.half, m.after, m.connections - middle, (r) => r.rss).toFixed(2)}`;
        const bare = f.memory[0] as IdleMemory;
        const estimate = bestEstimateKiB(m, bare);
        const mib = (r: MemoryReading) => (r.rss / 2 ** 20).toFixed(1);
        return (
          `| ${m.server} | ${m.storage === '-' ? `- (${f.storage} run)` : m.storage} | ${integer.format(m.connections)} | ` +
          `${mib(m.before)} → ${mib(m.half)} → ${mib(m.after)} | ${per((r) => r.rss).toFixed(2)} (${halves}) | ` +
          `${per((r) => r.heapUsed).toFixed(2)} | ${per((r) => r.external).toFixed(2)} | ${per(restOf).toFixed(2)} | ` +
          `**${estimate.toFixed(2)}** (${integer.format(estimate * 1024)}) | ${m === bare ? 'baseline' : ratio(estimate, bestEstimateKiB(bare, bare))} |`
        );
      }),
    ].join('\n'),
  );
  const latencyRows = figures.flatMap((f) => [
    [`bare ws server: POST /push → message on the socket`, '-', f.baseline.push.result().histogram],
    [`(a) POST /v1/users/{id}/challenges → challenge on the device stream`, f.storage, f.tessera.create.result().histogram],
    [`the create's 201 to the app (same requests)`, f.storage, f.tessera.createHttp],
    [`bare ws server: POST /wake → held GET /wait answers`, '-', f.baseline.wake.result().histogram],
    [`(b) POST …/answer → waiting long-poll answers approved`, f.storage, f.tessera.answer.result().histogram],
    [`the answer's 200 to the device (same requests)`, f.storage, f.tessera.answerHttp],
    [`bare ws server: message → echo (round trip)`, '-', f.baseline.echo.result().histogram],
    [`bare Fastify route: GET /bare (bench/baseline-server.ts)`, '-', f.baseline.bare.result().histogram],
  ] as Array<[string, string, RecordableHistogram]>);
  notes.push(
    [
      `**Latencies** (client side, ${settings.inFlight} in flight, all measured rounds; the baselines ran in the rounds in between):`,
      '',
      '| path | storage | p50 ms | p99 ms | max ms | samples |',
      '|---|---|---:|---:|---:|---:|',
      ...latencyRows.map(([what, storage, histogram]) => `| ${what} | ${storage} | ${latencyCells(histogram)} |`),
    ].join('\n'),
  );
  const verdicts = figures.map((f) => {
    const a = f.tessera.create.result();
    const b = f.tessera.answer.result();
    const perConnection = bestEstimateKiB(f.memory[1] as IdleMemory, f.memory[0] as IdleMemory) * 1024;
    const latencyMet = a.p99Ms < 20 && b.p99Ms < 20;
    const margin = (perConnection - 10_000) / 10_000;
    const memoryVerdict =
      Math.abs(margin) < 0.1
        ? `at the limit (${Math.abs(margin * 100).toFixed(0)} % ${margin < 0 ? 'under' : 'over'}; the heap per stream varied by ±0.4 KiB between runs)`
        : margin < 0
          ? 'met'
          : 'not met';
    const pa = f.baseline.push.result();
    const pb = f.baseline.wake.result();
    return (
      `${f.storage}: (a) p99 ${ms(a.p99Ms)} ms (${ratio(a.p99Ms, pa.p99Ms)} the bare ws server's ${ms(pa.p99Ms)}), ` +
      `(b) p99 ${ms(b.p99Ms)} ms (${ratio(b.p99Ms, pb.p99Ms)} the bare ${ms(pb.p99Ms)}): **${latencyMet ? 'met' : 'not met'}**; ` +
      `${integer.format(perConnection)} bytes per idle stream (best estimate): **${memoryVerdict}**.`
    );
  });
  notes.push(`**Targets** (p99 of (a) and (b) under 20 ms on loopback; under 10 KB = 10,000 bytes of server memory per idle device connection). ${verdicts.join(' ')}`);
  notes.push(
    figures
      .map((f) => {
        const counts = Object.entries(f.messages)
          .map(([type, count]) => `${integer.format(count)} ${type}`)
          .join(', ');
        return (
          `${f.storage}: ${integer.format(f.devices)} devices registered in ${f.registerSeconds.toFixed(1)} s ` +
          `(${integer.format(f.devices / f.registerSeconds)}/s, not measured); the device got its challenge before the app got the create's 201 in ` +
          `${integer.format(f.tessera.deviceFirst)} of ${integer.format(f.challenges)} measured challenges; messages on the device streams over the ` +
          `whole run (warm-up included): ${counts}${f.unclaimed > 0 ? `; ${f.unclaimed} unexpected` : ''}; load average (1 min) ` +
          `${f.loadAverage[0].toFixed(1)} at the first measured round, ${f.loadAverage[1].toFixed(1)} at the last.`
        );
      })
      .join(' '),
  );
  for (const f of figures) {
    if (!f.database || f.challenges === 0) continue;
    const { before, after, backends, backendCpuSeconds } = f.database;
    const per = (pick: (stats: DatabaseStats) => number) => ((pick(after) - pick(before)) / f.challenges).toFixed(2);
    notes.push(
      `Measured on ${f.storage} (pg_stat_database, from the end of the warm-up to the server's exit, ÷ the ` +
        `${integer.format(f.challenges)} measured challenges, each created, long-polled and answered; the server's once-a-second ` +
        `sweeps add to it): **${per((s) => s.commits)} transactions committed per challenge** ` +
        `(autocommit statements count one each), rows inserted ${per((s) => s.rowsInserted)}, updated ${per((s) => s.rowsUpdated)}, ` +
        `fetched ${per((s) => s.rowsFetched)}.` +
        (backendCpuSeconds === null
          ? ''
          : ` Its ${backends} backends used ${integer.format((backendCpuSeconds * 1e6) / f.challenges)} µs of CPU per challenge.`),
    );
    if (f.database.tables) {
      const each = (value: number) => (value / f.challenges).toFixed(1);
      const tables = [...f.database.tables.tables]
        .filter(([, t]) => t.seqScans + t.indexScans > 0)
        .sort(([, a], [, b]) => b.seqRowsRead + b.indexRowsFetched - (a.seqRowsRead + a.indexRowsFetched));
      const indexes = [...f.database.tables.indexes].filter(([, i]) => i.scans > 0).sort(([, a], [, b]) => b.entriesRead - a.entriesRead);
      notes.push(
        [
          `Where those rows come from (${f.storage}, pg_stat_user_tables and pg_stat_user_indexes over the same window, per challenge):`,
          '',
          '| table | seq scans | rows read by seq scans | index scans | rows fetched by index scans |',
          '|---|---:|---:|---:|---:|',
          ...tables.map(([name, t]) => `| ${name} | ${each(t.seqScans)} | ${each(t.seqRowsRead)} | ${each(t.indexScans)} | ${each(t.indexRowsFetched)} |`),
          '',
          '| index | scans | index entries read | rows fetched |',
          '|---|---:|---:|---:|',
          ...indexes.map(([name, i]) => `| ${name} | ${each(i.scans)} | ${each(i.entriesRead)} | ${each(i.rowsFetched)} |`),
        ].join('\n'),
      );
    }
  }
  for (const f of figures) {
    for (const m of f.memory) {
      if (!m.growth) continue;
      notes.push(
        [
          `Heap growth per connection, ${m.server}${m.storage === '-' ? ` (${f.storage} run)` : ` on ${m.storage}`} (heap snapshots, self sizes, top groups):`,
          '',
          '| group (type:constructor) | objects per connection | bytes per connection |',
          '|---|---:|---:|',
          ...m.growth.map((g) => `| \`${g.key.replace(/\|/g, '\\|')}\` | ${g.countPerUnit.toFixed(2)} | ${g.bytesPerUnit.toFixed(0)} |`),
        ].join('\n'),
      );
    }
  }
  return notes;
}

const about = [
  '**What is measured.** Per storage, a fresh Tessera child (`TESSERA_CHALLENGES_PER_USER_PER_MINUTE=1000000`, started ' +
    'with `--inspect` so that the bench can force a GC and read its memory) gets 1,000 devices, one user each, registered ' +
    'through the public API as an authenticator does (`POST /v1/users/{id}/device-registrations`, the token from ' +
    '`registration_uri`, a fresh P-256 key, `POST /v1/devices`; 8 at a time, not measured). The bench process opens their ' +
    '1,000 streams (`GET /v1/device/stream` with `Authorization: Device <JWT>`, the `ws` package) and waits for each `ready`. ' +
    'Then 10 rounds of 200 challenges, each round on 200 different users (at most one pending challenge per user, under ' +
    'the cap of 3), 4 in flight (closed loops), after one warm-up round: **(a)** from sending `POST /v1/users/{id}/challenges {}` ' +
    '(app Basic auth; push is the default factor) to the `challenge` message arriving on that user\'s device socket (the time ' +
    'is taken in the socket\'s message handler, before parsing; the message must carry the id the 201 names); then, for the ' +
    'same challenges, **(b)** from sending `POST /v1/device/challenges/{id}/answer {signed_decision}` (request JWT and ' +
    'decision signed beforehand, untimed) to the app\'s long-poll `GET /v1/challenges/{id}?wait=30` answering `approved`; ' +
    'each long-poll is sent at least 250 ms before its answer (a window of 32 ahead), so that the server has it waiting.',
  '',
  '**Baseline, in the same run.** bench/baseline-ws-server.ts: `ws` on node:http, perMessageDeflate off, maxPayload 64 KB ' +
    '(as Tessera), no framework, authentication, database or bus, with as many clients as Tessera has streams. Its rounds ' +
    'alternate with Tessera\'s, same users and concurrency: for (a) `POST /push?id=n` with a challenge-sized JSON that it ' +
    'sends to client n before answering 201; for (b) `POST /wake?key=k` answering a held `GET /wait?key=k` (same ' +
    'window); also the echo round trip of a message and the bare Fastify route (bench/baseline-server.ts). The table\'s ' +
    'rate is the closed-loop rate at 4 in flight, not a capacity (the long-poll waits of (b) are left out of its time); ' +
    '**vs bare route** is that rate ÷ the bare ws server\'s in the row above; server CPU is the child\'s CPU time over ' +
    'the phase ÷ its challenges ((b) includes the long-polls\' handling). The generic "Each row: … warm-up requests, … ' +
    'concurrent requests" sentence above is run.ts\'s for every scenario; BENCH_DURATION_S, BENCH_CONNECTIONS and ' +
    'BENCH_WARMUP_REQUESTS do not apply here (this scenario\'s settings: BENCH_PUSH_DEVICES, _CHALLENGES, _IN_FLIGHT, ' +
    '_ROUND, _SETTLE_MS, _LONG_POLLS, _IDLE_S, _BARE_CLIENTS; diagnostics: BENCH_PUSH_CPU_PROFILE=<dir>, ' +
    'BENCH_PUSH_HEAP_SNAPSHOTS=1 or BENCH_PUSH_HEAP_SNAPSHOT_DIR=<dir>; `bench/profile-summary.ts` summarises a profile).',
  '',
  '**Memory.** The RSS of a Node process on this machine moves by megabytes with no connection opened or closed (V8 maps ' +
    'and unmaps 256 KiB heap pages on its own schedule: /proc/<pid>/smaps shows tens of them appearing and going between ' +
    'two readings with the heap unchanged; Tessera\'s RSS fell by ≈ 40 MiB between two such readings here, on PostgreSQL), i.e. several KiB per ' +
    'connection over 1,000, either way: so the bare server is read over 8,000 connections (2.7–3.7 KiB per connection in ' +
    'the runs of 2026-12-03, its halves within ±0.7 KiB of each other; /work/shared/MEASURED.md says 7.5 KiB), and ' +
    'Tessera\'s figure is its exact V8 heap and external memory per connection plus the bare server\'s native rest per ' +
    'socket; its raw RSS per connection is shown too.',
  '',
  '**Work per challenge** (packages/server/src/capabilities: challenges/service.ts, push/service.ts, push/store.ts, ' +
    'devices/service.ts, challenges/lifecycle.ts). *Create (a)*: in-memory rate-limit hit; the TOTP fast path\'s ' +
    '`INSERT … SELECT` (autocommit), which inserts nothing for a user with an active push factor; then one transaction — ' +
    '`BEGIN`; `lockApprovers`: `SELECT user_id, (the newest active push factor) FROM users WHERE app_id = $1 AND user_id = ' +
    '($2)[1] … FOR UPDATE`; `insertUnderCap`: one statement that counts the user\'s open push challenges through ' +
    '`challenge_approvers_open` (the cap of 3) and, under the cap, inserts the challenge and its approver row (CTEs) — ' +
    'run after the lock, so that its snapshot sees every challenge created before; `COMMIT` — **5 round trips, 1 durable ' +
    'commit** (8 before 2026-12-03 15:00); after the commit: the app from its cache, the device view, `bus.publish` ' +
    '(in process: a microtask), `JSON.stringify` and a ws frame per subscribed socket, and only then the 201. ' +
    '*Answer (b)*: the device guard — `SELECT * FROM devices`, jose imports the JWK from that row and verifies the ES256 ' +
    'request JWT, the jti is claimed (in memory); `last_seen_at` is written only when the row read says it is over a ' +
    'minute old; the decision: a second ES256 verify (jose reuses the key it imported for that JWK object); one ' +
    'transaction — `BEGIN`; `SELECT c.*, a.decision … FOR UPDATE OF c` (by the challenge id; the app is checked in code); ' +
    'one statement that records the answer and moves the challenge on (`WITH answered AS (UPDATE challenge_approvers …) ' +
    'UPDATE challenges … RETURNING *`); no outbox statement, since the cached app has no callback URL; `COMMIT` — **4 ' +
    'round trips, 1 durable commit** (8 before); after the commit, the ended challenge, as the API shows it, is published ' +
    'on its topic and the woken long-poll answers with it (no read again); the device streams get `challenge_ended` and ' +
    'a login `notification`. The long-poll itself: 1 read once its subscription is confirmed, then none while it waits (since 2026-12-04: it reads again only on a message, at the expiry or the deadline, or after a gap in the bus).',
  '',
  '### Where the time goes (profiled 2026-12-03 with BENCH_PUSH_CPU_PROFILE, server at cf15173; redo after server changes)',
  '',
  '- **PGlite**: 66 % of the Tessera process\'s busy time during the rounds is in PGlite (its WASM and JS glue), which ' +
    'runs one statement at a time for every request in the process: ≈ 20 statements per challenge (create, answer, ' +
    'long-poll reads) at ≈ 0.5–1 ms each queue behind one another, so 4 challenges in flight wait for each other\'s ' +
    'statements. Fastify ≈ 10 %, jose/WebCrypto ≈ 7 %, GC 7 %, bus publish + JSON.stringify + ws send ≈ 4–5 %. ' +
    'The `pendingLoad` statement is the dearest: replayed in PGlite with the same schema, 5.1 ms at 3,000 past challenges ' +
    'of the app and 8.6 ms at 30,000, against 0.6–0.8 ms for a primary-key read (and 2.0 / 2.4 ms with the fix below).',
  '- **PostgreSQL**: node-postgres ≈ 33 % of the busy time (inclusive), Fastify ≈ 16 %, jose/WebCrypto ≈ 10–13 % (two ' +
    'JWK imports and two ES256 verifies per answer; `initJwk` + `checkEcKeyData`, the imports alone, 3.5 % self), GC 8 %, ' +
    'bus + device-stream send (JSON + ws frame) ≈ 5 %; 21 % of the samples sit in `writev`, the thread waiting for the CPU ' +
    'after waking a PostgreSQL backend (2 cores, shared). pg_stat_user_indexes shows `pendingLoad` reading 2,200–3,700 rows of ' +
    '`challenges` through `challenges_by_user` per challenge (more as the runs went on) and probing `challenge_approvers_pkey` ≈ 100 times: it walks ' +
    'every challenge of the **app** (all users, all history) and every pending one, to count one user\'s. `EXPLAIN ANALYZE` ' +
    'on a scratch database with the same schema: 0.5–3.8 ms at 3,000 past challenges, 3.1–3.4 ms at 30,000 (a seq scan ' +
    'of `challenge_approvers`) — it grows with the app\'s history, without bound; with `AND a.decision IS NULL` the partial ' +
    'index `challenge_approvers_open` applies: 0.04–0.06 ms at both sizes. In one run (of three) the prepared statements of ' +
    '`lockUsers` and `pushFactors` (`user_id = ANY($2::text[])`) also read ≈ 975 index entries per call, every user (factor) ' +
    'of the app, for 1 row: a generic plan made while the tables were nearly empty, kept until the next ANALYZE (reproduced ' +
    'on a scratch database: `Bitmap Index Scan on users_pkey`, `Index Cond: (app_id = $1)`, `Filter: (user_id = ANY ($2))`).',
  '- **Memory**, before change 4 below (heap snapshots before and after opening the streams, diffed by constructor, and their retainers): ' +
    'besides what the bare server keeps (the ws WebSocket, Receiver, Sender, net.Socket, TCP wrap: ≈ 2.8 KiB of heap), ' +
    'each Tessera stream keeps a Fastify `Request` and `Reply`, the `IncomingMessage` with its headers and raw headers ' +
    '(the 330-byte device JWT among them), a `ServerResponse`, the upgrade\'s `head` Buffer (`IncomingMessage[Symbol(ws-head)]`, ' +
    'empty, but a view of the socket\'s read buffer: it keeps ≈ 0.5 KiB of external memory, the upgrade request\'s bytes), the request\'s pino child logger, `request.device` (the device row: JWK x/y, ' +
    'thumbprint, ids, two Dates), and its own `Tracked` record, two bus subscriptions and their closures: in all ≈ 27 ' +
    'strings, 11 internal arrays, 10 closures and 13 plain objects per stream, against 1, 5, 5 and 4 for the bare server. What holds the request: @fastify/websocket\'s ' +
    '`socket.on(\'error\', (error) => errorHandler.call(this, error, socket, request, reply))` for the socket\'s whole life, ' +
    'and the `ServerResponse` it assigns to the TCP socket (`rawResponse.assignSocket(socket)`) and never finishes, whose ' +
    '`finish`/`error` listeners (Fastify\'s `onResFinished`) hold the `Reply`.',
  '',
  '### What was changed (2026-12-03, after the profile above)',
  '',
  '1. `pendingLoad` counts through `challenge_approvers_open` (`AND a.decision IS NULL`): no walk of the app\'s history.',
  '2. Create: 8 → 5 round trips (above); for one user, equality on the whole key (`user_id = ($2)[1]`, not `= ANY($2)`), ' +
    'so that no generic plan made while the tables were small scans the app\'s every user or open approval.',
  '3. Answer: 8 → 4 round trips, and the long-poll answers from the bus message (−1). A per-device cache of imported ' +
    'keys was tried and left out: it saved one JWK import per request but kept ≈ 1 KiB per device in memory.',
  '4. Memory: both WebSocket routes let go of the upgrade\'s request and reply (platform/http/websocket-release.ts: the ' +
    'socket\'s `error` listener replaced, the `ServerResponse` detached from the TCP socket). Heap per idle stream ' +
    '9.4–9.6 → 4.4 KiB, external 0.5 → 0.',
  '',
  'Not done: `InMemoryNonceStore` keeps every jti until it holds 100,000. (Done 2026-12-04: a waiting long-poll no ' +
    'longer reads its challenge every 2 s; after a gap in the Redis bus every waiter reads once.)',
  '',
  'Measured 2026-12-03 15:15 on a quiet machine (load average < 1 before the run): on PostgreSQL p99 17.2 ms (a) and ' +
    '15.3 ms (b), under the 20 ms target, 4 rows fetched per challenge (1,022 in the run before the plan fix); 4.4–5.6 KiB ' +
    'per idle stream, under the 10 KB target. PGlite, one WASM thread for every statement of the process, stays above ' +
    '20 ms at p99 (27 / 41 ms) with 4 challenges in flight, at p50 10 / 9 ms.',
].join('\n');

export const pushDelivery: Scenario = {
  name: 'push-delivery',
  title: 'Push delivery: 1,000 connected devices, challenge → device, signed answer → app',
  about,
  async run(context) {
    const settings = settingsFromEnv();
    // Per side: the bench holds a stream per device and a client per bare-ws connection, plus the pools and long-polls.
    const needed = settings.bareClients + settings.devices + 4 * (settings.longPolls + settings.inFlight) + 200;
    context.progress(ensureFileLimit(needed));
    context.progress('starting the bare Fastify route (bench/baseline-server.ts)');
    const bareServer = await startBaseline();
    const barePool = createPool(bareServer.origin, settings.inFlight);
    const figures: StorageFigures[] = [];
    try {
      const { rows, notes } = await onEachStorage(context, (storage) =>
        measureOn(context, settings, { server: bareServer, pool: barePool }, storage, figures),
      );
      return { rows, notes: [...notesOf(figures, settings), ...notes] };
    } finally {
      await barePool.close();
      await bareServer.stop();
    }
  },
};
