// Segment files: round trips, lookups, cursors, the filter's key rule, and damage
// (every flipped byte, every truncation) reported as CORRUPTION, never a wrong answer.
import { join } from 'node:path';
import { ErrorCodes, KoruError } from '@koru/engine';
import { fcSeed, prng, tempDir } from '@koru/vitest-preset/helpers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RandomAccessFile } from '../src/lsm/io.js';
import { NodeFile } from './lsm-node-file.js';
import { StorageFullError } from '../src/errors.js';
import { MemoryDirectory } from '../src/lsm/memory-directory.js';
import { murmur3 } from '../src/lsm/bloom.js';
import { crc32 } from '../src/lsm/checksum.js';
import { BlockScan } from '../src/lsm/segment-block.js';
import { getU32 } from '../src/lsm/bytes.js';
import { BLOOM_SEED_1, BLOOM_SEED_2, FOOTER_BYTES } from '../src/lsm/segment-format.js';
import { TopIndex } from '../src/lsm/segment-index.js';
import { SegmentReader } from '../src/lsm/segment-reader.js';
import { SegmentWriter, type SegmentWriterOptions } from '../src/lsm/segment-writer.js';
import { KIND_DELETE, KIND_PUT, segmentFileName, type BlockCache, type Entry, type EntryKind } from '../src/lsm/types.js';

/** A BlockCache without a bound (the real one is written elsewhere), counting misses. */
class MapCache implements BlockCache {
  readonly map = new Map<string, Uint8Array>();
  readonly budget = Number.POSITIVE_INFINITY;
  get bytes(): number {
    let n = 0;
    for (const b of this.map.values()) n += b.length;
    return n;
  }
  get(fileNumber: number, offset: number): Uint8Array | undefined {
    return this.map.get(`${fileNumber}:${offset}`);
  }
  set(fileNumber: number, offset: number, block: Uint8Array): void {
    this.map.set(`${fileNumber}:${offset}`, block);
  }
  evictFile(fileNumber: number): void {
    for (const k of [...this.map.keys()]) if (k.startsWith(`${fileNumber}:`)) this.map.delete(k);
  }
}

const bin = (bytes: readonly number[]): string => String.fromCharCode(...bytes);
const bytesOf = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

function writeSegment(entries: readonly Entry[], options: SegmentWriterOptions = {}, dir = new MemoryDirectory(), n = 7) {
  const file = dir.open(segmentFileName(n), 'create');
  const writer = new SegmentWriter(file, n, options);
  for (const e of entries) writer.add(e.key, e.kind, e.value);
  const info = writer.finish();
  file.close();
  return { dir, info, name: segmentFileName(n) };
}

function openSegment(dir: MemoryDirectory, n = 7, cache: BlockCache = new MapCache()): SegmentReader {
  return SegmentReader.open(dir.open(segmentFileName(n), 'read'), n, cache);
}

/** The top index of a segment file's bytes, found through its footer. */
function topIndexOf(file: Uint8Array): TopIndex {
  const footer = file.subarray(file.length - FOOTER_BYTES);
  const at = getU32(footer, 8);
  return TopIndex.parse(file.subarray(at, at + getU32(footer, 16)), at, (what) => new Error(what) as never);
}

/** No data block the cache holds passes blockBytes, unless one entry alone does (index and filter partitions may). */
function expectBlocksWithin(dir: MemoryDirectory, cache: MapCache, blockBytes: number): void {
  const file = dir.readAll(segmentFileName(7))!;
  const top = topIndexOf(file);
  const dataEnd = top.dataOffsets[top.count]!;
  for (const [at, block] of cache.map) {
    const offset = Number(at.split(':')[1]);
    if (offset >= dataEnd) continue;
    const scan = new BlockScan(dir.open(segmentFileName(7), 'read'));
    scan.reset(block, offset);
    scan.step();
    if (block.length > blockBytes) expect(scan.step(), `block at ${at}`).toBe(false);
  }
}

function scanAll(reader: SegmentReader): Entry[] {
  const out: Entry[] = [];
  const c = reader.cursor();
  for (c.seekToFirst(); c.valid(); c.next()) out.push({ key: c.key(), kind: c.kind(), value: c.value().slice() });
  return out;
}

/** Index of the first entry with key ≥ target (the model of `seek`). */
function lowerBound(entries: readonly Entry[], target: string): number {
  let i = 0;
  while (i < entries.length && entries[i]!.key < target) i++;
  return i;
}

const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
    return undefined;
  } catch (e) {
    if (e instanceof KoruError) return e.code;
    throw e;
  }
};

