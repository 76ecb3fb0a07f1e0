// The manifest: round trip (binary-string keys and JSON properties included), every
// single-bit flip and every cut refused with CORRUPTION naming file and offset, a body
// that checks out but is malformed refused the same way (never a crash), a write that
// crashes leaves the old manifest, and on a real directory a leftover temporary file is
// not read.
import { ErrorCodes } from '@koru/engine';
import { fcSeed, tempDir } from '@koru/vitest-preset/helpers';
import fc from 'fast-check';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { crc32 } from '../src/lsm/checksum.js';
import { readManifest, writeManifest, type ManifestState, type SegmentMeta } from '../src/lsm/manifest.js';
import { MemoryDirectory } from '../src/lsm/memory-directory.js';
import { MANIFEST_FILE } from '../src/lsm/types.js';
import { HookedDirectory, TestNodeDirectory } from './lsm-test-dirs.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

const binaryKey = fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 10 }).map((cs) => String.fromCharCode(...cs));
const jsonValue = fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v)) as unknown); // -0 → 0, as JSON has it

const stateArb: fc.Arbitrary<ManifestState> = fc
  .record({
    nextFileNumber: fc.integer({ min: 1, max: 1_000_000 }),
    logFraction: fc.double({ min: 0, max: 1, noNaN: true }),
    segments: fc.array(
      fc.record({ level: fc.nat(7), bytes: fc.nat(), count: fc.integer({ min: 1, max: 1e9 }), a: binaryKey, b: binaryKey, properties: fc.dictionary(fc.string(), jsonValue, { maxKeys: 3 }) }),
      { maxLength: 8 },
    ),
    properties: fc.dictionary(fc.string(), jsonValue, { maxKeys: 4 }),
  })
  .map(({ nextFileNumber, logFraction, segments, properties }) => ({
    formatVersion: 1 as const,
    nextFileNumber: nextFileNumber + segments.length,
    logNumber: Math.floor(logFraction * nextFileNumber),
    segments: segments.map(
      (s, i): SegmentMeta => ({
        fileNumber: nextFileNumber + i - 1,
        level: s.level,
        bytes: s.bytes,
        count: s.count,
        firstKey: s.a < s.b ? s.a : s.b,
        lastKey: s.a < s.b ? s.b : s.a,
        properties: s.properties,
      }),
    ),
    properties,
  }));

const SAMPLE: ManifestState = {
  formatVersion: 1,
  nextFileNumber: 12,
  logNumber: 9,
  segments: [
    { fileNumber: 4, level: 0, bytes: 4096, count: 10, firstKey: '\x00a\xff', lastKey: '\xffz', properties: { minSeq: 1, maxSeq: 10 } },
    { fileNumber: 7, level: 1, bytes: 0, count: 0, firstKey: '', lastKey: '', properties: {} },
  ],
  properties: { syncPolicy: 'always', nested: [1, { a: null }] },
};

/** A manifest file with body `b`, framed correctly. */
function framed(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(16 + b.length);
  out.set(new TextEncoder().encode('KDMAN001'));
  new DataView(out.buffer).setUint32(8, b.length, true);
  new DataView(out.buffer).setUint32(12, crc32(b), true);
  out.set(b, 16);
  return out;
}

function corruption(f: () => unknown): Record<string, unknown> {
  try {
    f();
  } catch (e) {
    const err = e as { code?: string; message: string; details?: Record<string, unknown> };
    expect(err.code, err.message).toBe(ErrorCodes.CORRUPTION);
    return err.details ?? {};
  }
  throw new Error('expected CORRUPTION');
}

