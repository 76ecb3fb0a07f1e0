/** The browser bench's results file: the side-by-side table, targets, sizes, notes. */
import type { MachineInfo } from '../machine.js';
import type { Subject } from './page.js';
import type { BundleSize } from './sizes.js';
import type { SyncLatency } from './sync-latency.js';

/** One measured figure. */
export interface BrowserRow {
  readonly subject: Subject;
  readonly operation: string;
  readonly value: number;
  readonly unit: 'ops/s' | 'items/s' | 'ms';
  readonly p50Ms?: number;
  readonly p99Ms?: number;
  /** every run's value; `value` is their median */
  readonly runs: readonly number[];
  readonly notes: string;
}

/** Everything written to results/browser-*.json. */
export interface BrowserResults {
  readonly machine: MachineInfo & { readonly chromium: string };
  /** `persistent` when KoruDelta ran on a browser database, `memory` for the in-memory build */
  readonly koruMode: string;
  /** KoruDelta's `stats().adapter` on that database */
  readonly koruAdapter?: string;
  readonly config: Record<string, number | boolean>;
  readonly versions: Record<string, string>;
  readonly rows: readonly BrowserRow[];
  readonly sync?: SyncLatency;
  readonly sizes: readonly BundleSize[];
  readonly problems: readonly string[];
  readonly skipped: readonly string[];
  readonly durationSeconds: number;
}

const SUBJECT_LABELS: Record<Subject, string> = { koru: 'KoruDelta', dexie: 'Dexie', pouchdb: 'PouchDB' };
const OPERATIONS = ['put', 'batched put', 'get', 'open + first get'];

function fmt(value: number, unit: string): string {
  if (unit === 'ms') return `${value < 10 ? value.toFixed(2) : value.toFixed(1)} ms`;
  return value >= 1e6 ? `${(value / 1e6).toFixed(2)} M/s` : value >= 1e3 ? `${(value / 1e3).toFixed(1)} k/s` : `${value.toFixed(0)}/s`;
}
const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KB`;

/** The targets of issue 14, judged (met / not met), never asserted. */
function targets(r: BrowserResults): string[] {
  const find = (s: Subject, op: string) => r.rows.find((x) => x.subject === s && x.operation === op);
  const verdict = (ok: boolean | undefined): string => (ok === undefined ? 'not measured' : ok ? 'met' : 'not met');
  const put = find('koru', 'put');
  const dexiePut = find('dexie', 'put');
  const batch = find('koru', 'batched put');
  const get = find('koru', 'get');
  const open = find('koru', 'open + first get');
  const apps = r.sizes
    .filter((s) => s.what === 'KoruDelta app page')
    .map((page) => ({ bundler: page.bundler, page, rest: r.sizes.find((s) => s.what === 'KoruDelta app: worker and lazy chunks' && s.bundler === page.bundler) }));
  const lines = [
    `| persisted put ≥ 2× Dexie's put | ${put && dexiePut ? `${(put.value / dexiePut.value).toFixed(2)}×` : '—'} | ${verdict(put && dexiePut && r.koruMode === 'persistent' ? put.value >= 2 * dexiePut.value : undefined)} |`,
    `| batched put ≥ 50 k items/s | ${batch ? fmt(batch.value, batch.unit) : '—'} | ${verdict(batch && r.koruMode === 'persistent' ? batch.value >= 50_000 : undefined)} |`,
    `| get ≥ 1 M/s | ${get ? fmt(get.value, get.unit) : '—'} | ${verdict(get && r.koruMode === 'persistent' ? get.value >= 1e6 : undefined)} |`,
    `| open + first get ≤ 50 ms | ${open ? fmt(open.value, 'ms') : '—'} | ${verdict(open ? open.value <= 50 : undefined)} |`,
    `| server → browser latency p99 ≤ 100 ms | ${r.sync?.p99Ms !== undefined ? fmt(r.sync.p99Ms, 'ms') : '—'} | ${verdict(r.sync?.p99Ms !== undefined ? r.sync.p99Ms <= 100 : undefined)} |`,
    // Both readings of the bundle target, for the app each bundler builds (tooling/bundlers):
    // what the page loads with it (its script and the chunks it imports statically), and
    // that plus the worker and the chunks loaded on demand.
    ...apps.flatMap(({ bundler, page: p, rest }) => [
      `| bundle ≤ 60 KB gzip: the page, ${bundler} | ${kb(p.gzipBytes)} | ${verdict(p.gzipBytes <= 60 * 1024)} |`,
      `| bundle ≤ 60 KB gzip: page + worker + lazy chunks, ${bundler} | ${kb(p.gzipBytes + (rest?.gzipBytes ?? 0))} | ${verdict(p.gzipBytes + (rest?.gzipBytes ?? 0) <= 60 * 1024)} |`,
    ]),
  ];
  return ['| target | KoruDelta | verdict |', '| --- | --: | --- |', ...lines];
}

