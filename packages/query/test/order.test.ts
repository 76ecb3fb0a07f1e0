import type { JsonValue } from '@koru/engine';
import { describe, expect, it } from 'vitest';
import { compareJson, jsonEquals } from '../src/order.js';

describe('compareJson', () => {
  it('orders types: missing < null < numbers < strings < booleans < arrays < objects', () => {
    const sorted: JsonValue[] = [null, -1, 0, 2.5, '', 'B', 'a', false, true, [], [0], {}, { a: 1 }];
    const shuffled = [...sorted].reverse();
    expect(shuffled.sort(compareJson)).toEqual(sorted);
    // Array#sort never passes undefined to the comparator, so missing is checked directly.
    for (const v of sorted) expect(compareJson(undefined, v)).toBeLessThan(0);
    expect(compareJson(undefined, undefined)).toBe(0);
  });

  it('compares within types', () => {
    expect(compareJson('Z', 'a')).toBeLessThan(0); // UTF-16 code units, not locale
    expect(compareJson('\uffff', '\u{1F600}')).toBeGreaterThan(0); // a surrogate pair sorts by its first unit
    expect(compareJson(0, -0)).toBe(0);
    expect(compareJson([1, 2], [1, 3])).toBeLessThan(0);
    expect(compareJson([1, 2], [1])).toBeGreaterThan(0);
    expect(compareJson([2], [1, 9])).toBeGreaterThan(0);
    expect(compareJson({ a: 1 }, { b: 0 })).toBeLessThan(0); // keys first
    expect(compareJson({ a: 1 }, { a: 1, b: 0 })).toBeLessThan(0);
    expect(compareJson({ a: 2, b: 0 }, { b: 0, a: 1 })).toBeGreaterThan(0); // then values in key order
    expect(compareJson({ b: [1], a: 'x' }, { a: 'x', b: [1] })).toBe(0);
  });

  it('agrees with jsonEquals', () => {
    const vals: JsonValue[] = [null, 0, 1, 'a', true, false, [], [1], { a: [1] }, { a: [1], b: null }, { b: null, a: [1] }];
    for (const a of vals) for (const b of vals) expect(compareJson(a, b) === 0).toBe(jsonEquals(a, b));
    expect(jsonEquals([{}], [[]])).toBe(false);
  });
});
