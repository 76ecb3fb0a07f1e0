import { fcSeed } from '@koru/vitest-preset/helpers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, canonicalize } from './canonical-json.js';
import { distinctionOfBytes } from './distinction.js';
import { sha256HexOfText } from './hash.js';
import { isId, valueIdOfCanonical, versionIdInput, versionIdOf, type VersionIdFields } from './ids.js';

const encoder = new TextEncoder();
const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);
/** Well-formed strings with quotes, backslashes, controls and non-ASCII in them. */
const textArb = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: fc.constantFrom('"', '\\', '\n', '\u0000', '/', ':', 'é', '😀', '\u2028', 'a'), maxLength: 20 }),
);
const fieldsArb: fc.Arbitrary<VersionIdFields> = fc.record({
  namespace: textArb,
  key: textArb,
  valueId: fc.option(fc.oneof(hex64, textArb), { nil: null }),
  previousVersion: fc.option(fc.oneof(hex64, textArb), { nil: null }),
  hlc: fc.oneof(fc.stringMatching(/^\d{15}-\d{6}$/), textArb),
  node: textArb,
  deleted: fc.boolean(),
});

const base: VersionIdFields = {
  namespace: 'users',
  key: 'alice',
  valueId: 'b'.repeat(64),
  previousVersion: 'a'.repeat(64),
  hlc: '001700000000000-000003',
  node: 'node-1',
  deleted: false,
};

describe('valueId', () => {
  it('is the SHA-256 of the canonical JSON text', () => {
    const text = canonicalJson({ b: 1, a: 2 });
    expect(text).toBe('{"a":2,"b":1}');
    // sha256 of the 13 bytes {"a":2,"b":1}, computed with standard tools.
    expect(valueIdOfCanonical(text)).toBe('d3626ac30a87e6f7a6428233b3c68299976865fa5508e4267c5415c76af7a772');
  });

  it('equals SHA-256 of the UTF-8 canonical text and ignores key order (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: 'binary', maxDepth: 4 }), (v) => {
        const { text } = canonicalize(v);
        const id = valueIdOfCanonical(text);
        expect(isId(id)).toBe(true);
        expect(id).toBe(sha256HexOfText(text));
        expect(id).toBe(distinctionOfBytes(encoder.encode(text)).id);
        expect(valueIdOfCanonical(canonicalJson(JSON.parse(JSON.stringify(v))))).toBe(id);
      }),
      { seed: fcSeed('ids: valueId'), numRuns: 300 },
    );
  });
});

