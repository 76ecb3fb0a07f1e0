// Crash recovery of the durable adapter (format version 2): a torn write-ahead-log tail
// at cuts all through the last batches, bit flips in the log (segments: see
// segment-damage.node.test.ts), segments and log read together, and what an interrupted
// flush or merge leaves behind.
import { ErrorCodes } from '@koru/engine';
import { CausalStorage, type CausalStorageOptions, type Version } from '@koru/storage';
import { FileAdapter, type FileAdapterOptions } from '@koru/storage/node';
import { tempDir } from '@koru/vitest-preset/helpers';
import { copyFileSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { manualClock } from './conformance.js';
import { copyFiles, currentWal, filesOf, flipBit, parseWal, rejection, segmentsSettled, syncedPoint, syncedSidecar, type Failure } from './disk-helpers.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function newDir(): string {
  const { dir, cleanup } = tempDir('koru-recovery-');
  cleanups.push(cleanup);
  return dir;
}

function open(dir: string, options: Omit<CausalStorageOptions, 'adapter'> = {}, file: FileAdapterOptions = {}): Promise<CausalStorage> {
  return CausalStorage.open({ ...options, adapter: new FileAdapter(dir, { keepLogBytes: 0, ...file }) });
}

type Key = readonly [string, string];

/** Every version of every key in `keys` (null where the key has none). */
function dump(s: CausalStorage, keys: readonly Key[]): Array<Version[] | null> {
  return keys.map(([ns, k]) => {
    try {
      return s.history(ns, k);
    } catch (e) {
      if ((e as { code?: string }).code === ErrorCodes.KEY_NOT_FOUND) return null;
      throw e;
    }
  });
}

/** Opens `dir` expecting CORRUPTION naming `file` (a path, or a file name for segments); the lock is released. */
async function refuses(dir: string, file: string): Promise<Failure> {
  const e = await rejection(open(dir));
  expect(e.code, e.message).toBe(ErrorCodes.CORRUPTION);
  expect(String(e.details?.file)).toContain(basename(file));
  expect(e.message).toContain(basename(file));
  expect(typeof e.details?.offset).toBe('number');
  expect(existsSync(join(dir, 'LOCK'))).toBe(false);
  return e;
}


/** Runs `check` on each item, `width` at a time (each opens its own database). */
async function inParallel<T>(items: readonly T[], width: number, check: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(check));
}

