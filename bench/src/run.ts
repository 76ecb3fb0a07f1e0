/**
 * `pnpm bench`: measures KoruDelta, better-sqlite3 and a plain Map side by side (the
 * query rows with LokiJS too), then the KoruDelta server under load from a second
 * process with redis beside it, then the server under attack, then a three-member cluster,
 * then KoruDelta on PostgreSQL (bench:postgres, which also writes its own page), and writes
 * results/latest.{json,md} (results/latest-quick.* with --quick; a run of only some parts
 * writes results/latest-partial*.* instead, so it never replaces a whole run).
 *
 *   tsx src/run.ts [--quick] [--only koru,sqlite,map,loki,server,attack,cluster,postgres]
 *
 * Each subject runs in a child process of its own; data lives in a mkdtemp directory
 * under os.tmpdir() that is removed at the end. Exit code 1 when a subject failed or
 * answered wrongly; targets missed never change the exit code.
 */
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCH_DIR, killChildren, runChild } from './child.js';
import { FULL, QUICK } from './config.js';
import { measureFdatasync } from './fsync-bound.js';
import { machineInfo } from './machine.js';
import { killTracked } from './procs.js';
import { toMarkdown, type Results, type SubjectOutcome } from './report.js';
import type { Row, SuiteMessage } from './rows.js';
import { attackSection } from './sections/attack.js';
import { clusterSection, KDELTA_VERSION } from './sections/cluster.js';
import { postgresSection } from './sections/postgres.js';
import { serverSection, SERVER_VERSION } from './sections/server.js';
import type { SuiteArgs } from './suite.js';
import { SUBJECT_IDS, SUBJECT_LABELS, type SubjectId } from './subject.js';
import { evaluateTargets } from './targets.js';
import { SEED, currentJsonBytes, jsonBytes, makeDoc } from './workload.js';

const USAGE = 'usage: tsx src/run.ts [--quick] [--only koru,sqlite,map,loki,server,attack,cluster,postgres]';
/** What --only can pick: the subjects, `server` for the server rows (with redis), `attack` for the under-attack rows, `cluster` for the cluster rows, `postgres` for the PostgreSQL store's rows. */
const PARTS = [...SUBJECT_IDS, 'server', 'attack', 'cluster', 'postgres'] as const;