describe('versionId', () => {
  it('hashes the documented RFC 8785 object (golden vectors)', () => {
    const prev = 'a'.repeat(64);
    const val = 'b'.repeat(64);
    expect(versionIdInput(base)).toBe(
      `{"deleted":false,"hlc":"001700000000000-000003","key":"alice","namespace":"users","node":"node-1","previousVersion":"${prev}","valueId":"${val}"}`,
    );
    expect(versionIdOf(base)).toBe('dc0fb89f475b8d813d5f7baf2953c1649adf27b65a6bb5d83e1053e00751674c');
    const tombstone: VersionIdFields = { ...base, valueId: null, deleted: true, hlc: '001700000000001-000000' };
    expect(versionIdOf(tombstone)).toBe('8237929df7ab880552cf866c3c694e3368c4f01aa06e7826306a136fb1b26765');
    const first: VersionIdFields = { ...base, previousVersion: null };
    expect(versionIdInput(first)).toContain('"previousVersion":null,');
  });

  it('its input is itself RFC 8785 canonical JSON of the fields (property)', () => {
    fc.assert(
      fc.property(fieldsArb, (f) => {
        const input = versionIdInput(f);
        expect(canonicalJson(JSON.parse(input))).toBe(input);
        expect(JSON.parse(input)).toEqual({ ...f });
        expect(input).toBe(canonicalJson({ ...f }));
        expect(versionIdOf(f)).toBe(sha256HexOfText(input));
        expect(isId(versionIdOf(f))).toBe(true);
      }),
      { seed: fcSeed('ids: versionIdInput canonical'), numRuns: 500 },
    );
  });

  it('changes when any field changes (property)', () => {
    const fieldNames = Object.keys(base) as Array<keyof VersionIdFields>;
    fc.assert(
      fc.property(fieldsArb, fc.constantFrom(...fieldNames), fieldsArb, (f, name, other) => {
        const changed = { ...f, [name]: other[name] } as VersionIdFields;
        fc.pre(changed[name] !== f[name]);
        expect(versionIdOf(changed)).not.toBe(versionIdOf(f));
      }),
      { seed: fcSeed('ids: every field counts'), numRuns: 500 },
    );
    // Each field, one at a time, on a realistic version.
    const variants: VersionIdFields[] = [
      { ...base, namespace: 'users2' },
      { ...base, key: 'alicE' },
      { ...base, valueId: 'c'.repeat(64) },
      { ...base, valueId: null },
      { ...base, previousVersion: 'c'.repeat(64) },
      { ...base, previousVersion: null },
      { ...base, hlc: '001700000000000-000004' },
      { ...base, node: 'node-2' },
      { ...base, deleted: true },
    ];
    const ids = new Set([versionIdOf(base), ...variants.map(versionIdOf)]);
    expect(ids.size).toBe(variants.length + 1);
  });

  it('cannot be forged by moving text between fields', () => {
    // Unescaped ids would make both of these `..."previousVersion":"a","valueId":"b","valueId":"c"}`.
    const one: VersionIdFields = { ...base, previousVersion: 'a","valueId":"b', valueId: 'c' };
    const two: VersionIdFields = { ...base, previousVersion: 'a', valueId: 'b","valueId":"c' };
    expect(versionIdInput(one)).not.toBe(versionIdInput(two));
    expect(versionIdOf(one)).not.toBe(versionIdOf(two));
    const three: VersionIdFields = { ...base, namespace: 'a","node":"b', node: 'c' };
    const four: VersionIdFields = { ...base, namespace: 'a', node: 'b","node":"c' };
    expect(versionIdOf(three)).not.toBe(versionIdOf(four));
  });
});

describe('isId', () => {
  it('accepts 64 lowercase hex characters only', () => {
    expect(isId('0'.repeat(64))).toBe(true);
    expect(isId(sha256HexOfText('x'))).toBe(true);
    expect(isId('A'.repeat(64))).toBe(false);
    expect(isId('0'.repeat(63))).toBe(false);
    expect(isId('0'.repeat(65))).toBe(false);
    expect(isId(`${'0'.repeat(64)}\n`)).toBe(false);
    expect(isId('g'.repeat(64))).toBe(false);
    expect(isId(null)).toBe(false);
    expect(isId(123)).toBe(false);
    expect(isId(undefined)).toBe(false);
  });
});

// Characters at and around the edges of what is written as is: control characters,
// the printable range's ends, the two escaped ones, DEL, Latin-1, BMP, a surrogate pair.
const EDGES = ['\u0000', '\u001f', ' ', '~', '\u007f', '"', '\\', '/', '\u0080', 'é', '\u2028', '😀', '\ud800'];

// versionIdOf writes plain-ASCII inputs as bytes instead of building the string: the two
// ways must give the same id for every field value, at the edges of the plain range.
describe('versionIdOf bytes path', () => {
  it('matches the hash of versionIdInput for names and stamps at every edge character', () => {
    const fields = ['namespace', 'key', 'node', 'hlc'] as const;
    for (const field of fields) {
      for (const c of EDGES) {
        for (const s of [c, `a${c}`, `${c}z`, `x${c}y`]) {
          const f = { ...base, [field]: s };
          expect(versionIdOf(f)).toBe(sha256HexOfText(versionIdInput(f)));
        }
      }
    }
  });

  it('matches for tombstones, first versions and names too long for its scratch', () => {
    const cases: VersionIdFields[] = [
      { ...base, valueId: null, deleted: true },
      { ...base, previousVersion: null },
      { ...base, valueId: null, previousVersion: null, deleted: true },
      { ...base, key: 'k'.repeat(700) },
      { ...base, key: 'k'.repeat(767), namespace: 'n' },
      { ...base, key: 'k'.repeat(5000), namespace: 'n'.repeat(3000) },
    ];
    for (const f of cases) expect(versionIdOf(f)).toBe(sha256HexOfText(versionIdInput(f)));
  });
});
