// The version store's record layout on the engine's sorted binary-string keys.
import { ErrorCodes, HLC_MAX_LOGICAL, HLC_MAX_WALL, KoruError } from '@koru/engine';
import { fcSeed } from '@koru/vitest-preset/helpers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesKey, keyBytes } from '../src/lsm/types.js';
import {
  FILTER_KEY_PARTS,
  FLAG_CURRENT_AT_COMMIT,
  decodeSeqKey,
  decodeValueKey,
  decodeValueRecord,
  decodeVersionKey,
  decodeVersionRecord,
  encodeName,
  encodedTextBytes,
  encodeValueRecord,
  encodeVersionRecord,
  filterKey,
  keyPrefix,
  namespaceOfVersionKey,
  namespacePrefix,
  prefixEnd,
  seqKey,
  stampKey,
  valueKey,
  versionIdSuffix,
  versionKey,
  versionKeySuffix,
  versionRecordSeq,
  type VersionKeyFields,
  type VersionRecord,
} from '../src/version-records.js';
import { codeOf } from './lsm-helpers.js';

const enc = new TextEncoder();
const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const utf8Bytes = (s: string): number => enc.encode(s).length;

/** Byte-wise comparison of byte arrays, −1/0/1. */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}
const cmp = (a: number | string, b: number | string): number => (a === b ? 0 : a < b ? -1 : 1);


// Characters at the edges of UTF-8 lengths and of the UTF-16 / UTF-8 order difference.
const EDGE = ['a', 'b', '\u007f', '\u0080', '\u00ff', '\u07ff', '\u0800', '\ud7ff', '\ue000', '\ufeff', '\uffff', '\u{10000}', '\u{1f600}', '\u{10ffff}'];
const NUL_FREE_UNIT = fc.oneof(fc.constantFrom(...EDGE), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }).filter((c) => c !== '\u0000'));
const nsArb = fc.string({ unit: fc.constantFrom(...'abAZ09_.-'), minLength: 1, maxLength: 128 });
const keyArb = fc.oneof(
  fc.string({ unit: NUL_FREE_UNIT, minLength: 1, maxLength: 12 }),
  fc.string({ unit: NUL_FREE_UNIT, minLength: 1, maxLength: 600 }).filter((k) => utf8Bytes(k) <= 1024),
);
const nodeArb = fc.string({ unit: fc.oneof(NUL_FREE_UNIT, fc.constant('\u0000')), maxLength: 12 });
const wallArb = fc.oneof(fc.constantFrom(0, 1, 2 ** 32 - 1, 2 ** 32, HLC_MAX_WALL), fc.integer({ min: 0, max: HLC_MAX_WALL }));
const logicalArb = fc.oneof(fc.constantFrom(0, 255, 256, HLC_MAX_LOGICAL), fc.integer({ min: 0, max: HLC_MAX_LOGICAL }));
const idArb = fc.uint8Array({ minLength: 32, maxLength: 32 }).map(hex);
const fieldsArb: fc.Arbitrary<VersionKeyFields> = fc.record({ namespace: nsArb, key: keyArb, wall: wallArb, logical: logicalArb, node: nodeArb, versionId: idArb });
const keyOf = (f: VersionKeyFields): string => versionKey(f.namespace, f.key, f.wall, f.logical, f.node, f.versionId);

/** A second tuple sharing a random subset of the first's fields, so comparisons reach every field. */
const pairArb = fc.tuple(fieldsArb, fieldsArb, fc.array(fc.boolean(), { minLength: 6, maxLength: 6 })).map(([a, b, same]) => {
  const names = ['namespace', 'key', 'wall', 'logical', 'node', 'versionId'] as const;
  const c: Record<string, unknown> = { ...b };
  names.forEach((n, i) => {
    if (same[i]) c[n] = a[n];
  });
  return [a, c as unknown as VersionKeyFields] as const;
});

/**
 * The order the layout promises: namespace and key ascending (UTF-8 bytes), then within
 * a key newest first: wall, logical, node (UTF-8 bytes) and id all descending.
 */
