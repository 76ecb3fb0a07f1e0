/** Results file and Markdown table. */
import type { BenchConfig } from './config.js';
import type { MachineInfo } from './machine.js';
import { OPERATIONS, type Column, type Row, type Unit } from './rows.js';
import type { TargetResult } from './targets.js';

/** How a subject's run went. */
export interface SubjectOutcome {
  readonly id: Column;
  readonly label: string;
  readonly version: string;
  readonly status: 'ok' | 'failed';
}

/** Everything written to results/latest.json. */
export interface Results {
  readonly machine: MachineInfo;
  readonly config: BenchConfig;
  readonly seed: number;
  readonly workload: {
    readonly baseVersions: number;
    readonly averageDocJsonBytes: number;
    readonly largeVersions: number;
    readonly largeCurrentJsonBytes: number;
  };
  readonly subjects: readonly SubjectOutcome[];
  readonly rows: readonly Row[];
  readonly targets: readonly TargetResult[];
  readonly problems: readonly string[];
  readonly durationSeconds: number;
}

const int = (x: number): string => Math.round(x).toLocaleString('en-US');

function cell(value: number, unit: Unit): string {
  switch (unit) {
    case 'ms':
      return value < 1 ? value.toFixed(3) : value < 100 ? value.toFixed(1) : int(value);
    case 'µs':
      return value.toFixed(2);
    case 's':
      return value.toFixed(1);
    case 'bytes':
      return (value / 1e6).toFixed(1);
    case '%':
      return `${value > 0 ? '+' : ''}${value.toFixed(1)}`;
    case '% of a core':
    case '×':
      return value.toFixed(2);
    default:
      return int(value);
  }
}

const unitLabel = (unit: Unit): string => (unit === 'bytes' ? 'MB' : unit);