/** Markdown: machine header, the side-by-side table, targets, sizes, notes, problems. */
export function toMarkdown(r: BrowserResults): string {
  const { machine } = r;
  const subjects = [...new Set(r.rows.map((x) => x.subject))];
  const label = (s: Subject): string => (s === 'koru' ? `KoruDelta (${r.koruMode})` : `${SUBJECT_LABELS[s]} ${r.versions[s === 'dexie' ? 'dexie' : 'pouchdb-browser'] ?? ''}`.trim());
  const cell = (s: Subject, op: string): string => {
    const x = r.rows.find((y) => y.subject === s && y.operation === op);
    if (x === undefined) return '—';
    return `${fmt(x.value, x.unit)}${x.p50Ms !== undefined ? ` (p50 ${x.p50Ms.toFixed(3)} ms, p99 ${x.p99Ms!.toFixed(3)} ms)` : ''}`;
  };
  const lines = [
    '# KoruDelta browser bench',
    '',
    `Chromium ${machine.chromium} (headless), one page, the stores one after the other; ${machine.cpu}, ${machine.cores} cores, ${(machine.memoryBytes / 2 ** 30).toFixed(1)} GiB, ${machine.os}; load average ${machine.loadAverage.toFixed(2)} at the start; ${machine.date}; ${r.durationSeconds.toFixed(0)} s.`,
    '',
    r.koruMode === 'memory'
      ? '**KoruDelta ran on its in-memory build** (this build refuses `start({ path })` in a browser): its rows persist nothing and are not comparable with the targets for persisted writes.'
      : `KoruDelta ran ${r.koruMode === 'persistent' ? 'on a persistent browser database (`start({ path })`)' : r.koruMode}${r.koruAdapter !== undefined ? `, adapter \`${r.koruAdapter}\`` : ''}.`,
    '',
    `| operation | ${subjects.map(label).join(' | ')} |`,
    `| --- | ${subjects.map(() => '--:').join(' | ')} |`,
    ...OPERATIONS.map((op) => `| ${op} | ${subjects.map((s) => cell(s, op)).join(' | ')} |`),
    `| server → browser change, p50 / p99 | ${subjects.map((s) => (s === 'koru' && r.sync?.p50Ms !== undefined ? `${r.sync.p50Ms.toFixed(1)} / ${r.sync.p99Ms!.toFixed(1)} ms${r.sync.mode !== r.koruMode ? ` (${r.sync.mode} database)` : ''}` : '—')).join(' | ')} |`,
    '',
    '## Targets (issue 14)',
    '',
    ...targets(r),
    '',
    '## Bundle sizes (minified, gzip -9)',
    '',
    '| bundle | bundler | minified | gzip |',
    '| --- | --- | --: | --: |',
    ...r.sizes.map((s) => `| ${s.what} | ${s.bundler} | ${kb(s.minifiedBytes)} | ${kb(s.gzipBytes)} |`),
    '',
    '## Notes per row',
    '',
    ...r.rows.map((x) => `- ${SUBJECT_LABELS[x.subject]} ${x.operation}: ${x.notes}; median of ${x.runs.length} (${x.runs.map((v) => fmt(v, x.unit)).join(', ')})`),
    ...(r.sync?.p50Ms !== undefined
      ? [`- KoruDelta server → browser: a \`startServer\` on 127.0.0.1 writes a change every ${r.sync.intervalMs} ms (${r.sync.sent} changes, ${r.sync.received} received); the page syncs the namespace with \`db.sync\` and times each change's arrival in its change feed against the send time written into the value (same machine clock); ${r.sync.mode} database`]
      : []),
    ...(r.skipped.length > 0 ? ['', '## Not measured', '', ...r.skipped.map((p) => `- ${p}`)] : []),
    ...(r.problems.length > 0 ? ['', '## Problems', '', ...r.problems.map((p) => `- ${p}`)] : []),
    '',
  ];
  return lines.join('\n');
}