describe('torn log tail', () => {
  it('at cuts all through the last three batches, recovery yields exactly a prefix of whole batches', async () => {
    const src = newDir();
    const clock = manualClock(1_000_000);
    const keys: Key[] = ['a', 'b', 'c', 'd', 'e', 'f', 'z'].map((k) => ['r', k] as const);
    // A long sync interval: nothing past the log's header is synced, so every cut is a torn tail.
    const s = await open(src, { now: clock.now }, { syncIntervalMs: 60_000 });
    await s.put('setup', 'x', 0); // makes the log (a process that only reads makes none)
    const wal = currentWal(src);
    const ends: number[] = [statSync(wal).size];
    const states: Array<Array<Version[] | null>> = [dump(s, keys)];
    const batches: Array<() => Promise<unknown>> = [
      () => s.put('r', 'a', { n: 1 }),
      () => s.putMany([{ namespace: 'r', key: 'b', value: { big: 'é'.repeat(700) } }, { namespace: 'r', key: 'c', value: 'x' }]),
      () => s.put('r', 'a', { n: 2 }),
      () => s.delete('r', 'b'),
      // Three versions in one batch, sharing a value stored once.
      () =>
        s.putMany([
          { namespace: 'r', key: 'd', value: { same: [1, 2, 3] } },
          { namespace: 'r', key: 'e', value: { same: [1, 2, 3] } },
          { namespace: 'r', key: 'a', value: { same: [1, 2, 3] } },
        ]),
      () => s.put('r', 'f', 'last'),
    ];
    for (const write of batches) {
      clock.t += 1000;
      await write();
      ends.push(statSync(wal).size);
      states.push(dump(s, keys));
    }
    const crashed = copyFiles(src, newDir());
    await s.close();
    const walName = basename(wal);
    const full = readFileSync(join(crashed, walName));
    const records = parseWal(full);
    // One record per committed batch (after the setup write's).
    expect(records.map((r) => r.end)).toEqual(ends);
    const from = ends[ends.length - 4]!;
    // Every byte of each record's frame (magic, length, CRC) and around each boundary, and
    // every 11th byte of the bodies: each cut opens a database and flushes it (the engine's
    // own tests cut at every byte).
    const nearBoundary = (len: number) => ends.some((e) => len >= e - 1 && len <= e + 13);
    const cuts: number[] = [];
    for (let len = from; len <= full.length; len++) if (nearBoundary(len) || len % 11 === 0) cuts.push(len);
    await inParallel(cuts, 8, async (len) => {
      const dir = copyFiles(crashed, newDir());
      writeFileSync(join(dir, walName), full.subarray(0, len));
      const batch = ends.findLastIndex((e) => e <= len);
      const db = await open(dir, { now: clock.now });
      try {
        expect(dump(db, keys), `cut at ${len}`).toEqual(states[batch]);
        expect(db.recovery.replayed, `cut at ${len}`).toBe(batch + 1); // with the setup write
        if (len > ends[batch]!) expect(db.recovery.truncated).toEqual({ file: join(dir, walName), offset: ends[batch], bytes: len - ends[batch]! });
        else expect(db.recovery.truncated).toBeUndefined();
        expect(db.recovery.repaired).toBeUndefined();
        expect(db.seq).toBe(1 + states[batch]!.reduce((n, h) => n + (h?.length ?? 0), 0));
        // Writable afterwards, and the next open finds everything without any repair.
        await db.put('r', 'z', len);
      } finally {
        await db.close();
      }
      if (len === from || len === full.length || len % 23 === 0) {
        const again = await open(dir);
        try {
          expect(again.recovery).toEqual({ replayed: 0 });
          expect(again.get('r', 'z')).toBe(len);
          expect(dump(again, keys).slice(0, -1)).toEqual(states[batch]!.slice(0, -1));
          expect((await again.verify()).ok).toBe(true);
        } finally {
          await again.close();
        }
      }
    });
    expect(cuts.length).toBeGreaterThan(100);
  });

  it('a log cut inside its header is a torn tail when nothing of it was synced; with its sidecar saying it was, CORRUPTION', async () => {
    const src = newDir();
    const s = await open(src, {}, { sync: 'always' });
    await s.put('h', 'before', 1);
    await s.close(); // flushed into a segment
    const s2 = await open(src, {}, { sync: 'always' });
    await s2.put('h', 'lost', 2); // the next log: made by this write
    const crashed = copyFiles(src, newDir());
    await s2.close();
    // A crash while the log was being made: its header half written.
    const wal = currentWal(crashed);
    const synced = syncedPoint(readFileSync(`${wal}.synced`));
    writeFileSync(wal, readFileSync(wal).subarray(0, 7));
    const other = copyFiles(crashed, newDir());
    rmSync(`${wal}.synced`);
    const t = await open(crashed);
    expect(t.recovery).toEqual({ replayed: 0, truncated: { file: wal, offset: 0, bytes: 7 } });
    expect(t.contains('h', 'lost')).toBe(false);
    await t.put('h', 'k', 1);
    await t.close();
    const u = await open(crashed);
    expect(u.get('h', 'before')).toBe(1);
    expect(u.get('h', 'k')).toBe(1);
    await u.close();
    // The same cut with the sidecar saying the log was synced: bytes that were on disk are gone.
    const otherWal = join(other, basename(wal));
    const e = await refuses(other, otherWal);
    expect(e.details).toMatchObject({ file: otherWal, offset: 0, missingBytes: synced - 7 });
  });
});

