/**
 * kdelta on the large database (KoruDelta only): wall time of a whole `kdelta get`
 * process (start-up, open, one read, exit), and `kdelta import` of the database's export.
 */
import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { SuiteContext } from '../context.js';
import { median } from '../measure.js';

/** The built `kdelta` entry point. */
export const BIN = join(dirname(createRequire(import.meta.url).resolve('kdelta/package.json')), 'dist', 'kdelta.js');

/** Runs a process to completion; resolves with its wall time in ms, rejects on a non-zero exit. */
export function timed(args: readonly string[]): Promise<number> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`${args.join(' ')} exited ${code}: ${stderr.trim()}`))));
  });
}

/** cli.get, cli.import: `dir` holds the large database, compacted; `key` one of its keys. */
export async function cliRows(ctx: SuiteContext, dir: string, namespace: string, key: string, versions: number): Promise<void> {
  const runs = Math.max(3, ctx.config.runs);
  const bare: number[] = [];
  const gets: number[] = [];
  for (let i = 0; i < runs; i++) {
    bare.push(await timed(['-e', '0']));
    gets.push(await timed([BIN, '-d', dir, 'get', `${namespace}/${key}`, '--json']));
  }
  await ctx.emit(
    'cli.get',
    median(gets),
    'ms',
    `a whole \`kdelta -d DIR get ${namespace}/${key} --json\` process on ${versions.toLocaleString('en-US')} versions (compacted), median of ${runs}; a bare \`node -e 0\` takes ${median(bare).toFixed(0)} ms here`,
    gets,
  );
  const dump = join(await ctx.freshDir('large-export'), 'export.jsonl');
  const exportMs = await timed([BIN, '-d', dir, 'export', '-o', dump]);
  const target = await ctx.freshDir('large-import');
  const importMs = await timed([BIN, '-d', target, 'import', dump]);
  const size = (await stat(dump)).size;
  await ctx.emit(
    'cli.import',
    importMs / 1000,
    's',
    `\`kdelta import\` of the ${versions.toLocaleString('en-US')}-version export (${(size / 1e6).toFixed(0)} MB of JSON lines) into an empty database, whole process; the export took ${(exportMs / 1000).toFixed(1)} s`,
  );
}
