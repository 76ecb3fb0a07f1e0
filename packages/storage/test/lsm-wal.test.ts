// The write-ahead log: batches round-trip; a power loss at any operation replays only
// whole batches that were appended, in order, and every batch synced before it; damage
// inside the synced region (a flipped bit anywhere, a cut, a missing file, a hole) is
// CORRUPTION naming file and offset, and `repair` keeps the batches before it and says
// what it dropped; a torn tail is cut, reported, and the log appended to after; failed
// appends and syncs; the synced-point sidecar stays small; a real directory.
import { ErrorCodes } from '@koru/engine';
import { fcSeed, prng, tempDir } from '@koru/vitest-preset/helpers';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { crc32 } from '../src/lsm/checksum.js';
import { MemoryDirectory } from '../src/lsm/memory-directory.js';
import { KIND_DELETE, KIND_PUT, walFileName, type Entry, type EntryKind } from '../src/lsm/types.js';
import { removeWal, replayWal, walSyncedFileName, WalWriter, type WalOptions, type WalReplay } from '../src/lsm/wal.js';
import { HookedDirectory, TestNodeDirectory, type Op } from './lsm-test-dirs.js';

const W1 = walFileName(1);
const S1 = walSyncedFileName(1);
const ALWAYS: WalOptions = { sync: 'always' };
const PERIODIC: WalOptions = { sync: 'periodic' };

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

const entryArb: fc.Arbitrary<Entry> = fc.oneof(
  fc.record({
    key: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 12 }).map((cs) => String.fromCharCode(...cs)),
    kind: fc.constant<EntryKind>(KIND_PUT),
    value: fc.uint8Array({ maxLength: 40 }),
  }),
  fc.record({ key: fc.string({ maxLength: 8 }).map((s) => s.replace(/[^\x00-\xff]/g, '?')), kind: fc.constant<EntryKind>(KIND_DELETE), value: fc.constant(new Uint8Array(0)) }),
);
const batchArb = fc.array(entryArb, { minLength: 1, maxLength: 6 });

/** Plain data for comparisons. */
function plain(batches: readonly (readonly Entry[])[]): Array<Array<[string, number, number[]]>> {
  return batches.map((b) => b.map((e): [string, number, number[]] => [e.key, e.kind, [...e.value]]));
}

function batch(i: number, n = 2): Entry[] {
  return Array.from({ length: n }, (_, j) => ({ key: `k${i}/${j}`, kind: KIND_PUT, value: new Uint8Array([i, j, 0xfe, 0xff]) }));
}

function writeBatches(dir: MemoryDirectory, count: number, options = ALWAYS): number[] {
  const w = WalWriter.create(dir, 1, options);
  const ends = [w.bytes];
  for (let i = 0; i < count; i++) {
    w.append(batch(i));
    ends.push(w.bytes);
  }
  w.close();
  return ends;
}

function corruption(f: () => unknown): { message: string; details: Record<string, unknown> } {
  try {
    f();
  } catch (e) {
    const err = e as { code?: string; message: string; details?: Record<string, unknown> };
    expect(err.code, err.message).toBe(ErrorCodes.CORRUPTION);
    return { message: err.message, details: err.details ?? {} };
  }
  throw new Error('expected CORRUPTION');
}

function cutFile(dir: MemoryDirectory, name: string, length: number): void {
  const f = dir.open(name, 'append');
  f.truncate(length);
  f.close();
}