/** Sorted, distinct entries; keys from a small alphabet (long shared prefixes, 0x00 and 0xFF) or any bytes. */
const entriesArb = fc
  .array(
    fc.record({
      key: fc.oneof(fc.array(fc.constantFrom(0, 1, 2, 97, 98, 255), { maxLength: 14 }), fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 40 })).map(bin),
      kind: fc.constantFrom<EntryKind>(KIND_PUT, KIND_PUT, KIND_DELETE),
      value: fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ maxLength: 300 })),
    }),
    { maxLength: 300 },
  )
  .map((raw) => {
    const seen = new Map<string, Entry>();
    for (const e of raw) seen.set(e.key, e.kind === KIND_DELETE ? { ...e, value: new Uint8Array(0) } : e);
    return [...seen.values()].sort((a, b) => (a.key < b.key ? -1 : 1));
  });

const optionsArb = fc.record({
  blockBytes: fc.integer({ min: 64, max: 2048 }),
  restartInterval: fc.integer({ min: 1, max: 20 }),
  bloomBitsPerKey: fc.constantFrom(0, 1, 10),
  filterKeyParts: fc.constantFrom(0, 0, 1, 2),
});

describe('segment round trip', () => {
  it('reads back every entry, by cursor, get and seek, for random sorted entries and layouts', () => {
    const seed = fcSeed('segment round trip');
    fc.assert(
      fc.property(entriesArb, optionsArb, fc.array(fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 16 }).map(bin), { maxLength: 30 }), (entries, options, probes) => {
        const { dir, info } = writeSegment(entries, { ...options, properties: { seq: [1, 2] } });
        const cache = new MapCache();
        const reader = openSegment(dir, 7, cache);
        expect(reader.info).toEqual(info);
        expect(info).toMatchObject({ fileNumber: 7, count: entries.length, firstKey: entries[0]?.key ?? '', lastKey: entries.at(-1)?.key ?? '', properties: { seq: [1, 2] } });
        expect(info.bytes).toBe(dir.readAll(segmentFileName(7))!.length);
        expect(scanAll(reader)).toEqual(entries);
        expectBlocksWithin(dir, cache, options.blockBytes);
        // Keys asked for only now and then (a key is built from the previous one's when known).
        const sparse = reader.cursor();
        let i = 0;
        for (sparse.seekToFirst(); sparse.valid(); sparse.next(), i++) if (i % 3 === 1) expect(sparse.key()).toBe(entries[i]!.key);
        expect(i).toBe(entries.length);
        for (const e of entries) {
          const found = reader.get(e.key);
          expect(found).toBeDefined();
          expect({ kind: found!.kind, value: found!.value.slice() }).toEqual({ kind: e.kind, value: e.value });
          expect(reader.mayContain(e.key)).toBe(true);
        }
        const present = new Set(entries.map((e) => e.key));
        // Seek targets of every kind: each key, just after it, a prefix of it, a bigger
        // sibling (inside a separator gap), random strings, before all, after all.
        const targets = ['', '\xff'.repeat(50), ...probes];
        for (const e of entries) {
          targets.push(e.key, `${e.key}\x00`, e.key.slice(0, -1));
          if (e.key.length > 0) targets.push(e.key.slice(0, -1) + String.fromCharCode(Math.min(255, e.key.charCodeAt(e.key.length - 1) + 1)));
        }
        const c = reader.cursor();
        for (const t of targets) {
          c.seek(t);
          const i = lowerBound(entries, t);
          expect(c.valid()).toBe(i < entries.length);
          if (i < entries.length) {
            expect(c.key()).toBe(entries[i]!.key);
            c.next();
            expect(c.valid() ? c.key() : undefined).toBe(entries[i + 1]?.key);
          }
          if (!present.has(t)) expect(reader.get(t)).toBeUndefined();
        }
        reader.close();
      }),
      { seed, numRuns: 150 },
    );
  });

  it('holds a value far bigger than a block (17 MiB) in a block of its own, between small ones', () => {
    const huge = new Uint8Array(17 * 1024 * 1024);
    for (let i = 0; i < huge.length; i += 4093) huge[i] = i & 0xff;
    const entries: Entry[] = [
      { key: 'a', kind: KIND_PUT, value: bytesOf('small') },
      { key: 'b', kind: KIND_PUT, value: huge },
      { key: 'c', kind: KIND_DELETE, value: new Uint8Array(0) },
    ];
    const { dir } = writeSegment(entries, { blockBytes: 4096 });
    const cache = new MapCache();
    const reader = openSegment(dir, 7, cache);
    // Compared as bytes: a deep equality over 17 M elements would take the test down.
    const found = reader.get('b')!.value;
    expect(found.length).toBe(huge.length);
    expect(Buffer.compare(found, huge)).toBe(0);
    // The huge entry's block holds it alone: the blocks of 'a' and 'c' stay small.
    reader.get('a');
    reader.get('c');
    const top = topIndexOf(dir.readAll(segmentFileName(7))!);
    const dataBlocks = [...cache.map].filter(([at]) => Number(at.split(':')[1]) < top.dataOffsets[top.count]!).map(([, b]) => b.length).sort((x, y) => x - y);
    expect(dataBlocks).toHaveLength(3);
    expect(dataBlocks[1]).toBeLessThan(4096);
    expect(dataBlocks[2]).toBeGreaterThan(huge.length);
    const c = reader.cursor();
    const seen: string[] = [];
    for (c.seekToFirst(); c.valid(); c.next()) seen.push(`${c.key()}:${c.value().length}`);
    expect(seen).toEqual(['a:5', `b:${huge.length}`, 'c:0']);
  });

  it("counts a restart entry's whole key against blockBytes (keys sharing long prefixes)", () => {
    // Restart points store the whole key; a block sized by the shorter shared-prefix
    // entry used to pass blockBytes by the prefix's length.
    const prefix = 'p'.repeat(60);
    const entries: Entry[] = Array.from({ length: 400 }, (_, i) => ({ key: `${prefix}${String(i).padStart(4, '0')}`, kind: KIND_PUT, value: bytesOf(`v${i % 7}`) }));
    for (const restartInterval of [1, 2, 3, 16]) {
      for (const blockBytes of [64, 100, 128, 200, 256]) {
        const { dir } = writeSegment(entries, { blockBytes, restartInterval });
        const cache = new MapCache();
        const reader = openSegment(dir, 7, cache);
        expect(scanAll(reader)).toEqual(entries);
        expectBlocksWithin(dir, cache, blockBytes);
        reader.close();
      }
    }
  });

  it('writes and reads an empty segment', () => {
    const { dir, info } = writeSegment([]);
    expect(info).toMatchObject({ count: 0, firstKey: '', lastKey: '', properties: {} });
    const reader = openSegment(dir);
    expect(reader.info).toEqual(info);
    expect(reader.get('')).toBeUndefined();
    expect(reader.get('a')).toBeUndefined();
    expect(reader.mayContain('a')).toBe(false);
    const c = reader.cursor();
    c.seekToFirst();
    expect(c.valid()).toBe(false);
    c.seek('');
    expect(c.valid()).toBe(false);
    expect(codeOf(() => c.key())).toBe(ErrorCodes.INVALID_ARGUMENT);
  });

  it('works through a real file; open reads no data block, and a block is read once, then served by the cache', () => {
    const { dir, cleanup } = tempDir('koru-seg-');
    try {
      const path = join(dir, segmentFileName(3));
      const entries: Entry[] = Array.from({ length: 5000 }, (_, i) => ({ key: `key-${String(i).padStart(6, '0')}`, kind: KIND_PUT, value: bytesOf(`value ${i}`) }));
      const file = new NodeFile(path, true);
      const writer = new SegmentWriter(file, 3);
      for (const e of entries) writer.add(e.key, e.kind, e.value);
      const before = writer.estimatedBytes;
      const info = writer.finish();
      file.close();
      expect(before).toBeLessThanOrEqual(info.bytes);
      expect(before).toBeGreaterThan(info.bytes * 0.9);

      const rf = new NodeFile(path, false);
      const reads: number[] = [];
      const counted: RandomAccessFile = {
        name: rf.name,
        size: () => rf.size(),
        read: (offset, length) => (reads.push(offset), rf.read(offset, length)),
        append: (bytes) => rf.append(bytes),
        sync: () => rf.sync(),
        truncate: (length) => rf.truncate(length),
        close: () => rf.close(),
      };
      const cache = new MapCache();
      const reader = SegmentReader.open(counted, 3, cache);
      expect(cache.map.size).toBe(0);
      expect(reads.length).toBe(2); // the footer, then the top index and properties in one read
      expect(reader.residentBytes).toBeGreaterThan(0);
      expect(new TextDecoder().decode(reader.get('key-004321')!.value)).toBe('value 4321');
      expect(reads.length).toBe(5); // its filter partition, index partition and data block
      expect(cache.map.size).toBe(3);
      expect(reader.get('key-004322')).toBeDefined();
      expect(reads.length).toBe(5);
      expect(scanAll(reader)).toEqual(entries);
      reader.close();
    } finally {
      cleanup();
    }
  });
});