function compareTuples(a: VersionKeyFields, b: VersionKeyFields): number {
  return (
    compareBytes(enc.encode(a.namespace), enc.encode(b.namespace)) ||
    compareBytes(enc.encode(a.key), enc.encode(b.key)) ||
    cmp(b.wall, a.wall) ||
    cmp(b.logical, a.logical) ||
    compareBytes(enc.encode(b.node), enc.encode(a.node)) ||
    cmp(b.versionId, a.versionId)
  );
}

describe('names', () => {
  it('encode in UTF-8 byte order, are prefix-free, and escape NUL', () => {
    const nameArb = fc.string({ unit: fc.oneof(NUL_FREE_UNIT, fc.constant('\u0000')), maxLength: 8 });
    fc.assert(
      fc.property(nameArb, nameArb, (a, b) => {
        const ea = encodeName(a);
        const eb = encodeName(b);
        expect(cmp(ea, eb)).toBe(compareBytes(enc.encode(a), enc.encode(b)));
        if (a !== b) expect(eb.startsWith(ea)).toBe(false);
        expect(ea.endsWith('\u0000\u0001')).toBe(true);
        expect(ea.slice(0, -2).includes('\u0000\u0001')).toBe(false);
        for (let i = 0; i < ea.length; i++) expect(ea.charCodeAt(i)).toBeLessThan(256);
      }),
      { seed: fcSeed('version-records: name order'), numRuns: 2000 },
    );
    expect(encodeName('a\u0000b')).toBe('a\u0000\u00ffb\u0000\u0001');
    expect(encodeName('é')).toBe('\u00c3\u00a9\u0000\u0001');
    expect(encodeName('')).toBe('\u0000\u0001');
  });

  it('refuses lone surrogates (no UTF-8 form)', () => {
    expect(codeOf(() => encodeName('a\ud800'))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => encodeName('\udc00b'))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => encodeName(undefined as unknown as string))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => versionKey('ns', 'k', 1, 0, 'n\udfff', '00'.repeat(32)))).toBe(ErrorCodes.INVALID_ARGUMENT);
  });
});

