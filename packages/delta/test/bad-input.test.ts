// Bad input is refused with a clear KoruError and leaves no trace; names that look
// like JavaScript internals are plain data.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { KoruDelta, KoruError, type StorageStats } from '@koru/delta';
import { expectKoruError } from './support.js';

let db: KoruDelta;
let before: StorageStats;
let namespacesBefore: string[];

beforeAll(async () => {
  db = await KoruDelta.start();
  await db.put('existing', 'key', { some: 'data' });
});
afterAll(async () => {
  await db.close();
});
beforeEach(async () => {
  before = await db.stats();
  namespacesBefore = await db.listNamespaces();
});

/** Proof that nothing was stored by the refused call. */
async function expectNothingStored(ns?: string, key?: string): Promise<void> {
  const after = await db.stats();
  expect(after.versions).toBe(before.versions);
  expect(after).toEqual(before);
  expect(await db.listNamespaces()).toEqual(namespacesBefore);
  if (ns !== undefined && key !== undefined) {
    expect(await db.contains(ns, key)).toBe(false);
    await expectKoruError(() => db.history(ns, key), 'KEY_NOT_FOUND');
  }
}

describe('invalid namespace → INVALID_NAMESPACE', () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['empty', '', /empty/],
    ['129 characters', 'n'.repeat(129), /129 characters.*128/],
    ['a NUL', 'a\u0000b', /may only contain/],
    ['a space', 'a b', /may only contain/],
    ['a slash', 'a/b', /may only contain/],
    ['non-ASCII', 'café', /may only contain/],
    ['a "_" prefix (reserved)', '_internal', /reserved/],
    ['a number', 42, /must be a string.*number/],
    ['null', null, /must be a string/],
    ['undefined', undefined, /must be a string.*undefined/],
    ['an object', { toString: () => 'users' }, /must be a string.*object/],
  ];
  test.each(cases)('%s', async (_, ns, message) => {
    const e = await expectKoruError(() => db.put(ns as string, 'k', 1), 'INVALID_NAMESPACE', message);
    expect(e).toBeInstanceOf(KoruError);
    await expectKoruError(() => db.putMany([{ namespace: ns as string, key: 'k', value: 1 }]), 'INVALID_NAMESPACE', message);
    await expectKoruError(() => db.get(ns as string, 'k'), 'INVALID_NAMESPACE');
    await expectKoruError(() => db.history(ns as string, 'k'), 'INVALID_NAMESPACE');
    await expectKoruError(() => db.delete(ns as string, 'k'), 'INVALID_NAMESPACE');
    await expectKoruError(() => db.listKeys(ns as string), 'INVALID_NAMESPACE');
    await expectNothingStored();
  });

  test('128 characters and every allowed character pass', async () => {
    const ns = 'n'.repeat(128);
    await db.put(ns, 'k', 1);
    await db.put('Az09_.-', 'k', 1);
    expect(await db.listNamespaces()).toEqual(expect.arrayContaining([ns, 'Az09_.-']));
  });
});

