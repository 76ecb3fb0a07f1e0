/**
 * `pnpm --filter @koru/bench soak` (`pnpm bench:soak` from the root): the server's memory
 * under the mixed load of the bench's server rows for 5 minutes. A KoruDelta server
 * process on a fresh data directory (default options), the load from a second process,
 * the server's RSS read every second; writes results/soak.{md,json}.
 *
 *   tsx src/soak.ts [--seconds 300] [--put-share 0.1] [--out soak]
 *
 * `--put-share 0` (gets only, bar one put per short-lived session) tells growth from the
 * history every put adds apart from anything else; `--out` names the results files.
 * Exit code 1 when something failed (errors, a crash); the memory target is reported, not asserted.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BENCH_DIR, scratchRun } from './child.js';
import { SERVER_SOAK, type ServerBenchConfig } from './config.js';
import { SERVER_VERSION } from './koru-server.js';
import { machineInfo } from './machine.js';
import { describeMixed, memoryStats, mixedRun } from './sections/server.js';
import { MEMORY_FLAT_PERCENT, memoryFlat } from './targets.js';

const USAGE = 'usage: tsx src/soak.ts [--seconds N] [--put-share 0..1] [--out NAME]';
let config: ServerBenchConfig = SERVER_SOAK;
let out = 'soak';
for (let i = 2; i < process.argv.length; i++) {
  const arg = process.argv[i]!;
  if (arg === '--seconds') {
    const seconds = Number(process.argv[++i]);
    if (!(seconds >= 10)) throw new Error(`--seconds needs a number ≥ 10\n${USAGE}`);
    config = { ...config, mixedSeconds: seconds, mixedWarmupSeconds: Math.round(seconds / 5) };
  } else if (arg === '--put-share') {
    const share = Number(process.argv[++i]);
    if (!(share >= 0 && share <= 1)) throw new Error(`--put-share needs a number in 0..1\n${USAGE}`);
    config = { ...config, mixedPutShare: share };
  } else if (arg === '--out') {
    const name = process.argv[++i];
    if (name === undefined || !/^[\w.-]+$/.test(name)) throw new Error(`--out needs a file name\n${USAGE}`);
    out = name;
  } else if (arg === '--help' || arg === '-h') {
    console.log(USAGE);
    process.exit(0);
  } else throw new Error(`unknown argument ${JSON.stringify(arg)}\n${USAGE}`);
}

const machine = machineInfo();
const { root, cleanUp } = await scratchRun('koru-soak-');

console.log(`KoruDelta server soak: ${config.mixedSeconds} s of mixed load; ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}; data in ${root}`);
const problems: string[] = [];
const started = performance.now();
try {
  const report = await mixedRun(join(root, 'server'), config, problems);
  const mb = (x: number): string => (x / 1e6).toFixed(1);
  const lines: string[] = ['# KoruDelta server soak', ''];
  lines.push(
    `- Machine: ${machine.os}; ${machine.cpu}; ${machine.cores} cores; ${(machine.memoryBytes / 2 ** 30).toFixed(1)} GiB RAM; Node ${machine.node}`,
    `- Date: ${machine.date}; took ${Math.round((performance.now() - started) / 1000)} s; data under ${machine.tmpdir}; 1-minute load average at the start ${machine.loadAverage.toFixed(2)}`,
    `- Server: @koru/server ${SERVER_VERSION} as its own process (\`koru-server --port 0 -d DIR\`: durable, default options), loopback; load from a second process (\`src/server-load.ts\`); \`pnpm bench:soak\` runs it`,
  );
  const stats = report === undefined ? undefined : memoryStats(report);
  if (report !== undefined) lines.push(`- Load: ${describeMixed(report, config)}`);
  lines.push('');
  if (report !== undefined && stats !== undefined) {
    const [measured, met] = memoryFlat(stats.min, stats.max, stats.driftPercent);
    lines.push(
      '| Figure | Value |',
      '| --- | --: |',
      `| RSS after the pre-load of ${config.keys.toLocaleString('en-US')} keys, before the load | ${mb(report.idleRss)} MB |`,
      `| RSS after the ${report.warmupSeconds} s warm-up: min | ${mb(stats.min)} MB |`,
      `| RSS after the warm-up: max | ${mb(stats.max)} MB |`,
      `| RSS: first ${stats.window} samples after the warm-up (median) | ${mb(stats.first)} MB |`,
      `| RSS: last ${stats.window} samples (median) | ${mb(stats.last)} MB |`,
      `| drift (last vs first) | ${stats.driftPercent > 0 ? '+' : ''}${stats.driftPercent.toFixed(1)} % |`,
      `| versions written | ${stats.versionsWritten.toLocaleString('en-US')} |`,
      `| RSS growth per version written after the warm-up | ${Number.isFinite(stats.bytesPerVersion) ? Math.round(stats.bytesPerVersion).toLocaleString('en-US') : '—'} B |`,
      '',
      `**Target: memory flat within ±${MEMORY_FLAT_PERCENT} % after warm-up** (drift and every sample within ±${MEMORY_FLAT_PERCENT} % of the midpoint of the range): ${measured} — **${met ? 'met' : 'not met'}**.`,
      '',
      'History is kept: every put adds a version the server holds an entry for, so some growth with the number of versions written is by design; the per-version figure above is the one to compare with the bench\'s "memory per historical version" row.',
      '',
      '## RSS every 10 s',
      '',
      '| t (s) | RSS (MB) |',
      '| --: | --: |',
    );
    let shown = -1;
    for (const s of report.samples) {
      const bucket = Math.floor(s.t / 10);
      if (bucket === shown && s !== report.samples.at(-1)) continue;
      shown = bucket;
      lines.push(`| ${s.t.toFixed(0)} | ${mb(s.rss)} |`);
    }
  } else problems.push('no memory figures: the mixed run did not report, or /proc was not readable');
  if (problems.length > 0) {
    lines.push('', '## Problems', '');
    for (const p of problems) lines.push(`- ${p.split('\n')[0]}`);
  }
  const outDir = join(BENCH_DIR, 'results');
  await mkdir(outDir, { recursive: true });
  const markdown = `${lines.join('\n')}\n`;
  await writeFile(join(outDir, `${out}.md`), markdown);
  await writeFile(join(outDir, `${out}.json`), `${JSON.stringify({ machine, config, report, stats, problems }, null, 2)}\n`);
  console.log(`\n${markdown}`);
  console.log(`Wrote results/${out}.md and results/${out}.json.`);
  if (problems.length > 0) process.exitCode = 1;
} finally {
  cleanUp();
}