/** Markdown: machine header, the side-by-side table, targets, problems and per-row notes. */
export function toMarkdown(results: Results): string {
  const { machine, config, workload } = results;
  const columns = results.subjects;
  const lines: string[] = [];
  lines.push(`# KoruDelta bench${config.quick ? ' (quick smoke run: figures are not comparable with the targets)' : ''}`, '');
  lines.push(
    `- Machine: ${machine.os}; ${machine.cpu}; ${machine.cores} cores; ${(machine.memoryBytes / 2 ** 30).toFixed(1)} GiB RAM; Node ${machine.node}`,
    `- Date: ${machine.date}; took ${Math.round(results.durationSeconds)} s; data under ${machine.tmpdir}; 1-minute load average at the start ${machine.loadAverage.toFixed(2)}`,
    `- Subjects: ${columns.map((s) => `${s.label} (${s.version}${s.status === 'failed' ? ', FAILED' : ''})`).join('; ')}`,
    `- Base workload: ${config.keys.toLocaleString('en-US')} keys × ${config.versions} versions = ${int(workload.baseVersions)} versions, ${workload.averageDocJsonBytes.toFixed(0)} B of JSON per document on average; seed 0x${results.seed.toString(16)}`,
    `- Large DB: ${config.largeKeys.toLocaleString('en-US')} keys × ${config.largeVersions} versions = ${int(workload.largeVersions)} versions; current values are ${int(workload.largeCurrentJsonBytes)} B of JSON`,
    `- Queries: ${int(config.queryDocs)} user documents { name, age, city, email, tags } for the scans; the large collection of the email lookups holds ${int(config.indexedQueryDocs)}; all in memory (KoruDelta start(), sqlite ':memory:' with documents as TEXT JSON, LokiJS); subscriber and view rows are KoruDelta's alone`,
    `- Durability: "default" = KoruDelta sync 'periodic' (each put reaches the OS before it resolves, fdatasync every 100 ms) vs sqlite WAL + synchronous=NORMAL; "fsync before ack" = KoruDelta sync 'always' vs sqlite WAL + synchronous=FULL. Map is in memory throughout (the ceiling); get/history/getAt run on a reopened durable DB for KoruDelta and sqlite.`,
  );
  if (results.rows.some((r) => r.operation.startsWith('http.') || r.operation.startsWith('ws.') || r.operation.startsWith('server.'))) {
    lines.push(
      `- Server rows: @koru/server as its own process on 127.0.0.1, durable with default options (sync 'periodic'), ${config.server.keys.toLocaleString('en-US')} keys pre-loaded; load from a second process: autocannon for HTTP (${config.server.httpConnections} keep-alive connections, 1 request in flight each), a \`ws\` client for the WebSocket (${config.server.wsInFlight} calls in flight on one socket); memory rows from a fresh server under ${config.server.mixedSeconds} s of paced mixed load. redis column: redis-server with no persistence and redis-benchmark (50 clients; not pipelined beside the HTTP rows, -P 16 beside the WebSocket rows). Both ends share the machine's ${machine.cores} cores.`,
    );
  }
  if (results.rows.some((r) => r.operation.startsWith('attack.'))) {
    const a = config.attack;
    lines.push(
      `- Attack rows: @koru/server with a token as its own process on 127.0.0.1; one authenticated WebSocket client in the bench process doing one get at a time (${(a.baselineMs / 1000).toLocaleString('en-US')} s without the attack, ${(a.attackMs / 1000).toLocaleString('en-US')} s with it); the attack from a second process: ${a.unauthSockets.toLocaleString('en-US')} WebSocket upgrades without a token that never send hello, and ${a.regexLoops} loops of regex queries with catastrophic patterns over 'a' × ${a.regexLength} + '!'. A get not answered in ${a.getTimeoutMs.toLocaleString('en-US')} ms fails and counts as that latency.`,
    );
  }
  if (results.rows.some((r) => r.operation.startsWith('cluster.'))) {
    lines.push(
      `- Cluster rows: 3 \`kdelta start\` members (A \`--cluster\`, B and C \`--join <A>\`; durable, default options) as processes on 127.0.0.1 with fresh data directories, a fresh cluster per measurement; clients and the partition row's TCP proxies in the bench process; lag at ${config.cluster.lagRate.toLocaleString('en-US')} puts/s for ${config.cluster.lagSeconds} s; the join to the large DB; a ${config.cluster.partitionSeconds} s partition with ${config.cluster.partitionWrites.toLocaleString('en-US')} versions written on each side; CPU of quiet members over ${config.cluster.idleSeconds} s. All share the machine's ${machine.cores} cores.`,
    );
  }
  if (results.rows.some((r) => r.operation.startsWith('postgres.'))) {
    lines.push(
      '- PostgreSQL rows: `bench:postgres` (src/postgres-bench.ts) on a private PostgreSQL (fsync on): 1, 2 and 4 KoruDelta servers as processes, 32 operations outstanding each, beside plain SQL through the same driver and the embedded engine; the change feed between two servers. Its own page, results/postgres-<date>.md, has every figure and what bounds it.',
    );
  }
  lines.push('');
  lines.push(`| Operation | Unit | ${columns.map((s) => s.label).join(' | ')} |`);
  lines.push(`| --- | --- | ${columns.map(() => '--:').join(' | ')} |`);
  for (const op of OPERATIONS) {
    const cells = columns.map((s) => {
      const row = results.rows.find((r) => r.subject === s.id && r.operation === op.id);
      return row === undefined ? '—' : cell(row.value, row.unit);
    });
    if (cells.every((c) => c === '—')) continue;
    lines.push(`| ${op.label} | ${unitLabel(op.unit)} | ${cells.join(' | ')} |`);
  }
  lines.push('', '## Targets (KoruDelta; reported, not asserted)', '', '| Target | Goal | Measured | Status |', '| --- | --- | --- | --- |');
  for (const t of results.targets) lines.push(`| ${t.name} | ${t.target} | ${t.measured} | ${t.status} |`);
  if (results.problems.length > 0) {
    lines.push('', '## Problems', '');
    for (const p of results.problems) lines.push(`- ${p.split('\n')[0]}`);
  }
  lines.push('', '## Notes per row', '');
  for (const op of OPERATIONS) {
    const rows = results.rows.filter((r) => r.operation === op.id);
    if (rows.length === 0) continue;
    lines.push(`- **${op.label}**`);
    for (const r of rows) lines.push(`  - ${columns.find((s) => s.id === r.subject)?.label ?? r.subject}: ${r.notes}`);
  }
  return `${lines.join('\n')}\n`;
}