describe('segment layout', () => {
  it('is byte for byte the documented format (blocks, CRCs, filter probes, index, properties, footer)', () => {
    const { dir } = writeSegment(
      [
        { key: 'ab', kind: KIND_PUT, value: Uint8Array.of(1, 2) },
        { key: 'ac', kind: KIND_DELETE, value: new Uint8Array(0) },
      ],
      { properties: { p: 1 } },
    );
    const file = dir.readAll(segmentFileName(7))!;
    const hex = (from: number, to: number) => Buffer.from(file.subarray(from, to)).toString('hex');
    const crcAt = (from: number, size: number) => expect(getU32(file, from + size)).toBe(crc32(file, 0, from, from + size));
    // Data block: shared | unshared | value length | kind | key suffix | value; restarts [0]; 1 restart.
    expect(hex(0, 21)).toBe('00020200' + '6162' + '0102' + '01010001' + '63' + '00000000' + '01000000');
    crcAt(0, 21);
    // Index partition, in the data block layout: separator 'ac' → handle (offset 0, size 21).
    expect(hex(25, 41)).toBe('00020200' + '6163' + '0015' + '00000000' + '01000000');
    crcAt(25, 16);
    // Filter partition: max(8, ceil(2 × 10 / 8)) bytes of bits, then k = round(10 ln 2) = 7 probes.
    const bits = file.subarray(45, 53);
    expect(file[53]).toBe(7);
    crcAt(45, 9);
    const expected = new Uint8Array(8);
    for (const key of ['ab', 'ac']) {
      const h1 = murmur3(key, BLOOM_SEED_1);
      const h2 = murmur3(key, BLOOM_SEED_2);
      for (let i = 0; i < 7; i++) {
        const b = Number((BigInt(h1) + BigInt(i) * BigInt(h2)) % 2n ** 32n) % 64;
        expected[b >> 3]! |= 1 << (b & 7);
      }
    }
    expect([...bits]).toEqual([...expected]);
    // Top index: key length, last separator 'ac', data at 0, index partition at 25 (16 bytes), filter at 45 (9 bytes); 1 partition.
    expect(hex(58, 70)).toBe('02' + '6163' + '00' + '19' + '10' + '2d' + '09' + '01000000');
    crcAt(58, 12);
    const propsSize = file.length - FOOTER_BYTES - 4 - 74;
    expect(JSON.parse(new TextDecoder().decode(file.subarray(74, 74 + propsSize)))).toEqual({
      formatVersion: 2,
      fileNumber: 7,
      count: 2,
      firstKey: 'ab',
      lastKey: 'ac',
      filterKeyParts: 0,
      properties: { p: 1 },
    });
    crcAt(74, propsSize);
    const f = file.length - FOOTER_BYTES;
    expect(FOOTER_BYTES).toBe(36);
    const u32 = (v: number) => Buffer.from(Uint32Array.of(v).buffer).toString('hex');
    expect(hex(f, f + 32)).toBe(Buffer.from('KDSEG002').toString('hex') + u32(58) + u32(0) + u32(12) + u32(74) + u32(0) + u32(propsSize));
    crcAt(f, 32);
  });

  it('without a filter (bloomBitsPerKey 0), writes filter partitions of no bytes at all', () => {
    const entries: Entry[] = Array.from({ length: 400 }, (_, i) => ({ key: `k${String(i).padStart(5, '0')}`, kind: KIND_PUT, value: new Uint8Array(20) }));
    const { dir } = writeSegment(entries, { bloomBitsPerKey: 0, blockBytes: 128 });
    const top = topIndexOf(dir.readAll(segmentFileName(7))!);
    expect(top.count).toBeGreaterThan(3);
    expect([...top.filterSizes].every((n) => n === 0)).toBe(true);
    const reader = openSegment(dir);
    expect(reader.mayContain('k00005x')).toBe(true);
    for (const e of entries) expect(reader.get(e.key)?.value).toEqual(e.value);
  });

  it('hashes the filter with MurmurHash3_x86_32 (reference values)', () => {
    expect(murmur3('', 0)).toBe(0);
    expect(murmur3('', 1)).toBe(0x514e28b7);
    expect(murmur3('hello', 0)).toBe(0x248bfa47);
    expect(murmur3('The quick brown fox jumps over the lazy dog', 0)).toBe(0x2e4ff723);
  });
});