describe('version keys', () => {
  it('round-trip every field, and are binary strings', () => {
    fc.assert(
      fc.property(fieldsArb, (f) => {
        const k = keyOf(f);
        for (let i = 0; i < k.length; i++) expect(k.charCodeAt(i)).toBeLessThan(256);
        expect(decodeVersionKey(k)).toEqual(f);
        expect(decodeVersionKey(bytesKey(keyBytes(k)))).toEqual(f);
      }),
      { seed: fcSeed('version-records: key round trip'), numRuns: 1000 },
    );
  });

  it('sort by namespace and key ascending, then newest first: (wall, logical, node, versionId) descending', () => {
    fc.assert(
      fc.property(pairArb, ([a, b]) => {
        expect(cmp(keyOf(a), keyOf(b))).toBe(compareTuples(a, b));
      }),
      { seed: fcSeed('version-records: key order'), numRuns: 3000 },
    );
  });

  it('put the versions with clock ≤ t at or after keyPrefix + stampKey(t); end with the complemented id', () => {
    fc.assert(
      fc.property(fieldsArb, wallArb, logicalArb, (f, wall, logical) => {
        const seek = keyPrefix(f.namespace, f.key) + stampKey(wall, logical);
        const atOrBefore = f.wall < wall || (f.wall === wall && f.logical <= logical);
        expect(keyOf(f) >= seek).toBe(atOrBefore);
        expect(keyOf(f).endsWith(versionIdSuffix(f.versionId))).toBe(true);
        expect(keyOf(f).slice(keyPrefix(f.namespace, f.key).length)).toBe(versionKeySuffix(f.wall, f.logical, f.node, f.versionId));
      }),
      { seed: fcSeed('version-records: stamp seek'), numRuns: 2000 },
    );
    expect(codeOf(() => stampKey(HLC_MAX_WALL + 1, 0))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => stampKey(0, -1))).toBe(ErrorCodes.INVALID_ARGUMENT);
  });

  it('give their namespace and its prefix length', () => {
    fc.assert(
      fc.property(fieldsArb, (f) => {
        expect(namespaceOfVersionKey(keyOf(f))).toEqual({ namespace: f.namespace, prefixLength: namespacePrefix(f.namespace).length });
      }),
      { seed: fcSeed('version-records: namespace of key'), numRuns: 500 },
    );
    expect(codeOf(() => namespaceOfVersionKey('S'))).toBe(ErrorCodes.CORRUPTION);
    expect(codeOf(() => namespaceOfVersionKey('V\u0000\u0001'))).toBe(ErrorCodes.CORRUPTION);
  });

  it('share keyPrefix within one key and with no other; prefixEnd bounds exactly the prefix', () => {
    fc.assert(
      fc.property(pairArb, ([a, b]) => {
        const p = keyPrefix(a.namespace, a.key);
        const end = prefixEnd(p);
        const ka = keyOf(a);
        const kb = keyOf(b);
        expect(ka.startsWith(p)).toBe(true);
        expect(ka < end).toBe(true);
        const sameKey = a.namespace === b.namespace && a.key === b.key;
        expect(kb.startsWith(p)).toBe(sameKey);
        expect(p <= kb && kb < end).toBe(sameKey);
        expect(ka.startsWith(namespacePrefix(a.namespace))).toBe(true);
        expect(kb.startsWith(namespacePrefix(a.namespace))).toBe(a.namespace === b.namespace);
      }),
      { seed: fcSeed('version-records: key prefixes'), numRuns: 2000 },
    );
    const id = '11'.repeat(32);
    const ab = versionKey('ns', 'ab', 5, 0, 'n', id);
    expect(ab.startsWith(keyPrefix('ns', 'a'))).toBe(false);
    expect(ab >= prefixEnd(keyPrefix('ns', 'a')) || ab < keyPrefix('ns', 'a')).toBe(true);
    expect(versionKey('ns', 'a', 5, 0, 'n', id).startsWith(keyPrefix('ns', 'a'))).toBe(true);
    expect(versionKey('nsx', 'a', 5, 0, 'n', id).startsWith(namespacePrefix('ns'))).toBe(false);
  });

  it('give the Bloom filter key through the 2nd terminator: the key prefix, after the tag byte', () => {
    expect(FILTER_KEY_PARTS).toBe(2);
    fc.assert(
      fc.property(fieldsArb, (f) => {
        const p = keyPrefix(f.namespace, f.key);
        expect(filterKey(keyOf(f))).toBe(p);
        expect(filterKey(p)).toBe(p);
        expect(filterKey(namespacePrefix(f.namespace))).toBeNull();
      }),
      { seed: fcSeed('version-records: filter key'), numRuns: 1000 },
    );
  });

  it('refuse arguments outside the layout', () => {
    const id = 'ab'.repeat(32);
    const bad: Array<() => unknown> = [
      () => versionKey('', 'k', 0, 0, 'n', id),
      () => versionKey('ns', '', 0, 0, 'n', id),
      () => versionKey('ns', 'k', -1, 0, 'n', id),
      () => versionKey('ns', 'k', HLC_MAX_WALL + 1, 0, 'n', id),
      () => versionKey('ns', 'k', 1.5, 0, 'n', id),
      () => versionKey('ns', 'k', 0, HLC_MAX_LOGICAL + 1, 'n', id),
      () => versionKey('ns', 'k', 0, -1, 'n', id),
      () => versionKey('ns', 'k', 0, 0, 'n', 'AB'.repeat(32)),
      () => versionKey('ns', 'k', 0, 0, 'n', '0A'.repeat(32)),
      () => versionKey('ns', 'k', 0, 0, 'n', 'a' + 'g'.repeat(63)),
      () => versionKey('ns', 'k', 0, 0, 'n', id.slice(2)),
      () => versionKey('ns', 'k', 0, 0, 'n', 'zz' + id.slice(2)),
      () => versionKey('ns', 'k', 0, 0, 'n', '\u0130' + id.slice(1)),
      () => keyPrefix('ns', ''),
      () => namespacePrefix(''),
    ];
    for (const f of bad) expect(codeOf(f)).toBe(ErrorCodes.INVALID_ARGUMENT);
    fc.assert(
      fc.property(idArb, fc.nat(63), fc.constantFrom(...'09afAFg/:`\u0130'), (id, at, c) => {
        const h = id.slice(0, at) + c + id.slice(at + 1);
        const valid = /^[0-9a-f]{64}$/.test(h);
        expect(codeOf(() => versionKey('ns', 'k', 0, 0, 'n', h))).toBe(valid ? undefined : ErrorCodes.INVALID_ARGUMENT);
        expect(codeOf(() => valueKey(h))).toBe(valid ? undefined : ErrorCodes.INVALID_ARGUMENT);
      }),
      { seed: fcSeed('version-records: hex ids'), numRuns: 1000 },
    );
  });
});

