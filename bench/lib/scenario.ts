import type { Pool } from 'undici';
import { combine, createPool, runFlow, runLoad, type Flow, type LoadResult, type RequestSpec } from './load.ts';
import type { ChildServer, CpuTimes } from './processes.ts';
import type { ResultRow } from './report.ts';

export interface BenchOptions {
  /** Measured time per target. */
  durationS: number;
  /** The measurement is cut into rounds of this length, alternating between the targets of a pair. */
  roundS: number;
  connections: number;
  warmupRequests: number;
}

export interface ScenarioContext {
  options: BenchOptions;
  /** Prints a progress line (before each long step). */
  progress(message: string): void;
}

export interface ScenarioResult {
  rows: ResultRow[];
  /** Notes about this run (a skipped storage, say), Markdown. */
  notes: string[];
}

/** A benchmark: run.ts runs each in turn and writes its table to bench/RESULTS.md. */
export interface Scenario {
  name: string;
  title: string;
  /** What one request does, for the reader of RESULTS.md (Markdown). */
  about: string;
  run(context: ScenarioContext): Promise<ScenarioResult>;
}

interface TargetBase {
  server: ChildServer;
  target: string;
  storage: string;
  /**
   * Called after this target's warm-up and before the measured rounds, with the warm-up's result and the
   * target's pool (to prepare more test data for the rate seen, say); its time is not measured.
   */
  afterWarmup?(warmup: LoadResult, pool: Pool): Promise<void>;
}

/** A target loaded with one request at a time, or with a flow of several calls (a round). */
export type Target = TargetBase & ({ request: () => RequestSpec } | { flow: Flow });

/** Loads a target until the limit; a flow's warm-up of N requests is N ÷ (its calls) iterations. */
function loadTarget(target: Target, pool: Pool, connections: number, until: { requests: number } | { ms: number }) {
  if ('request' in target) return runLoad({ pool, connections, request: target.request, until });
  const limit = 'ms' in until ? until : { iterations: Math.max(1, Math.ceil(until.requests / target.flow.calls.length)) };
  return runFlow({ pool, connections, flow: target.flow, until: limit });
}

/**
 * Measures a baseline and the targets compared with it, interleaved: after a warm-up of each, rounds of
 * `roundS` seconds alternate between them until each has had `durationS`, so that load from anything
 * else on the machine falls on all of them alike. Each row after the first carries the baseline's rate.
 */
export async function measureAgainstBaseline(
  context: ScenarioContext,
  baseline: Target,
  targets: Target[],
): Promise<ResultRow[]> {
  const { connections, durationS, roundS, warmupRequests } = context.options;
  const label = (target: Target) => (target.storage === '-' ? target.target : `${target.target} on ${target.storage}`);
  const runs = [baseline, ...targets].map((target) => ({
    target,
    pool: createPool(target.server.origin, connections),
    results: [] as LoadResult[],
    serverCpu: { user: 0, system: 0 },
    clientCpu: { user: 0, system: 0 },
  }));
  try {
    for (const { target, pool } of runs) {
      const what =
        'flow' in target
          ? `${Math.ceil(warmupRequests / target.flow.calls.length)} ${target.flow.unit}s (${warmupRequests} requests)`
          : `${warmupRequests} requests`;
      context.progress(`warming up ${label(target)}: ${what}`);
      const warmup = await loadTarget(target, pool, connections, { requests: warmupRequests });
      if (warmup.errors > 0) context.progress(`  warm-up: ${warmup.errors} errors; the first: ${warmup.firstError ?? '?'}`);
      await target.afterWarmup?.(warmup, pool);
    }
    const rounds = Math.max(1, Math.round(durationS / roundS));
    const ms = (durationS * 1000) / rounds;
    context.progress(
      `measuring ${runs.map((run) => label(run.target)).join(' | ')}: ${durationS} s each, ` +
        `in ${rounds} alternating rounds, ${connections} connections`,
    );
    for (let round = 0; round < rounds; round++) {
      for (const run of runs) {
        const serverBefore = run.target.server.cpuTimes();
        const clientBefore = process.cpuUsage();
        run.results.push(await loadTarget(run.target, run.pool, connections, { ms }));
        const client = process.cpuUsage(clientBefore);
        const server = run.target.server.cpuTimes();
        run.serverCpu.user += server.user - serverBefore.user;
        run.serverCpu.system += server.system - serverBefore.system;
        run.clientCpu.user += client.user / 1e6;
        run.clientCpu.system += client.system / 1e6;
      }
    }
    const rows = runs.map(({ target, results, serverCpu, clientCpu }): ResultRow => {
      const load = combine(results);
      const unit = 'flow' in target ? target.flow.unit : 'req';
      const perRequest = (seconds: number) => (seconds * 1e6) / Math.max(1, load.requests);
      const split = (cpu: CpuTimes) =>
        `${perRequest(cpu.user + cpu.system).toFixed(0)} µs (user ${perRequest(cpu.user).toFixed(0)}, ` +
        `system ${perRequest(cpu.system).toFixed(0)})`;
      context.progress(
        `  ${label(target)} (pid ${target.server.pid}): ${load.requestsPerSecond.toFixed(0)} ${unit}/s; CPU per ${unit}: ` +
          `server ${split(serverCpu)}, load client ${split(clientCpu)}`,
      );
      if (load.errors > 0) context.progress(`  ${label(target)}: ${load.errors} errors; the first: ${load.firstError ?? '?'}`);
      return {
        target: target.target,
        storage: target.storage,
        load,
        ...target.server.memory(),
        cpuMicrosPerRequest: perRequest(serverCpu.user + serverCpu.system),
        ...('flow' in target ? { unit: { name: target.flow.unit, requests: target.flow.calls.length } } : {}),
      };
    });
    const baselineRps = rows[0]?.load.requestsPerSecond ?? NaN;
    for (const row of rows.slice(1)) row.baselineRps = baselineRps;
    return rows;
  } finally {
    await Promise.all(runs.map((run) => run.pool.close()));
  }
}
