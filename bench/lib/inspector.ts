// Memory of a server child read from inside it, without changing its code: the child is started with
// `--inspect=127.0.0.1:<port>` and the bench talks the Chrome DevTools Protocol to it (over `ws`) to run a full
// garbage collection, read process.memoryUsage() and, on request, take a heap snapshot.
import { writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import WebSocket from 'ws';
import { freePort, memoryOf, startServer, type ChildServer, type StartOptions } from './processes.ts';

/** process.memoryUsage() of the child, plus VmRSS from /proc, in bytes. */
export interface MemoryReading {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  /** VmRSS from /proc/<pid>/status at the same moment (equal to rss up to the page granularity). */
  procRss: number;
}

export interface Inspector {
  call<T = unknown>(method: string, params?: Record<string, unknown>): Promise<T>;
  /** Two full garbage collections, a pause, then the reading. */
  memory(): Promise<MemoryReading>;
  /**
   * A reading once RSS has settled: collections and readings 2.5 s apart until three in a row lie within
   * `toleranceBytes` (at most `maxReadings`), the last one. V8 and the allocator give pages back some seconds after
   * busy work (by megabytes, with the V8 heap unchanged), so a single reading overstates what stays.
   */
  settledMemory(toleranceBytes?: number, maxReadings?: number): Promise<MemoryReading>;
  /** Starts the V8 sampling profiler (`intervalMicros` between samples). */
  startProfile(intervalMicros?: number): Promise<void>;
  /** Stops it and answers the profile (the .cpuprofile JSON). */
  stopProfile(): Promise<unknown>;
  /** A heap snapshot (after a full GC), summarised by node type and constructor name; `saveTo` keeps the raw snapshot. */
  heapSummary(saveTo?: string): Promise<HeapSummary>;
  close(): void;
}

/** Per "type:name" of the snapshot's nodes (objects by constructor, closures by function name, strings by type): count and self size. */
export type HeapSummary = Map<string, { count: number; bytes: number }>;

/** A server child with an inspector port the bench can attach to. */
export interface InspectableServer {
  server: ChildServer;
  inspector: Inspector;
}

// BENCH_SERVER_NODE_ARGS applies here too (processes.ts reads it for the children it starts itself).
const extraNodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');

/** startServer with `--inspect` on a free port of 127.0.0.1, and a DevTools Protocol session to it. */
export async function startInspectable(options: StartOptions): Promise<InspectableServer> {
  const port = await freePort();
  const server = await startServer({
    ...options,
    nodeArgs: [...extraNodeArgs, ...(options.nodeArgs ?? []), `--inspect=127.0.0.1:${port}`],
  });
  try {
    return { server, inspector: await connectInspector(port, server.pid) };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

/** The Tessera server as startTessera starts it (LOG_LEVEL warn unless BENCH_SERVER_LOG_LEVEL), with an inspector. */
export function startInspectableTessera(env: Record<string, string>): Promise<InspectableServer> {
  return startInspectable({
    name: 'tessera',
    script: 'packages/server/src/main.ts',
    env: { LOG_LEVEL: process.env.BENCH_SERVER_LOG_LEVEL ?? 'warn', ...env },
    readyPath: '/healthz',
  });
}

async function connectInspector(port: number, pid: number): Promise<Inspector> {
  const list = await request(`http://127.0.0.1:${port}/json/list`);
  const targets = (await list.body.json()) as Array<{ webSocketDebuggerUrl?: string }>;
  const url = targets[0]?.webSocketDebuggerUrl;
  if (!url) throw new Error(`no inspector target on port ${port}`);
  const socket = new WebSocket(url, { perMessageDeflate: false, maxPayload: 1024 * 1024 * 1024 });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  let nextId = 1;
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  const eventHandlers = new Map<string, (params: Record<string, unknown>) => void>();
  socket.on('message', (data) => {
    const message = JSON.parse(String(data)) as {
      id?: number;
      result?: unknown;
      error?: { message: string };
      method?: string;
      params?: Record<string, unknown>;
    };
    if (message.id !== undefined) {
      const waiter = pending.get(message.id);
      pending.delete(message.id);
      if (message.error) waiter?.reject(new Error(`inspector: ${message.error.message}`));
      else waiter?.resolve(message.result);
    } else if (message.method) {
      eventHandlers.get(message.method)?.(message.params ?? {});
    }
  });
  socket.on('close', () => {
    for (const waiter of pending.values()) waiter.reject(new Error('inspector connection closed'));
    pending.clear();
  });

  const call = <T>(method: string, params: Record<string, unknown> = {}): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      socket.send(JSON.stringify({ id, method, params }));
    });

  const collectGarbage = async () => {
    await call('HeapProfiler.collectGarbage');
    await call('HeapProfiler.collectGarbage');
  };

  const memory = async (): Promise<MemoryReading> => {
    await collectGarbage();
    await sleep(500);
    const evaluated = await call<{ result: { value?: string } }>('Runtime.evaluate', {
      expression: 'JSON.stringify(process.memoryUsage())',
      returnByValue: true,
    });
    const usage = JSON.parse(evaluated.result.value ?? '{}') as Omit<MemoryReading, 'procRss'>;
    return { ...usage, procRss: memoryOf(pid).rssBytes };
  };

  return {
    call,
    memory,
    async settledMemory(toleranceBytes = 128 * 1024, maxReadings = 14) {
      const readings = [await memory()];
      while (readings.length < maxReadings) {
        await sleep(2_000);
        readings.push(await memory());
        const lastThree = readings.slice(-3).map((reading) => reading.rss);
        if (lastThree.length === 3 && Math.max(...lastThree) - Math.min(...lastThree) < toleranceBytes) break;
      }
      return readings[readings.length - 1] as MemoryReading;
    },
    async startProfile(intervalMicros = 250) {
      await call('Profiler.enable');
      await call('Profiler.setSamplingInterval', { interval: intervalMicros });
      await call('Profiler.start');
    },
    async stopProfile() {
      const { profile } = await call<{ profile: unknown }>('Profiler.stop');
      await call('Profiler.disable');
      return profile;
    },
    async heapSummary(saveTo?: string) {
      await collectGarbage();
      const chunks: string[] = [];
      eventHandlers.set('HeapProfiler.addHeapSnapshotChunk', (params) => chunks.push(String(params.chunk)));
      try {
        await call('HeapProfiler.takeHeapSnapshot', { reportProgress: false, captureNumericValue: false });
      } finally {
        eventHandlers.delete('HeapProfiler.addHeapSnapshotChunk');
      }
      const text = chunks.join('');
      if (saveTo) await writeFile(saveTo, text);
      return summarise(JSON.parse(text) as HeapSnapshot);
    },
    close: () => socket.close(),
  };
}

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: unknown[] } };
  nodes: number[];
  strings: string[];
}

