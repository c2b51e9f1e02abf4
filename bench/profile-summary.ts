// Summarises a V8 .cpuprofile (from BENCH_PUSH_CPU_PROFILE or BENCH_SERVER_NODE_ARGS="--cpu-prof …"):
//   node --import tsx bench/profile-summary.ts <file.cpuprofile> [top=25] [filter]
// prints the share of samples by package (self time), the hottest functions (self) and, for the functions whose
// file matches `filter` (default "packages/"), their inclusive share (time with the function on the stack).
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg, filterArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node --import tsx bench/profile-summary.ts <file.cpuprofile> [top] [filter]\n');
  process.exit(2);
}
const top = Number(topArg ?? 25);
const filter = filterArg ?? 'packages/';
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;

const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

/** Time per sample: the delta to the next sample (V8 records the delta before each sample). */
const selfMicros = new Map<number, number>();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i] as number;
  const delta = profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0;
  selfMicros.set(id, (selfMicros.get(id) ?? 0) + Math.max(0, delta));
}
const total = [...selfMicros.values()].reduce((sum, value) => sum + value, 0);
const idle = [...selfMicros].filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)').reduce((sum, [, v]) => sum + v, 0);
const busy = total - idle;

function packageOf(frame: ProfileNode['callFrame']): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native/builtin)';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1] as string;
  const own = /packages\/([^/]+)\/src\/(.*)$/.exec(url);
  if (own) return `tessera ${own[1]}/${(own[2] as string).split('/').slice(0, -1).join('/') || '.'}`;
  if (url.startsWith('node:')) return url.replace(/^node:internal\//, 'node:');
  return url.replace(/^file:\/\/.*\/bench\//, 'bench/');
}

const label = (frame: ProfileNode['callFrame']) =>
  `${frame.functionName || '(anonymous)'} ${frame.url.replace(/^file:\/\/.*?\/(node_modules|packages)\//, '$1/')}:${frame.lineNumber + 1}`;

const pct = (micros: number) => `${((micros / busy) * 100).toFixed(1).padStart(5)} %`;
const print = (title: string, entries: Array<[string, number]>) => {
  process.stdout.write(`\n${title}\n`);
  for (const [name, micros] of entries.sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`  ${pct(micros)}  ${(micros / 1000).toFixed(0).padStart(7)} ms  ${name}\n`);
  }
};

process.stdout.write(
  `${file}: ${(total / 1e6).toFixed(1)} s sampled, ${(idle / 1e6).toFixed(1)} s idle, ${(busy / 1e6).toFixed(1)} s busy; shares are of the busy time\n`,
);

const byPackage = new Map<string, number>();
const byFunction = new Map<string, number>();
for (const [id, micros] of selfMicros) {
  const frame = (byId.get(id) as ProfileNode).callFrame;
  if (frame.functionName === '(idle)') continue;
  byPackage.set(packageOf(frame), (byPackage.get(packageOf(frame)) ?? 0) + micros);
  byFunction.set(label(frame), (byFunction.get(label(frame)) ?? 0) + micros);
}
print('self time by package', [...byPackage]);
print('self time by function', [...byFunction]);

// Inclusive: each sample counts once for every distinct matching function on its stack.
const inclusive = new Map<string, number>();
const byPackageInclusive = new Map<string, number>();
for (const [id, micros] of selfMicros) {
  const seen = new Set<string>();
  const seenPackages = new Set<string>();
  for (let node: number | undefined = id; node !== undefined; node = parent.get(node)) {
    const frame = (byId.get(node) as ProfileNode).callFrame;
    if (frame.functionName === '(idle)') break;
    const pkg = packageOf(frame);
    if (!seenPackages.has(pkg)) {
      seenPackages.add(pkg);
      byPackageInclusive.set(pkg, (byPackageInclusive.get(pkg) ?? 0) + micros);
    }
    if (!frame.url.includes(filter)) continue;
    const name = label(frame);
    if (seen.has(name)) continue;
    seen.add(name);
    inclusive.set(name, (inclusive.get(name) ?? 0) + micros);
  }
}
print('inclusive time by package (the package anywhere on the stack)', [...byPackageInclusive]);
print(`inclusive time of functions in files matching "${filter}"`, [...inclusive]);
