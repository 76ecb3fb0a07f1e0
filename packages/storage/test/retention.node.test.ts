// Retention and purge on disk (FileAdapter: merges in the worker thread, which gets the
// policies with each job): what compact() and background merges cut, reopening keeps
// policies and horizons, purge removes the bytes from every file after compact(), and a
// kill -9 during merges with retention loses nothing that should be kept.
// KORU_CRASH_CYCLES sets the number of kills (default 20 under CI=true, else 6);
// KORU_SEED replays the kill delays (the seed is printed).
import { ErrorCodes, parseHlc } from '@koru/engine';
import { CausalStorage, HISTORY_PRUNED, type Version } from '@koru/storage';
import { FileAdapter } from '@koru/storage/node';
import { fcSeed, prng, tempDir } from '@koru/vitest-preset/helpers';

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { manualClock } from './conformance.js';
import { killWriters, runAndKill } from './kill-helpers.js';
import { T } from './retention-helpers.js';
import { filesHolding } from './disk-helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const writer = join(here, 'fixtures', 'retention-writer.mjs');
const CYCLES = Number(process.env.KORU_CRASH_CYCLES ?? (process.env.CI === 'true' ? 20 : 6));

const cleanups: Array<() => void> = [];
afterEach(() => {
  killWriters();
  for (const c of cleanups.splice(0)) c();
});

function newDir(): string {
  const { dir, cleanup } = tempDir('koru-retention-');
  cleanups.push(cleanup);
  return dir;
}

/** The code of the KoruError `fn` throws. */
function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as { code: string }).code;
  }
  throw new Error('expected the call to throw');
}

async function writeVersions(s: CausalStorage, clock: { t: number }, ns: string, key: string, n: number, extra: Record<string, unknown> = {}): Promise<Version[]> {
  const out: Version[] = [];
  for (let i = 0; i < n; i++) {
    clock.t += 1;
    out.push(await s.put(ns, key, { i, ns, key, ...extra }));
  }
  return out;
}

