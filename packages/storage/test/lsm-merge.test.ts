// The merge of the log-structured engine: the merging cursor against a reference, and
// runMerge / InlineMergeRunner over real segments and logs in a MemoryDirectory.
import { ErrorCodes, isKoruError } from '@koru/engine';
import { fcSeed, tempDir } from '@koru/vitest-preset/helpers';
import fc from 'fast-check';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { StorageFullError } from '../src/errors.js';
import type { OpenMode, RandomAccessFile, StorageDirectory } from '../src/lsm/io.js';
import { MemoryDirectory } from '../src/lsm/memory-directory.js';
import { runMerge, type MergeFilter, type MergeJob } from '../src/lsm/merge.js';
import { InlineMergeRunner } from '../src/lsm/merge-runner.js';
import { MergingCursor } from '../src/lsm/merging-cursor.js';
import { filterKeyOf } from '../src/lsm/segment-format.js';
import { SegmentWriter, type SegmentWriterOptions } from '../src/lsm/segment-writer.js';
import { KIND_DELETE, KIND_PUT, segmentFileName, type Entry, type EntryKind, type SegmentInfo } from '../src/lsm/types.js';
import { WalWriter } from '../src/lsm/wal.js';
import { NodeDirectory } from '../src/node/node-directory.js';
import { ArrayCursor } from './array-cursor.js';
import { readSegment } from './lsm-helpers.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const filters = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'merge-filters.mjs')).href;

const put = (key: string, value: string): Entry => ({ key, kind: KIND_PUT, value: enc.encode(value) });
const del = (key: string): Entry => ({ key, kind: KIND_DELETE, value: new Uint8Array(0) });
const sorted = (entries: Entry[]): Entry[] => entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

/** Newest-wins reference over sources given newest first. */
function reference(sources: readonly (readonly Entry[])[]): Entry[] {
  const map = new Map<string, Entry>();
  for (let s = sources.length - 1; s >= 0; s--) for (const e of sources[s]!) map.set(e.key, e);
  return sorted([...map.values()]);
}

function writeSegment(dir: StorageDirectory, n: number, entries: readonly Entry[], options: SegmentWriterOptions = {}): SegmentInfo {
  const file = dir.open(segmentFileName(n), 'create');
  const w = new SegmentWriter(file, n, options);
  for (const e of entries) w.add(e.key, e.kind, e.value);
  const info = w.finish();
  file.close();
  return info;
}


const show = (entries: readonly Entry[]): string[] => entries.map((e) => `${JSON.stringify(e.key)}:${e.kind}:${dec.decode(e.value)}`);

function job(inputs: MergeJob['inputs'], more: Partial<MergeJob> = {}): MergeJob {
  return { inputs, outputLevel: 1, firstFileNumber: 100, maxOutputs: 10, targetFileBytes: 1 << 30, dropDeletes: false, writer: {}, ...more };
}

describe('MergingCursor', () => {
  const key = fc.string({ unit: fc.constantFrom('a', 'b', '\x00', '\xff'), maxLength: 3 });
  const source = fc.uniqueArray(key, { maxLength: 12 });
  const op = fc.oneof(fc.record({ seek: key }), fc.constant({ first: true }), fc.constant({ next: true }));

  it('walks the newest entry of each key in ascending order, from any seek (fast-check, 0–9 sources: scan and heap)', () => {
    const seed = fcSeed('merging cursor');
    fc.assert(
      fc.property(fc.array(source, { maxLength: 9 }), fc.array(op, { maxLength: 40 }), (keySets, ops) => {
        // The value names the source, so "newest wins" is checked, not only the keys.
        const sources = keySets.map((keys, s) => sorted(keys.map((k) => put(k, `s${s}`))));
        const ref = reference(sources);
        const merged = new MergingCursor(sources.map((s) => new ArrayCursor(s)));
        // Sources start on their first entries, and so does the merge.
        let at = 0;
        const check = (): void => {
          expect(merged.valid()).toBe(at < ref.length);
          if (at < ref.length) {
            expect(merged.key()).toBe(ref[at]!.key);
            expect(dec.decode(merged.value())).toBe(dec.decode(ref[at]!.value));
            expect(merged.source()).toBe(Number(dec.decode(ref[at]!.value).slice(1)));
            expect(merged.kind()).toBe(KIND_PUT);
          }
        };
        check();
        for (const o of ops) {
          if ('seek' in o) {
            merged.seek(o.seek);
            at = ref.findIndex((e) => e.key >= o.seek);
            if (at < 0) at = ref.length;
          } else if ('first' in o) {
            merged.seekToFirst();
            at = 0;
          } else if (at < ref.length) {
            merged.next();
            at++;
          } else continue;
          check();
        }
        // And a full walk from the first entry.
        const walked: string[] = [];
        for (merged.seekToFirst(); merged.valid(); merged.next()) walked.push(`${merged.key()}=${dec.decode(merged.value())}`);
        expect(walked).toEqual(ref.map((e) => `${e.key}=${dec.decode(e.value)}`));
      }),
      { seed, numRuns: 400 },
    );
  });

  it('starts invalid over unpositioned sources and refuses key() there', () => {
    const merged = new MergingCursor([new ArrayCursor([put('a', '1')], false), new ArrayCursor([put('b', '2')], false)]);
    expect(merged.valid()).toBe(false);
    expect(() => merged.key()).toThrow(RangeError);
    merged.seekToFirst();
    expect(merged.key()).toBe('a');
  });

  it('lets a newer deletion marker hide an older value', () => {
    const merged = new MergingCursor([new ArrayCursor([del('k')]), new ArrayCursor([put('k', 'old'), put('z', 'z')])]);
    expect([merged.key(), merged.kind()]).toEqual(['k', KIND_DELETE]);
    merged.next();
    expect(merged.key()).toBe('z');
  });
});