describe('invalid key → INVALID_KEY', () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['empty', '', /empty/],
    ['1,025 ASCII bytes', 'k'.repeat(1025), /1025 UTF-8 bytes.*1024/],
    ['1,025 bytes of 2-byte characters', 'é'.repeat(512) + 'a', /1025 UTF-8 bytes/],
    ['1,025 bytes of 3-byte characters', '€'.repeat(341) + 'é', /1025 UTF-8 bytes/],
    ['1,026 bytes of 3-byte characters', '€'.repeat(342), /1026 UTF-8 bytes/],
    ['1,025 bytes of 4-byte characters', '😀'.repeat(256) + 'a', /1025 UTF-8 bytes/],
    ['a NUL', 'a\u0000b', /NUL/],
    ['a lone high surrogate', 'a\uD800b', /lone surrogate/],
    ['a lone low surrogate', '\uDC00', /lone surrogate/],
    ['a number', 7, /must be a string.*number/],
    ['null', null, /must be a string/],
    ['an array', ['k'], /must be a string.*object/],
  ];
  test.each(cases)('%s', async (_, key, message) => {
    await expectKoruError(() => db.put('keys', key as string, 1), 'INVALID_KEY', message);
    await expectKoruError(() => db.putMany([{ namespace: 'keys', key: key as string, value: 1 }]), 'INVALID_KEY', message);
    await expectKoruError(() => db.get('keys', key as string), 'INVALID_KEY');
    await expectKoruError(() => db.contains('keys', key as string), 'INVALID_KEY');
    await expectKoruError(() => db.delete('keys', key as string), 'INVALID_KEY');
    await expectNothingStored();
    expect(await db.listKeys('keys')).toEqual([]);
  });

  test.each([
    ['1,024 ASCII bytes', 'k'.repeat(1024)],
    ['1,024 bytes of 2-byte characters', 'é'.repeat(512)],
    ['1,024 bytes of 3-byte characters', '€'.repeat(341) + 'a'],
    ['1,024 bytes of 4-byte characters', '😀'.repeat(256)],
  ])('%s pass (the boundary)', async (_, key) => {
    const v = await db.put('boundary', key, key);
    expect(v.key).toBe(key);
    expect(await db.get('boundary', key)).toBe(key);
  });
});

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

describe('values that are not JSON → INVALID_VALUE', () => {
  const cyclicObject: Record<string, unknown> = { a: 1 };
  cyclicObject.self = cyclicObject;
  const cyclicArray: unknown[] = [1];
  cyclicArray.push([cyclicArray]);
  const sparse = [1, , 3]; // eslint-disable-line no-sparse-arrays
  const cases: Array<[string, unknown, RegExp]> = [
    ['undefined', undefined, /undefined/],
    ['a function', () => 1, /function/],
    ['a symbol', Symbol('s'), /symbol/],
    ['a BigInt', 10n, /BigInt/],
    ['NaN', Number.NaN, /NaN/],
    ['Infinity', Infinity, /Infinity/],
    ['-Infinity', -Infinity, /-Infinity/],
    ['a cyclic object', cyclicObject, /value\.self.*cyclic/],
    ['a cyclic array', cyclicArray, /value\[1\]\[0\].*cyclic/],
    ['a lone surrogate in a string', { text: 'ok \uD83D broken' }, /value\.text.*lone surrogate/],
    ['a lone surrogate in a field name', { ['bad\uDE00']: 1 }, /key with a lone surrogate/],
    ['a Date', new Date(0), /Date/],
    ['a Map', new Map([['a', 1]]), /Map/],
    ['a Set', new Set([1]), /Set/],
    ['a class instance', new Point(1, 2), /Point/],
    ['a typed array', new Uint8Array(2), /Uint8Array/],
    ['a nested NaN (path named)', { a: { b: [0, 1, Number.NaN] } }, /value\.a\.b\[2\].*NaN/],
    ['a nested function', [{ f: () => 0 }], /value\[0\]\.f.*function/],
    ['a hole in a sparse array', sparse, /value\[1\].*sparse/],
    ['a symbol-keyed field', { [Symbol('k')]: 1 }, /symbol keys/],
  ];
  test.each(cases)('%s', async (_, value, message) => {
    await expectKoruError(() => db.put('values', 'k', value), 'INVALID_VALUE', message);
    await expectKoruError(() => db.putMany([{ namespace: 'values', key: 'k', value }]), 'INVALID_VALUE', message);
    await expectNothingStored('values', 'k');
  });

  test('a refused write does not disturb the key it was aimed at', async () => {
    const v = await db.put('values', 'live', 1);
    before = await db.stats();
    namespacesBefore = await db.listNamespaces();
    await expectKoruError(() => db.put('values', 'live', Number.NaN, { ifVersion: v.versionId }), 'INVALID_VALUE');
    await expectNothingStored();
    expect(await db.history('values', 'live')).toEqual([v]);
    expect((await db.put('values', 'live', 2, { ifVersion: v.versionId })).previousVersion).toBe(v.versionId);
  });
});

