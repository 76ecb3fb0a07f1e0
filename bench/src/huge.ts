/**
 * `pnpm bench:huge`: the 10,000,000-version database the storage targets are set at,
 * KoruDelta beside better-sqlite3 in the same run (not in CI: it builds gigabytes).
 * For each subject: build it (100,000 keys × 100 versions by default, batches of 1,000,
 * durable default policy), its size on disk, then three fresh processes that each open
 * it and read one key (open + first get), then 10,000 random gets, 1,000 random
 * histories and 10,000 random getAts, and the resident memory over the bare process;
 * for KoruDelta also whole `kdelta get` processes. Writes results/huge.{json,md}
 * (results/huge-partial.* for another size or subject list).
 *
 *   tsx src/huge.ts [--keys N] [--versions N] [--only koru,sqlite]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BENCH_DIR, runChild, scratchRun } from './child.js';
import { dirUsage, files } from './files.js';
import type { HugeBuildReport, HugeChildArgs, HugeReopenReport } from './huge-child.js';
import { machineInfo } from './machine.js';
import { median } from './measure.js';
import { BIN, timed } from './sections/cli.js';
import { SUBJECT_LABELS, type SubjectId } from './subject.js';
import { NAMESPACE, keyName } from './workload.js';

const USAGE = 'usage: tsx src/huge.ts [--keys N] [--versions N] [--only koru,sqlite]';
const SUBJECTS = ['koru', 'sqlite'] as const satisfies readonly SubjectId[];
const REOPENS = 3;
/** The published size: 10,000,000 versions. */
const DEFAULT_VERSIONS = 10_000_000;
const STEP_TIMEOUT_MS = 60 * 60_000;

interface Args {
  keys: number;
  versions: number;
  only: SubjectId[];
}