function parseArgs(argv: readonly string[]): { quick: boolean; only: SubjectId[]; server: boolean; attack: boolean; cluster: boolean; postgres: boolean; partial: boolean } {
  let quick = false;
  let only: SubjectId[] = [...SUBJECT_IDS];
  let server = true;
  let attack = true;
  let cluster = true;
  let postgres = true;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') quick = true;
    else if (arg === '--only' || arg.startsWith('--only=')) {
      const list = arg === '--only' ? argv[++i] : arg.slice('--only='.length);
      if (list === undefined) throw new Error(`--only needs a list\n${USAGE}`);
      const ids = list.split(',').map((s) => s.trim()).filter((s) => s !== '');
      for (const id of ids) if (!(PARTS as readonly string[]).includes(id)) throw new Error(`unknown subject ${JSON.stringify(id)} (known: ${PARTS.join(', ')})`);
      only = SUBJECT_IDS.filter((id) => ids.includes(id));
      server = ids.includes('server');
      attack = ids.includes('attack');
      cluster = ids.includes('cluster');
      postgres = ids.includes('postgres');
    } else if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown argument ${JSON.stringify(arg)}\n${USAGE}`);
  }
  return { quick, only, server, attack, cluster, postgres, partial: !(server && attack && cluster && postgres && only.length === SUBJECT_IDS.length) };
}

const { quick, only, server, attack, cluster, postgres, partial } = parseArgs(process.argv.slice(2));
const config = quick ? QUICK : FULL;
const machine = machineInfo();
const started = performance.now();
const root = await mkdtemp(join(tmpdir(), 'koru-bench-'));
const removeRoot = (): void => rmSync(root, { recursive: true, force: true });
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killChildren();
    killTracked();
    removeRoot();
    process.exit(130);
  });
}

console.log(`KoruDelta bench${quick ? ' (quick)' : ''}: ${[...only, ...(server ? ['server'] : []), ...(attack ? ['attack'] : []), ...(cluster ? ['cluster'] : []), ...(postgres ? ['postgres'] : [])].join(', ')}; ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}; data in ${root}`);
const rows: Row[] = [];
const problems: string[] = [];
const subjects: SubjectOutcome[] = [];

try {
  const fsync = measureFdatasync(root, config.fsyncSamples);
  const fsyncNote = `4 KiB append + fdatasync on ${machine.tmpdir}; median of ${config.fsyncSamples} (p90 ${fsync.p90Ms.toFixed(3)} ms)`;
  rows.push({ subject: 'fs', operation: 'fdatasync', value: fsync.medianMs, unit: 'ms', notes: fsyncNote });
  rows.push({ subject: 'fs', operation: 'put.always.1', value: 1000 / fsync.medianMs, unit: 'ops/s', notes: `bound: 1 / median fdatasync (${fsyncNote})` });
  console.log(`[fs] fdatasync bound: ${fsync.medianMs.toFixed(3)} ms median, ${Math.round(1000 / fsync.medianMs).toLocaleString('en-US')}/s`);

  for (const id of only) {
    const outcome = { id, label: SUBJECT_LABELS[id], version: 'not loaded', status: 'failed' as 'ok' | 'failed' };
    const dir = join(root, id);
    let done = false;
    const args: SuiteArgs = { subject: id, config, dir };
    const t0 = performance.now();
    const exit = await runChild(
      './suite.ts',
      args,
      (m) => {
        const message = m as SuiteMessage;
        if (message.type === 'meta') {
          outcome.label = message.label;
          outcome.version = message.version;
        } else if (message.type === 'row') rows.push(message.row);
        else if (message.type === 'problem') problems.push(message.message);
        else done = true;
      },
      config.subjectTimeoutMs,
    );
    if (done) outcome.status = 'ok';
    else problems.push(`${outcome.label}: run did not finish (exit ${exit.code ?? exit.signal}${exit.timedOut ? `, killed after ${config.subjectTimeoutMs / 1000} s` : ''})`);
    console.log(`[${id}] finished in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    subjects.push(outcome);
    await rm(dir, { recursive: true, force: true });
  }
  subjects.push({ id: 'fs', label: 'fs bound', version: machine.tmpdir, status: 'ok' });

  if (server) {
    const t0 = performance.now();
    const result = await serverSection(config, root);
    rows.push(...result.rows);
    problems.push(...result.problems);
    const k = subjects.findIndex((s) => s.id === 'koru');
    const serverVersion = `@koru/server ${SERVER_VERSION}`;
    if (k < 0) subjects.unshift({ id: 'koru', label: SUBJECT_LABELS.koru, version: serverVersion, status: 'ok' });
    else subjects[k] = { ...subjects[k]!, version: `${subjects[k]!.version}, ${serverVersion}` };
    if (result.redis !== undefined) subjects.push({ id: 'redis', label: 'redis', version: `redis-server ${result.redis}, no persistence`, status: 'ok' });
    console.log(`[server] finished in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }

  if (attack) {
    const t0 = performance.now();
    const result = await attackSection(config, root);
    rows.push(...result.rows);
    problems.push(...result.problems);
    const serverVersion = `@koru/server ${SERVER_VERSION}`;
    const k = subjects.findIndex((s) => s.id === 'koru');
    if (k < 0) subjects.unshift({ id: 'koru', label: SUBJECT_LABELS.koru, version: serverVersion, status: 'ok' });
    else if (!subjects[k]!.version.includes(serverVersion)) subjects[k] = { ...subjects[k]!, version: `${subjects[k]!.version}, ${serverVersion}` };
    console.log(`[attack] finished in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }

  if (cluster) {
    const t0 = performance.now();
    const result = await clusterSection(config, root);
    rows.push(...result.rows);
    problems.push(...result.problems);
    const k = subjects.findIndex((s) => s.id === 'koru');
    const kdelta = `kdelta ${KDELTA_VERSION} (cluster)`;
    if (k < 0) subjects.unshift({ id: 'koru', label: SUBJECT_LABELS.koru, version: kdelta, status: 'ok' });
    else subjects[k] = { ...subjects[k]!, version: `${subjects[k]!.version}, ${kdelta}` };
    console.log(`[cluster] finished in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }

  if (postgres) {
    const t0 = performance.now();
    const result = await postgresSection(quick);
    rows.push(...result.rows);
    problems.push(...result.problems);
    if (!subjects.some((s) => s.id === 'koru')) subjects.unshift({ id: 'koru', label: SUBJECT_LABELS.koru, version: '@koru/storage-postgres', status: result.rows.length > 0 ? 'ok' : 'failed' });
    console.log(`[postgres] finished in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }

  let lastVersionBytes = 0;
  for (let k = 0; k < config.keys; k++) lastVersionBytes += jsonBytes(makeDoc(k, config.versions - 1));
  const largeCurrentJsonBytes = currentJsonBytes(config.largeKeys, config.largeVersions);
  const results: Results = {
    machine,
    config,
    seed: SEED,
    workload: {
      baseVersions: config.keys * config.versions,
      averageDocJsonBytes: lastVersionBytes / config.keys,
      largeVersions: config.largeKeys * config.largeVersions,
      largeCurrentJsonBytes,
    },
    subjects,
    rows,
    targets: evaluateTargets(
      rows,
      { keys: config.largeKeys, versions: config.largeVersions, rawCurrentJsonBytes: largeCurrentJsonBytes },
      { docs: config.queryDocs, indexedDocs: config.indexedQueryDocs },
    ),
    problems,
    durationSeconds: (performance.now() - started) / 1000,
  };
  const outDir = join(BENCH_DIR, 'results');
  const base = `latest${partial ? '-partial' : ''}${quick ? '-quick' : ''}`;
  await mkdir(outDir, { recursive: true });
  const markdown = toMarkdown(results);
  await writeFile(join(outDir, `${base}.json`), `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(join(outDir, `${base}.md`), markdown);
  console.log(`\n${markdown.slice(0, markdown.indexOf('\n## Notes per row'))}`);
  console.log(`Wrote results/${base}.json and results/${base}.md in ${Math.round(results.durationSeconds)} s.`);
  if (problems.length > 0) process.exitCode = 1;
} finally {
  removeRoot();
}
