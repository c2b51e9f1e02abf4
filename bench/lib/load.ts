import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks';
import { Pool, type Dispatcher } from 'undici';

/** One request the load loops send; the factory is called once per request. */
export interface RequestSpec {
  method: Dispatcher.HttpMethod;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface LoadOptions {
  pool: Pool;
  /** Concurrent request loops, each with one request in flight. */
  connections: number;
  request: () => RequestSpec;
  /** Stop after this many requests in all (a warm-up), or after this many milliseconds (a measurement). */
  until: { requests: number } | { ms: number };
}

export interface LoadResult {
  /** Requests answered (any status); throughput counts only the 2xx ones. */
  requests: number;
  /** 2xx answers. */
  ok: number;
  /** Non-2xx answers plus requests that failed without an answer. */
  errors: number;
  /** The first error seen, to say what went wrong (status and the start of the body, or the exception). */
  firstError: string | null;
  /** The time the throughput is over: ok ÷ requestsPerSecond (about the load's duration, without its drain). */
  seconds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Latencies of all answered requests, in nanoseconds. */
  histogram: RecordableHistogram;
  /** Flows only: the latencies of each named call (2xx answers), in nanoseconds. */
  calls?: Map<string, RecordableHistogram>;
}

/** A keep-alive pool to 127.0.0.1, one connection per request loop (no pipelining). */
export function createPool(origin: string, connections: number): Pool {
  const url = new URL(origin);
  if (url.hostname !== '127.0.0.1') throw new Error(`Load goes only to 127.0.0.1 (got ${url.hostname}).`);
  return new Pool(origin, { connections, pipelining: 1 });
}

/** Runs `connections` request loops until the limit; latencies go to a nanosecond histogram. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const histogram = createHistogram();
  const limit = options.until;
  const deadline = 'ms' in limit ? performance.now() + limit.ms : Infinity;
  const maxRequests = 'requests' in limit ? limit.requests : Infinity;
  let started = 0;
  let ok = 0;
  let errors = 0;
  let firstError: string | null = null;

  const noteError = (message: string) => {
    errors++;
    firstError ??= message;
  };

  async function loop(): Promise<LoopTally> {
    const tally: LoopTally = { ok: 0, lastAnswerAt: begin };
    while (started < maxRequests && performance.now() < deadline) {
      started++;
      const spec = options.request();
      const t0 = performance.now();
      try {
        const response = await options.pool.request({ ...spec, headers: spec.headers ?? {} });
        if (response.statusCode >= 200 && response.statusCode < 300) {
          await response.body.dump();
          ok++;
          tally.ok++;
        } else {
          const text = await response.body.text();
          noteError(`HTTP ${response.statusCode}: ${text.slice(0, 200)}`);
        }
        tally.lastAnswerAt = performance.now();
        histogram.record(Math.max(1, Math.round((tally.lastAnswerAt - t0) * 1e6)));
      } catch (error) {
        noteError(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
      }
    }
    return tally;
  }

  const begin = performance.now();
  const tallies = await Promise.all(Array.from({ length: options.connections }, () => loop()));
  return summarise(histogram, ok, errors, firstError, (performance.now() - begin) / 1000, closedLoopRate(tallies, begin));
}

/** What one request loop did: its 2xx answers (or complete iterations) and when its last answer came. */
interface LoopTally {
  ok: number;
  lastAnswerAt: number;
}

/**
 * The throughput of closed request loops: the sum of each loop's successes ÷ the time from the start to its
 * own last answer. Dividing by the time until the last loop finishes instead would count the drain at the
 * end (loops finishing the request in flight at the deadline, with fewer and fewer in flight) as if it
 * ran at full concurrency: negligible for a 2 ms request, but ≈ 8 % low for 170 ms rounds in 1 s rounds.
 */
function closedLoopRate(tallies: LoopTally[], begin: number): number {
  return tallies.reduce((rate, { ok, lastAnswerAt }) => (ok > 0 ? rate + ok / ((lastAnswerAt - begin) / 1000) : rate), 0);
}

/** The answer to one call of a flow (a 2xx: any other status ends the iteration as failed). */
export interface CallAnswer {
  statusCode: number;
  body: string;
}

/** Sends one named request of a flow; throws on a non-2xx answer or a failed request. */
export type FlowCall = (name: string, spec: RequestSpec) => Promise<CallAnswer>;

/**
 * Several dependent requests that make one unit of work (a "round"), sent one after the other on a loop's
 * connection. Its latency runs from the start of its first call to the end of its last, so time spent
 * before the first call (waiting for a test user, say) is not counted in it.
 */
export interface Flow {
  /** What one iteration is called in the tables ("round"). */
  unit: string;
  /** The names of its calls, in order (one histogram each). */
  calls: string[];
  run(call: FlowCall): Promise<void>;
}

export interface FlowLoadOptions {
  pool: Pool;
  connections: number;
  flow: Flow;
  /** Stop after this many iterations in all, or after this many milliseconds. */
  until: { iterations: number } | { ms: number };
}

class CallFailed extends Error {}

/**
 * Runs `connections` loops, each repeating the flow, until the limit. In the result, `requests` and `ok`
 * count complete iterations (all calls 2xx) and `errors` counts failed calls (non-2xx or no answer),
 * each of which ends its iteration; `histogram` holds the iterations' latencies, `calls` each call's.
 */
export async function runFlow(options: FlowLoadOptions): Promise<LoadResult> {
  const histogram = createHistogram();
  const calls = new Map(options.flow.calls.map((name) => [name, createHistogram()]));
  const limit = options.until;
  const deadline = 'ms' in limit ? performance.now() + limit.ms : Infinity;
  const maxIterations = 'iterations' in limit ? limit.iterations : Infinity;
  let started = 0;
  let ok = 0;
  let errors = 0;
  let firstError: string | null = null;

  const noteError = (message: string) => {
    errors++;
    firstError ??= message;
  };

  async function loop(): Promise<LoopTally> {
    const tally: LoopTally = { ok: 0, lastAnswerAt: begin };
    while (started < maxIterations && performance.now() < deadline) {
      started++;
      let first: number | null = null;
      const call: FlowCall = async (name, spec) => {
        const t0 = performance.now();
        first ??= t0;
        let response: Dispatcher.ResponseData;
        try {
          response = await options.pool.request({ ...spec, headers: spec.headers ?? {} });
        } catch (error) {
          noteError(`${name}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
          throw new CallFailed();
        }
        const body = await response.body.text();
        if (response.statusCode < 200 || response.statusCode >= 300) {
          noteError(`${name}: HTTP ${response.statusCode}: ${body.slice(0, 200)}`);
          throw new CallFailed();
        }
        calls.get(name)?.record(Math.max(1, Math.round((performance.now() - t0) * 1e6)));
        return { statusCode: response.statusCode, body };
      };
      try {
        await options.flow.run(call);
        ok++;
        tally.ok++;
        if (first !== null) histogram.record(Math.max(1, Math.round((performance.now() - first) * 1e6)));
      } catch (error) {
        // A failed call is counted already; anything else is the flow's own failure.
        if (!(error instanceof CallFailed)) noteError(error instanceof Error ? error.message : String(error));
      }
      tally.lastAnswerAt = performance.now();
    }
    return tally;
  }

  const begin = performance.now();
  const tallies = await Promise.all(Array.from({ length: options.connections }, () => loop()));
  const elapsed = (performance.now() - begin) / 1000;
  return { ...summarise(histogram, ok, errors, firstError, elapsed, closedLoopRate(tallies, begin)), calls };
}

/** `rate` defaults to ok ÷ seconds; given, `seconds` becomes ok ÷ rate, so that `combine` weighs runs alike. */
function summarise(
  histogram: RecordableHistogram,
  ok: number,
  errors: number,
  firstError: string | null,
  elapsedSeconds: number,
  rate?: number,
): LoadResult {
  const requests = histogram.count;
  const seconds = rate !== undefined && rate > 0 ? ok / rate : elapsedSeconds;
  return {
    requests,
    ok,
    errors,
    firstError,
    seconds,
    requestsPerSecond: ok / seconds,
    p50Ms: requests > 0 ? histogram.percentile(50) / 1e6 : NaN,
    p99Ms: requests > 0 ? histogram.percentile(99) / 1e6 : NaN,
    histogram,
  };
}

/** Several measurements of one target (rounds of an interleaved run) as one. */
export function combine(results: LoadResult[]): LoadResult {
  const histogram = createHistogram();
  for (const result of results) histogram.add(result.histogram);
  const sum = (pick: (result: LoadResult) => number) => results.reduce((total, result) => total + pick(result), 0);
  const firstError = results.find((result) => result.firstError !== null)?.firstError ?? null;
  const combined = summarise(histogram, sum((r) => r.ok), sum((r) => r.errors), firstError, sum((r) => r.seconds));
  const names = new Set(results.flatMap((result) => [...(result.calls?.keys() ?? [])]));
  if (names.size > 0) {
    combined.calls = new Map(
      [...names].map((name) => {
        const merged = createHistogram();
        for (const result of results) {
          const part = result.calls?.get(name);
          if (part) merged.add(part);
        }
        return [name, merged];
      }),
    );
  }
  return combined;
}

/** p50 and p99 of a nanosecond histogram, in milliseconds (NaN when empty). */
export function percentilesMs(histogram: RecordableHistogram): { p50Ms: number; p99Ms: number } {
  const empty = histogram.count === 0;
  return { p50Ms: empty ? NaN : histogram.percentile(50) / 1e6, p99Ms: empty ? NaN : histogram.percentile(99) / 1e6 };
}