function parseArgs(argv: readonly string[]): Args {
  const out: Args = { keys: 100_000, versions: 100, only: [...SUBJECTS] };
  const seen = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    }
    if (arg !== '--keys' && arg !== '--versions' && arg !== '--only') throw new Error(`unknown argument ${JSON.stringify(arg)}\n${USAGE}`);
    if (seen.has(arg)) throw new Error(`${arg} given twice\n${USAGE}`);
    seen.add(arg);
    const value = argv[++i];
    if (value === undefined) throw new Error(`${arg} needs a value\n${USAGE}`);
    if (arg === '--only') {
      const ids = value.split(',').map((s) => s.trim());
      for (const id of ids) if (!(SUBJECTS as readonly string[]).includes(id)) throw new Error(`unknown subject ${JSON.stringify(id)} (known: ${SUBJECTS.join(', ')})`);
      out.only = SUBJECTS.filter((id) => ids.includes(id));
    } else {
      const n = Number(value);
      if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${arg} must be a positive integer, not ${JSON.stringify(value)}`);
      if (arg === '--keys') out.keys = n;
      else out.versions = n;
    }
  }
  return out;
}

/** One figure of the results. */
interface HugeRow {
  readonly subject: SubjectId;
  readonly operation: string;
  readonly value: number;
  readonly unit: string;
  readonly notes: string;
  readonly runs?: readonly number[];
}

async function step<T>(args: HugeChildArgs): Promise<T> {
  let report: T | undefined;
  const exit = await runChild('./huge-child.ts', args, (m) => (report = m as T), STEP_TIMEOUT_MS);
  if (report === undefined) throw new Error(`${args.subject} ${args.mode} failed (exit ${exit.code ?? exit.signal}${exit.timedOut ? ', timed out' : ''})`);
  return report;
}

const args = parseArgs(process.argv.slice(2));
const total = args.keys * args.versions;
const shape = `${args.keys.toLocaleString('en-US')} keys × ${args.versions} versions`;
const machine = machineInfo();
const { root, cleanUp } = await scratchRun('koru-huge-');
const rows: HugeRow[] = [];
const problems: string[] = [];
const started = performance.now();
const log = (row: HugeRow): void => {
  rows.push(row);
  console.log(`[${row.subject}] ${row.operation}: ${row.unit === 'bytes' ? `${(row.value / 1e6).toFixed(1)} MB` : `${row.value.toFixed(row.value < 100 ? 2 : 0)} ${row.unit}`}`);
};
console.log(`KoruDelta huge bench: ${shape} = ${total.toLocaleString('en-US')} versions; ${args.only.join(', ')}; ${machine.cpu}, ${machine.cores} cores, load ${machine.loadAverage.toFixed(2)}; data in ${root}`);

try {
  for (const subject of args.only) {
    const dir = join(root, subject);
    await mkdir(dir, { recursive: true });
    const base = { subject, dir, keys: args.keys, versions: args.versions, batchSize: 1_000 };
    try {
      const built = await step<HugeBuildReport>({ ...base, mode: 'build' });
      log({ subject, operation: 'load.huge', value: (total * 1000) / built.loadMs, unit: 'versions/s', notes: `${shape}, batches of 1,000, durable default policy; ${(built.loadMs / 1000).toFixed(1)} s, close() ${built.closeMs.toFixed(0)} ms` });
      const usage = await dirUsage(dir);
      log({ subject, operation: 'disk.huge', value: usage.bytes, unit: 'bytes', notes: `${shape} after close(); ${files(usage.files)}` });
      const reports: HugeReopenReport[] = [];
      for (let r = 0; r < REOPENS; r++) reports.push(await step<HugeReopenReport>({ ...base, mode: 'reopen', span: built.span, reads: 10_000 }));
      const fresh = `median of ${REOPENS} fresh processes, warm page cache`;
      const pick = (f: (r: HugeReopenReport) => number): { value: number; runs: number[] } => {
        const runs = reports.map(f);
        return { value: median(runs), runs };
      };
      log({ subject, operation: 'reopen.huge', unit: 'ms', notes: `open + first get; ${fresh}`, ...pick((r) => r.openMs) });
      log({ subject, operation: 'get.huge', unit: 'ops/s', notes: `10,000 gets of random keys right after opening; ${fresh}`, ...pick((r) => r.getsPerSecond) });
      log({ subject, operation: 'history.huge', unit: 'versions/s', notes: `1,000 whole histories of random keys (${args.versions} versions each) after the gets; ${fresh}`, ...pick((r) => r.historyVersionsPerSecond) });
      log({ subject, operation: 'getAt.huge', unit: 'ops/s', notes: `10,000 getAts of random keys at random times over the load, after the histories; ${fresh}`, ...pick((r) => r.getAtsPerSecond) });
      log({ subject, operation: 'rss.huge.gets', unit: 'bytes', notes: `resident memory after opening and the 10,000 random gets (the target's workload), over the same process before opening, after gc; ${fresh}`, ...pick((r) => r.rssAfterGets - r.baselineRss) });
      log({ subject, operation: 'rss.huge.delta', unit: 'bytes', notes: `resident memory after opening and all the reads (gets, histories, getAts), over the same process before opening (node + tsx + the library), after gc; ${fresh}`, ...pick((r) => r.rss - r.baselineRss) });
      log({ subject, operation: 'rss.huge.peak', unit: 'bytes', notes: `peak resident memory of the whole process (maxRSS); ${fresh}`, ...pick((r) => r.peakRss) });
      if (subject === 'koru') {
        const gets: number[] = [];
        const bare: number[] = [];
        for (let i = 0; i < REOPENS; i++) {
          bare.push(await timed(['-e', '0']));
          gets.push(await timed([BIN, '-d', dir, 'get', `${NAMESPACE}/${keyName(0)}`, '--json']));
        }
        log({ subject, operation: 'cli.get.huge', value: median(gets), runs: gets, unit: 'ms', notes: `a whole \`kdelta -d DIR get\` process, median of ${REOPENS}; a bare \`node -e 0\` takes ${median(bare).toFixed(0)} ms here` });
      }
    } catch (error) {
      problems.push(`${SUBJECT_LABELS[subject]}: ${error instanceof Error ? error.message : String(error)}`);
      console.error(problems.at(-1));
    }
  }

  const ratio = (operation: string): string => {
    const k = rows.find((r) => r.subject === 'koru' && r.operation === operation);
    const s = rows.find((r) => r.subject === 'sqlite' && r.operation === operation);
    return k && s && s.value > 0 ? `${(k.value / s.value).toFixed(2)}×` : '';
  };
  const operations = [...new Set(rows.map((r) => r.operation))];
  const cell = (subject: SubjectId, operation: string): string => {
    const r = rows.find((x) => x.subject === subject && x.operation === operation);
    if (r === undefined) return '';
    return r.unit === 'bytes' ? `${(r.value / 1e6).toFixed(1)} MB` : `${r.value.toLocaleString('en-US', { maximumFractionDigits: r.value < 100 ? 2 : 0 })} ${r.unit}`;
  };
  const lines = [
    `# KoruDelta huge bench: ${total.toLocaleString('en-US')} versions`,
    '',
    `${shape}; ${machine.cpu}, ${machine.cores} cores, ${(machine.memoryBytes / 2 ** 30).toFixed(1)} GiB, Node ${machine.node}; load average ${machine.loadAverage.toFixed(2)} at the start; ${machine.date}; ${Math.round((performance.now() - started) / 1000)} s.`,
    '',
    `| operation | ${args.only.map((s) => SUBJECT_LABELS[s]).join(' | ')} | KoruDelta ÷ better-sqlite3 |`,
    `| --- | ${args.only.map(() => '--:').join(' | ')} | --: |`,
    ...operations.map((op) => `| ${op} | ${args.only.map((s) => cell(s, op)).join(' | ')} | ${ratio(op)} |`),
    '',
    '## Notes per row',
    '',
    ...rows.map((r) => `- ${SUBJECT_LABELS[r.subject]} ${r.operation}: ${r.notes}`),
    ...(problems.length > 0 ? ['', '## Problems', '', ...problems.map((p) => `- ${p}`)] : []),
    '',
  ];
  // A smaller or partial run never replaces the published one.
  const name = args.keys * args.versions === DEFAULT_VERSIONS && args.only.length === SUBJECTS.length ? 'huge' : 'huge-partial';
  const outDir = join(BENCH_DIR, 'results');
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, `${name}.json`), `${JSON.stringify({ machine, keys: args.keys, versions: args.versions, rows, problems, durationSeconds: (performance.now() - started) / 1000 }, null, 2)}\n`);
  await writeFile(join(outDir, `${name}.md`), lines.join('\n'));
  console.log(`\n${lines.join('\n')}\nWrote results/${name}.json and results/${name}.md.`);
  if (problems.length > 0) process.exitCode = 1;
} finally {
  cleanUp();
}
