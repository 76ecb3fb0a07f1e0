import { fcSeed, prng } from '@koru/vitest-preset/helpers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_VALUE_BYTES,
  canonicalJson,
  canonicalize,
  deepFreeze,
  isWellFormedString,
  utf8Length,
} from './canonical-json.js';
import {
  ErrorCodes,
  InvalidValueError,
  KoruError,
  ValueTooDeepError,
  ValueTooLargeError,
  type ErrorCode,
} from './errors.js';

const encoder = new TextEncoder();
const utf8 = (s: string): number => encoder.encode(s).length;

/** The double whose IEEE 754 bits are `hex` (16 hex digits), as in RFC 8785 Appendix B. */
function fromBits(hex: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt(`0x${hex}`));
  return view.getFloat64(0);
}

/**
 * A description of a value's whole object graph (own keys, descriptors, prototypes,
 * frozenness), to show that a failed canonicalization left the input exactly as it was.
 */
function fingerprint(v: unknown, seen = new Map<unknown, number>()): string {
  if ((typeof v === 'object' && v !== null) || typeof v === 'function') {
    const known = seen.get(v);
    if (known !== undefined) return `#${known}`;
    seen.set(v, seen.size);
    const proto: unknown = Object.getPrototypeOf(v);
    const parts = Reflect.ownKeys(v).map((k) => {
      const d = Object.getOwnPropertyDescriptor(v, k)!;
      const body = 'value' in d ? fingerprint(d.value, seen) : 'accessor';
      return `${String(k)}=${body}/${String(d.writable)}${String(d.enumerable)}${String(d.configurable)}`;
    });
    const protoName = proto === null ? 'null' : (proto as { constructor?: { name?: string } }).constructor?.name;
    return `${typeof v}<${String(protoName)}|frozen=${Object.isFrozen(v)}|ext=${Object.isExtensible(v)}>{${parts.join(',')}}`;
  }
  if (typeof v === 'symbol') return v.toString();
  if (typeof v === 'bigint') return `${v}n`;
  if (Object.is(v, -0)) return '-0';
  return `${typeof v}:${String(v)}`;
}

/** Every object reachable from `v` (own property values), cycles allowed. */
function objectsOf(v: unknown, acc = new Set<object>()): Set<object> {
  if (typeof v === 'object' && v !== null && !acc.has(v)) {
    acc.add(v);
    for (const k of Reflect.ownKeys(v)) {
      const d = Object.getOwnPropertyDescriptor(v, k)!;
      if ('value' in d) objectsOf(d.value, acc);
    }
  }
  return acc;
}