describe('segment partitions', () => {
  const many: Entry[] = Array.from({ length: 20_000 }, (_, i) => ({ key: `key-${String(i).padStart(7, '0')}`, kind: KIND_PUT, value: bytesOf(`value ${i}`) }));

  /** A RandomAccessFile over `dir`'s segment that records the offset and length of every read. */
  function counted(dir: MemoryDirectory, reads: Array<[number, number]>): RandomAccessFile {
    const inner = dir.open(segmentFileName(7), 'read');
    return { ...inner, name: inner.name, size: () => inner.size(), read: (offset, length) => (reads.push([offset, length]), inner.read(offset, length)), close: () => inner.close() };
  }

  it('splits the index and the filter into partitions of about blockBytes, and keeps only the top index in memory', () => {
    const { dir } = writeSegment(many, { blockBytes: 256 });
    const file = dir.readAll(segmentFileName(7))!;
    const top = topIndexOf(file);
    expect(top.count).toBeGreaterThan(20);
    let partitionBytes = 0;
    for (let p = 0; p < top.count; p++) {
      // A partition ends at the entry that brings it to blockBytes: one short entry over at most.
      if (p < top.count - 1) expect(top.indexSizes[p]).toBeGreaterThanOrEqual(256);
      expect(top.indexSizes[p]).toBeLessThan(256 + 32);
      expect(top.filterSizes[p]).toBeGreaterThan(8);
      partitionBytes += top.indexSizes[p]! + top.filterSizes[p]!;
    }
    const reader = openSegment(dir);
    // The top index and the properties: some bytes per partition (not per block), a
    // fraction of the partitions it points to even when they are this small.
    expect(reader.residentBytes).toBeLessThan(2048 + 64 * top.count);
    expect(reader.residentBytes).toBeLessThan(partitionBytes / 3);
    expect(reader.residentBytes).toBeGreaterThan(top.count * 10);
  });

  it('reads index partitions through the cache, and a scan reads them ahead in few reads', () => {
    const { dir } = writeSegment(many, { blockBytes: 256 });
    const reads: Array<[number, number]> = [];
    const cache = new MapCache();
    const reader = SegmentReader.open(counted(dir, reads), 7, cache);
    reads.length = 0;
    expect(reader.get(many[12_345]!.key)).toBeDefined();
    // Its filter partition, index partition and data block, each once and then cached.
    expect(reads).toHaveLength(3);
    expect(reader.get(many[12_346]!.key)).toBeDefined();
    expect(reads).toHaveLength(3);

    const none: BlockCache = { get: () => undefined, set: () => {}, evictFile: () => {}, bytes: 0, budget: 0 };
    // Tiny blocks: hundreds of KB of index partitions.
    const big: Entry[] = Array.from({ length: 100_000 }, (_, i) => ({ key: `key-${String(i).padStart(7, '0')}`, kind: KIND_PUT, value: new Uint8Array(8) }));
    const scanned = writeSegment(big, { blockBytes: 64 }).dir;
    const bigTop = topIndexOf(scanned.readAll(segmentFileName(7))!);
    const dataEnd = bigTop.dataOffsets[bigTop.count]!;
    const indexEnd = bigTop.filterOffsets[0]!;
    expect(indexEnd - dataEnd).toBeGreaterThan(300 * 1024);
    const uncached = SegmentReader.open(counted(scanned, reads), 7, none);
    reads.length = 0;
    expect(scanAll(uncached)).toEqual(big);
    // A scan reads data blocks and index partitions, no filter partition.
    expect(reads.filter(([offset]) => offset >= indexEnd)).toEqual([]);
    const indexReads = reads.filter(([offset]) => offset >= dataEnd);
    // Whole partitions, at least 64 KiB at a time, then twice as much each time (up to 512 KiB), not one read per partition.
    let target = 64 * 1024;
    for (const [offset, length] of indexReads) {
      if (offset + length < indexEnd) expect(length).toBeGreaterThanOrEqual(target);
      expect(length).toBeLessThan(target + 1024);
      target = Math.min(2 * target, 512 * 1024);
    }
    expect(indexReads.reduce((n, [, length]) => n + length, 0)).toBe(indexEnd - dataEnd);
    expect(indexReads.length).toBe(3);
  });

  it('gives a filter key whose entries span several partitions to the filter of each of them', () => {
    // One namespace+key with 3000 versions over tiny blocks: dozens of partitions, each
    // filter holding that filter key (and the neighbours' where they meet).
    const name = (s: string) => `${s}\x00\x01`;
    const entries: Entry[] = [];
    for (const k of ['a', 'b', 'c']) for (let v = 0; v < (k === 'b' ? 3000 : 5); v++) entries.push({ key: `${name('ns') + name(k)}${String(v).padStart(5, '0')}`, kind: KIND_PUT, value: new Uint8Array(8) });
    const { dir } = writeSegment(entries, { blockBytes: 64, filterKeyParts: 2, bloomBitsPerKey: 10 });
    const top = topIndexOf(dir.readAll(segmentFileName(7))!);
    expect(top.count).toBeGreaterThan(10);
    const reader = openSegment(dir);
    for (const k of ['a', 'b', 'c']) expect(reader.mayContain(name('ns') + name(k))).toBe(true);
    // Every get consults the filter of its own partition: each must hold the filter key.
    for (const e of entries) expect(reader.get(e.key)?.value, e.key).toEqual(e.value);
    let absent = 0;
    for (let i = 0; i < 200; i++) if (!reader.mayContain(name('ns') + name(`b${i}`))) absent++;
    expect(absent).toBeGreaterThan(180);
  });
});