describe('prefixEnd', () => {
  it('is the smallest string after every extension of the prefix', () => {
    const bin = fc.string({ unit: fc.oneof(fc.constantFrom('\u0000', '\u0001', '\u00fe', '\u00ff'), fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c))), maxLength: 6 });
    fc.assert(
      fc.property(bin, bin, bin, (p, s, x) => {
        fc.pre(/[^\u00ff]/.test(p));
        const end = prefixEnd(p);
        expect(p + s < end).toBe(true);
        // Nothing outside the prefix sits in [p, end).
        if (!x.startsWith(p)) expect(x < p || x >= end).toBe(true);
        expect(end.length).toBeLessThanOrEqual(p.length);
      }),
      { seed: fcSeed('version-records: prefixEnd'), numRuns: 3000 },
    );
    expect(prefixEnd('a\u00ff\u00ff')).toBe('b');
    expect(prefixEnd('V')).toBe('W');
    expect(codeOf(() => prefixEnd(''))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => prefixEnd('\u00ff\u00ff'))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => prefixEnd('\u0100'))).toBe(ErrorCodes.INVALID_ARGUMENT);
  });
});

describe('change-feed and value keys', () => {
  it('seq keys round-trip and sort numerically', () => {
    const seqArb = fc.oneof(fc.constantFrom(0, 1, 255, 256, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER), fc.maxSafeNat());
    fc.assert(
      fc.property(seqArb, seqArb, (a, b) => {
        expect(decodeSeqKey(seqKey(a))).toBe(a);
        expect(cmp(seqKey(a), seqKey(b))).toBe(cmp(a, b));
        expect(seqKey(a)).toHaveLength(9);
        expect(seqKey(a)[0]).toBe('S');
      }),
      { seed: fcSeed('version-records: seq keys'), numRuns: 2000 },
    );
    for (const s of [-1, 1.5, 2 ** 53, Number.NaN]) expect(codeOf(() => seqKey(s))).toBe(ErrorCodes.INVALID_ARGUMENT);
    for (const k of ['', 'S', seqKey(7).slice(0, 8), seqKey(7) + '\u0000', 'V' + seqKey(7).slice(1), 'S\u0000\u0020' + '\u0000'.repeat(6), seqKey(7).slice(0, 8) + '\u0100']) {
      expect(codeOf(() => decodeSeqKey(k))).toBe(ErrorCodes.CORRUPTION);
    }
  });

  it('value keys round-trip and carry a filter key; value records are tagged text, and a value pointer (tag 1) is refused', () => {
    fc.assert(
      fc.property(idArb, fc.string({ unit: 'binary', minLength: 1, maxLength: 400 }), fieldsArb, (id, text, f) => {
        const k = valueKey(id);
        expect(k).toHaveLength(37);
        expect(decodeValueKey(k)).toBe(id);
        // The Bloom filter key is a prefix of the value key holding at least its tag.
        const fk = filterKey(k);
        expect(fk !== null && k.startsWith(fk) && fk.length > 1).toBe(true);
        expect(encodeValueRecord(text)).toEqual(Uint8Array.of(0, ...enc.encode(text)));
        expect(decodeValueRecord(encodeValueRecord(text))).toEqual({ text });
        // The earlier layout's pointer to a version holding the text inline is no value record now.
        expect(codeOf(() => decodeValueRecord(Uint8Array.of(1, ...keyBytes(keyOf(f)))))).toBe(ErrorCodes.CORRUPTION);
      }),
      { seed: fcSeed('version-records: value keys and records'), numRuns: 1000 },
    );
    const k0 = valueKey('00'.repeat(32));
    expect(filterKey(k0)).toBe(k0);
    for (const bad of [k0.slice(1), 'V' + k0.slice(1), k0.slice(0, 33), k0.slice(0, 36) + '\u0002', k0 + '\u0001']) {
      expect(codeOf(() => decodeValueKey(bad))).toBe(ErrorCodes.CORRUPTION);
    }
    const holder = versionKey('ns', 'k', 1, 0, 'n', '00'.repeat(32));
    for (const bad of [
      new Uint8Array(0),
      Uint8Array.of(0),
      Uint8Array.of(1),
      Uint8Array.of(2, 0x31),
      Uint8Array.of(0, 0x22, 0xc3, 0x22),
      Uint8Array.of(1, ...keyBytes(holder).subarray(0, 20)),
      Uint8Array.of(1, 0x57, ...keyBytes(holder).subarray(1)),
    ]) {
      expect(codeOf(() => decodeValueRecord(bad))).toBe(ErrorCodes.CORRUPTION);
    }
    expect(codeOf(() => encodeValueRecord(''))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => encodeValueRecord('"\ud800"'))).toBe(ErrorCodes.INVALID_ARGUMENT);
  });
});