describe('WAL round trip', () => {
  it('replays every batch in order under both policies, and after a reopen appends after them', () => {
    fc.assert(
      fc.property(fc.array(batchArb, { maxLength: 20 }), fc.array(batchArb, { maxLength: 5 }), fc.boolean(), (first, more, always) => {
        const dir = new MemoryDirectory();
        const options = always ? ALWAYS : PERIODIC;
        const w = WalWriter.create(dir, 1, options);
        for (const b of first) w.append(b);
        w.close();
        const r = replayWal(dir, 1);
        expect(plain(r.batches)).toEqual(plain(first));
        expect(r.truncated).toBeUndefined();
        const { writer, replay } = WalWriter.reopen(dir, 1, options);
        expect(plain(replay.batches)).toEqual(plain(first));
        for (const b of more) writer.append(b);
        writer.close();
        expect(plain(replayWal(dir, 1).batches)).toEqual(plain([...first, ...more]));
      }),
      { seed: fcSeed('wal round trip'), numRuns: 100 },
    );
  });

  it('an absent log and a fresh one replay empty; create refuses an existing file', () => {
    const dir = new MemoryDirectory();
    expect(replayWal(dir, 7)).toEqual({ batches: [] });
    const w = WalWriter.create(dir, 7, PERIODIC);
    expect(w.bytes).toBe(16);
    expect(replayWal(dir, 7)).toEqual({ batches: [] });
    expect(() => WalWriter.create(dir, 7, PERIODIC)).toThrow(/exists/);
    w.close();
    // An empty file (its header lost before any sync) is an empty log too.
    cutFile(dir, walFileName(7), 0);
    dir.remove(walSyncedFileName(7));
    expect(replayWal(dir, 7)).toEqual({ batches: [] });
  });

  it('rejects empty batches, non-binary keys, unknown kinds and deletion markers with values, writing nothing', () => {
    const dir = new MemoryDirectory();
    const w = WalWriter.create(dir, 1, ALWAYS);
    const before = w.bytes;
    expect(() => w.append([])).toThrow(RangeError);
    expect(() => w.append([{ key: 'ok', kind: KIND_PUT, value: new Uint8Array(1) }, { key: 'é€', kind: KIND_PUT, value: new Uint8Array(0) }])).toThrow(/binary string/);
    expect(() => w.append([{ key: 'a', kind: 3 as EntryKind, value: new Uint8Array(0) }])).toThrow(RangeError);
    expect(() => w.append([{ key: 'a', kind: KIND_DELETE, value: new Uint8Array(1) }])).toThrow(RangeError);
    expect(w.bytes).toBe(before);
    w.close();
    expect(dir.readAll(W1)!.length).toBe(before);
    expect(() => WalWriter.create(dir, 2, { sync: 'never' as 'always' })).toThrow(RangeError);
    expect(dir.exists(walFileName(2))).toBe(false);
  });

  it('removeWal removes the log and its sidecar', () => {
    const dir = new MemoryDirectory();
    writeBatches(dir, 1);
    expect(dir.list()).toEqual([W1, S1]);
    removeWal(dir, 1);
    expect(dir.list()).toEqual([]);
  });
});