describe('bit flips in the log', () => {
  /** A killed 'always' session: every batch synced. Returns the crash image and its log's name. */
  async function buildLog(): Promise<{ crashed: string; walName: string; full: Buffer }> {
    const dir = newDir();
    const s = await open(dir, {}, { sync: 'always' });
    for (let i = 0; i < 6; i++) await s.put('flip', `k${i % 3}`, { i, text: `value number ${i}` });
    await s.putMany([
      { namespace: 'flip', key: 'm1', value: 'batch' },
      { namespace: 'flip', key: 'm2', value: 'batch' },
    ]);
    await s.delete('flip', 'k0');
    await s.put('flip', 'tail', 'the last record');
    const crashed = copyFiles(dir, newDir());
    await s.close();
    const walName = basename(currentWal(crashed));
    return { crashed, walName, full: readFileSync(join(crashed, walName)) };
  }

  it('damage in any synced record refuses to open with CORRUPTION naming file and offset, changing nothing', async () => {
    const { crashed, walName, full } = await buildLog();
    const records = parseWal(full);
    expect(records).toHaveLength(9);
    const flips: Array<[number, number, number]> = [];
    for (const rec of records) {
      // Magic, length, checksum, the entry count, a key, and the last byte of the body.
      for (const [offset, bit] of [[rec.start, 0], [rec.start + 5, 3], [rec.start + 9, 7], [rec.start + 12, 1], [rec.start + 20, 1], [rec.end - 1, 2]] as const) flips.push([rec.start, offset, bit]);
    }
    await inParallel(flips, 4, async ([start, offset, bit]) => {
      const dir = copyFiles(crashed, newDir());
      const path = join(dir, walName);
      flipBit(path, offset, bit);
      const damaged = readFileSync(path);
      const e = await refuses(dir, path);
      expect(e.details, `flip at ${offset}`).toMatchObject({ file: path, offset: start, validEnd: start });
      expect(e.message).toContain(String(start));
      expect(readFileSync(path).equals(damaged)).toBe(true);
    });
  });

  it('a hole followed by valid records is CORRUPTION on either side of the synced point; repair keeps what precedes it', async () => {
    const { crashed, walName, full } = await buildLog();
    const records = parseWal(full);
    const dir = copyFiles(crashed, newDir());
    const path = join(dir, walName);
    const damaged = Buffer.from(full);
    damaged.fill(0, records[4]!.start, records[4]!.end);
    writeFileSync(path, damaged);
    // Synced through record 3 or 5: record 4 zeroed, later records intact. A kill never
    // leaves a hole, and the acknowledged records after it are lost either way.
    for (const synced of [3, 5]) {
      writeFileSync(`${path}.synced`, syncedSidecar(records[synced]!.end));
      const e = await refuses(dir, path);
      expect(e.details).toMatchObject({ file: path, offset: records[4]!.start, validEnd: records[4]!.start, records: records.length - 5 });
    }
    const s = await open(dir, {}, { repair: true });
    try {
      expect(s.recovery.replayed).toBe(4);
      expect(s.recovery.repaired).toMatchObject([{ file: path, offset: records[4]!.start, records: records.length - 5 }]);
      expect(readFileSync(s.recovery.repaired![0]!.savedAs!).equals(damaged)).toBe(true);
      expect(s.history('flip', 'k0').map((v) => (v.value as { i: number }).i)).toEqual([0, 3]);
      expect(s.contains('flip', 'tail')).toBe(false);
      expect((await s.verify()).ok).toBe(true);
      await s.put('flip', 'after', 'writable again');
    } finally {
      await s.close();
    }
    const t = await open(dir);
    expect(t.recovery).toEqual({ replayed: 0 });
    expect(t.get('flip', 'after')).toBe('writable again');
    expect(t.seq).toBe(5);
    await t.close();
  });

  it('a bad file header is CORRUPTION at offset 0', async () => {
    const { crashed, walName } = await buildLog();
    for (const offset of [0, 7, 8, 12]) {
      const dir = copyFiles(crashed, newDir());
      flipBit(join(dir, walName), offset);
      const e = await refuses(dir, join(dir, walName));
      expect(e.details).toMatchObject({ file: join(dir, walName), offset: 0 });
    }
  });

  it('damage in the very last record is CORRUPTION once the synced point covers it, a torn tail when none does', async () => {
    const { crashed, walName, full } = await buildLog();
    const last = parseWal(full).at(-1)!;
    const path = join(crashed, walName);
    flipBit(path, last.start + 30);
    expect((await refuses(crashed, path)).details).toMatchObject({ offset: last.start });
    // The sidecar lost (its records are never synced on their own): the damage reads as a write cut short.
    rmSync(`${path}.synced`);
    const s = await open(crashed);
    try {
      expect(s.recovery).toEqual({ replayed: 8, truncated: { file: path, offset: last.start, bytes: last.end - last.start } });
      expect(s.contains('flip', 'tail')).toBe(false);
      expect(s.get('flip', 'm2')).toBe('batch');
      expect(s.contains('flip', 'k0')).toBe(false);
    } finally {
      await s.close();
    }
  });
});