const textArb = fc.oneof(
  fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 40 }),
  fc.string({ unit: NUL_FREE_UNIT, minLength: 1, maxLength: 40 }),
  fc.string({ unit: 'binary', minLength: 200, maxLength: 700 }),
);
const recordArb: fc.Arbitrary<VersionRecord> = fc
  .record({
    seq: fc.oneof(fc.constantFrom(0, 127, 128, 16383, 16384, 2 ** 31, 2 ** 49, Number.MAX_SAFE_INTEGER), fc.maxSafeNat()),
    kind: fc.constantFrom('deleted', 'inline', 'reference'),
    previousVersion: fc.option(idArb),
    valueId: idArb,
    text: textArb,
    currentAtCommit: fc.boolean(),
  })
  .map(({ seq, kind, previousVersion, valueId, text, currentAtCommit }) => ({
    seq,
    deleted: kind === 'deleted',
    previousVersion,
    valueId: kind === 'deleted' ? null : valueId,
    valueText: kind === 'inline' ? text : null,
    currentAtCommit,
  }));

/** Decodes, or returns the error code (CORRUPTION expected). */
function tryDecode(b: Uint8Array): VersionRecord | string {
  try {
    return decodeVersionRecord(b);
  } catch (e) {
    if (e instanceof KoruError) return e.code;
    throw e;
  }
}

