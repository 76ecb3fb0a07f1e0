// kill -9 of a real process writing to a database (CausalStorage over the file adapter,
// sync 'always', a 64 KiB memtable so flushes and merges run in its worker threads all
// the time), at random moments, again and again on the same directory: after each kill
// the database opens, every acknowledged version is there exactly once, the change feed
// is contiguous and verify() finds nothing wrong. (test/lsm-crash.node.test.ts does the
// same for the bare engine; packages/delta's crash test for the whole database.)
// KORU_CRASH_CYCLES sets the number of kills (default 50 under CI=true, else 12);
// KORU_SEED replays the kill delays (the seed is printed).
import { CausalStorage } from '@koru/storage';
import { FileAdapter } from '@koru/storage/node';
import { fcSeed, prng, tempDir } from '@koru/vitest-preset/helpers';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { filesOf } from './disk-helpers.js';
import { killWriters, runAndKill } from './kill-helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const writer = join(here, 'fixtures', 'db-writer.mjs');
const CYCLES = Number(process.env.KORU_CRASH_CYCLES ?? (process.env.CI === 'true' ? 50 : 12));
/** Keys the writer cycles through (`k<n % SLOTS>`). */
const SLOTS = 500;

const cleanups: Array<() => void> = [];
afterEach(() => {
  killWriters();
  for (const c of cleanups.splice(0)) c();
});

/** The levels of the segments the manifest names (`KDMAN001 | length | CRC | JSON`); none before there is a manifest. */
function segmentLevels(dir: string): number[] {
  if (!existsSync(join(dir, 'MANIFEST'))) return [];
  const buf = readFileSync(join(dir, 'MANIFEST'));
  const json = JSON.parse(buf.toString('utf8', 16, 16 + buf.readUInt32LE(8))) as { segments: Array<{ level: number }> };
  return json.segments.map((s) => s.level);
}

describe('the database under kill -9', () => {
  it(`keeps every acknowledged version through ${CYCLES} kills during flushes and merges`, async () => {
    const rand = prng(fcSeed('db kill -9'));
    const { dir, cleanup } = tempDir('koru-db-crash-');
    cleanups.push(cleanup);
    /** Every acknowledged n, by key slot. */
    const ackedBySlot = new Map<number, number[]>();
    let acknowledged = 0;
    let killedWithLogs = 0;
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const start = cycle * 1_000_000;
      // The last writer runs until a merge installed its output below level 0 (a loaded
      // machine may not have got that far in the short runs), so merges surely ran.
      const last = cycle === CYCLES - 1;
      const acked = await runAndKill(writer, [dir, String(start), 'always'], Math.floor(rand() * 400), last ? () => segmentLevels(dir).some((l) => l > 0) : undefined);
      for (const n of acked) ackedBySlot.set(n % SLOTS, [...(ackedBySlot.get(n % SLOTS) ?? []), n]);
      acknowledged += acked.length;
      // More than one log left: the kill came while a flush of a full memtable was due or running.
      if (filesOf(dir, '.kwal').filter((f) => readFileSync(join(dir, f)).length > 16).length > 1) killedWithLogs++;
      const db = await CausalStorage.open({ adapter: new FileAdapter(dir) });
      try {
        // Every acknowledged version of this cycle, and of all cycles every tenth one and at the end.
        const all = cycle % 10 === 9 || cycle === CYCLES - 1;
        const slots = all ? [...ackedBySlot.keys()] : [...new Set(acked.map((n) => n % SLOTS))];
        for (const slot of slots) {
          const ns = db.history('crash', `k${slot}`).map((v) => (v.value as { n: number }).n);
          // Each version once, in the order written.
          expect(ns, `cycle ${cycle}, k${slot}`).toEqual([...ns].sort((a, b) => a - b));
          expect(new Set(ns).size).toBe(ns.length);
          const present = new Set(ns);
          const want = all ? ackedBySlot.get(slot)! : acked.filter((n) => n % SLOTS === slot);
          const missing = want.filter((n) => !present.has(n));
          expect(missing, `cycle ${cycle}: k${slot} lost acknowledged versions`).toEqual([]);
        }
        // The change feed is contiguous: change s is the s-th version, for every s up to seq.
        expect(db.seq).toBeGreaterThanOrEqual(acknowledged);
        let s = 0;
        for (const v of db.committed(1, db.seq)) {
          expect(v.namespace).toBe('crash');
          s++;
        }
        expect(s).toBe(db.seq);
        const report = await db.verify();
        expect(report.problems, `cycle ${cycle}`).toEqual([]);
        expect(report).toMatchObject({ ok: true, versions: db.seq });
      } finally {
        await db.close();
      }
    }
    console.log(`[crash] ${CYCLES} kills, ${acknowledged} acknowledged writes, ${killedWithLogs} kills left more than one log to replay`);
    // Flushes and merges did run: segments below level 0.
    expect(segmentLevels(dir).some((l) => l > 0)).toBe(true);
  }, 300_000);
});
