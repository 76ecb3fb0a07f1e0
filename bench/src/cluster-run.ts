/**
 * `pnpm --filter @koru/bench bench:cluster`: the cluster rows alone (sections/cluster.ts),
 * written to results/cluster.{md,json} (`--quick`: results/cluster-quick.*, git-ignored;
 * `--only`: results/cluster-partial*.*, git-ignored, so a partial run never replaces a
 * whole one). results/latest.* is left alone.
 *
 *   tsx src/cluster-run.ts [--quick] [--only lag,join,partition,idle] [--profile]
 *
 * `--profile` runs every member under `node --cpu-prof`; the profiles go to
 * results/tmp/cluster-profiles/ (git-ignored). Exit code 1 when a measurement failed or a
 * member misbehaved (see Problems); targets missed never change the exit code.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BENCH_DIR, scratchRun } from './child.js';
import { FULL, QUICK, type BenchConfig } from './config.js';
import { machineInfo, type MachineInfo } from './machine.js';
import { OPERATIONS, type Row } from './rows.js';
import { CLUSTER_PARTS, KDELTA_VERSION, clusterSection, type ClusterPart } from './sections/cluster.js';
import { evaluateTargets, type TargetResult } from './targets.js';
import { currentJsonBytes } from './workload.js';

const USAGE = `usage: tsx src/cluster-run.ts [--quick] [--only ${CLUSTER_PARTS.join(',')}] [--profile]`;
let quick = false;
let profile = false;
let only: ClusterPart[] = [...CLUSTER_PARTS];
for (let i = 2; i < process.argv.length; i++) {
  const arg = process.argv[i]!;
  if (arg === '--quick') quick = true;
  else if (arg === '--profile') profile = true;
  else if (arg === '--only' || arg.startsWith('--only=')) {
    const list = arg === '--only' ? process.argv[++i] : arg.slice('--only='.length);
    if (list === undefined) throw new Error(`--only needs a list\n${USAGE}`);
    const parts = list.split(',').map((s) => s.trim()).filter((s) => s !== '');
    for (const p of parts) if (!(CLUSTER_PARTS as readonly string[]).includes(p)) throw new Error(`unknown part ${JSON.stringify(p)} (known: ${CLUSTER_PARTS.join(', ')})`);
    only = CLUSTER_PARTS.filter((p) => parts.includes(p));
  } else if (arg === '--help' || arg === '-h') {
    console.log(USAGE);
    process.exit(0);
  } else throw new Error(`unknown argument ${JSON.stringify(arg)}\n${USAGE}`);
}

/** The commit the members were built from, and how many files under packages/ and apps/ differed from it. */
function productRevision(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: BENCH_DIR, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', '../packages', '../apps'], { cwd: BENCH_DIR, encoding: 'utf8' }).split('\n').filter((l) => l.trim() !== '').length;
    return `commit ${head}${dirty > 0 ? ` with ${dirty} uncommitted change${dirty === 1 ? '' : 's'} under packages/ and apps/` : ''}`;
  } catch {
    return 'commit unknown';
  }
}

const config = quick ? QUICK : FULL;
const revision = productRevision();
const machine = machineInfo();
const { root, cleanUp } = await scratchRun('koru-cluster-bench-');

/** The cluster's results file. */
export interface ClusterResults {
  readonly machine: MachineInfo;
  readonly config: BenchConfig['cluster'];
  readonly largeVersions: number;
  readonly kdelta: string;
  /** git commit of the workspace when the run started (the build the members ran should match it) */
  readonly revision: string;
  readonly parts: readonly ClusterPart[];
  readonly rows: readonly Row[];
  readonly targets: readonly TargetResult[];
  readonly problems: readonly string[];
  readonly details: readonly string[];
  readonly durationSeconds: number;
}