describe('segment filter', () => {
  // Version-store style keys: names ended by 0x00 0x01, a 0x00 byte inside escaped as 0x00 0xFF.
  const name = (s: string) => `${s.replace(/\x00/g, '\x00\xff')}\x00\x01`;
  const versionKey = (ns: string, key: string, v: number) => name(ns) + name(key) + String(v).padStart(4, '0');

  it('with filterKeyParts 2, holds each namespace+key once, leaves out keys with fewer names, and never hides a present key', () => {
    const entries: Entry[] = [];
    entries.push({ key: 'bare', kind: KIND_PUT, value: bytesOf('no terminator') });
    entries.push({ key: name('solo'), kind: KIND_PUT, value: bytesOf('one name') });
    for (let k = 0; k < 10; k++) for (let v = 0; v < 100; v++) entries.push({ key: versionKey('ns', `k\x00${k}`, v), kind: KIND_PUT, value: bytesOf(`${k}.${v}`) });
    entries.sort((a, b) => (a.key < b.key ? -1 : 1));
    const { dir } = writeSegment(entries, { filterKeyParts: 2, bloomBitsPerKey: 10 });
    const top = topIndexOf(dir.readAll(segmentFileName(7))!);
    // 10 distinct filter keys × 10 bits = 13 bytes of bits (at least 8), plus the probe count.
    expect(top.count).toBe(1);
    expect(top.filterSizes[0]).toBe(14);

    const reader = openSegment(dir);
    for (let k = 0; k < 10; k++) expect(reader.mayContain(name('ns') + name(`k\x00${k}`))).toBe(true);
    // A whole key is reduced to its filter key.
    expect(reader.mayContain(versionKey('ns', 'k\x003', 5))).toBe(true);
    let absent = 0;
    for (let k = 10; k < 210; k++) if (!reader.mayContain(name('ns') + name(`k\x00${k}`))) absent++;
    expect(absent).toBeGreaterThan(180);
    // Fewer than 2 names: not in the filter, so the filter cannot say no.
    expect(reader.mayContain(name('ns'))).toBe(true);
    expect(reader.mayContain('zzz')).toBe(true);
    // Gets go through the filter where it applies and still find everything.
    for (const e of entries) expect(reader.get(e.key)?.value).toEqual(e.value);
    expect(reader.get(versionKey('ns', 'k\x0011', 0))).toBeUndefined();
  });

  it('with filterKeyParts 0, filters whole keys', () => {
    const entries: Entry[] = Array.from({ length: 1000 }, (_, i) => ({ key: `k${i * 2}`.padStart(8, '0'), kind: KIND_PUT, value: new Uint8Array(0) }));
    entries.sort((a, b) => (a.key < b.key ? -1 : 1));
    const reader = openSegment(writeSegment(entries).dir);
    for (const e of entries) expect(reader.mayContain(e.key)).toBe(true);
    let absent = 0;
    for (let i = 0; i < 1000; i++) if (!reader.mayContain(`k${i * 2 + 1}`.padStart(8, '0'))) absent++;
    expect(absent).toBeGreaterThan(950);
  });
});