describe('runMerge', () => {
  it('merges inputs of several read-ahead windows on a real directory (one reused window, copies handed out) as in memory', () => {
    const { dir: path, cleanup } = tempDir('koru-merge-windows-');
    try {
      const sources: Entry[][] = [];
      // Three inputs of ~1.4 MB each (several 512 KiB windows), overlapping keys, values
      // that differ per input so a block read from a stale window would show.
      for (let s = 0; s < 3; s++) {
        const entries: Entry[] = [];
        for (let i = s; i < 30_000; i += 2) entries.push(i % 97 === 0 ? del(`k${String(i).padStart(6, '0')}`) : put(`k${String(i).padStart(6, '0')}`, `${s}:${i}:${'v'.repeat(24 + (i % 40))}`));
        sources.push(entries);
      }
      const node = new NodeDirectory(path);
      const memory = new MemoryDirectory();
      for (const d of [node, memory]) sources.forEach((entries, i) => writeSegment(d, 10 - i, entries));
      const outputs = (d: StorageDirectory): Entry[] => runMerge(d, job(sources.map((_, i) => ({ segment: 10 - i })), { targetFileBytes: 1 << 20 })).outputs.flatMap((o) => readSegment(d, o.fileNumber));
      const got = outputs(node);
      expect(got.length).toBe(reference(sources).length);
      expect(show(got)).toEqual(show(reference(sources)));
      expect(show(outputs(memory))).toEqual(show(got));
    } finally {
      cleanup();
    }
  });

  it('writes the newest entry of every key, sorted, with counts and properties (fast-check)', () => {
    const seed = fcSeed('runMerge');
    const entry = fc.record({
      key: fc.string({ unit: fc.constantFrom('a', 'b', 'c', '\x00', '\x01', '\xfe'), minLength: 1, maxLength: 5 }),
      kind: fc.constantFrom<EntryKind>(KIND_PUT, KIND_PUT, KIND_DELETE),
      value: fc.string({ maxLength: 20 }),
    });
    fc.assert(
      fc.property(fc.array(fc.uniqueArray(entry, { selector: (e) => e.key, maxLength: 40 }), { minLength: 1, maxLength: 6 }), fc.boolean(), (raw, dropDeletes) => {
        const dir = new MemoryDirectory();
        const sources = raw.map((es) => sorted(es.map((e) => (e.kind === KIND_DELETE ? del(e.key) : put(e.key, e.value)))));
        sources.forEach((s, i) => writeSegment(dir, 10 - i, s));
        const result = runMerge(dir, job(sources.map((_, i) => ({ segment: 10 - i })), { dropDeletes, writer: { blockBytes: 64, properties: { tag: 'x' } } }));
        const expected = reference(sources).filter((e) => !dropDeletes || e.kind === KIND_PUT);
        const got = result.outputs.flatMap((o) => readSegment(dir, o.fileNumber));
        expect(show(got)).toEqual(show(expected));
        const read = sources.reduce((n, s) => n + s.length, 0);
        expect(result).toMatchObject({ read, written: expected.length, dropped: read - expected.length });
        expect(result.outputs.length).toBe(expected.length === 0 ? 0 : 1);
        for (const o of result.outputs) {
          expect(o.properties).toEqual({ tag: 'x', level: 1, inputs: sources.map((_, i) => ({ segment: 10 - i })), output: 0 });
          expect(o.fileNumber).toBe(100);
        }
        // The inputs are untouched, and nothing else was created.
        expect(dir.list()).toEqual([...sources.map((_, i) => segmentFileName(10 - i)), ...result.outputs.map((o) => segmentFileName(o.fileNumber))].sort());
      }),
      { seed, numRuns: 150 },
    );
  });

  it('cuts outputs at targetFileBytes, never inside one filter key, and the last reserved output takes the rest', () => {
    const dir = new MemoryDirectory();
    // 60 names × 1–12 versions each: `name\0\1 seq`, the filter key being the name.
    const older: Entry[] = [];
    const newer: Entry[] = [];
    for (let n = 0; n < 60; n++) {
      for (let v = 0; v < 1 + ((n * 7) % 12); v++) {
        const key = `n${String(n).padStart(3, '0')}\x00\x01${String(v).padStart(3, '0')}`;
        (v % 3 === 0 ? newer : older).push(put(key, 'x'.repeat(40)));
      }
    }
    const writer = { blockBytes: 256, filterKeyParts: 1 };
    writeSegment(dir, 1, older, writer);
    writeSegment(dir, 2, newer, writer);
    const target = 3000;
    const r = runMerge(dir, job([{ segment: 2 }, { segment: 1 }], { targetFileBytes: target, writer }));
    expect(r.outputs.length).toBeGreaterThan(3);
    expect(r.outputs.map((o) => o.fileNumber)).toEqual(r.outputs.map((_, i) => 100 + i));
    const groups = new Map<string, number>();
    let all: Entry[] = [];
    r.outputs.forEach((o, i) => {
      const entries = readSegment(dir, o.fileNumber);
      for (const e of entries) {
        const g = filterKeyOf(e.key, 1)!;
        expect(groups.get(g) ?? i, `filter key ${JSON.stringify(g)} split between outputs`).toBe(i);
        groups.set(g, i);
      }
      // Each output but the last reached the target before it was cut.
      if (i < r.outputs.length - 1) expect(o.bytes).toBeGreaterThanOrEqual(target);
      // ...and no output runs past the target by more than the group that crossed it.
      expect(o.bytes).toBeLessThan(target + 13 * 80 + 1024);
      all = all.concat(entries);
    });
    expect(show(all)).toEqual(show(reference([newer, older])));
    for (let i = 1; i < r.outputs.length; i++) expect(r.outputs[i - 1]!.lastKey < r.outputs[i]!.firstKey).toBe(true);

    // With 2 numbers reserved, the second output holds everything after the first cut.
    const two = runMerge(dir, job([{ segment: 2 }, { segment: 1 }], { targetFileBytes: target, writer, firstFileNumber: 200, maxOutputs: 2 }));
    expect(two.outputs.map((o) => o.fileNumber)).toEqual([200, 201]);
    expect(two.outputs[0]!.count).toBe(r.outputs[0]!.count);
    expect(two.outputs[1]!.count).toBe(r.written - r.outputs[0]!.count);
  });

  it('copies inputs and outputs of several MiB exactly (reads across read-ahead windows, a value bigger than one)', () => {
    const dir = new MemoryDirectory();
    const big = new Uint8Array(1536 * 1024).map((_, i) => (i * 31) & 255);
    const a: Entry[] = [];
    const b: Entry[] = [];
    for (let i = 0; i < 3000; i++) {
      const e = { key: `k${String(i).padStart(5, '0')}`, kind: KIND_PUT, value: new Uint8Array(1000 + (i % 7)).fill(i & 255) } satisfies Entry;
      (i % 2 === 0 ? a : b).push(i === 1500 ? { ...e, value: big } : e);
    }
    writeSegment(dir, 1, a);
    writeSegment(dir, 2, b);
    const r = runMerge(dir, job([{ segment: 2 }, { segment: 1 }]));
    expect(r.outputs).toHaveLength(1);
    expect(r.outputs[0]!.bytes).toBeGreaterThan(4 * 1024 * 1024);
    const got = readSegment(dir, 100);
    const want = sorted([...a, ...b]);
    expect(got.map((e) => e.key)).toEqual(want.map((e) => e.key));
    for (let i = 0; i < want.length; i++) expect(got[i]!.value, want[i]!.key).toEqual(want[i]!.value);
  });

  it('keeps deletion markers (and hides what they delete) unless dropDeletes, which drops them', () => {
    const dir = new MemoryDirectory();
    writeSegment(dir, 1, [put('a', '1'), put('b', '1'), put('c', '1')]);
    writeSegment(dir, 2, [del('a'), del('c'), del('d')]);
    const inputs = [{ segment: 2 }, { segment: 1 }];
    const kept = runMerge(dir, job(inputs));
    expect(show(readSegment(dir, 100))).toEqual(['"a":1:', '"b":0:1', '"c":1:', '"d":1:']);
    expect(kept).toMatchObject({ read: 6, written: 4, dropped: 2 });
    const dropped = runMerge(dir, job(inputs, { dropDeletes: true, firstFileNumber: 200 }));
    expect(show(readSegment(dir, 200))).toEqual(['"b":0:1']);
    expect(dropped).toMatchObject({ read: 6, written: 1, dropped: 5 });
    // Nothing survives: no output file at all.
    const none = runMerge(dir, job([{ segment: 2 }], { dropDeletes: true, firstFileNumber: 300 }));
    expect(none.outputs).toEqual([]);
    expect(dir.exists(segmentFileName(300))).toBe(false);
  });

  it('applies a filter in key order: dropped entries vanish, replaced values are written', () => {
    const dir = new MemoryDirectory();
    writeSegment(dir, 1, [put('a', 'old'), put('b', 'bee'), put('c', 'sea'), put('d', 'dee')]);
    writeSegment(dir, 2, [put('a', 'new'), del('c')]);
    const seen: string[] = [];
    const filter: MergeFilter = (key, kind, value) => {
      seen.push(`${key}:${kind}:${dec.decode(value)}`);
      if (key === 'b') return 'drop';
      if (key === 'd') return enc.encode('DEE');
      return 'keep';
    };
    const r = runMerge(dir, job([{ segment: 2 }, { segment: 1 }]), filter);
    expect(seen).toEqual(['a:0:new', 'b:0:bee', 'c:1:', 'd:0:dee']);
    expect(show(readSegment(dir, 100))).toEqual(['"a":0:new', '"c":1:', '"d":0:DEE']);
    expect(r).toMatchObject({ read: 6, written: 3, dropped: 3 });
  });

  it('refuses a filter answer it cannot write, a job naming a filter it was not given, and bad jobs; leaving no output', () => {
    const dir = new MemoryDirectory();
    writeSegment(dir, 1, [put('a', '1'), del('b')]);
    const inputs = [{ segment: 1 }];
    const codeOf = (f: () => unknown): unknown => {
      try {
        f();
      } catch (e) {
        return isKoruError(e) ? e.code : e;
      }
      return 'no error';
    };
    expect(codeOf(() => runMerge(dir, job(inputs), (key) => (key === 'b' ? enc.encode('x') : 'keep')))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => runMerge(dir, job(inputs), () => 'maybe' as 'keep'))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => runMerge(dir, job(inputs, { filter: { module: filters, params: {} } })))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => runMerge(dir, job([])))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => runMerge(dir, job(inputs, { maxOutputs: 0 })))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => runMerge(dir, job(inputs, { targetFileBytes: 0 })))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(dir.list()).toEqual([segmentFileName(1)]);
  });

  it('removes every output it created when the device fills at the second output, and keeps the inputs', () => {
    const inner = new MemoryDirectory();
    let creates = 0;
    const dir: StorageDirectory = {
      location: 'full',
      open(name: string, mode: OpenMode): RandomAccessFile {
        if (mode === 'create' && ++creates === 2) throw new StorageFullError(`no space for ${name}`);
        return inner.open(name, mode);
      },
      list: () => inner.list(),
      exists: (name) => inner.exists(name),
      remove: (name) => inner.remove(name),
      writeAtomic: (name, bytes) => inner.writeAtomic(name, bytes),
      readAll: (name) => inner.readAll(name),
      syncDirectory: () => inner.syncDirectory(),
    };
    const entries = Array.from({ length: 200 }, (_, i) => put(`k${String(i).padStart(4, '0')}`, 'v'.repeat(50)));
    writeSegment(inner, 1, entries);
    creates = 0;
    expect(() => runMerge(dir, job([{ segment: 1 }], { targetFileBytes: 2000 }))).toThrow(expect.objectContaining({ code: ErrorCodes.STORAGE_FULL }));
    expect(creates).toBe(2);
    expect(inner.list()).toEqual([segmentFileName(1)]);
    expect(readSegment(inner, 1).length).toBe(200);
  });

  it('reports a damaged input as CORRUPTION and writes nothing', () => {
    const dir = new MemoryDirectory();
    writeSegment(dir, 1, Array.from({ length: 50 }, (_, i) => put(`k${String(i).padStart(2, '0')}`, 'v')), { blockBytes: 64 });
    dir.flipBit(segmentFileName(1), 10);
    expect(() => runMerge(dir, job([{ segment: 1 }]))).toThrow(expect.objectContaining({ code: ErrorCodes.CORRUPTION }));
    expect(dir.list()).toEqual([segmentFileName(1)]);
  });

  it('flushes write-ahead logs (later batches win, a newer log wins) together with segments', () => {
    const dir = new MemoryDirectory();
    const older = WalWriter.create(dir, 5, { sync: 'always' });
    older.append([put('a', '1'), put('b', '1'), put('c', '1')]);
    older.append([put('b', '2'), del('c')]);
    older.close();
    const newer = WalWriter.create(dir, 7, { sync: 'always' });
    newer.append([put('a', '3'), put('d', '3')]);
    newer.close();
    writeSegment(dir, 2, [put('a', '0'), put('e', '0')]);
    const r = runMerge(dir, job([{ wal: 7 }, { wal: 5 }, { segment: 2 }], { outputLevel: 0, maxOutputs: 1, targetFileBytes: Number.MAX_SAFE_INTEGER }));
    expect(show(readSegment(dir, 100))).toEqual(['"a":0:3', '"b":0:2', '"c":1:', '"d":0:3', '"e":0:0']);
    // Every logged entry counts as read, the rewritten ones too.
    expect(r).toMatchObject({ read: 5 + 2 + 2, written: 5, dropped: 4 });
    expect(r.outputs[0]!.properties).toMatchObject({ level: 0, inputs: [{ wal: 7 }, { wal: 5 }, { segment: 2 }] });
  });
});