describe('segments + log', () => {
  it('compaction keeps every version; history, getAt and verify span segments, the replayed log and the memtable', async () => {
    const dir = newDir();
    const clock = manualClock(100_000);
    const s = await open(dir, { now: clock.now }, { sync: 'always' });
    const keys: Key[] = [['sl', 'a'], ['sl', 'b'], ['sl', 'c'], ['other', 'a']];
    for (let i = 0; i < 30; i++) {
      clock.t += 100;
      const [ns, k] = keys[i % 4]!;
      if (i % 7 === 6 && s.contains(ns, k)) await s.delete(ns, k);
      else await s.put(ns, k, { shared: i % 5, pad: 'p'.repeat(100) });
    }
    const before = s.stats();
    const histories = dump(s, keys);
    await s.compact();
    expect(s.stats()).toEqual({ ...before, diskBytes: expect.any(Number) });
    // Small values count once per version holding them: 30 writes, 4 of them deletes.
    expect(before.distinctValues).toBe(26);
    expect(dump(s, keys)).toEqual(histories);
    expect(await segmentsSettled(dir, 1)).toHaveLength(1);
    const boundary = clock.t;
    for (let i = 0; i < 10; i++) {
      clock.t += 100;
      await s.put('sl', 'a', { shared: i % 5, pad: 'p'.repeat(100) });
      await s.put('sl', 'new', { after: i });
    }
    const allKeys: Key[] = [...keys, ['sl', 'new']];
    const final = dump(s, allKeys);
    const stats = s.stats();
    // Killed here: the last 20 writes are in the log only.
    const crashed = copyFiles(dir, newDir());
    await s.close();
    for (const d of [crashed, dir]) {
      const t = await open(d);
      try {
        expect(t.recovery).toEqual({ replayed: d === crashed ? 20 : 0 });
        expect(dump(t, allKeys)).toEqual(final);
        expect(t.stats()).toEqual({ ...stats, diskBytes: t.stats().diskBytes });
        const a = t.history('sl', 'a');
        for (const v of a) {
          const ms = Date.parse(v.timestamp);
          if (v.deleted) expect(() => t.getAt('sl', 'a', ms)).toThrow(expect.objectContaining({ code: ErrorCodes.KEY_NOT_FOUND }));
          else expect(t.getAt('sl', 'a', ms)).toEqual(v);
        }
        // getAt on either side of the compaction, and exactly at it.
        const lastBefore = a.filter((v) => Date.parse(v.timestamp) <= boundary).at(-1)!;
        if (lastBefore.deleted) expect(() => t.getAt('sl', 'a', boundary)).toThrow(expect.objectContaining({ code: ErrorCodes.KEY_NOT_FOUND }));
        else expect(t.getAt('sl', 'a', boundary)).toEqual(lastBefore);
        expect(t.getAt('sl', 'a', boundary + 100).value).toEqual({ shared: 0, pad: 'p'.repeat(100) });
        // Every value is small: inline in its versions, none in a value record.
        expect(await t.verify()).toMatchObject({ ok: true, versions: stats.versions, values: 0 });
        await t.compact();
        expect(await segmentsSettled(d, 1)).toHaveLength(1);
        expect(dump(t, allKeys)).toEqual(final);
      } finally {
        await t.close();
      }
    }
  });

  it('a small memtable flushes and merges by itself, losing nothing', async () => {
    const dir = newDir();
    const s = await open(dir, {}, { memtableBytes: 64 * 1024 });
    const written: Version[] = [];
    for (let i = 0; i < 600; i++) written.push(await s.put('auto', `k${i % 7}`, { i, pad: 'x'.repeat(400) }));
    expect(filesOf(dir, '.kseg').length).toBeGreaterThan(0);
    await s.close();
    const t = await open(dir);
    try {
      expect(t.recovery).toEqual({ replayed: 0 });
      for (let k = 0; k < 7; k++) expect(t.history('auto', `k${k}`)).toEqual(written.filter((v) => v.key === `k${k}`));
      expect(await t.verify()).toMatchObject({ ok: true, versions: 600 });
    } finally {
      await t.close();
    }
  });

  it('repeated compactions keep every version; a value shared across them reads back from each version', async () => {
    const dir = newDir();
    const clock = manualClock(2_000_000);
    let s = await open(dir, { now: clock.now });
    const expected = new Map<string, unknown[]>();
    const write = async (key: string, value: unknown) => {
      await s.put('gen', key, value);
      expected.set(key, [...(expected.get(key) ?? []), value]);
      clock.t += 1;
    };
    const check = async (st: CausalStorage) => {
      for (const [key, values] of expected) expect(st.history('gen', key).map((v) => v.value)).toEqual(values);
      expect(await st.verify()).toMatchObject({ ok: true, versions: 85 });
      // Every value is small (inline): each version counts, the shared one 4 times.
      expect(st.stats().distinctValues).toBe(85);
    };
    for (let round = 0; round < 4; round++) {
      for (let k = 0; k < 20; k++) await write(`k${k}`, { round, k, pad: 'p'.repeat(k * 7) });
      await write('shared', { same: true });
      await s.compact();
      if (round === 1) {
        await s.close();
        s = await open(dir, { now: clock.now });
      }
    }
    await write('tail', { after: 'last compaction' });
    await check(s);
    await s.close();
    expect(await segmentsSettled(dir, 2)).toHaveLength(2); // the compacted run, and the flushed tail
    s = await open(dir, { now: clock.now });
    await check(s);
    await s.close();
  });
});