describe('segment writer arguments', () => {
  it('refuses keys out of order or repeated, and keeps going after the refusal', () => {
    const dir = new MemoryDirectory();
    const file = dir.open(segmentFileName(1), 'create');
    const w = new SegmentWriter(file, 1, { blockBytes: 64 });
    w.add('b', KIND_PUT, bytesOf('1'));
    expect(codeOf(() => w.add('a', KIND_PUT, bytesOf('2')))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => w.add('b', KIND_PUT, bytesOf('2')))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => w.add('c\u0100', KIND_PUT, bytesOf('2')))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => w.add('c', KIND_DELETE, bytesOf('2')))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => w.add('c', 7 as EntryKind, bytesOf('2')))).toBe(ErrorCodes.INVALID_ARGUMENT);
    w.add('c', KIND_PUT, bytesOf('3'));
    expect(w.count).toBe(2);
    w.finish();
    expect(codeOf(() => w.add('d', KIND_PUT, bytesOf('4')))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(scanAll(openSegment(dir, 1)).map((e) => e.key)).toEqual(['b', 'c']);
  });

  it('takes nothing more after the file failed to take a write', () => {
    const inner = new MemoryDirectory().open(segmentFileName(1), 'create');
    const full: RandomAccessFile = {
      name: inner.name,
      size: () => inner.size(),
      read: (offset, length) => inner.read(offset, length),
      append: () => {
        throw new StorageFullError('the device is full');
      },
      sync: () => inner.sync(),
      truncate: (length) => inner.truncate(length),
      close: () => inner.close(),
    };
    const w = new SegmentWriter(full, 1, { blockBytes: 64 });
    let code: string | undefined;
    for (let i = 0; i < 10_000 && code === undefined; i++) code = codeOf(() => w.add(`k${String(i).padStart(5, '0')}`, KIND_PUT, new Uint8Array(40)));
    expect(code).toBe(ErrorCodes.STORAGE_FULL);
    expect(codeOf(() => w.add('z', KIND_PUT, new Uint8Array(0)))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => w.finish())).toBe(ErrorCodes.INVALID_ARGUMENT);
  });

  it('syncs every syncEveryBytes while writing, not only at the end, and by default (0) only at the end', () => {
    // Sizes of the file at each sync, for a segment of ~3.4 MiB of entries.
    const syncedAt = (options: SegmentWriterOptions): number[] => {
      const inner = new MemoryDirectory().open(segmentFileName(1), 'create');
      const sizes: number[] = [];
      const counting: RandomAccessFile = { ...inner, name: inner.name, size: () => inner.size(), read: (o, l) => inner.read(o, l), append: (b) => inner.append(b), sync: () => void sizes.push(inner.size()), truncate: (l) => inner.truncate(l), close: () => inner.close() };
      const w = new SegmentWriter(counting, 1, options);
      for (let i = 0; i < 3500; i++) w.add(`k${String(i).padStart(6, '0')}`, KIND_PUT, new Uint8Array(1000).fill(i & 0xff));
      w.finish();
      expect(sizes.at(-1)).toBe(inner.size());
      return sizes;
    };
    const MiB = 1024 * 1024;
    const everyMiB = syncedAt({ syncEveryBytes: MiB });
    expect(everyMiB.length).toBe(4); // after 1, 2 and 3 MiB, and at the end
    for (let i = 0; i < 3; i++) {
      expect(everyMiB[i]! - (i > 0 ? everyMiB[i - 1]! : 0)).toBeGreaterThanOrEqual(MiB);
      expect(everyMiB[i]! - (i > 0 ? everyMiB[i - 1]! : 0)).toBeLessThan(MiB + 128 * 1024);
    }
    expect(syncedAt({ syncEveryBytes: 256 * 1024 }).length).toBeGreaterThanOrEqual(12);
    expect(syncedAt({ syncEveryBytes: 0 })).toHaveLength(1);
    expect(syncedAt({})).toHaveLength(1);
    expect(codeOf(() => new SegmentWriter(new MemoryDirectory().open('x', 'create'), 1, { syncEveryBytes: -1 }))).toBe(ErrorCodes.INVALID_ARGUMENT);
  });

  it('refuses bad options and a non-empty file', () => {
    const dir = new MemoryDirectory();
    const file = dir.open(segmentFileName(1), 'create');
    expect(codeOf(() => new SegmentWriter(file, 1, { blockBytes: 10 }))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => new SegmentWriter(file, 1, { restartInterval: 0 }))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => new SegmentWriter(file, -1))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => new SegmentWriter(file, 1, { properties: { n: 1n } }))).toBe(ErrorCodes.INVALID_ARGUMENT);
    file.append(new Uint8Array(1));
    expect(codeOf(() => new SegmentWriter(file, 1))).toBe(ErrorCodes.INVALID_ARGUMENT);
  });
});