/** Groups the snapshot's nodes: "object:<constructor>", "closure:<function>", "native:<name>", and by type for the rest. */
function summarise(snapshot: HeapSnapshot): HeapSummary {
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0] as string[];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const named = new Set(['object', 'closure', 'native', 'hidden', 'code']);
  const summary: HeapSummary = new Map();
  for (let i = 0; i < snapshot.nodes.length; i += width) {
    const type = types[snapshot.nodes[i + typeAt] as number] ?? '?';
    const name = snapshot.strings[snapshot.nodes[i + nameAt] as number] ?? '?';
    const key = named.has(type) ? `${type}:${name.length > 60 ? `${name.slice(0, 57)}...` : name}` : type;
    const entry = summary.get(key) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += snapshot.nodes[i + sizeAt] as number;
    summary.set(key, entry);
  }
  return summary;
}

/** The groups that grew most between two summaries (by self size), for `perUnit` units (connections, say). */
export function heapGrowth(
  before: HeapSummary,
  after: HeapSummary,
  perUnit: number,
  top = 25,
): Array<{ key: string; count: number; bytes: number; countPerUnit: number; bytesPerUnit: number }> {
  const keys = new Set([...before.keys(), ...after.keys()]);
  return [...keys]
    .map((key) => {
      const a = after.get(key) ?? { count: 0, bytes: 0 };
      const b = before.get(key) ?? { count: 0, bytes: 0 };
      const count = a.count - b.count;
      const bytes = a.bytes - b.bytes;
      return { key, count, bytes, countPerUnit: count / perUnit, bytesPerUnit: bytes / perUnit };
    })
    .sort((x, y) => y.bytes - x.bytes)
    .slice(0, top);
}