describe('WAL after a power loss', () => {
  it('replays only whole appended batches, in order, and every batch synced before the crash (at every operation)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(batchArb.map((b) => ({ batch: b })), fc.constant({ sync: true as const })), { maxLength: 25 }),
        fc.boolean(),
        fc.nat(),
        fc.integer(),
        (script, always, pick, seed) => {
          const mem = new MemoryDirectory();
          // Each file keeps all it was given half the time, else a random part: the
          // images mix files that lost nothing with files that lost their tail.
          const r0 = prng(seed);
          const random = (): number => (r0() < 0.5 ? 0.999999 : r0());
          // Images at every operation boundary (in-flight appends included), with what was durable then.
          const images: Array<{ image: MemoryDirectory; durable: number; attempted: number }> = [];
          let durable = 0;
          let attempted = 0;
          const dir = new HookedDirectory(mem, {
            at: () => void images.push({ image: mem.crash(random), durable, attempted }),
          });
          const appended: Entry[][] = [];
          const w = WalWriter.create(dir, 1, always ? ALWAYS : PERIODIC);
          for (const step of script) {
            if ('batch' in step) {
              appended.push(step.batch);
              attempted = appended.length;
              w.append(step.batch);
              if (always) durable = appended.length;
            } else {
              w.sync();
              durable = appended.length;
            }
          }
          w.close();
          durable = appended.length;
          images.push({ image: mem.crash(random), durable, attempted });
          for (const [i, { image, durable: mustHave, attempted: mayHave }] of images.entries()) {
            const r = replayWal(image, 1);
            expect(r.repaired).toBeUndefined();
            expect(r.batches.length).toBeGreaterThanOrEqual(mustHave);
            expect(r.batches.length).toBeLessThanOrEqual(mayHave);
            expect(plain(r.batches)).toEqual(plain(appended.slice(0, r.batches.length)));
            // After a replay (and its cut) the log takes appends and replays clean.
            if (i % 7 !== pick % 7 || !image.exists(W1)) continue;
            const { writer } = WalWriter.reopen(image, 1, PERIODIC);
            writer.append(batch(99));
            writer.close();
            const again = replayWal(image, 1);
            expect(again.truncated).toBeUndefined();
            expect(plain(again.batches)).toEqual(plain([...appended.slice(0, r.batches.length), batch(99)]));
          }
        },
      ),
      { seed: fcSeed('wal crash'), numRuns: 100 },
    );
  });

  it('cuts a torn tail past the synced point, reports it, and appends after it', () => {
    const dir = new MemoryDirectory();
    const w = WalWriter.create(dir, 1, PERIODIC);
    w.append(batch(0));
    w.append(batch(1));
    w.sync();
    const syncedEnd = w.bytes;
    w.append(batch(2));
    const full = w.bytes;
    // Power lost with part of the last batch written.
    const image = dir.crash(() => 0.5);
    const kept = image.readAll(W1)!.length;
    expect(kept).toBeGreaterThan(syncedEnd);
    expect(kept).toBeLessThan(full);
    const { writer, replay } = WalWriter.reopen(image, 1, ALWAYS);
    expect(plain(replay.batches)).toEqual(plain([batch(0), batch(1)]));
    expect(replay.truncated).toEqual({ file: `memory/${W1}`, offset: syncedEnd, bytes: kept - syncedEnd });
    expect(replay.repaired).toBeUndefined();
    expect(image.readAll(W1)!.length).toBe(syncedEnd);
    writer.append(batch(3));
    writer.close();
    expect(replayWal(image, 1)).toEqual({ batches: replayWal(image, 1).batches });
    expect(plain(replayWal(image, 1).batches)).toEqual(plain([batch(0), batch(1), batch(3)]));
  });

  it('a torn header of a log never synced is cut to nothing, and reopen writes a new header', () => {
    const dir = new MemoryDirectory();
    dir.open(W1, 'create').append(new Uint8Array([0x4b, 0x44, 0x57]));
    const r = replayWal(dir, 1);
    expect(r).toEqual({ batches: [], truncated: { file: `memory/${W1}`, offset: 0, bytes: 3 } });
    const { writer } = WalWriter.reopen(dir, 1, ALWAYS);
    writer.append(batch(0));
    writer.close();
    expect(plain(replayWal(dir, 1).batches)).toEqual(plain([batch(0)]));
  });
});