describe('size limit → VALUE_TOO_LARGE', () => {
  let small: KoruDelta;
  beforeAll(async () => {
    small = await KoruDelta.start({ maxValueBytes: 1024 });
  });
  afterAll(async () => {
    await small.close();
  });

  test('maxValueBytes 1024: 1,024 bytes of canonical JSON pass, 1,025 fail', async () => {
    await small.put('s', 'ok', 'x'.repeat(1022)); // + 2 quotes = 1024
    await small.put('s', 'ok2', 'é'.repeat(511)); // 1022 bytes + 2 quotes
    const versions = (await small.stats()).versions;
    await expectKoruError(() => small.put('s', 'big', 'x'.repeat(1023)), 'VALUE_TOO_LARGE', /1024/);
    await expectKoruError(() => small.put('s', 'big', 'é'.repeat(511) + 'a'), 'VALUE_TOO_LARGE', /1024/);
    await expectKoruError(() => small.put('s', 'big', { a: ['x'.repeat(2000)] }), 'VALUE_TOO_LARGE', /over the limit of 1024/);
    await expectKoruError(() => small.putMany([{ namespace: 's', key: 'ok3', value: 1 }, { namespace: 's', key: 'big', value: 'x'.repeat(5000) }]), 'VALUE_TOO_LARGE');
    expect((await small.stats()).versions).toBe(versions);
    expect(await small.contains('s', 'big')).toBe(false);
    expect(await small.contains('s', 'ok3')).toBe(false);
  });

  test('a small object graph that expands past the limit is refused', async () => {
    let shared: unknown = ['x'.repeat(10)];
    for (let i = 0; i < 40; i++) shared = [shared, shared]; // 2^40 leaves once serialized
    await expectKoruError(() => small.put('s', 'bomb', shared), 'VALUE_TOO_LARGE');
    expect(await small.contains('s', 'bomb')).toBe(false);
  });

  test('default limit 16 MiB: 16 MiB passes, 16 MiB + 1 byte fails', async () => {
    const MiB16 = 16 * 1024 * 1024;
    await expectKoruError(() => db.put('large', 'over', 'x'.repeat(MiB16 - 1)), 'VALUE_TOO_LARGE', new RegExp(String(MiB16)));
    await expectNothingStored('large', 'over');
    const v = await db.put('large', 'exact', 'x'.repeat(MiB16 - 2));
    expect((v.value as string).length).toBe(MiB16 - 2);
  });
});

describe('nesting limit → VALUE_TOO_DEEP', () => {
  const nestArrays = (depth: number): unknown => {
    let v: unknown = 0;
    for (let i = 0; i < depth; i++) v = [v];
    return v;
  };
  const nestObjects = (depth: number): unknown => {
    let v: unknown = 'leaf';
    for (let i = 0; i < depth; i++) v = { n: v };
    return v;
  };

  test('default 512: depth 512 passes', async () => {
    await db.put('deep', 'arrays', nestArrays(512));
    await db.put('deep', 'objects', nestObjects(512));
    expect(await db.get('deep', 'arrays')).toEqual(nestArrays(512));
  });

  test.each([
    ['arrays', nestArrays(513)],
    ['objects', nestObjects(513)],
    ['mixed, far past the limit', nestObjects(10_000)],
  ])('default 512: depth 513 fails (%s)', async (_, value) => {
    await expectKoruError(() => db.put('deep', 'too', value), 'VALUE_TOO_DEEP', /limit of 512/);
    await expectNothingStored('deep', 'too');
  });

  test('maxDepth is configurable', async () => {
    const shallow = await KoruDelta.start({ maxDepth: 2 });
    try {
      await shallow.put('d', 'ok', { a: [1] });
      await expectKoruError(() => shallow.put('d', 'no', { a: [[1]] }), 'VALUE_TOO_DEEP', /limit of 2/);
      expect(await shallow.contains('d', 'no')).toBe(false);
    } finally {
      await shallow.close();
    }
  });
});