describe('version records', () => {
  it('round-trip', () => {
    fc.assert(
      fc.property(recordArb, (r) => {
        expect(decodeVersionRecord(encodeVersionRecord(r))).toEqual(r);
        // The inline text's UTF-8 length, as the encoder counted it (0 when none is inline).
        expect(encodedTextBytes()).toBe(r.valueText === null ? 0 : enc.encode(r.valueText).length);
      }),
      { seed: fcSeed('version-records: record round trip'), numRuns: 2000 },
    );
  });

  it('keep their bytes: records encoded later never overwrite earlier ones', () => {
    fc.assert(
      fc.property(fc.array(recordArb, { minLength: 100, maxLength: 400 }), (rs) => {
        const encoded = rs.map(encodeVersionRecord);
        const texts = rs.map((r) => encodeValueRecord(r.valueText ?? '0'));
        rs.forEach((r, i) => {
          expect(decodeVersionRecord(encoded[i]!)).toEqual(r);
          expect(decodeValueRecord(texts[i]!)).toEqual({ text: r.valueText ?? '0' });
        });
      }),
      { seed: fcSeed('version-records: records keep their bytes'), numRuns: 20 },
    );
  });

  it('have the documented bytes', () => {
    const prev = '01'.repeat(32);
    const vid = 'fe'.repeat(32);
    const bytes = encodeVersionRecord({ seq: 300, deleted: false, previousVersion: prev, valueId: vid, valueText: '{"a":1}', currentAtCommit: false });
    expect(hex(bytes)).toBe('06' + 'ac02' + prev + vid + hex(enc.encode('{"a":1}')));
    expect(hex(encodeVersionRecord({ seq: 300, deleted: false, previousVersion: prev, valueId: vid, valueText: '1', currentAtCommit: true }))).toBe('16' + 'ac02' + prev + vid + '31');
    expect(hex(encodeVersionRecord({ seq: 0, deleted: true, previousVersion: prev, valueId: null, valueText: null, currentAtCommit: false }))).toBe('0500' + prev);
    expect(hex(encodeVersionRecord({ seq: 1, deleted: false, previousVersion: null, valueId: vid, valueText: null, currentAtCommit: false }))).toBe('0801' + vid);
    // Stamp complemented: HLC_MAX_WALL − (2^32 + 2) = 0x00038d7da4c67ffd, HLC_MAX_LOGICAL − 3 = 0x000f423c;
    // node "n" (0x6e, then 0x00 0x01) and the id complemented byte by byte.
    const key = versionKey('ns', 'k', 2 ** 32 + 2, 3, 'n', vid);
    expect(hex(keyBytes(key))).toBe(hex(enc.encode('Vns')) + '0001' + hex(enc.encode('k')) + '0001' + '00038d7da4c67ffd' + '000f423c' + '91fffe' + '01'.repeat(32));
    expect(hex(keyBytes(versionKey('ns', 'k', 0, 0, 'a\u0000', vid)).subarray(-37))).toBe('9eff00fffe' + '01'.repeat(32)); // 'a', escaped NUL, terminator
  });

  it('refuse fields that do not fit together', () => {
    const id = '2b'.repeat(32);
    const bad: VersionRecord[] = [
      { seq: 1, deleted: true, previousVersion: null, valueId: id, valueText: null, currentAtCommit: false },
      { seq: 1, deleted: true, previousVersion: null, valueId: null, valueText: '1', currentAtCommit: false },
      { seq: 1, deleted: false, previousVersion: null, valueId: null, valueText: '1', currentAtCommit: false },
      { seq: 1, deleted: false, previousVersion: null, valueId: id, valueText: '', currentAtCommit: false },
      { seq: 1, deleted: false, previousVersion: null, valueId: id, valueText: '"\udc00"', currentAtCommit: false },
      { seq: -1, deleted: false, previousVersion: null, valueId: id, valueText: null, currentAtCommit: false },
      { seq: 2 ** 53, deleted: false, previousVersion: null, valueId: id, valueText: null, currentAtCommit: false },
      { seq: 1, deleted: false, previousVersion: 'x', valueId: id, valueText: null, currentAtCommit: false },
      { seq: 1, deleted: false, previousVersion: null, valueId: id.toUpperCase(), valueText: null, currentAtCommit: false },
    ];
    for (const r of bad) expect([r, codeOf(() => encodeVersionRecord(r))]).toEqual([r, ErrorCodes.INVALID_ARGUMENT]);
  });

  it('reject malformed bytes: truncated, extended, bad flags, long or padded seq, bad UTF-8', () => {
    const id = '33'.repeat(32);
    const byRef = encodeVersionRecord({ seq: 5, deleted: false, previousVersion: id, valueId: id, valueText: null, currentAtCommit: false });
    for (let n = 0; n < byRef.length; n++) expect(tryDecode(byRef.subarray(0, n))).toBe(ErrorCodes.CORRUPTION);
    expect(tryDecode(Uint8Array.of(...byRef, 0))).toBe(ErrorCodes.CORRUPTION);
    const inline = encodeVersionRecord({ seq: 5, deleted: false, previousVersion: null, valueId: id, valueText: '"é"', currentAtCommit: false });
    expect(tryDecode(inline.subarray(0, 2 + 32))).toBe(ErrorCodes.CORRUPTION); // no text
    expect(tryDecode(inline.subarray(0, inline.length - 2))).toBe(ErrorCodes.CORRUPTION); // cut inside "é"
    // Every flags byte but the valid ones, on bytes that fit each valid one.
    for (let f = 0; f < 256; f++) {
      const ok = [0x01, 0x05, 0x02, 0x06, 0x08, 0x0c].includes(f & 0xef);
      if (!ok) for (const b of [byRef, inline]) expect(tryDecode(Uint8Array.of(f, ...b.subarray(1)))).toBe(ErrorCodes.CORRUPTION);
    }
    const tail = new Uint8Array(32);
    expect(tryDecode(Uint8Array.of(0x08, 0x85, 0x00, ...tail))).toBe(ErrorCodes.CORRUPTION); // 5 with a padding byte
    expect(tryDecode(Uint8Array.of(0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, ...tail))).toBe(ErrorCodes.CORRUPTION); // 9 bytes
    expect(tryDecode(Uint8Array.of(0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10, ...tail))).toBe(ErrorCodes.CORRUPTION); // 2^53
    expect(tryDecode(Uint8Array.of(0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, ...tail))).toMatchObject({ seq: Number.MAX_SAFE_INTEGER });
    expect(tryDecode(Uint8Array.of(0x02, 0x01, ...tail, 0xc0, 0x80))).toBe(ErrorCodes.CORRUPTION); // overlong NUL
    expect(tryDecode(Uint8Array.of(0x02, 0x01, ...tail, 0xed, 0xa0, 0x80))).toBe(ErrorCodes.CORRUPTION); // a surrogate
  });

  it('give their seq and flags alone, as the full decode does', () => {
    fc.assert(
      fc.property(recordArb, (r) => {
        const b = encodeVersionRecord(r);
        expect(versionRecordSeq(b)).toEqual({ seq: r.seq, flags: b[0] });
        expect((b[0]! & FLAG_CURRENT_AT_COMMIT) !== 0).toBe(r.currentAtCommit);
      }),
      { seed: fcSeed('version-records: record seq'), numRuns: 500 },
    );
    for (const b of [new Uint8Array(0), Uint8Array.of(0x08), Uint8Array.of(0x20, 1), Uint8Array.of(0x08, 0x80), Uint8Array.of(0x08, 0x85, 0x00)]) {
      expect(codeOf(() => versionRecordSeq(b))).toBe(ErrorCodes.CORRUPTION);
    }
  });

  it('never give a wrong answer: any bytes decode to what re-encodes to them, or throw CORRUPTION', () => {
    const mutated = fc.tuple(recordArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }), fc.nat()).map(([r, edits, cut]) => {
      const b = encodeVersionRecord(r);
      for (const [at, v] of edits) b[at % b.length] = v;
      return cut % 4 === 0 ? b.subarray(0, cut % (b.length + 1)) : b;
    });
    fc.assert(
      fc.property(fc.oneof(mutated, fc.uint8Array({ maxLength: 80 })), (b) => {
        const got = tryDecode(b);
        if (typeof got === 'string') expect(got).toBe(ErrorCodes.CORRUPTION);
        else expect(encodeVersionRecord(got)).toEqual(b);
      }),
      { seed: fcSeed('version-records: record decode is exact'), numRuns: 3000 },
    );
  });
});

