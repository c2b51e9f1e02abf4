// npm run bench: runs every scenario, prints its table and writes bench/RESULTS.md.
// Options (environment): BENCH_DURATION_S (10), BENCH_ROUND_S (1), BENCH_CONNECTIONS (32), BENCH_WARMUP_REQUESTS (5000),
// BENCH_ONLY=<scenario name>, BENCH_STORAGE=<pglite|postgresql>, BENCH_DATABASE_URL, BENCH_SERVER_NODE_ARGS, BENCH_SERVER_LOG_LEVEL.
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { markdownTable, textTable } from './lib/report.ts';
import type { BenchOptions, Scenario, ScenarioResult } from './lib/scenario.ts';
import { actionsTrack } from './scenarios/actions-track.ts';
import { appsGet } from './scenarios/apps-get.ts';
import { pushDelivery } from './scenarios/push-delivery.ts';
import { qrLogin } from './scenarios/qr-login.ts';
import { twoFactorRound } from './scenarios/two-factor-round.ts';

const scenarios: Scenario[] = [appsGet, twoFactorRound, pushDelivery, qrLogin, actionsTrack];

const resultsFile = new URL('./RESULTS.md', import.meta.url);

function positiveInteger(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer (got "${raw}").`);
  return value;
}

function cpuCount(): string {
  try {
    return execFileSync('nproc', { encoding: 'utf8' }).trim();
  } catch {
    return String(os.availableParallelism());
  }
}

function progress(message: string): void {
  process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function section(scenario: Scenario, result: ScenarioResult, options: BenchOptions): string {
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  return [
    `<!-- scenario:${scenario.name} -->`,
    `## ${scenario.name}: ${scenario.title}`,
    '',
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${cpuCount()} CPU cores ` +
      `(\`nproc\`; ${cpu}), Node ${process.version}, ${os.platform()} ${os.arch()}. ` +
      `Each row: ${options.warmupRequests} warm-up requests, then ${options.durationS} s measured in rounds of ` +
      `${options.roundS} s alternating with its baseline; ${options.connections} concurrent requests ` +
      `(undici Pool, one connection each); client and servers on this machine.`,
    '',
    // A scenario without request-rate rows (sockets, latencies) gives its tables in its notes.
    ...(result.rows.length > 0 ? [markdownTable(result.rows), ''] : []),
    scenario.about,
    ...result.notes.flatMap((note) => ['', note]),
    `<!-- /scenario:${scenario.name} -->`,
  ].join('\n');
}

const header = `# Benchmark results

The latest figures of \`npm run bench\` (bench/run.ts); each scenario's section is replaced when it runs.

**How to read.** Client and server share one machine, whose figures vary by ±30 % between runs
(see /work/shared/MEASURED.md), so every Tessera row is compared with the bare Fastify route
(bench/baseline-server.ts, \`GET /bare\` → \`{"ok":true}\`, no hooks, no logger) in the row just above it,
measured in the same run in alternating rounds (baseline, Tessera, baseline, …) so that other load on the
machine falls on both alike: read the **vs bare route** column, not the absolute req/s. The target is at
least 50 %. Throughput counts 2xx answers only, summed over the request loops as each loop's answers ÷ the
time to its own last answer (the drain at the end of a round, fewer and fewer requests in flight, is not
counted as full load); **errors** counts non-2xx answers and failed requests (it should be 0). p50/p99 are
client-side latencies over the measured window. **server RSS** is the server
child's resident memory (VmRSS) at the end of its measurement, and in brackets its peak since it started
(VmHWM). **server CPU µs/req** is the server's own CPU time (user + system, /proc/<pid>/stat, 10 ms ticks)
over its measured rounds divided by the requests it answered: less sensitive to other load on the machine
than req/s, and it includes the kernel's work for the loopback TCP writes. Each server runs in its own child
process (\`node --import tsx\`, as \`npm start\` does), Tessera with \`LOG_LEVEL=warn\`, on a fresh data
directory or a fresh PostgreSQL database; the load client (undici) runs in the bench process.
`;

async function writeResults(fresh: Map<string, string>): Promise<void> {
  const previous = await readFile(resultsFile, 'utf8').catch(() => '');
  const sections = scenarios.flatMap((scenario) => {
    const kept = new RegExp(`<!-- scenario:${scenario.name} -->[\\s\\S]*?<!-- /scenario:${scenario.name} -->`).exec(previous);
    const text = fresh.get(scenario.name) ?? kept?.[0];
    return text === undefined ? [] : [text];
  });
  await writeFile(resultsFile, `${header}\n${sections.join('\n\n')}\n`);
}

async function main(): Promise<number> {
  const options: BenchOptions = {
    durationS: positiveInteger('BENCH_DURATION_S', 10),
    roundS: positiveInteger('BENCH_ROUND_S', 1),
    connections: positiveInteger('BENCH_CONNECTIONS', 32),
    warmupRequests: positiveInteger('BENCH_WARMUP_REQUESTS', 5000),
  };
  const only = process.env.BENCH_ONLY?.trim() || undefined;
  const selected = only === undefined ? scenarios : scenarios.filter((scenario) => scenario.name === only);
  if (selected.length === 0) {
    process.stderr.write(`BENCH_ONLY: no scenario "${only}" (there are: ${scenarios.map((s) => s.name).join(', ')}).\n`);
    return 2;
  }

  const fresh = new Map<string, string>();
  let failed = false;
  for (const scenario of selected) {
    progress(`scenario ${scenario.name}: ${scenario.title}`);
    try {
      const result = await scenario.run({ options, progress });
      process.stdout.write(`\n${scenario.name}: ${scenario.title}\n${textTable(result.rows)}\n`);
      for (const note of result.notes) process.stdout.write(`note: ${note}\n`);
      process.stdout.write('\n');
      fresh.set(scenario.name, section(scenario, result, options));
    } catch (error) {
      failed = true;
      process.stderr.write(`scenario ${scenario.name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    }
  }
  if (fresh.size > 0) {
    await writeResults(fresh);
    progress(`wrote bench/RESULTS.md (${[...fresh.keys()].join(', ')})`);
  }
  return failed ? 1 : 0;
}

process.exitCode = await main();