describe('__proto__, constructor and prototype are plain data', () => {
  const protoNames = () => Object.getOwnPropertyNames(Object.prototype).sort();
  let names: string[];
  beforeAll(() => {
    names = protoNames();
  });
  afterEach(() => {
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(protoNames()).toEqual(names);
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  });

  test('"constructor" and "prototype" are valid namespaces', async () => {
    for (const ns of ['constructor', 'prototype', 'toString', 'hasOwnProperty']) {
      expect(await db.contains(ns, 'k')).toBe(false);
      await db.put(ns, 'k', { ns });
      await db.put(ns, 'k', { ns, v: 2 });
      expect(await db.get(ns, 'k')).toEqual({ ns, v: 2 });
      expect(await db.history(ns, 'k')).toHaveLength(2);
      expect(await db.listKeys(ns)).toEqual(['k']);
    }
    expect(await db.listNamespaces()).toEqual(expect.arrayContaining(['constructor', 'hasOwnProperty', 'prototype', 'toString']));
  });

  test('"__proto__" as a namespace is rejected as reserved (it starts with "_")', async () => {
    await expectKoruError(() => db.put('__proto__', 'k', 1), 'INVALID_NAMESPACE', /__proto__/, /reserved/);
    await expectNothingStored();
  });

  test('as keys', async () => {
    for (const key of ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', 'valueOf']) {
      expect(await db.contains('special', key)).toBe(false);
      await expectKoruError(() => db.get('special', key), 'KEY_NOT_FOUND');
      const v1 = await db.put('special', key, { key, polluted: true });
      const v2 = await db.put('special', key, 'second');
      expect(await db.get('special', key)).toBe('second');
      expect(await db.history('special', key)).toEqual([v1, v2]);
      expect(await db.getAt('special', key, Date.now())).toEqual(v2);
      expect((await db.diff('special', key)).changes).toEqual([{ kind: 'changed', path: '', before: { key, polluted: true }, after: 'second' }]);
    }
    expect(await db.listKeys('special')).toEqual(['__proto__', 'constructor', 'hasOwnProperty', 'prototype', 'toString', 'valueOf']);
    await db.delete('special', '__proto__');
    expect(await db.contains('special', '__proto__')).toBe(false);
    expect(await db.history('special', '__proto__')).toHaveLength(3);
  });

  test('as field names, including an own "__proto__" from JSON.parse', async () => {
    const text = '{"__proto__":{"isAdmin":true,"polluted":"yes"},"constructor":{"prototype":{"polluted":1}},"prototype":[1]}';
    const parsed = JSON.parse(text) as Record<string, unknown>;
    expect(Object.hasOwn(parsed, '__proto__')).toBe(true);
    const v = await db.put('fields', 'doc', parsed);
    for (const value of [v.value, await db.get('fields', 'doc')] as Array<Record<string, unknown>>) {
      expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
      expect(Object.keys(value)).toEqual(['__proto__', 'constructor', 'prototype']);
      expect(Object.hasOwn(value, '__proto__')).toBe(true);
      expect(value['__proto__']).toEqual({ polluted: 'yes', isAdmin: true });
      expect((value as { isAdmin?: unknown }).isAdmin).toBeUndefined();
      expect(JSON.stringify(value)).toBe(text);
    }
    // The canonical form (and so the value id) includes the field.
    const other = await db.put('fields', 'other', JSON.parse('{"constructor":{"prototype":{"polluted":1}},"prototype":[1]}'));
    expect(other.valueId).not.toBe(v.valueId);
    const next = JSON.parse('{"__proto__":{"polluted":"no"},"prototype":[1]}') as Record<string, unknown>;
    await db.put('fields', 'doc', next);
    expect((await db.diff('fields', 'doc')).changes).toEqual([
      { kind: 'removed', path: '/__proto__/isAdmin', before: true },
      { kind: 'changed', path: '/__proto__/polluted', before: 'yes', after: 'no' },
      { kind: 'removed', path: '/constructor', before: { prototype: { polluted: 1 } } },
    ]);
    expect(await db.history('fields', 'doc')).toHaveLength(2);
  });
});