describe('interrupted flush or merge', () => {
  async function seed(dir: string): Promise<Key[]> {
    const s = await open(dir);
    await s.put('ic', 'a', 'before compaction');
    await s.put('ic', 'b', { shared: true });
    await s.compact();
    await s.put('ic', 'a', 'after compaction');
    await s.put('ic', 'c', { shared: true });
    await s.close();
    return [['ic', 'a'], ['ic', 'b'], ['ic', 'c']];
  }

  async function stateOf(dir: string, keys: Key[]): Promise<unknown> {
    const s = await open(dir);
    try {
      expect(s.recovery).toEqual({ replayed: 0 });
      expect((await s.verify()).ok).toBe(true);
      return dump(s, keys);
    } finally {
      await s.close();
    }
  }

  it('a segment no manifest names (never installed) is removed on open, and a manifest .tmp changes nothing', async () => {
    const dir = newDir();
    const keys = await seed(dir);
    const expected = await stateOf(dir, keys);
    const segs = filesOf(dir, '.kseg');
    writeFileSync(join(dir, 'MANIFEST.tmp'), 'KDMAN001 half-written');
    copyFileSync(join(dir, segs[0]!), join(dir, '00009999.kseg'));
    expect(await stateOf(dir, keys)).toEqual(expected);
    expect(filesOf(dir, '.kseg')).toEqual(segs);
    // The next manifest is written over the leftover.
    const s = await open(dir);
    await s.compact();
    await s.close();
    expect(await stateOf(dir, keys)).toEqual(expected);
  });

  it("a merge's inputs left behind after its manifest was installed are removed, not read again", async () => {
    const dir = newDir();
    const keys = await seed(dir);
    const old = filesOf(dir, '.kseg').map((f) => [f, readFileSync(join(dir, f))] as const);
    expect(old).toHaveLength(2);
    const s = await open(dir);
    await s.compact();
    await s.put('ic', 'd', 'after the merge');
    await s.close();
    const all = [...keys, ['ic', 'd'] as const];
    const expected = await stateOf(dir, all);
    const now = await segmentsSettled(dir, 1);
    // A crash after the new manifest's rename, before the inputs were deleted.
    for (const [f, bytes] of old) writeFileSync(join(dir, f), bytes);
    expect(await stateOf(dir, all)).toEqual(expected);
    expect(filesOf(dir, '.kseg')).toEqual(now);
  });

  it('a log already flushed (a crash before its deletion) is removed, not replayed twice', async () => {
    const dir = newDir();
    const s = await open(dir, {}, { sync: 'always' });
    await s.put('ic', 'a', 1);
    await s.put('ic', 'b', 2);
    const crashed = copyFiles(dir, newDir());
    await s.close();
    const keys: Key[] = [['ic', 'a'], ['ic', 'b']];
    const expected = await stateOf(dir, keys);
    // Its log back next to the segment it was flushed into.
    const wal = basename(filesOf(crashed, '.kwal')[0]!);
    copyFileSync(join(crashed, wal), join(dir, wal));
    copyFileSync(join(crashed, `${wal}.synced`), join(dir, `${wal}.synced`));
    expect(await stateOf(dir, keys)).toEqual(expected);
    expect(existsSync(join(dir, wal))).toBe(false);
    const t = await open(dir);
    expect(t.seq).toBe(2);
    await t.close();
  });
});