describe('WAL damage', () => {
  it('every single-bit flip in a synced log is CORRUPTION naming the file and the damaged batch; repair keeps the batches before it', () => {
    const base = new MemoryDirectory();
    const ends = writeBatches(base, 3);
    const size = ends[3]!;
    for (let offset = 0; offset < size; offset++) {
      for (let bit = 0; bit < 8; bit++) {
        const dir = base.crash();
        dir.flipBit(W1, offset, bit);
        const damagedAt = offset < 16 ? 0 : ends.findLast((e) => e <= offset)!;
        const { details } = corruption(() => replayWal(dir, 1));
        expect(details.file).toBe(`memory/${W1}`);
        expect(details.offset).toBe(damagedAt);
        const damaged = dir.readAll(W1)!;
        const r = replayWal(dir, 1, { repair: true });
        const kept = offset < 16 ? 0 : ends.indexOf(damagedAt);
        expect(plain(r.batches)).toEqual(plain([batch(0), batch(1), batch(2)].slice(0, kept)));
        expect(r.repaired).toHaveLength(1);
        const rep = r.repaired![0]!;
        expect(rep).toMatchObject({ file: `memory/${W1}`, offset: damagedAt, bytes: size - (offset < 16 ? 0 : damagedAt) });
        expect(dir.readAll(rep.savedAs!.slice('memory/'.length))).toEqual(damaged);
        // Repaired for good: the next replay is clean and agrees.
        const again = replayWal(dir, 1);
        expect(again.repaired).toBeUndefined();
        expect(plain(again.batches)).toEqual(plain(r.batches));
      }
    }
  });

  it('reports the readable batches repair drops after the damage', () => {
    const dir = new MemoryDirectory();
    const ends = writeBatches(dir, 5);
    dir.flipBit(W1, ends[1]! + 14);
    const { details, message } = corruption(() => replayWal(dir, 1));
    expect(details).toMatchObject({ offset: ends[1], validEnd: ends[1], records: 3, bytes: ends[5]! - ends[1]! });
    expect(message).toMatch(/3 readable batches/);
    const r = replayWal(dir, 1, { repair: true });
    expect(r.batches).toHaveLength(1);
    expect(r.repaired![0]).toMatchObject({ records: 3, offset: ends[1] });
  });

  it('a cut inside the synced region is CORRUPTION, not a torn tail', () => {
    const dir = new MemoryDirectory();
    const ends = writeBatches(dir, 3);
    cutFile(dir, W1, ends[3]! - 5);
    const { details, message } = corruption(() => replayWal(dir, 1));
    expect(details).toMatchObject({ file: `memory/${W1}`, offset: ends[2], validEnd: ends[2] });
    expect(message).toMatch(/acknowledged data is lost/);
    // Cut exactly at a batch boundary: every byte left checks out, but synced bytes are gone.
    const dir2 = new MemoryDirectory();
    writeBatches(dir2, 3);
    cutFile(dir2, W1, ends[2]!);
    expect(corruption(() => replayWal(dir2, 1)).details).toMatchObject({ offset: ends[2], missingBytes: ends[3]! - ends[2]! });
    const r = replayWal(dir2, 1, { repair: true });
    expect(r.batches).toHaveLength(2);
    expect(r.repaired![0]!.bytes).toBe(ends[3]! - ends[2]!);
    expect(replayWal(dir2, 1).repaired).toBeUndefined();
  });

  it('damage followed by a valid batch is CORRUPTION even past the synced point (a hole)', () => {
    const dir = new MemoryDirectory();
    const w = WalWriter.create(dir, 1, PERIODIC);
    w.append(batch(0));
    w.sync();
    const synced = w.bytes;
    w.append(batch(1));
    w.append(batch(2));
    dir.flipBit(W1, synced + 20);
    expect(corruption(() => replayWal(dir, 1)).details).toMatchObject({ offset: synced });
    w.close();
  });

  it('a record whose checksum holds but whose batch does not decode is CORRUPTION, even at the unsynced tail', () => {
    // Bodies: a count of 2 with one entry; an unknown kind; a deletion marker with a value; trailing bytes; count 0.
    const bodies = [
      [2, 1, 0x61, 0, 1, 7],
      [1, 1, 0x61, 5, 0],
      [1, 1, 0x61, 1, 1, 7],
      [1, 1, 0x61, 0, 0, 9],
      [0],
    ];
    for (const body of bodies) {
      const dir = new MemoryDirectory();
      const w = WalWriter.create(dir, 1, PERIODIC);
      w.append(batch(0));
      w.sync();
      const at = w.bytes;
      w.close();
      const rec = new Uint8Array(12 + body.length);
      const view = new DataView(rec.buffer);
      view.setUint32(0, 0x42574bfe, true);
      view.setUint32(4, body.length, true);
      rec.set(body, 12);
      view.setUint32(8, crc32(rec, crc32(rec, 0, 4, 8), 12), true);
      const f = dir.open(W1, 'append');
      f.append(rec);
      f.close();
      const { details, message } = corruption(() => replayWal(dir, 1));
      expect(details.offset, message).toBe(at);
      expect(message).toMatch(/does not decode/);
      const r = replayWal(dir, 1, { repair: true });
      expect(plain(r.batches)).toEqual(plain([batch(0)]));
      expect(r.repaired![0]).toMatchObject({ offset: at, records: 1, bytes: rec.length });
    }
  });

  it('a missing log whose sidecar says it was synced is CORRUPTION; repair starts it empty', () => {
    const dir = new MemoryDirectory();
    writeBatches(dir, 2);
    dir.remove(W1);
    expect(corruption(() => replayWal(dir, 1)).details).toMatchObject({ file: `memory/${W1}`, offset: 0 });
    const r = replayWal(dir, 1, { repair: true });
    expect(r.batches).toEqual([]);
    expect(r.repaired).toHaveLength(1);
    expect(replayWal(dir, 1)).toEqual({ batches: [] });
    // Likewise when the sidecar of a missing log is damaged.
    const dir2 = new MemoryDirectory();
    writeBatches(dir2, 1);
    dir2.remove(W1);
    dir2.flipBit(S1, 0);
    expect(corruption(() => replayWal(dir2, 1)).details).toEqual({ file: `memory/${S1}`, offset: 0 });
    // Two findings: the damaged sidecar record, and the bytes its other record says were synced.
    expect(replayWal(dir2, 1, { repair: true }).repaired?.map((x) => x.file)).toEqual([`memory/${S1}`, `memory/${W1}`]);
    expect(replayWal(dir2, 1)).toEqual({ batches: [] });
  });

  it('a damaged sidecar record is CORRUPTION naming the sidecar; repair ignores it and rewrites the sidecar', () => {
    const dir = new MemoryDirectory();
    writeBatches(dir, 2);
    const sidecar = dir.readAll(S1)!;
    expect(sidecar.length % 16).toBe(0);
    dir.flipBit(S1, sidecar.length - 10);
    expect(corruption(() => replayWal(dir, 1)).details).toEqual({ file: `memory/${S1}`, offset: sidecar.length - 16 });
    const r = replayWal(dir, 1, { repair: true });
    expect(r.batches).toHaveLength(2);
    expect(r.repaired![0]).toMatchObject({ file: `memory/${S1}`, offset: sidecar.length - 16 });
    expect(replayWal(dir, 1)).toEqual({ batches: r.batches });
    // A short final record (a torn append) and zeros (never written) are not damage.
    const dir2 = new MemoryDirectory();
    writeBatches(dir2, 2);
    const f = dir2.open(S1, 'append');
    f.append(new Uint8Array(16));
    f.append(new Uint8Array([0xfe, 0x53, 0x59]));
    f.close();
    expect(replayWal(dir2, 1).batches).toHaveLength(2);
  });
});

