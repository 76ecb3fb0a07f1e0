// kill -9 of a process writing to the engine while its worker flushes and merges: every
// write acknowledged before the kill is there after reopening, the directory always
// opens, and nothing is left that the manifest does not name.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LsmTree, NodeDirectory, WorkerMergeRunner } from '@koru/storage/node';
import { fcSeed, prng, tempDir } from '@koru/vitest-preset/helpers';
import { afterEach, describe, expect, it } from 'vitest';
import { killWriters, runAndKill } from './kill-helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const writer = join(here, 'fixtures', 'lsm-writer.mjs');
const CYCLES = 50;
const cleanups: Array<() => void> = [];
afterEach(() => {
  killWriters();
  for (const c of cleanups.splice(0)) c();
});

describe('the engine under kill -9', () => {
  it(`keeps every acknowledged write through ${CYCLES} kills during flushes and merges`, async () => {
    const seed = fcSeed('lsm kill -9');
    const rand = prng(seed);
    const { dir, cleanup } = tempDir('koru-lsm-crash-');
    cleanups.push(cleanup);
    let next = 0;
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const acked = (await runAndKill(writer, [dir, String(next)], 20 + Math.floor(rand() * 180))).at(-1)!;
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
