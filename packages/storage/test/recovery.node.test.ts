// Crash recovery of the durable adapter: torn tails at every byte, bit flips in the
// log and the snapshot, snapshot + log replay, and interrupted compactions.
import { ErrorCodes } from '@koru/engine';
import { CausalStorage, type CausalStorageOptions, type Version } from '@koru/storage';
import { FileAdapter, type FileAdapterOptions } from '@koru/storage/node';
import { tempDir } from '@koru/vitest-preset/helpers';
import { copyFileSync, existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { manualClock } from './conformance.js';
import { dataFiles, flipBit, parseLog, parseSnapshot, rejection } from './disk-helpers.js';

const LOG0 = 'log-000000.kdl';

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
  return CausalStorage.open({ ...options, adapter: new FileAdapter(dir, file) });
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

/** Opens `dir` after the caller damaged it, and returns the error. */
async function openFails(dir: string): Promise<{ code?: string; message: string; details?: Record<string, unknown> }> {
  return rejection(open(dir));
}

describe('torn log tail', () => {
  it('at every truncation offset of the last records, recovery yields exactly a prefix of whole batches', async () => {
    const src = newDir();
    const clock = manualClock(1_000_000);
    const keys: Key[] = ['a', 'b', 'c', 'd', 'e', 'f', 'z'].map((k) => ['r', k] as const);
    const s = await open(src, { now: clock.now });
    const logPath = join(src, LOG0);
    const ends: number[] = [statSync(logPath).size];
    const states: Array<Array<Version[] | null>> = [dump(s, keys)];
    const batches: Array<() => Promise<unknown>> = [
      () => s.put('r', 'a', { n: 1 }),
      () =>
        s.putMany([
          { namespace: 'r', key: 'b', value: { big: 'é'.repeat(200) } },
          { namespace: 'r', key: 'c', value: 'x' },
        ]),
      () => s.put('r', 'a', { n: 2 }),
      () => s.delete('r', 'b'),
      // Three records in one batch, two of them sharing a value stored by the first.
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
      ends.push(statSync(logPath).size);
      states.push(dump(s, keys));
    }
    await s.close();
    const full = readFileSync(logPath);
    const node = readFileSync(join(src, 'NODE'));
    const records = parseLog(full);
    expect(records).toHaveLength(9);
    expect(records[records.length - 1]!.end).toBe(full.length);
    // Records of the last four, starting with the three-record batch.
    const from = records[records.length - 4]!.start;
    expect(from).toBe(ends[4]);
    const recordsUpTo = (batch: number) => records.filter((r) => r.end <= ends[batch]!).length;

    const dir = newDir();
    writeFileSync(join(dir, 'NODE'), node);
    let checked = 0;
    for (let len = from; len <= full.length; len++) {
      writeFileSync(join(dir, LOG0), full.subarray(0, len));
      // A crash mid-write: the cut bytes lie past the last checkpoint (the previous
      // round's close wrote one covering them; cuts before one are tested in damage.node.test.ts).
      rmSync(join(dir, 'SYNCED'), { force: true });
      const batch = ends.findLastIndex((e) => e <= len);
      const db = await open(dir, { now: clock.now });
      try {
        expect(dump(db, keys), `truncated to ${len}`).toEqual(states[batch]);
        expect(db.recovery.replayed).toBe(recordsUpTo(batch));
        if (len > ends[batch]!) {
          expect(db.recovery.truncated).toEqual({ file: join(dir, LOG0), offset: ends[batch], bytes: len - ends[batch]! });
        } else expect(db.recovery.truncated).toBeUndefined();
        expect(statSync(join(dir, LOG0)).size).toBe(ends[batch]);
        // Writable afterwards: the new record follows the valid prefix.
        await db.put('r', 'z', len);
        expect(parseLog(readFileSync(join(dir, LOG0))).map((r) => r.meta.k)).toEqual([
          ...records.slice(0, recordsUpTo(batch)).map((r) => r.meta.k),
          'z',
        ]);
      } finally {
        await db.close();
      }
      if (len === from || len === full.length || len % 23 === 0) {
        const again = await open(dir);
        try {
          expect(again.recovery.truncated).toBeUndefined();
          expect(again.get('r', 'z')).toBe(len);
          expect(dump(again, keys).slice(0, -1)).toEqual(states[batch]!.slice(0, -1));
          expect((await again.verify()).ok).toBe(true);
        } finally {
          await again.close();
        }
      }
      checked++;
    }
    expect(checked).toBe(full.length - from + 1);
  });

  it('a log cut inside its header is rewritten empty', async () => {
    const dir = newDir();
    const s = await open(dir);
    await s.close();
    writeFileSync(join(dir, LOG0), readFileSync(join(dir, LOG0)).subarray(0, 7));
    const t = await open(dir);
    await t.put('h', 'k', 1);
    await t.close();
    const u = await open(dir);
    expect(u.get('h', 'k')).toBe(1);
    await u.close();
  });
});

describe('bit flips in the log', () => {
  async function buildLog(dir: string): Promise<Buffer> {
    const s = await open(dir);
    for (let i = 0; i < 6; i++) await s.put('flip', `k${i % 3}`, { i, text: `value number ${i}` });
    await s.putMany([
      { namespace: 'flip', key: 'm1', value: 'batch' },
      { namespace: 'flip', key: 'm2', value: 'batch' },
    ]);
    await s.delete('flip', 'k0');
    await s.put('flip', 'tail', 'the last record');
    await s.close();
    return readFileSync(join(dir, LOG0));
  }

  it('damage before the last record refuses to open with CORRUPTION naming file and offset', async () => {
    const pristine = newDir();
    const full = await buildLog(pristine);
    const records = parseLog(full);
    const dir = newDir();
    copyFileSync(join(pristine, 'NODE'), join(dir, 'NODE'));
    const logPath = join(dir, LOG0);
    let cases = 0;
    for (const rec of records.slice(0, -1)) {
      // Magic, length, checksum, metadata and (if any) the value's last byte.
      for (const [offset, bit] of [
        [rec.start, 0],
        [rec.start + 5, 3],
        [rec.start + 9, 7],
        [rec.start + 20, 1],
        [rec.end - 1, 2],
      ] as const) {
        writeFileSync(logPath, full);
        flipBit(logPath, offset, bit);
        const damaged = readFileSync(logPath);
        const e = await openFails(dir);
        expect(e.code, `flip at ${offset}`).toBe(ErrorCodes.CORRUPTION);
        expect(e.details).toMatchObject({ file: logPath, offset: rec.start });
        expect(e.message).toContain(logPath);
        expect(e.message).toContain(String(rec.start));
        // Nothing was repaired away, and the lock was released.
        expect(readFileSync(logPath).equals(damaged)).toBe(true);
        expect(existsSync(join(dir, 'LOCK'))).toBe(false);
        cases++;
      }
    }
    expect(cases).toBe((records.length - 1) * 5);
  });

  it('a hole followed by valid records is CORRUPTION on either side of the checkpoint; repair keeps what precedes it', async () => {
    const pristine = newDir();
    const full = await buildLog(pristine);
    const records = parseLog(full);
    const checkpoint = (end: number) => {
      const text = `0 ${end}`;
      writeFileSync(join(dir, 'SYNCED'), `${text} ${crc32(Buffer.from(text))}\n`.padEnd(64, ' '));
    };
    const dir = newDir();
    copyFileSync(join(pristine, 'NODE'), join(dir, 'NODE'));
    const logPath = join(dir, LOG0);
    const zero = (rec: { start: number; end: number }) => {
      const damaged = Buffer.from(full);
      damaged.fill(0, rec.start, rec.end);
      writeFileSync(logPath, damaged);
    };
    // Synced through record 3 or 5: record 4 zeroed, later records intact. A kill never
    // leaves a hole, and the acknowledged records after it are lost either way.
    for (const synced of [3, 5]) {
      checkpoint(records[synced]!.end);
      zero(records[4]!);
      const e = await openFails(dir);
      expect(e.code).toBe(ErrorCodes.CORRUPTION);
      expect(e.details).toMatchObject({ file: logPath, offset: records[4]!.start, validEnd: records[4]!.start, records: records.length - 5 });
    }
    const s = await open(dir, {}, { repair: true });
    expect(s.recovery.replayed).toBe(4);
    expect(s.recovery.repaired).toMatchObject([{ file: logPath, offset: records[4]!.start, records: records.length - 5 }]);
    expect(s.history('flip', 'k0').map((v) => (v.value as { i: number }).i)).toEqual([0, 3]);
    expect(s.contains('flip', 'tail')).toBe(false);
    expect((await s.verify()).ok).toBe(true);
    await s.put('flip', 'after', 'writable again');
    await s.close();
    const t = await open(dir);
    expect(t.get('flip', 'after')).toBe('writable again');
    await t.close();
  });

  it('a bad file header is CORRUPTION at offset 0', async () => {
    const dir = newDir();
    await buildLog(dir);
    for (const offset of [0, 7, 8]) {
      const copy = newDir();
      copyFileSync(join(dir, 'NODE'), join(copy, 'NODE'));
      copyFileSync(join(dir, LOG0), join(copy, LOG0));
      flipBit(join(copy, LOG0), offset);
      const e = await openFails(copy);
      expect(e.code).toBe(ErrorCodes.CORRUPTION);
      expect(e.details).toMatchObject({ file: join(copy, LOG0), offset: 0 });
    }
  });

  it('damage in the very last record is CORRUPTION once a checkpoint covers it, a torn tail when none does', async () => {
    const dir = newDir();
    const full = await buildLog(dir);
    const last = parseLog(full).at(-1)!;
    flipBit(join(dir, LOG0), last.start + 30);
    const e = await openFails(dir);
    expect(e.code).toBe(ErrorCodes.CORRUPTION);
    expect(e.details).toMatchObject({ file: join(dir, LOG0), offset: last.start });
    // A database of the previous version, whose 'always' sessions kept no checkpoint.
    rmSync(join(dir, 'SYNCED'));
    const s = await open(dir);
    try {
      expect(s.recovery.truncated).toEqual({ file: join(dir, LOG0), offset: last.start, bytes: last.end - last.start });
      expect(s.contains('flip', 'tail')).toBe(false);
      expect(s.get('flip', 'm2')).toBe('batch');
      expect(s.contains('flip', 'k0')).toBe(false);
    } finally {
      await s.close();
    }
  });
});

describe('bit flips in the snapshot', () => {
  const headValues = { a: { who: 'a', list: [1, 2] }, b: 'shared', c: 'shared' } as const;

  async function buildSnapshot(dir: string): Promise<string> {
    const s = await open(dir);
    await s.put('snap', 'a', 'old a');
    await s.put('snap', 'a', headValues.a);
    await s.put('snap', 'b', headValues.b);
    await s.put('snap', 'c', headValues.c);
    await s.put('snap', 'gone', 1);
    await s.delete('snap', 'gone');
    await s.compact();
    await s.close();
    expect(dataFiles(dir)).toEqual(['NODE', 'log-000001.kdl', 'snapshot-000001.kds']);
    return join(dir, 'snapshot-000001.kds');
  }

  function copyOf(dir: string): string {
    const copy = newDir();
    for (const f of readdirSync(dir)) copyFileSync(join(dir, f), join(copy, f));
    return copy;
  }

  it('damage to columns, key index, footer or trailer refuses to open with CORRUPTION', async () => {
    const dir = newDir();
    const snap = await buildSnapshot(dir);
    const buf = readFileSync(snap);
    const { footer, footerAt } = parseSnapshot(buf);
    expect(footer.count).toBe(6);
    const targets: Array<[string, number]> = [['magic', 3]];
    for (const c of footer.columns) {
      expect(c.bytes).toBeGreaterThan(0);
      targets.push([`column ${c.name} start`, c.offset], [`column ${c.name} end`, c.offset + c.bytes - 1]);
    }
    targets.push(
      ['key json', footer.keys.offset + 2],
      ['key rows', footer.keys.offset + footer.keys.jsonBytes + 1],
      ['footer', footerAt + 10],
      ['footer end', buf.length - 17],
      ['footer length', buf.length - 16],
      ['footer crc', buf.length - 11],
      ['end marker', buf.length - 2],
    );
    for (const [what, offset] of targets) {
      const copy = copyOf(dir);
      flipBit(join(copy, 'snapshot-000001.kds'), offset, 4);
      const e = await openFails(copy);
      expect(e.code, what).toBe(ErrorCodes.CORRUPTION);
      expect(e.details?.file, what).toBe(join(copy, 'snapshot-000001.kds'));
      expect(typeof e.details?.offset, what).toBe('number');
      expect(existsSync(join(copy, 'LOCK'))).toBe(false);
    }
  });

  it('a damaged stored value is never served: reads fail with CORRUPTION and verify reports it', async () => {
    const dir = newDir();
    const snap = await buildSnapshot(dir);
    const { values } = parseSnapshot(readFileSync(snap));
    // Each distinct value once: 'old a', a's head, 'shared', 1.
    expect(values.map((v) => v.text).sort()).toEqual(['"old a"', '"shared"', '1', '{"list":[1,2],"who":"a"}']);
    for (const [target, offsetIn] of [
      ['{"list":[1,2],"who":"a"}', 8 + 5],
      ['"shared"', 8 + 2],
      ['"shared"', 0], // its length
      ['"shared"', 5], // its checksum
    ] as const) {
      const copy = copyOf(dir);
      const at = values.find((v) => v.text === target)!.at;
      flipBit(join(copy, 'snapshot-000001.kds'), at + offsetIn, 1);
      const s = await open(copy);
      try {
        const damaged = target === '"shared"' ? ['b', 'c'] : ['a'];
        for (const k of damaged) {
          const e = (() => {
            try {
              return { value: s.get('snap', k) };
            } catch (err) {
              return err as { code?: string; details?: Record<string, unknown> };
            }
          })();
          expect(e, `get ${k} with ${target} damaged`).toMatchObject({
            code: ErrorCodes.CORRUPTION,
            details: { file: join(copy, 'snapshot-000001.kds'), offset: at },
          });
          expect(() => s.history('snap', k)).toThrow(expect.objectContaining({ code: ErrorCodes.CORRUPTION }));
        }
        const report = await s.verify();
        expect(report.ok).toBe(false);
        expect([...new Set(report.problems.map((p) => p.key))].sort()).toEqual(damaged);
        for (const p of report.problems) expect(p.problem).toMatch(/unreadable|damaged/);
        // Undamaged keys still read correctly.
        if (target === '"shared"') {
          expect(s.get('snap', 'a')).toEqual(headValues.a);
          expect(s.history('snap', 'a').map((v) => v.value)).toEqual(['old a', headValues.a]);
        } else expect(s.history('snap', 'b').map((v) => v.value)).toEqual(['shared']);
      } finally {
        await s.close();
      }
    }
  });
});

describe('snapshot + log', () => {
  it('compaction keeps every version; history, getAt and verify span the snapshot boundary', async () => {
    const dir = newDir();
    const clock = manualClock(100_000);
    const s = await open(dir, { now: clock.now });
    const keys: Key[] = [
      ['sl', 'a'],
      ['sl', 'b'],
      ['sl', 'c'],
      ['other', 'a'],
    ];
    for (let i = 0; i < 30; i++) {
      clock.t += 100;
      const [ns, k] = keys[i % 4]!;
      if (i % 7 === 6 && s.contains(ns, k)) await s.delete(ns, k);
      else await s.put(ns, k, { shared: i % 5, pad: 'p'.repeat(100) });
    }
    const before = s.stats();
    const histories = dump(s, keys);
    await s.compact();
    const after = s.stats();
    expect(after.versions).toBe(before.versions);
    expect(after.distinctValues).toBe(before.distinctValues);
    expect(after.distinctValues).toBe(5);
    expect(dump(s, keys)).toEqual(histories);
    const snapFile = join(dir, 'snapshot-000001.kds');
    const { values, footer } = parseSnapshot(readFileSync(snapFile));
    expect(footer.count).toBe(before.versions);
    expect(values).toHaveLength(5);
    expect(new Set(values.map((v) => v.text)).size).toBe(5);
    expect(dataFiles(dir)).toEqual(['LOCK', 'NODE', 'log-000001.kdl', 'snapshot-000001.kds']);

    const boundary = clock.t;
    for (let i = 0; i < 10; i++) {
      clock.t += 100;
      await s.put('sl', 'a', { shared: i % 5, pad: 'p'.repeat(100) });
      await s.put('sl', 'new', { after: i });
    }
    const allKeys: Key[] = [...keys, ['sl', 'new']];
    const final = dump(s, allKeys);
    const stats = s.stats();
    await s.close();

    const t = await open(dir);
    try {
      expect(t.recovery).toEqual({ replayed: 20, fromSnapshot: before.versions });
      expect(dump(t, allKeys)).toEqual(final);
      expect(t.stats()).toMatchObject({ versions: stats.versions, distinctValues: 15, keys: stats.keys, seq: stats.seq });
      const a = t.history('sl', 'a');
      // getAt on either side of the snapshot boundary, and exactly at it.
      for (const v of a) {
        const ms = Date.parse(v.timestamp);
        if (v.deleted) expect(() => t.getAt('sl', 'a', ms)).toThrow(expect.objectContaining({ code: ErrorCodes.KEY_NOT_FOUND }));
        else expect(t.getAt('sl', 'a', ms)).toEqual(v);
      }
      const lastBefore = a.filter((v) => Date.parse(v.timestamp) <= boundary).at(-1)!;
      if (lastBefore.deleted) expect(() => t.getAt('sl', 'a', boundary)).toThrow(expect.objectContaining({ code: ErrorCodes.KEY_NOT_FOUND }));
      else expect(t.getAt('sl', 'a', boundary)).toEqual(lastBefore);
      expect(t.getAt('sl', 'a', boundary + 100).value).toEqual({ shared: 0, pad: 'p'.repeat(100) });
      expect(await t.verify()).toMatchObject({ ok: true, versions: stats.versions, values: 15 });
      // Compacting again carries everything into the next generation.
      await t.compact();
      expect(dataFiles(dir)).toEqual(['LOCK', 'NODE', 'log-000002.kdl', 'snapshot-000002.kds']);
      expect(dump(t, allKeys)).toEqual(final);
    } finally {
      await t.close();
    }
    const u = await open(dir);
    expect(u.recovery).toEqual({ replayed: 0, fromSnapshot: stats.versions });
    expect(dump(u, allKeys)).toEqual(final);
    expect((await u.verify()).ok).toBe(true);
    await u.close();
  });

  it('the log triggers a snapshot by itself past snapshotAfterBytes, losing nothing', async () => {
    const dir = newDir();
    const s = await open(dir, {}, { snapshotAfterBytes: 4096 });
    const written: Version[] = [];
    for (let i = 0; i < 60; i++) written.push(await s.put('auto', `k${i % 7}`, { i, pad: 'x'.repeat(200) }));
    const snaps = readdirSync(dir).filter((f) => f.endsWith('.kds'));
    expect(snaps).toHaveLength(1);
    expect(Number(/^snapshot-(\d{6})\.kds$/.exec(snaps[0]!)![1])).toBeGreaterThanOrEqual(2); // several generations went by
    await s.close();
    const t = await open(dir, {}, { snapshotAfterBytes: 4096 });
    try {
      for (let k = 0; k < 7; k++) expect(t.history('auto', `k${k}`)).toEqual(written.filter((v) => v.key === `k${k}`));
      expect(await t.verify()).toMatchObject({ ok: true, versions: 60 });
    } finally {
      await t.close();
    }
  });
});

describe('repeated compaction', () => {
  it('each snapshot carries the previous one\'s values over; values shared across generations stay stored once', async () => {
    const dir = newDir();
    const clock = manualClock(2_000_000);
    let s = await open(dir, { now: clock.now });
    const expected = new Map<string, unknown[]>();
    const write = async (key: string, value: unknown) => {
      await s.put('gen', key, value);
      expected.set(key, [...(expected.get(key) ?? []), value]);
      clock.t += 1;
    };
    for (let round = 0; round < 4; round++) {
      for (let k = 0; k < 20; k++) await write(`k${k}`, { round, k, pad: 'p'.repeat(k * 7) });
      // The same value in every generation: stored once, wherever it was first stored.
      await write('shared', { same: true });
      await s.compact();
      if (round === 1) {
        await s.close();
        s = await open(dir, { now: clock.now });
      }
    }
    await write('tail', { after: 'last compaction' });
    const check = async (st: CausalStorage) => {
      for (const [key, values] of expected) expect(st.history('gen', key).map((v) => v.value)).toEqual(values);
      expect(await st.verify()).toMatchObject({ ok: true, versions: 85 });
      expect(st.stats().distinctValues).toBe(82);
    };
    check(s);
    await s.close();
    const snapshots = readdirSync(dir).filter((f) => f.endsWith('.kds'));
    expect(snapshots).toEqual(['snapshot-000004.kds']);
    s = await open(dir, { now: clock.now });
    check(s);
    await s.close();
  });
});

describe('interrupted compaction', () => {
  async function seed(dir: string): Promise<Key[]> {
    const s = await open(dir);
    await s.put('ic', 'a', 'before snapshot');
    await s.put('ic', 'b', { shared: true });
    await s.compact();
    await s.put('ic', 'a', 'after snapshot');
    await s.put('ic', 'c', { shared: true });
    await s.close();
    return [
      ['ic', 'a'],
      ['ic', 'b'],
      ['ic', 'c'],
    ];
  }

  async function stateOf(dir: string, keys: Key[]): Promise<unknown> {
    const s = await open(dir);
    try {
      expect((await s.verify()).ok).toBe(true);
      return dump(s, keys);
    } finally {
      await s.close();
    }
  }

  it('a leftover snapshot .tmp is removed on open without data loss', async () => {
    const dir = newDir();
    const keys = await seed(dir);
    const expected = await stateOf(dir, keys);
    writeFileSync(join(dir, 'snapshot-000002.kds.tmp'), Buffer.from('KDSNAP01 half-written garbage'));
    writeFileSync(join(dir, 'log-000002.kdl.tmp'), Buffer.from('garbage'));
    expect(await stateOf(dir, keys)).toEqual(expected);
    expect(dataFiles(dir)).toEqual(['NODE', 'log-000001.kdl', 'snapshot-000001.kds']);
    // And the next compaction reuses generation 2 cleanly.
    const s = await open(dir);
    await s.compact();
    await s.close();
    expect(dataFiles(dir)).toEqual(['NODE', 'log-000002.kdl', 'snapshot-000002.kds']);
    expect(await stateOf(dir, keys)).toEqual(expected);
  });

  it("an older generation's files are removed once a newer snapshot exists", async () => {
    const dir = newDir();
    const keys = await seed(dir);
    const oldSnap = readFileSync(join(dir, 'snapshot-000001.kds'));
    const oldLog = readFileSync(join(dir, 'log-000001.kdl'));
    const s = await open(dir);
    await s.compact();
    await s.put('ic', 'd', 'in generation 2');
    await s.close();
    const expected = await stateOf(dir, [...keys, ['ic', 'd']]);
    // A crash after the new snapshot's rename, before the old files were deleted.
    writeFileSync(join(dir, 'snapshot-000001.kds'), oldSnap);
    writeFileSync(join(dir, 'log-000001.kdl'), oldLog);
    expect(await stateOf(dir, [...keys, ['ic', 'd']])).toEqual(expected);
    expect(dataFiles(dir)).toEqual(['NODE', 'log-000002.kdl', 'snapshot-000002.kds']);
  });

  it('a crash after the snapshot rename but before the new log existed loses nothing', async () => {
    const dir = newDir();
    const keys = await seed(dir);
    const expected = await stateOf(dir, keys);
    const oldSnap = readFileSync(join(dir, 'snapshot-000001.kds'));
    const oldLog = readFileSync(join(dir, 'log-000001.kdl'));
    const s = await open(dir);
    await s.compact();
    await s.close();
    writeFileSync(join(dir, 'snapshot-000001.kds'), oldSnap);
    writeFileSync(join(dir, 'log-000001.kdl'), oldLog);
    rmSync(join(dir, 'log-000002.kdl'));
    expect(await stateOf(dir, keys)).toEqual(expected);
    expect(dataFiles(dir)).toEqual(['NODE', 'log-000002.kdl', 'snapshot-000002.kds']);
  });
});
