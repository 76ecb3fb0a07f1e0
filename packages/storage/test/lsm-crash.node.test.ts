// kill -9 of a process writing to the engine while its worker flushes and merges: every
// write acknowledged before the kill is there after reopening, the directory always
// opens, and nothing is left that the manifest does not name.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LsmTree, NodeDirectory, WorkerMergeRunner } from '@koru/storage/node';
import { fcSeed, prng, tempDir } from '@koru/vitest-preset/helpers';
import { afterEach, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const writer = join(here, 'fixtures', 'lsm-writer.mjs');
const CYCLES = 50;
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** Runs the writer from `start`, kills it with SIGKILL after `ms`, returns the last acknowledged n. */
async function runAndKill(dir: string, start: number, ms: number): Promise<number> {
  const child = spawn(process.execPath, [writer, dir, String(start)], { cwd: join(here, '..'), stdio: ['ignore', 'pipe', 'pipe'] });
  let acked = start - 1;
  let tail = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    const lines = (tail + chunk).split('\n');
    tail = lines.pop()!;
    if (lines.length > 0) acked = Number(lines[lines.length - 1]);
  });
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  // Wait for the first acknowledgement (the process has started writing), then the delay.
  const deadline = Date.now() + 20_000;
  while (acked < start && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 5));
  if (acked < start) throw new Error(`the writer did not start: ${stderr}`);
  await new Promise((r) => setTimeout(r, ms));
  child.kill('SIGKILL');
  await exited;
  return acked;
}

describe('the engine under kill -9', () => {
  it(`keeps every acknowledged write through ${CYCLES} kills during flushes and merges`, async () => {
    const seed = fcSeed('lsm kill -9');
    const rand = prng(seed);
    const { dir, cleanup } = tempDir('koru-lsm-crash-');
    cleanups.push(cleanup);
    let next = 0;
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const acked = await runAndKill(dir, next, 20 + Math.floor(rand() * 180));
      // Reopen here and check: the newest n of every key slot up to `acked` is there
      // (a later, unacknowledged one may be too).
      const disk = new NodeDirectory(dir);
      const before = disk.list().filter((n) => n.endsWith('.kseg'));
      const tree = LsmTree.open({ dir: new NodeDirectory(dir), flushRunner: new WorkerMergeRunner(dir), autoMerge: false });
      try {
        const dec = new TextDecoder();
        for (let slot = 0; slot < 5000; slot++) {
          // The last n ≤ acked with n % 5000 === slot.
          const want = acked - ((((acked - slot) % 5000) + 5000) % 5000);
          if (want < 0) continue;
          const got = tree.get(`k${String(slot).padStart(4, '0')}`);
          expect(got, `cycle ${cycle}: slot ${slot} (acked up to ${acked})`).toBeDefined();
          expect(Number(dec.decode(got!)), `cycle ${cycle}: slot ${slot}`).toBeGreaterThanOrEqual(want);
        }
        // What a killed merge or flush wrote but never installed is gone.
        const named = new Set(tree.segments().map((s) => s.fileNumber));
        for (const name of before) if (!named.has(Number(name.slice(0, 8)))) expect(disk.exists(name), `cycle ${cycle}: ${name}`).toBe(false);
      } finally {
        await tree.close();
      }
      next = acked + 1;
    }
    expect(next).toBeGreaterThan(CYCLES * 20);
  }, 240_000);
});
