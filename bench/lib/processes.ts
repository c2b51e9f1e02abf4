import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** A server running in a child process (`node --import tsx <script>`), listening on 127.0.0.1. */
export interface ChildServer {
  name: string;
  pid: number;
  origin: string;
  /** Resident memory of the child now and at its peak, in bytes (VmRSS and VmHWM from /proc/<pid>/status). */
  memory(): { rssBytes: number; peakRssBytes: number };
  /** CPU time the child has used so far, in seconds. */
  cpuTimes(): CpuTimes;
  /** The last few KiB of what the child wrote to stdout and stderr. */
  output(): string;
  /** SIGTERM, then SIGKILL if it has not exited within 15 s. */
  stop(): Promise<void>;
}

export interface StartOptions {
  name: string;
  /** Path from the repository root. */
  script: string;
  env: Record<string, string>;
  /** A GET that answers 2xx once the server is ready. */
  readyPath: string;
  /** Extra node flags, e.g. --cpu-prof. */
  nodeArgs?: string[];
  readyTimeoutMs?: number;
}

// Variables the servers read: the bench sets them itself, nothing leaks in from the caller's shell.
const serverVariables = /^(PORT|HOST|DATABASE_URL|REDIS_URL|LOG_LEVEL|TESSERA_.*)$/;

/** A port free right now on 127.0.0.1 (the OS picks it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('could not pick a free port');
  return address.port;
}

export function memoryOf(pid: number): { rssBytes: number; peakRssBytes: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => {
    const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB$`, 'm').exec(status);
    if (!match?.[1]) throw new Error(`no ${field} for pid ${pid}`);
    return Number(match[1]) * 1024;
  };
  return { rssBytes: kib('VmRSS'), peakRssBytes: kib('VmHWM') };
}

const clockTicksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

export interface CpuTimes {
  user: number;
  system: number;
}

/** utime and stime from /proc/<pid>/stat (fields 14 and 15, counted after the parenthesised command name). */
export function cpuTimesOf(pid: number): CpuTimes {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / clockTicksPerSecond, system: Number(fields[12]) / clockTicksPerSecond };
}

export async function startServer(options: StartOptions): Promise<ChildServer> {
  const port = await freePort();
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !serverVariables.test(key)) env[key] = value;
  }
  Object.assign(env, { HOST: '127.0.0.1', PORT: String(port) }, options.env);

  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', options.script], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-8192);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  if (child.pid === undefined) throw new Error(`${options.name}: could not start node`);

  const server: ChildServer = {
    name: options.name,
    pid: child.pid,
    origin: `http://127.0.0.1:${port}`,
    memory: () => memoryOf(child.pid as number),
    cpuTimes: () => cpuTimesOf(child.pid as number),
    output: () => output,
    stop: () => stopChild(child, exited),
  };
  try {
    await waitUntilReady(server, options.readyPath, options.readyTimeoutMs ?? 60_000, exited);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

async function waitUntilReady(
  server: ChildServer,
  path: string,
  timeoutMs: number,
  exited: Promise<number | null>,
): Promise<void> {
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exitCode !== undefined) {
      throw new Error(`${server.name} exited (code ${exitCode}) before it was ready:\n${server.output()}`);
    }
    try {
      const response = await request(`${server.origin}${path}`);
      await response.body.dump();
      if (response.statusCode >= 200 && response.statusCode < 300) return;
    } catch {
      // Not listening yet.
    }
    await sleep(100);
  }
  throw new Error(`${server.name} was not ready after ${timeoutMs / 1000} s:\n${server.output()}`);
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

// BENCH_SERVER_NODE_ARGS adds node flags to every server child, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
// to profile them under load (each profile is named after the child's pid, which the progress lines show).
const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');

/** The bare Fastify route the scenarios compare against (bench/baseline-server.ts, GET /bare). */
export function startBaseline(): Promise<ChildServer> {
  return startServer({ name: 'baseline', script: 'bench/baseline-server.ts', env: {}, readyPath: '/bare', nodeArgs });
}

/** The Tessera server (packages/server/src/main.ts); BENCH_SERVER_LOG_LEVEL replaces its LOG_LEVEL (warn). */
export function startTessera(env: Record<string, string>): Promise<ChildServer> {
  return startServer({
    name: 'tessera',
    script: 'packages/server/src/main.ts',
    env: { LOG_LEVEL: process.env.BENCH_SERVER_LOG_LEVEL ?? 'warn', ...env },
    readyPath: '/healthz',
    nodeArgs,
  });
}

/** CPU seconds (user + system) the processes have used, or null when one cannot be read (not on this machine). */
export function cpuSecondsOf(pids: number[]): number | null {
  try {
    return pids.reduce((total, pid) => {
      const times = cpuTimesOf(pid);
      return total + times.user + times.system;
    }, 0);
  } catch {
    return null;
  }
}