describe('InlineMergeRunner', () => {
  it('runs jobs after the current task, in order, loading the job filter module', async () => {
    const dir = new MemoryDirectory();
    writeSegment(dir, 1, [put('a', 'aa'), put('b', 'bb'), put('c', 'cc'), put('d', 'dd')]);
    const runner = new InlineMergeRunner(dir);
    const order: string[] = [];
    const first = runner.run(job([{ segment: 1 }], { filter: { module: filters, params: { mode: 'keep-even' } } })).then((r) => order.push(`first ${r.written}`));
    const second = runner.run(job([{ segment: 1 }], { firstFileNumber: 200 })).then((r) => order.push(`second ${r.written}`));
    order.push('sync');
    await Promise.all([first, second]);
    expect(order).toEqual(['sync', 'first 2', 'second 4']);
    // 'a' (97) and 'c' (99) are odd: dropped; kept values get their first byte upper-cased.
    expect(show(readSegment(dir, 100))).toEqual(['"b":0:Bb', '"d":0:Dd']);
    await runner.close();
  });

  it('rejects a failed job with its error and runs the next; after close, jobs reject with CLOSED', async () => {
    const dir = new MemoryDirectory();
    writeSegment(dir, 1, [put('a', '1')]);
    const runner = new InlineMergeRunner(dir);
    const failed = runner.run(job([{ segment: 9 }]));
    const ok = runner.run(job([{ segment: 1 }]));
    await expect(failed).rejects.toMatchObject({ code: ErrorCodes.IO_ERROR });
    await expect(ok).resolves.toMatchObject({ written: 1 });
    await expect(runner.run(job([{ segment: 1 }], { filter: { module: filters, params: { mode: 'throw' } } }))).rejects.toThrow('filter failed on purpose');
    const pending = runner.run(job([{ segment: 1 }], { firstFileNumber: 300 }));
    await runner.close();
    await expect(pending).rejects.toMatchObject({ code: ErrorCodes.CLOSED });
    await expect(runner.run(job([{ segment: 1 }]))).rejects.toMatchObject({ code: ErrorCodes.CLOSED });
    expect(dir.exists(segmentFileName(300))).toBe(false);
  });
});