describe('manifest', () => {
  it('round-trips any well-formed state; a new directory has none', () => {
    expect(readManifest(new MemoryDirectory())).toBeUndefined();
    fc.assert(
      fc.property(stateArb, (state) => {
        const dir = new MemoryDirectory();
        writeManifest(dir, state);
        expect(readManifest(dir)).toEqual(state);
      }),
      { seed: fcSeed('manifest round trip'), numRuns: 300 },
    );
  });

  it('writes only the fields of the state', () => {
    const dir = new MemoryDirectory();
    const richer = { ...SAMPLE, cache: 'not persisted', segments: SAMPLE.segments.map((s) => ({ ...s, reader: { open: true } })) };
    writeManifest(dir, richer as ManifestState);
    expect(readManifest(dir)).toEqual(SAMPLE);
  });

  it('every single-bit flip and every cut is CORRUPTION naming the file', () => {
    const base = new MemoryDirectory();
    writeManifest(base, SAMPLE);
    const size = base.readAll(MANIFEST_FILE)!.length;
    for (let offset = 0; offset < size; offset++) {
      for (let bit = 0; bit < 8; bit++) {
        const dir = base.crash();
        dir.flipBit(MANIFEST_FILE, offset, bit);
        const d = corruption(() => readManifest(dir));
        expect(d.file).toBe(`memory/${MANIFEST_FILE}`);
        expect(d.offset).toBe(offset < 8 ? 0 : offset < 12 ? 8 : 16);
      }
    }
    for (let length = 0; length < size; length++) {
      const dir = new MemoryDirectory();
      dir.writeAtomic(MANIFEST_FILE, base.readAll(MANIFEST_FILE)!.subarray(0, length));
      expect(corruption(() => readManifest(dir)).file).toBe(`memory/${MANIFEST_FILE}`);
    }
  });

  it('a body that checks out but is malformed is CORRUPTION, not a crash', () => {
    const good = JSON.stringify({ ...SAMPLE, segments: [SAMPLE.segments[0]] });
    /** The good body with one change (which must apply). */
    const mod = (from: string, to: string): string => {
      expect(good, from).toContain(from);
      return good.replace(from, to);
    };
    const firstKey = JSON.stringify(SAMPLE.segments[0]!.firstKey);
    const bad = [
      'not json',
      'null',
      '[]',
      mod('"formatVersion":1', '"formatVersion":1,"extra":1'),
      mod('"formatVersion":1', '"formatVersion":2'),
      mod('"nextFileNumber":12', '"nextFileNumber":0'),
      mod('"nextFileNumber":12', '"nextFileNumber":4'),
      mod('"logNumber":9', '"logNumber":13'),
      mod('"logNumber":9', '"logNumber":-1'),
      mod('"logNumber":9', '"logNumber":1.5'),
      mod('"properties":{"syncPolicy":"always","nested":[1,{"a":null}]}', '"properties":[1]'),
      mod('"nested":[1,{"a":null}]', '"nested":[1,{"a":1e999}]'),
      mod('"segments":[', '"segments":{"x":[').replace('}],"properties"', '}]},"properties"'),
      mod('"segments":[', '"segments":[null,'),
      mod('"level":0', '"level":"0"'),
      mod('"level":0,', ''),
      mod('"count":10', '"count":1e400'),
      mod('"count":10', '"count":0'),
      mod(`"firstKey":${firstKey}`, '"firstKey":"\\u0100"'),
      mod(`"firstKey":${firstKey}`, '"firstKey":"\\u00ffzz"'),
      mod('"bytes":4096', '"bytes":4096,"more":1'),
    ];
    const dup = JSON.stringify({ ...SAMPLE, segments: [SAMPLE.segments[0], SAMPLE.segments[0]] });
    for (const body of [...bad, dup]) {
      const dir = new MemoryDirectory();
      dir.writeAtomic(MANIFEST_FILE, framed(new TextEncoder().encode(body)));
      expect(corruption(() => readManifest(dir)), body).toEqual({ file: `memory/${MANIFEST_FILE}`, offset: 16 });
    }
    // Not UTF-8.
    const dir = new MemoryDirectory();
    dir.writeAtomic(MANIFEST_FILE, framed(new Uint8Array([0x7b, 0xff, 0x7d])));
    expect(corruption(() => readManifest(dir))).toEqual({ file: `memory/${MANIFEST_FILE}`, offset: 16 });
    // The unmodified body is fine (so each case above fails for its one change).
    dir.writeAtomic(MANIFEST_FILE, framed(new TextEncoder().encode(good)));
    expect(readManifest(dir)).toEqual({ ...SAMPLE, segments: [SAMPLE.segments[0]] });
  });

  it('refuses to write a malformed state, writing nothing', () => {
    const dir = new MemoryDirectory();
    writeManifest(dir, SAMPLE);
    const before = dir.readAll(MANIFEST_FILE);
    const bad: unknown[] = [
      { ...SAMPLE, logNumber: 13 },
      { ...SAMPLE, properties: { when: new Date(0) } },
      { ...SAMPLE, properties: { n: Number.NaN } },
      { ...SAMPLE, segments: [{ ...SAMPLE.segments[0]!, fileNumber: 12 }] },
      { ...SAMPLE, segments: [{ ...SAMPLE.segments[0]!, lastKey: 'ā' }] },
    ];
    for (const s of bad) expect(() => writeManifest(dir, s as ManifestState)).toThrow(RangeError);
    expect(dir.readAll(MANIFEST_FILE)).toEqual(before);
  });

  it('a write that crashes leaves the old manifest', () => {
    const mem = new MemoryDirectory();
    let image: MemoryDirectory | undefined;
    const dir = new HookedDirectory(mem, { at: (op, _name, phase) => void (op === 'writeAtomic' && phase === 'before' && (image = mem.crash(Math.random))) });
    writeManifest(dir, SAMPLE);
    expect(readManifest(image!)).toBeUndefined();
    writeManifest(dir, { ...SAMPLE, logNumber: 11, segments: [] });
    expect(readManifest(image!)).toEqual(SAMPLE);
    expect(readManifest(mem.crash())).toEqual({ ...SAMPLE, logNumber: 11, segments: [] });
  });

  it('on a real directory: round trip, and a leftover temporary file is not read', () => {
    const { dir: path, cleanup } = tempDir('koru-lsm-manifest-');
    cleanups.push(cleanup);
    const dir = new TestNodeDirectory(path);
    writeManifest(dir, SAMPLE);
    // A crash inside writeAtomic: the new manifest's temporary file half written.
    const next = framed(new TextEncoder().encode(JSON.stringify({ ...SAMPLE, logNumber: 11 })));
    writeFileSync(join(path, `${MANIFEST_FILE}.tmp`), next.subarray(0, 20));
    writeFileSync(join(path, `${MANIFEST_FILE}.tmp-1234`), next);
    expect(readManifest(dir)).toEqual(SAMPLE);
    writeManifest(dir, { ...SAMPLE, nextFileNumber: 20 });
    expect(readManifest(new TestNodeDirectory(path))).toEqual({ ...SAMPLE, nextFileNumber: 20 });
  });
});