function toMarkdown(r: ClusterResults): string {
  const { machine: m } = r;
  const lines: string[] = [`# KoruDelta cluster bench${quick ? ' (quick smoke run: figures are not comparable with the targets)' : ''}`, ''];
  lines.push(
    `- Machine: ${m.os}; ${m.cpu}; ${m.cores} cores; ${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB RAM; Node ${m.node}`,
    `- Date: ${m.date}; took ${Math.round(r.durationSeconds)} s; data under ${m.tmpdir}; 1-minute load average at the start ${m.loadAverage.toFixed(2)}`,
    `- Members: kdelta ${r.kdelta}, workspace at ${r.revision} (built with \`pnpm turbo run build\` before the run) (\`kdelta -d DIR start --port 0 --cluster\` for A, \`--join <A>\` for B and C; durable, default options), 3 processes on 127.0.0.1 with fresh data directories, a fresh cluster per measurement; the clients (writers, subscribers) and the partition row's proxies run in the bench process. All of them share the machine's ${m.cores} cores.`,
    `- Measured: ${r.parts.join(', ')}. \`pnpm --filter @koru/bench bench:cluster${quick ? ' --quick' : ''}\` wrote this file; the full bench (\`pnpm bench\`) runs the same section and puts its rows in results/latest.md.`,
    '',
    '| Operation | Unit | KoruDelta |',
    '| --- | --- | --: |',
  );
  const cell = (row: Row): string => (row.unit === 's' ? row.value.toFixed(2) : row.unit === 'ms' ? (row.value < 10 ? row.value.toFixed(2) : row.value.toFixed(1)) : row.value.toFixed(2));
  for (const op of OPERATIONS) {
    const row = r.rows.find((x) => x.operation === op.id);
    if (row !== undefined) lines.push(`| ${op.label} | ${op.unit} | ${cell(row)} |`);
  }
  lines.push('', '## Targets (reported, not asserted)', '', '| Target | Goal | Measured | Status |', '| --- | --- | --- | --- |');
  for (const t of r.targets) lines.push(`| ${t.name} | ${t.target} | ${t.measured} | ${t.status} |`);
  if (r.problems.length > 0) {
    lines.push('', '## Problems', '');
    for (const p of r.problems) lines.push(`- ${p.split('\n')[0]}`);
  }
  lines.push('', '## How each figure was measured', '');
  for (const op of OPERATIONS) {
    const row = r.rows.find((x) => x.operation === op.id);
    if (row !== undefined) lines.push(`- **${op.label}**: ${row.notes}`);
  }
  if (r.details.length > 0) {
    lines.push('', '## Details', '');
    for (const d of r.details) lines.push(`- ${d}`);
  }
  return `${lines.join('\n')}\n`;
}

console.log(`KoruDelta cluster bench${quick ? ' (quick)' : ''}: ${only.join(', ')}; ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}; load average ${machine.loadAverage.toFixed(2)}; data in ${root}`);
const started = performance.now();
try {
  const profileDir = profile ? join(BENCH_DIR, 'results', 'tmp', 'cluster-profiles') : undefined;
  if (profileDir !== undefined) await mkdir(profileDir, { recursive: true });
  const result = await clusterSection(config, root, { only, ...(profileDir !== undefined ? { profileDir } : {}) });
  const large = { keys: config.largeKeys, versions: config.largeVersions, rawCurrentJsonBytes: currentJsonBytes(config.largeKeys, config.largeVersions) };
  const targets = evaluateTargets(result.rows, large, { docs: config.queryDocs, indexedDocs: config.indexedQueryDocs }).filter((t) => t.name.startsWith('cluster:'));
  const results: ClusterResults = {
    machine,
    config: config.cluster,
    largeVersions: config.largeKeys * config.largeVersions,
    kdelta: KDELTA_VERSION,
    revision,
    parts: only,
    rows: result.rows,
    targets,
    problems: result.problems,
    details: result.details,
    durationSeconds: (performance.now() - started) / 1000,
  };
  const outDir = join(BENCH_DIR, 'results');
  const base = `cluster${only.length < CLUSTER_PARTS.length ? '-partial' : ''}${quick ? '-quick' : ''}`;
  await mkdir(outDir, { recursive: true });
  const markdown = toMarkdown(results);
  await writeFile(join(outDir, `${base}.md`), markdown);
  await writeFile(join(outDir, `${base}.json`), `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\n${markdown.slice(0, markdown.indexOf('\n## How each figure'))}`);
  console.log(`Wrote results/${base}.md and results/${base}.json in ${Math.round(results.durationSeconds)} s.${profileDir !== undefined ? ` CPU profiles of the members in ${profileDir}.` : ''}`);
  if (result.problems.length > 0) process.exitCode = 1;
} finally {
  cleanUp();
}