describe('malformed version keys', () => {
  const tryKey = (k: string): VersionKeyFields | string => {
    try {
      return decodeVersionKey(k);
    } catch (e) {
      if (e instanceof KoruError) return e.code;
      throw e;
    }
  };

  it('throw CORRUPTION when truncated, extended, with a bad terminator, escape, tag, stamp or UTF-8', () => {
    const id = '44'.repeat(32);
    const k = versionKey('ns', 'ke\u00e9', 7, 1, 'n\u0000x', id);
    for (let n = 0; n < k.length; n++) expect(tryKey(k.slice(0, n))).toBe(ErrorCodes.CORRUPTION);
    // Edits at a byte of a key: the stamp starts right after the key prefix.
    const at = (s: string, i: number, c: number): string => s.slice(0, i) + String.fromCharCode(c) + s.slice(i + 1);
    const k0 = versionKey('ns', 'k', 0, 0, 'n', id); // stamp bytes: complements of 0, so the largest
    const p0 = keyPrefix('ns', 'k').length;
    const nodeAt = k.length - 32 - 6; // ~("n" 0x00 0xFF "x" 0x00 0x01)
    expect(k.slice(nodeAt, k.length - 32)).toBe('\u0091\u00ff\u0000\u0087\u00ff\u00fe');
    const bad = [
      k + '\u0000',
      'W' + k.slice(1),
      k.replace('ns\u0000\u0001', 'ns\u0000\u0002'), // bad terminator
      at(k, nodeAt + 2, 0x01), // bad escape in the node
      at(k, nodeAt + 5, 0xfd), // bad node terminator
      at(k, nodeAt, 0x00), // node byte 0xFF (never UTF-8)
      at(k, nodeAt, 0x3f), // node byte 0xC0 (never UTF-8)
      'V\u0000\u0001' + k.slice(5), // empty namespace
      at(k0, p0 + 1, 0x04), // wall complement past the clock's end
      at(k0, p0 + 11, 0x40), // logical complement past the clock's end
      at(k0, p0, 0x80), // wall complement's top bit
      'Vns\u0000\u0001\u00c0\u00ae\u0000\u0001' + k.slice(k.indexOf('\u0001', 5) + 1), // overlong "."
      'Vns\u0000\u0001\u00ed\u00a0\u0080\u0000\u0001' + k.slice(k.indexOf('\u0001', 5) + 1), // a surrogate
      k.slice(0, -1) + '\u0144', // not a binary string
    ];
    expect(tryKey(at(k0, p0 + 1, 0x03))).toMatchObject({ wall: 0 }); // the edit's control: unchanged
    for (const b of bad) expect(tryKey(b)).toBe(ErrorCodes.CORRUPTION);
    expect(tryKey(versionKey('ns', '\ufeffk', 0, 0, '', id))).toMatchObject({ key: '\ufeffk', node: '' }); // a BOM is kept
  });

  it('never give a wrong answer: any string decodes to what re-encodes to it, or throws CORRUPTION', () => {
    const mutated = fc.tuple(fieldsArb, fc.array(fc.tuple(fc.nat(), fc.constantFrom(0, 1, 0x7f, 0x80, 0xc3, 0xff, 0x100)), { maxLength: 3 }), fc.nat()).map(([f, edits, cut]) => {
      const k = Array.from(keyOf(f), (c) => c.charCodeAt(0));
      for (const [at, v] of edits) k[at % k.length] = v;
      const s = String.fromCharCode(...k);
      return cut % 4 === 0 ? s.slice(0, cut % (s.length + 1)) : s;
    });
    fc.assert(
      fc.property(mutated, (k) => {
        const got = tryKey(k);
        if (typeof got === 'string') expect(got).toBe(ErrorCodes.CORRUPTION);
        else expect(keyOf(got)).toBe(k);
      }),
      { seed: fcSeed('version-records: key decode is exact'), numRuns: 3000 },
    );
  });
});
