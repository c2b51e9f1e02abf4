import type { LoadResult } from './load.ts';

/** One measured target: a row of a scenario's table. */
export interface ResultRow {
  /** What was loaded, e.g. "GET /v1/apps/{id}" or "bare Fastify route". */
  target: string;
  /** Where its data lives (PGlite, PostgreSQL) or "-" for the baseline. */
  storage: string;
  load: LoadResult;
  /** The server's resident memory at the end of the measurement, and its peak since it started. */
  rssBytes: number;
  peakRssBytes: number;
  /** The server's CPU time (user + system, from /proc) over the measured window, per answered request. */
  cpuMicrosPerRequest: number;
  /** The baseline's throughput measured just before, for the ratio; absent on the baseline row itself. */
  baselineRps?: number;
  /**
   * A flow's row: what one unit of its throughput is ("round") and how many requests it makes. Its rate,
   * latencies and CPU are per unit, and the ratio compares its requests (units/s × requests) with the baseline.
   */
  unit?: { name: string; requests: number };
}

const rightAligned = [false, false, true, true, true, true, true, true, true];

/** The column heads; a table with flow rows says that their figures are per unit (e.g. "rounds/s"). */
function headersOf(rows: ResultRow[]): string[] {
  const units = [...new Set(rows.flatMap((row) => (row.unit ? [row.unit.name] : [])))];
  const rate = ['req/s', ...units.map((unit) => `${unit}s/s`)].join(', ');
  const cpu = ['server CPU µs/req', ...units.map((unit) => `/${unit}`)].join(', ');
  return ['target', 'storage', rate, 'p50 ms', 'p99 ms', 'server RSS MiB (peak)', cpu, 'errors', 'vs bare route'];
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);

function cells(row: ResultRow): string[] {
  const { load } = row;
  const requestsPerUnit = row.unit?.requests ?? 1;
  const ratio = row.baselineRps
    ? `${(((load.requestsPerSecond * requestsPerUnit) / row.baselineRps) * 100).toFixed(1)} %`
    : 'baseline';
  return [
    row.target,
    row.storage,
    `${integer.format(load.requestsPerSecond)}${row.unit ? ` ${row.unit.name}s` : ''}`,
    load.p50Ms.toFixed(2),
    load.p99Ms.toFixed(2),
    `${mib(row.rssBytes)} (${mib(row.peakRssBytes)})`,
    integer.format(row.cpuMicrosPerRequest),
    integer.format(load.errors),
    ratio,
  ];
}

/** An aligned plain-text table for the terminal. */
export function textTable(rows: ResultRow[]): string {
  const headers = headersOf(rows);
  const body = rows.map(cells);
  const widths = headers.map((header, i) => Math.max(header.length, ...body.map((r) => (r[i] ?? '').length)));
  const line = (values: string[]) =>
    values
      .map((value, i) => (rightAligned[i] ? value.padStart(widths[i] ?? 0) : value.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** The same table in Markdown. */
export function markdownTable(rows: ResultRow[]): string {
  const headers = headersOf(rows);
  const line = (values: string[]) => `| ${values.join(' | ')} |`;
  const rule = `|${rightAligned.map((right) => (right ? '---:' : '---')).join('|')}|`;
  return [line(headers), rule, ...rows.map((row) => line(cells(row)))].join('\n');
}