describe('segment damage', () => {
  const sample: Entry[] = Array.from({ length: 60 }, (_, i) => ({
    key: `key/${String(i * 7).padStart(4, '0')}`,
    kind: i % 9 === 4 ? KIND_DELETE : KIND_PUT,
    value: i % 9 === 4 ? new Uint8Array(0) : bytesOf(`v${i}`.repeat(i % 5)),
  }));

  /** Runs every read on a (maybe damaged) file: each answer is the original one or CORRUPTION. Returns whether any read saw damage. */
  function everyReadIsRightOrCorrupt(bytes: Uint8Array, entries: readonly Entry[]): boolean {
    const dir = new MemoryDirectory();
    dir.writeAtomic(segmentFileName(7), bytes);
    let detected = false;
    const attempt = (f: () => void) => {
      const code = codeOf(f);
      if (code !== undefined) {
        expect(code).toBe(ErrorCodes.CORRUPTION);
        detected = true;
      }
    };
    let reader: SegmentReader | undefined;
    attempt(() => {
      reader = openSegment(dir);
    });
    if (reader === undefined) return detected;
    const r = reader;
    expect(r.info.count).toBe(entries.length);
    attempt(() => expect(scanAll(r)).toEqual(entries));
    // A fresh reader (and cache) per lookup: each one reads its block from the damaged file.
    for (const e of entries) {
      attempt(() => {
        const found = openSegment(dir).get(e.key);
        expect(found && { kind: found.kind, value: found.value.slice() }).toEqual({ kind: e.kind, value: e.value });
      });
      attempt(() => expect(openSegment(dir).get(`${e.key}!`)).toBeUndefined());
    }
    return detected;
  }

  it('detects every flipped byte of a small segment (open or a full scan fails; no read returns a different answer)', () => {
    const { dir, name } = writeSegment(sample, { blockBytes: 256, restartInterval: 4, properties: { note: 'x' } });
    const original = dir.readAll(name)!;
    expect(everyReadIsRightOrCorrupt(original, sample)).toBe(false);
    const seed = fcSeed('segment byte flips');
    const random = prng(seed);
    for (let offset = 0; offset < original.length; offset++) {
      const damaged = original.slice();
      damaged[offset]! ^= 1 + Math.floor(random() * 255);
      // The CRC-32 catches any error confined to 32 bits, so every flip is seen by open or by the scan.
      expect(everyReadIsRightOrCorrupt(damaged, sample), `byte ${offset} of ${original.length}`).toBe(true);
    }
  });

  it('detects flipped bits at random offsets of a bigger segment', () => {
    const entries: Entry[] = Array.from({ length: 3000 }, (_, i) => ({ key: `k${String(i).padStart(6, '0')}`, kind: KIND_PUT, value: bytesOf(`value-${i * 31}`) }));
    const { dir, name } = writeSegment(entries);
    const original = dir.readAll(name)!;
    const random = prng(fcSeed('segment bit flips'));
    for (let n = 0; n < 200; n++) {
      const offset = Math.floor(random() * original.length);
      const damaged = original.slice();
      damaged[offset]! ^= 1 << Math.floor(random() * 8);
      const d = new MemoryDirectory();
      d.writeAtomic(segmentFileName(7), damaged);
      const code = codeOf(() => {
        const reader = openSegment(d);
        scanAll(reader);
        // The filter partitions are read by lookups, not scans.
        for (const e of entries) reader.mayContain(e.key);
      });
      expect(code, `offset ${offset}`).toBe(ErrorCodes.CORRUPTION);
    }
  });

  it('reports a file cut short at any length as CORRUPTION naming the file', () => {
    const { dir, name } = writeSegment(sample, { blockBytes: 256 });
    const original = dir.readAll(name)!;
    for (let length = 0; length < original.length; length++) {
      const d = new MemoryDirectory();
      d.writeAtomic(name, original.subarray(0, length));
      let error: unknown;
      try {
        openSegment(d);
      } catch (e) {
        error = e;
      }
      expect(error, `length ${length}`).toBeInstanceOf(KoruError);
      expect((error as KoruError).code).toBe(ErrorCodes.CORRUPTION);
      expect((error as KoruError).details).toMatchObject({ file: name, offset: expect.any(Number) });
    }
  });

  it('reports a data block that went bad after open (cut under it) as CORRUPTION with its offset', () => {
    const { dir, name } = writeSegment(sample, { blockBytes: 256 });
    const file = dir.open(name, 'append');
    const cache = new MapCache();
    const reader = SegmentReader.open(file, 7, cache);
    // Every partition cached (a scan and a lookup of each key), then the first block forgotten.
    scanAll(reader);
    for (const e of sample) reader.get(e.key);
    cache.map.delete('7:0');
    file.truncate(100);
    let error: unknown;
    try {
      reader.get(sample[0]!.key);
    } catch (e) {
      error = e;
    }
    expect((error as KoruError).code).toBe(ErrorCodes.CORRUPTION);
    expect((error as KoruError).details).toEqual({ file: name, offset: 0 });
  });

  it('refuses a segment opened under another number, and closes the file it was given', () => {
    const { dir } = writeSegment(sample);
    const file = dir.open(segmentFileName(7), 'read');
    expect(codeOf(() => SegmentReader.open(file, 8, new MapCache()))).toBe(ErrorCodes.CORRUPTION);
    expect(codeOf(() => file.read(0, 1))).toBe(ErrorCodes.IO_ERROR);
  });
});