/** Canonicalizes `input`, expecting a KoruError of `cls`/`code`; checks nothing was touched. */
function expectRejected(
  input: unknown,
  cls: new (...args: never[]) => KoruError,
  code: ErrorCode,
  limits?: Parameters<typeof canonicalize>[1],
): KoruError {
  const before = fingerprint(input);
  let thrown: unknown;
  try {
    canonicalize(input, limits);
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(cls);
  expect(thrown).toBeInstanceOf(KoruError);
  const err = thrown as KoruError;
  expect(err.code).toBe(code);
  expect(fingerprint(input)).toBe(before);
  for (const o of objectsOf(input)) expect(Object.isFrozen(o)).toBe(false);
  // canonicalJson validates exactly as canonicalize does.
  expect(() => canonicalJson(input, limits)).toThrow(cls);
  return err;
}

/** Arrays nested `depth` deep around a 0 (depth 0 is the scalar itself). */
function nestArrays(depth: number): unknown {
  let v: unknown = 0;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

/** Objects nested `depth` deep around a 0. */
function nestObjects(depth: number): unknown {
  let v: unknown = 0;
  for (let i = 0; i < depth; i++) v = { k: v };
  return v;
}

/** Every object and array reachable from `v` is frozen. */
function isDeepFrozen(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return true;
  if (!Object.isFrozen(v)) return false;
  return Object.values(v).every(isDeepFrozen);
}

/** The same JSON value with every object's keys inserted in a random order. */
function reorderKeys(v: unknown, rnd: () => number): unknown {
  if (Array.isArray(v)) return v.map((x) => reorderKeys(x, rnd));
  if (typeof v !== 'object' || v === null) return v;
  const keys = Object.keys(v);
  for (let i = keys.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [keys[i], keys[j]] = [keys[j]!, keys[i]!];
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    Object.defineProperty(out, k, {
      value: reorderKeys((v as Record<string, unknown>)[k], rnd),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/** An independent, naive RFC 8785 serializer used as an oracle. */
function naiveJcs(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(naiveJcs).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const keys = Object.keys(v);
    // Explicit UTF-16 code unit comparison (not localeCompare).
    keys.sort((a, b) => {
      for (let i = 0; i < Math.min(a.length, b.length); i++) {
        const d = a.charCodeAt(i) - b.charCodeAt(i);
        if (d !== 0) return d;
      }
      return a.length - b.length;
    });
    return `{${keys.map((k) => `${JSON.stringify(k)}:${naiveJcs((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

const jsonArb = fc.oneof(
  fc.jsonValue({ stringUnit: 'binary', maxDepth: 6 }),
  fc.jsonValue({ stringUnit: 'binary-ascii', maxDepth: 6 }),
  fc.jsonValue({ stringUnit: 'grapheme', maxDepth: 6 }),
);

describe('canonicalize: RFC 8785 key ordering', () => {
  it('sorts the RFC 8785 §3.2.3 example by UTF-16 code units', () => {
    const input = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    const { text, value } = canonicalize(input);
    expect(text).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
        '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
    // The RFC's expected order, read back from the text (the copy's own property order
    // is the JS engine's business: integer-like keys such as "1" always come first).
    const order = ['\r', '1', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33'];
    const positions = order.map((k) => text.indexOf(`${JSON.stringify(k)}:`));
    expect(positions.every((p) => p > 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(value).toEqual(input);
  });

  it('orders astral characters (surrogate pairs) before high BMP characters, unlike code point order', () => {
    // U+1F600 is D83D DE00 in UTF-16, which sorts before U+FB33 though its code point is larger.
    expect(canonicalJson({ '\ufb33': 1, '\u{1f600}': 2 })).toBe('{"\u{1f600}":2,"\ufb33":1}');
  });

  it('sorts integer-like keys as strings, not numbers', () => {
    expect(canonicalJson({ 10: 'a', 9: 'b', 1: 'c', '': 'd', a: 'e', B: 'f' })).toBe(
      '{"":"d","1":"c","10":"a","9":"b","B":"f","a":"e"}',
    );
  });

  it('sorts nested objects and keeps array order', () => {
    expect(canonicalJson({ z: [{ b: 1, a: 2 }, 3, 'x'], a: { d: null, c: true } })).toBe(
      '{"a":{"c":true,"d":null},"z":[{"a":2,"b":1},3,"x"]}',
    );
  });
});

describe('canonicalize: RFC 8785 numbers', () => {
  // RFC 8785 Appendix B: IEEE 754 bits -> canonical text (NaN and Infinity are errors).
  const appendixB: ReadonlyArray<readonly [string, string]> = [
    ['0000000000000000', '0'],
    ['8000000000000000', '0'],
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ];
  it.each(appendixB)('bits %s -> %s', (bits, expected) => {
    expect(canonicalJson(fromBits(bits))).toBe(expected);
    expect(canonicalJson([fromBits(bits)])).toBe(`[${expected}]`);
  });

  it.each([
    [0, '0'],
    [-0, '0'],
    [1, '1'],
    [-1, '-1'],
    [1e21, '1e+21'],
    [1e20, '100000000000000000000'],
    [1e-7, '1e-7'],
    [1e-6, '0.000001'],
    [333333333.33333329, '333333333.3333333'],
    [5e-324, '5e-324'],
    [1.7976931348623157e308, '1.7976931348623157e+308'],
    [9007199254740992, '9007199254740992'],
    [4.5, '4.5'],
    [4.50, '4.5'],
    [2e-3, '0.002'],
    [0.002, '0.002'],
    [1e23, '1e+23'],
    [1e30, '1e+30'],
    [1e-27, '1e-27'],
    [0.1 + 0.2, '0.30000000000000004'],
  ])('%s -> %s', (n, expected) => {
    expect(canonicalJson(n)).toBe(expected);
  });

  it('turns -0 into 0 in the copy as well as in the text', () => {
    const { value } = canonicalize({ a: -0, b: [-0] });
    expect(Object.is((value as { a: number }).a, 0)).toBe(true);
    expect(Object.is((value as { b: number[] }).b[0], 0)).toBe(true);
  });

  it('round-trips every finite double through its canonical text', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (n) => {
        const text = canonicalJson(n);
        expect(Number(text)).toBe(n === 0 ? 0 : n);
        expect(text).toBe(n === 0 ? '0' : String(n));
      }),
      { seed: fcSeed('canonical-json: doubles'), numRuns: 2000 },
    );
  });
});

describe('canonicalize: RFC 8785 strings', () => {
  it('escapes control characters as \\u00xx except the five short escapes', () => {
    const short: Record<number, string> = { 8: '\\b', 9: '\\t', 10: '\\n', 12: '\\f', 13: '\\r' };
    for (let c = 0; c < 0x20; c++) {
      const expected = short[c] ?? `\\u00${c.toString(16).padStart(2, '0')}`;
      expect(canonicalJson(String.fromCharCode(c))).toBe(`"${expected}"`);
    }
    expect(canonicalJson('\u000f')).toBe('"\\u000f"'); // lowercase hex
    expect(canonicalJson('\u001f')).toBe('"\\u001f"');
  });

  it('escapes only " and \\ among printable ASCII; / and DEL stay literal', () => {
    expect(canonicalJson('"')).toBe('"\\""');
    expect(canonicalJson('\\')).toBe('"\\\\"');
    expect(canonicalJson('/')).toBe('"/"');
    expect(canonicalJson('\u007f')).toBe('"\u007f"');
    expect(canonicalJson("it's")).toBe('"it\'s"');
  });

  it('keeps non-ASCII characters literal (no \\u escapes), including astral and U+2028', () => {
    const s = 'é€\u0080\u00ff\u2028\u2029\ufeff😀\u{10ffff}';
    const text = canonicalJson(s);
    expect(text).toBe(`"${s}"`);
    expect(text).not.toContain('\\u');
  });

  it('escapes keys the same way as values', () => {
    expect(canonicalJson({ 'a"b\\c\nd\u0001': 1 })).toBe('{"a\\"b\\\\c\\nd\\u0001":1}');
  });
});

describe('canonicalize: the RFC 8785 §3.2.2 example', () => {
  it('produces the RFC output byte for byte', () => {
    const rfcInput = String.raw`{
      "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    }`;
    const expected = String.raw`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`;
    const { text, bytes, value } = canonicalize(JSON.parse(rfcInput));
    expect(text).toBe(expected);
    expect(bytes).toBe(utf8(expected));
    // 118 bytes of UTF-8 (the € is the three bytes e2 82 ac), 116 UTF-16 units.
    expect(encoder.encode(text)).toHaveLength(118);
    expect(text).toHaveLength(116);
    expect(value).toEqual({
      literals: [null, true, false],
      numbers: [333333333.3333333, 1e30, 4.5, 0.002, 1e-27],
      string: '€$\u000f\nA\'B"\\\\"/',
    });
  });
});

describe('canonicalize: rejections', () => {
  class Point {
    constructor(
      readonly x: number,
      readonly y: number,
    ) {}
  }

  it('rejects undefined at the top level, in arrays and as a property value', () => {
    expect(expectRejected(undefined, InvalidValueError, ErrorCodes.INVALID_VALUE).message).toMatch(/undefined/);
    const inArray = expectRejected([1, undefined, 3], InvalidValueError, ErrorCodes.INVALID_VALUE);
    expect(inArray.details).toEqual({ path: 'value[1]' });
    const asProp = expectRejected({ a: { b: undefined } }, InvalidValueError, ErrorCodes.INVALID_VALUE);
    expect(asProp.details).toEqual({ path: 'value.a.b' });
    expect(asProp.message).toMatch(/value\.a\.b is undefined/);
  });

  it('rejects functions, symbols, symbol keys and BigInt', () => {
    expect(expectRejected(() => 1, InvalidValueError, ErrorCodes.INVALID_VALUE).message).toMatch(/function/);
    expectRejected({ f() {} }, InvalidValueError, ErrorCodes.INVALID_VALUE);
    expect(expectRejected(Symbol('s'), InvalidValueError, ErrorCodes.INVALID_VALUE).message).toMatch(/symbol/);
    expectRejected([Symbol.iterator], InvalidValueError, ErrorCodes.INVALID_VALUE);
    expect(expectRejected({ a: 1, [Symbol('k')]: 2 }, InvalidValueError, ErrorCodes.INVALID_VALUE).message).toMatch(
      /symbol keys/,
    );
    expect(expectRejected(10n, InvalidValueError, ErrorCodes.INVALID_VALUE).message).toMatch(/BigInt/);
    expectRejected({ n: 1n }, InvalidValueError, ErrorCodes.INVALID_VALUE);
  });

  it.each([NaN, Infinity, -Infinity])('rejects %s anywhere', (n) => {
    expectRejected(n, InvalidValueError, ErrorCodes.INVALID_VALUE);
    expectRejected([0, n], InvalidValueError, ErrorCodes.INVALID_VALUE);
    expectRejected({ a: { n } }, InvalidValueError, ErrorCodes.INVALID_VALUE);
  });

  it('rejects cyclic objects and arrays, naming the cycle', () => {
    const o: Record<string, unknown> = { a: 1 };
    o.self = o;
    expect(expectRejected(o, InvalidValueError, ErrorCodes.INVALID_VALUE).message).toMatch(/cyclic/);

    const arr: unknown[] = [1];
    arr.push(arr);
    expect(expectRejected(arr, InvalidValueError, ErrorCodes.INVALID_VALUE).message).toMatch(/cyclic/);

    const deep: Record<string, unknown> = { a: { b: [{}] } };
    ((deep.a as { b: Record<string, unknown>[] }).b[0]!).back = deep;
    const err = expectRejected(deep, InvalidValueError, ErrorCodes.INVALID_VALUE);
    expect(err.message).toMatch(/cyclic/);
    expect(err.details).toEqual({ path: 'value.a.b[0].back' });
  });

  it('accepts shared (non-cyclic) references and copies them', () => {
    const shared = { x: 1 };
    const { text, value } = canonicalize({ a: shared, b: shared, c: [shared, shared] });
    expect(text).toBe('{"a":{"x":1},"b":{"x":1},"c":[{"x":1},{"x":1}]}');
    expect((value as { a: unknown }).a).not.toBe(shared);
  });

  it('rejects lone surrogates in strings and in keys', () => {
    for (const s of ['\ud800', 'a\udbffb', '\udc00', 'x\udfff', '\udc00\ud800', '😀\ud83d']) {
      expect(expectRejected(s, InvalidValueError, ErrorCodes.INVALID_VALUE).message).toMatch(/lone surrogate/);
      expectRejected({ k: [s] }, InvalidValueError, ErrorCodes.INVALID_VALUE);
      expect(expectRejected({ [s]: 1 }, InvalidValueError, ErrorCodes.INVALID_VALUE).message).toMatch(
        /key with a lone surrogate/,
      );
    }
  });

  it('rejects any string with a lone surrogate (property)', () => {
    const lone = fc.oneof(fc.integer({ min: 0xd800, max: 0xdbff }), fc.integer({ min: 0xdc00, max: 0xdfff }));
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), lone, fc.string({ unit: 'binary' }), (a, unit, b) => {
        // High surrogate: b never starts with a low one. Low: a never ends with a high one.
        const s = a + String.fromCharCode(unit) + b;
        expect(isWellFormedString(s)).toBe(false);
        expect(() => canonicalize(s)).toThrow(InvalidValueError);
        expect(() => canonicalize({ [s]: 0 })).toThrow(InvalidValueError);
        expect(isWellFormedString(a + b)).toBe(true);
      }),
      { seed: fcSeed('canonical-json: lone surrogates'), numRuns: 300 },
    );
  });

  it('rejects holes in sparse arrays', () => {
    // eslint-disable-next-line no-sparse-arrays
    const err = expectRejected([1, , 3], InvalidValueError, ErrorCodes.INVALID_VALUE);
    expect(err.message).toMatch(/sparse/);
    expect(err.details).toEqual({ path: 'value[1]' });
    expectRejected(new Array(2), InvalidValueError, ErrorCodes.INVALID_VALUE);
    const trailing: number[] = [1, 2];
    trailing.length = 3;
    expectRejected({ a: trailing }, InvalidValueError, ErrorCodes.INVALID_VALUE);
  });

  it('rejects Date, Map, Set, typed arrays, boxed primitives, RegExp and class instances', () => {
    const cases: Array<[unknown, RegExp]> = [
      [new Date(0), /Date/],
      [new Map([['a', 1]]), /Map/],
      [new Set([1]), /Set/],
      [new Uint8Array(2), /Uint8Array/],
      [new String('s'), /String/],
      [new Number(1), /Number/],
      [/re/, /RegExp/],
      [new Point(1, 2), /Point, not a plain object/],
      [new Error('e'), /Error/],
    ];
    for (const [v, msg] of cases) {
      expect(expectRejected(v, InvalidValueError, ErrorCodes.INVALID_VALUE).message).toMatch(msg);
      expectRejected({ nested: [v] }, InvalidValueError, ErrorCodes.INVALID_VALUE);
    }
    expectRejected(Object.create({ inherited: 1 }) as object, InvalidValueError, ErrorCodes.INVALID_VALUE);
  });

  it('accepts null-prototype objects and gives the copy Object.prototype', () => {
    const bare = Object.create(null) as Record<string, unknown>;
    bare.b = 1;
    bare.a = 2;
    const { text, value } = canonicalize(bare);
    expect(text).toBe('{"a":2,"b":1}');
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
  });
});

describe('canonicalize: depth limit', () => {
  it.each([0, 1, 5, 40])('maxDepth %i: exactly the limit passes, one deeper fails', (maxDepth) => {
    for (const nest of [nestArrays, nestObjects]) {
      expect(() => canonicalize(nest(maxDepth), { maxDepth })).not.toThrow();
      const err = expectRejected(nest(maxDepth + 1), ValueTooDeepError, ErrorCodes.VALUE_TOO_DEEP, { maxDepth });
      expect(err.details.maxDepth).toBe(maxDepth);
    }
  });

  it('defaults to a depth of 512', () => {
    expect(DEFAULT_MAX_DEPTH).toBe(512);
    expect(canonicalize(nestArrays(512)).text).toBe(`${'['.repeat(512)}0${']'.repeat(512)}`);
    expect(() => canonicalize(nestObjects(512))).not.toThrow();
    expectRejected(nestArrays(513), ValueTooDeepError, ErrorCodes.VALUE_TOO_DEEP);
    expectRejected(nestObjects(513), ValueTooDeepError, ErrorCodes.VALUE_TOO_DEEP);
  });

  it('counts depth along the deepest path, not the number of containers', () => {
    const wide = { a: [1], b: [2], c: { d: [3] } }; // depth 3
    expect(() => canonicalize(wide, { maxDepth: 3 })).not.toThrow();
    expectRejected(wide, ValueTooDeepError, ErrorCodes.VALUE_TOO_DEEP, { maxDepth: 2 });
    // Scalars are depth 0 and empty containers depth 1.
    expect(canonicalize('x', { maxDepth: 0 }).text).toBe('"x"');
    expectRejected([], ValueTooDeepError, ErrorCodes.VALUE_TOO_DEEP, { maxDepth: 0 });
    expectRejected({}, ValueTooDeepError, ErrorCodes.VALUE_TOO_DEEP, { maxDepth: 0 });
  });
});

describe('canonicalize: size limit', () => {
  it('counts UTF-8 bytes, not UTF-16 units, with the exact boundary', () => {
    const v = { a: '€😀é' }; // {"a":"€😀é"}: 6 + 3 + 4 + 2 + 2 = 17 bytes, 12 UTF-16 units
    const { text, bytes } = canonicalize(v, { maxBytes: 17 });
    expect(text).toBe('{"a":"€😀é"}');
    expect(text.length).toBe(12);
    expect(bytes).toBe(17);
    const err = expectRejected(v, ValueTooLargeError, ErrorCodes.VALUE_TOO_LARGE, { maxBytes: 16 });
    expect(err.details.maxBytes).toBe(16);
    expectRejected(v, ValueTooLargeError, ErrorCodes.VALUE_TOO_LARGE, { maxBytes: 12 });
  });

  it('counts multi-byte characters in keys and escapes in strings', () => {
    const v = { 'ключ': 'a\nb', ok: [true, null] }; // escapes: \n is two bytes of text
    const text = canonicalJson(v);
    expect(text).toBe('{"ok":[true,null],"ключ":"a\\nb"}');
    const size = utf8(text);
    expect(canonicalize(v, { maxBytes: size }).bytes).toBe(size);
    expectRejected(v, ValueTooLargeError, ErrorCodes.VALUE_TOO_LARGE, { maxBytes: size - 1 });
  });

  it('passes a value of exactly the default 16 MiB and refuses one byte more', () => {
    expect(DEFAULT_MAX_VALUE_BYTES).toBe(16 * 1024 * 1024);
    // Two-byte characters: the boundary is in bytes, not characters.
    const half = (DEFAULT_MAX_VALUE_BYTES - 2) / 2;
    const exact = 'é'.repeat(half);
    expect(canonicalize(exact).bytes).toBe(DEFAULT_MAX_VALUE_BYTES);
    expectRejected(`${exact}x`, ValueTooLargeError, ErrorCodes.VALUE_TOO_LARGE);
  });

  it('refuses a value that expands exponentially through shared subtrees, without running out of memory', () => {
    let v: unknown = [1];
    for (let i = 0; i < 60; i++) v = [v, v]; // 2^60 leaves when serialized
    expectRejected(v, ValueTooLargeError, ErrorCodes.VALUE_TOO_LARGE, { maxBytes: 10_000 });
    const err = expectRejected(v, ValueTooLargeError, ErrorCodes.VALUE_TOO_LARGE, { maxBytes: 1 << 20 });
    expect(err.details.maxBytes).toBe(1 << 20);
    // A lower bound: the walk stopped as soon as the limit was crossed.
    expect(err.details.bytes).toBeGreaterThan(1 << 20);
    expect(err.details.bytes).toBeLessThan((1 << 20) + 1000);
  });

  it('refuses a huge array before walking it', () => {
    const started = Date.now();
    expectRejected(new Array(50_000_000), ValueTooLargeError, ErrorCodes.VALUE_TOO_LARGE);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('canonicalize: prototype-named keys', () => {
  it('keeps __proto__, constructor and prototype as own enumerable data properties', () => {
    const input = JSON.parse(
      '{"prototype":5,"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":1}}}',
    ) as Record<string, unknown>;
    const { text, value } = canonicalize(input);
    expect(text).toBe('{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":1}},"prototype":5}');
    const copy = value as Record<string, unknown>;
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    for (const k of ['__proto__', 'constructor', 'prototype']) {
      const d = Object.getOwnPropertyDescriptor(copy, k);
      expect(d).toBeDefined();
      expect(d!.enumerable).toBe(true);
      expect('value' in d!).toBe(true);
    }
    expect(Object.keys(copy).sort()).toEqual(['__proto__', 'constructor', 'prototype']);
    expect(Object.getOwnPropertyDescriptor(copy, '__proto__')!.value).toEqual({ polluted: true });
    expect((copy as { polluted?: unknown }).polluted).toBeUndefined();
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
    expect(Object.hasOwn(Object.prototype, 'polluted')).toBe(false);
    // The copy round-trips through JSON.parse to the same own properties.
    expect(JSON.parse(text)).toEqual(copy);
    expect(canonicalJson(copy)).toBe(text);
  });

  it('keeps a nested __proto__ key on a null-prototype object too', () => {
    const bare = Object.create(null) as Record<string, unknown>;
    bare['__proto__'] = [1];
    const { text, value } = canonicalize({ x: bare });
    expect(text).toBe('{"x":{"__proto__":[1]}}');
    const x = (value as { x: object }).x;
    expect(Object.getPrototypeOf(x)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(x, '__proto__')!.value).toEqual([1]);
  });
});

describe('canonicalize: the copy', () => {
  it('is deep-frozen, detached from the caller, and the caller is left unfrozen', () => {
    const input = { a: { b: [1, { c: 2 }] }, s: 'x' };
    const { value } = canonicalize(input);
    const copy = value as typeof input;
    expect(copy).not.toBe(input);
    expect(copy.a).not.toBe(input.a);
    expect(copy.a.b).not.toBe(input.a.b);
    expect(copy.a.b[1]).not.toBe(input.a.b[1]);
    expect(isDeepFrozen(copy)).toBe(true);
    expect(Object.isFrozen(input)).toBe(false);
    expect(Object.isFrozen(input.a)).toBe(false);
    expect(Object.isFrozen(input.a.b)).toBe(false);
    expect(Object.isFrozen(input.a.b[1])).toBe(false);
    // The caller mutating its object never changes the copy...
    input.a.b.push(3);
    (input.a.b[1] as { c: number }).c = 99;
    expect(copy).toEqual({ a: { b: [1, { c: 2 }] }, s: 'x' });
    // ...and the copy cannot be mutated (ES modules are strict: assignment throws).
    expect(() => {
      (copy.a.b[1] as { c: number }).c = 5;
    }).toThrow(TypeError);
    expect(() => {
      (copy.a.b as unknown[]).push(1);
    }).toThrow(TypeError);
  });

  it('ignores non-enumerable properties like JSON.stringify does', () => {
    const o = { a: 1 };
    Object.defineProperty(o, 'hidden', { value: 2, enumerable: false });
    expect(canonicalize(o).text).toBe('{"a":1}');
    expect(canonicalize(o).value).toEqual({ a: 1 });
  });
});

describe('canonicalize: properties', () => {
  it('JSON.parse of the text equals the copy; idempotent; independent of key order; bytes exact', () => {
    fc.assert(
      fc.property(jsonArb, fc.integer(), (v, shuffleSeed) => {
        const c = canonicalize(v);
        expect(JSON.parse(c.text)).toEqual(c.value);
        expect(c.value).toEqual(JSON.parse(JSON.stringify(v)));
        expect(c.bytes).toBe(utf8(c.text));
        expect(c.bytes).toBe(utf8Length(c.text));
        expect(canonicalize(JSON.parse(c.text)).text).toBe(c.text);
        expect(canonicalize(c.value).text).toBe(c.text);
        expect(canonicalize(reorderKeys(v, prng(shuffleSeed))).text).toBe(c.text);
        expect(c.text).toBe(naiveJcs(v));
        expect(isDeepFrozen(c.value)).toBe(true);
      }),
      { seed: fcSeed('canonical-json: json values'), numRuns: 500 },
    );
  });

  it('maxBytes equal to the canonical size always passes, one less always fails', () => {
    fc.assert(
      fc.property(jsonArb, (v) => {
        const { bytes } = canonicalize(v);
        expect(canonicalize(v, { maxBytes: bytes }).bytes).toBe(bytes);
        expect(() => canonicalize(v, { maxBytes: bytes - 1 })).toThrow(ValueTooLargeError);
      }),
      { seed: fcSeed('canonical-json: size boundary'), numRuns: 300 },
    );
  });
});

describe('utf8Length, isWellFormedString, deepFreeze', () => {
  it('utf8Length matches TextEncoder on well-formed strings', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' })), (s) => {
        expect(utf8Length(s)).toBe(utf8(s));
        expect(isWellFormedString(s)).toBe(true);
      }),
      { seed: fcSeed('canonical-json: utf8Length'), numRuns: 1000 },
    );
    expect(utf8Length('')).toBe(0);
    expect(utf8Length('\u007f\u0080\u07ff\u0800\uffff\u{10000}')).toBe(1 + 2 + 2 + 3 + 3 + 4);
  });

  it('deepFreeze freezes a parsed value in place and returns it', () => {
    const v = JSON.parse('{"a":[{"b":1}],"c":{"d":[]}}') as { a: [{ b: number }]; c: { d: unknown[] } };
    expect(deepFreeze(v)).toBe(v);
    expect(isDeepFrozen(v)).toBe(true);
    expect(deepFreeze(5)).toBe(5);
    expect(deepFreeze(null)).toBe(null);
  });
});

describe('canonicalize: key order at any size', () => {
  const INTEGER_LIKE = /^(?:0|[1-9]\d*)$/;
  it('objects of up to 80 keys, any UTF-16 keys, come out in code-unit order (property)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ unit: 'binary', maxLength: 6 }).filter((k) => !INTEGER_LIKE.test(k) && canonicalizable(k)), {
          maxLength: 80,
        }),
        (keys) => {
          const obj: Record<string, number> = {};
          keys.forEach((k, i) => Object.defineProperty(obj, k, { value: i, enumerable: true, writable: true, configurable: true }));
          const parsed = JSON.parse(canonicalize(obj).text) as Record<string, number>;
          // JSON.parse keeps the text's order for non-integer keys.
          expect(Object.keys(parsed)).toEqual([...keys].sort());
        },
      ),
      { seed: fcSeed('key order at any size'), numRuns: 300 },
    );
  });
});

function canonicalizable(s: string): boolean {
  try {
    canonicalize(s);
    return true;
  } catch {
    return false;
  }
}