describe('retention on disk (worker merges)', () => {
  it('compact() cuts by policy; reopening keeps the policies, the horizons and a clean verify', async () => {
    const dir = newDir();
    const clock = manualClock(T);
    let s = await CausalStorage.open({ now: clock.now, adapter: new FileAdapter(dir) });
    await s.setRetention('kept', { lastVersions: 2 });
    await s.setRetention('aged', { maxAgeMs: 5 });
    const kept = await writeVersions(s, clock, 'kept', 'a', 6);
    const aged = await writeVersions(s, clock, 'aged', 'a', 10);
    const all = await writeVersions(s, clock, 'all', 'a', 4);
    await s.compact();
    const check = (db: CausalStorage): void => {
      expect(db.history('kept', 'a')).toEqual(kept.slice(4));
      // now = aged[9]'s wall + 4 ms (the 'all' writes); cutoff = now − 5: aged[8] is the one current then.
      expect(db.history('aged', 'a')).toEqual(aged.slice(8));
      expect(db.history('all', 'a')).toEqual(all);
      expect(codeOf(() => db.getAt('kept', 'a', parseHlc(kept[3]!.hlc)))).toBe(HISTORY_PRUNED);
      expect(db.getAt('kept', 'a', parseHlc(kept[4]!.hlc))).toEqual(kept[4]);
    };
    check(s);
    expect((await s.verify()).problems).toEqual([]);
    const through = s.prunedThroughSeq;
    // kept: changes 1–6 (cut 1–4); aged: 7–16 (cut 7–14).
    expect(through).toBe(14);
    await s.close();
    s = await CausalStorage.open({ now: clock.now, adapter: new FileAdapter(dir) });
    expect(s.retention('kept')).toEqual({ lastVersions: 2 });
    expect(s.retention('aged')).toEqual({ maxAgeMs: 5 });
    expect(s.retention('all')).toEqual({ keep: 'all' });
    expect(s.prunedThroughSeq).toBe(through);
    check(s);
    expect((await s.verify()).problems).toEqual([]);
    // The policy still applies after reopening.
    const more = await writeVersions(s, clock, 'kept', 'a', 3, { round: 2 });
    await s.compact();
    expect(s.history('kept', 'a')).toEqual(more.slice(1));
    expect((await s.verify()).problems).toEqual([]);
    await s.close();
  });

  it('background merges in the worker cut history as they reach the deepest level', async () => {
    const dir = newDir();
    const s = await CausalStorage.open({ adapter: new FileAdapter(dir, { memtableBytes: 16 * 1024, keepLogBytes: 0 }) });
    await s.setRetention('bg', { lastVersions: 2 });
    const pad = 'q'.repeat(100);
    const written = new Map<string, Version[]>();
    for (let round = 0; round < 150; round++) {
      for (let k = 0; k < 8; k++) {
        const v = await s.put('bg', `k${k}`, { round, k, pad });
        written.set(`k${k}`, [...(written.get(`k${k}`) ?? []), v]);
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    const deadline = Date.now() + 20_000;
    while (s.prunedThroughSeq === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(s.prunedThroughSeq).toBeGreaterThan(0);
    for (const [k, all] of written) {
      const h = s.history('bg', k);
      expect(h.length).toBeGreaterThanOrEqual(2);
      expect(h).toEqual(all.slice(all.length - h.length));
    }
    expect((await s.verify()).problems).toEqual([]);
    await s.close();
  });
});

describe('purge on disk', () => {
  it('erases a key: get not found, history the tombstone alone, the bytes gone from every file after compact()', async () => {
    const dir = newDir();
    const clock = manualClock(T);
    let s = await CausalStorage.open({ now: clock.now, adapter: new FileAdapter(dir) });
    const secret = 'SECRET-6f1c2a9e-not-to-be-kept';
    const gone = await writeVersions(s, clock, 'people', 'ann', 4, { ssn: secret });
    const bob = await writeVersions(s, clock, 'people', 'bob', 2);
    await s.compact();
    expect(filesHolding(dir, secret).length).toBeGreaterThan(0);
    const result = await s.purge('people', 'ann');
    expect(result.removed).toEqual(gone.map((v) => v.versionId).reverse());
    const tombstone = s.history('people', 'ann');
    expect(tombstone).toHaveLength(1);
    expect(tombstone[0]).toMatchObject({ deleted: true, previousVersion: gone[3]!.versionId, versionId: result.tombstone });
    expect(codeOf(() => s.get('people', 'ann'))).toBe(ErrorCodes.KEY_NOT_FOUND);
    expect(codeOf(() => s.getAt('people', 'ann', parseHlc(gone[3]!.hlc)))).toBe(HISTORY_PRUNED);
    expect(codeOf(() => s.getVersionById('people', 'ann', gone[0]!.versionId))).toBe(HISTORY_PRUNED);
    expect(s.history('people', 'bob')).toEqual(bob);
    expect((await s.verify()).problems).toEqual([]);
    await s.compact();
    await s.close();
    expect(filesHolding(dir, secret)).toEqual([]);
    s = await CausalStorage.open({ now: clock.now, adapter: new FileAdapter(dir) });
    expect(s.history('people', 'ann')).toEqual(tombstone);
    expect(codeOf(() => s.getAt('people', 'ann', parseHlc(gone[0]!.hlc)))).toBe(HISTORY_PRUNED);
    // The key lives on: a new value starts after the tombstone.
    const again = await s.put('people', 'ann', { fresh: true });
    expect(again.previousVersion).toBe(result.tombstone);
    expect((await s.verify()).problems).toEqual([]);
    await s.close();
  });
});

describe('kill -9 during merges with retention', () => {
  it(`keeps, through ${CYCLES} kills, every acknowledged version the policy keeps`, async () => {
    const rand = prng(fcSeed('retention kill -9'));
    const dir = newDir();
    const ackedBySlot = new Map<number, number[]>();
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const acked = await runAndKill(writer, [dir, String(cycle * 1_000_000)], 200 + Math.floor(rand() * 800));
      for (const n of acked) ackedBySlot.set(n % 40, [...(ackedBySlot.get(n % 40) ?? []), n]);
      const db = await CausalStorage.open({ adapter: new FileAdapter(dir) });
      try {
        expect(db.retention('crash')).toEqual({ lastVersions: 3 });
        for (const [slot, want] of ackedBySlot) {
          const ns = db.history('crash', `k${slot}`).map((v) => (v.value as { n: number }).n);
          const label = `cycle ${cycle}, k${slot}`;
          expect(ns, label).toEqual([...ns].sort((a, b) => a - b));
          // The newest acknowledged is there, and no acknowledged one at or after the
          // oldest kept is missing (a cut only takes a prefix of the history).
          expect(ns[ns.length - 1]!, label).toBeGreaterThanOrEqual(want[want.length - 1]!);
          const present = new Set(ns);
          expect(want.filter((n) => n >= ns[0]! && !present.has(n)), label).toEqual([]);
          // At least the policy's three, unless fewer were ever written.
          expect(ns.length, label).toBeGreaterThanOrEqual(Math.min(3, want.length));
        }
        const report = await db.verify();
        expect(report.problems, `cycle ${cycle}`).toEqual([]);
        // The feed: every change either readable or explicitly pruned.
        for (let seq = 1; seq <= db.seq; seq += 97) {
          try {
            db.changeAt(seq);
          } catch (e) {
            expect((e as { code: string }).code).toBe(HISTORY_PRUNED);
            expect(seq).toBeLessThanOrEqual(db.prunedThroughSeq);
          }
        }
      } finally {
        await db.close();
      }
    }
    const db = await CausalStorage.open({ adapter: new FileAdapter(dir) });
    try {
      expect(db.prunedThroughSeq).toBeGreaterThan(0);
    } finally {
      await db.close();
    }
  }, 300_000);
});