describe('WAL failures and upkeep', () => {
  it('a failed append is cut back and the writer goes on; a failed sync cuts its batch back and stops the writer until reopened', () => {
    const mem = new MemoryDirectory();
    let failing: Op | undefined;
    const dir = new HookedDirectory(mem, { fail: (op, name) => op === failing && name === W1 });
    const w = WalWriter.create(dir, 1, ALWAYS);
    w.append(batch(0));
    const size = w.bytes;
    failing = 'append';
    expect(() => w.append(batch(1))).toThrow(expect.objectContaining({ code: ErrorCodes.STORAGE_FULL }));
    expect(mem.readAll(W1)!.length).toBe(size);
    failing = undefined;
    w.append(batch(2));
    failing = 'sync';
    expect(() => w.append(batch(3))).toThrow(expect.objectContaining({ code: ErrorCodes.IO_ERROR }));
    failing = undefined;
    expect(() => w.append(batch(4))).toThrow(/reopen/);
    expect(() => w.sync()).toThrow(/reopen/);
    w.close();
    // The batch whose sync failed was reported failed: it was cut back, and is not replayed.
    const { writer, replay } = WalWriter.reopen(mem, 1, ALWAYS);
    expect(plain(replay.batches)).toEqual(plain([batch(0), batch(2)]));
    writer.append(batch(5));
    writer.close();
    expect(replayWal(mem, 1).batches).toHaveLength(3);
  });

  it('a failed append whose cut also fails stops the writer', () => {
    const mem = new MemoryDirectory();
    let failing = false;
    const dir = new HookedDirectory(mem, { fail: (op, name) => failing && name === W1 && (op === 'append' || op === 'truncate') });
    const w = WalWriter.create(dir, 1, PERIODIC);
    failing = true;
    expect(() => w.append(batch(0))).toThrow(expect.objectContaining({ code: ErrorCodes.STORAGE_FULL }));
    failing = false;
    expect(() => w.append(batch(1))).toThrow(/cut back/);
    w.close();
    // The half-written record is a torn tail.
    expect(replayWal(mem, 1).truncated).toMatchObject({ offset: 16 });
  });

  it('the sidecar stays small over many syncs and still catches a cut of the last batch', () => {
    const dir = new MemoryDirectory();
    const w = WalWriter.create(dir, 1, ALWAYS);
    for (let i = 0; i < 10_000; i++) w.append(batch(i & 0xff, 1));
    const last = w.bytes;
    w.close();
    expect(dir.readAll(S1)!.length).toBeLessThanOrEqual(64 * 1024);
    cutFile(dir, W1, last - 1);
    expect(corruption(() => replayWal(dir, 1)).details).toMatchObject({ missingBytes: 1 });
  });

  it('a periodic sync with nothing new does nothing, and close syncs', () => {
    const mem = new MemoryDirectory();
    let syncs = 0;
    const dir = new HookedDirectory(mem, { at: (op, name, phase) => void (op === 'sync' && name === W1 && phase === 'after' && syncs++) });
    const w = WalWriter.create(dir, 1, PERIODIC);
    const afterCreate = syncs;
    w.sync();
    expect(syncs).toBe(afterCreate);
    w.append(batch(0));
    w.close();
    expect(syncs).toBe(afterCreate + 1);
    expect(replayWal(mem.crash(), 1).batches).toHaveLength(1);
    expect(() => w.append(batch(1))).toThrow(/closed/);
  });
});

describe('WAL on a real directory', () => {
  it('round-trips, cuts a torn tail and refuses a damaged synced batch', () => {
    const { dir: path, cleanup } = tempDir('koru-lsm-wal-');
    cleanups.push(cleanup);
    const dir = new TestNodeDirectory(path);
    const w = WalWriter.create(dir, 3, ALWAYS);
    w.append(batch(0));
    w.append(batch(1));
    w.close();
    let r: WalReplay = replayWal(dir, 3);
    expect(plain(r.batches)).toEqual(plain([batch(0), batch(1)]));
    const f = dir.open(walFileName(3), 'append');
    const size = f.size();
    f.append(new Uint8Array([0xfe, 0x4b, 0x57, 0x42, 9, 0, 0]));
    f.close();
    r = replayWal(dir, 3);
    expect(r.truncated).toEqual({ file: `${path}/${walFileName(3)}`, offset: size, bytes: 7 });
    const bytes = dir.readAll(walFileName(3))!;
    bytes[size - 3]! ^= 1;
    dir.writeAtomic(walFileName(3), bytes);
    expect(corruption(() => replayWal(dir, 3)).details).toMatchObject({ file: `${path}/${walFileName(3)}` });
  });
});
