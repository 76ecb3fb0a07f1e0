/**
 * A total order over JSON values, plus deep JSON equality.
 *
 * Order by type first: missing (`undefined`) < `null` < numbers < strings < booleans <
 * arrays < objects. Within a type: numbers numerically (`-0` equals `0`); strings by
 * UTF-16 code units (JavaScript's `<`, not locale collation); `false < true`; arrays
 * element by element, then the shorter first; objects by their sorted key lists
 * (compared like arrays of strings), then by their values in sorted key order.
 * `compareJson(a, b) === 0` exactly when `jsonEquals(a, b)`.
 */
import type { JsonValue } from '@koru/engine';
import type { Lookup } from './paths.js';

/** The rank of a value's type in the total order. */
export function typeRank(v: Lookup): number {
  if (v === undefined) return 0;
  if (v === null) return 1;
  switch (typeof v) {
    case 'number':
      return 2;
    case 'string':
      return 3;
    case 'boolean':
      return 4;
    default:
      return Array.isArray(v) ? 5 : 6;
  }
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareArrays(a: readonly Lookup[], b: readonly Lookup[], cmp: (x: Lookup, y: Lookup) => number): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = cmp(a[i], b[i]);
    if (c !== 0) return c;
  }
  return a.length - b.length < 0 ? -1 : a.length > b.length ? 1 : 0;
}

/**
 * Compares two JSON values (or missing) in the total order above: negative, zero or
 * positive. O(size of the smaller value); object keys are sorted per comparison.
 */
export function compareJson(a: Lookup, b: Lookup): number {
  // The common cases first: sort keys and range operands are mostly numbers or strings.
  const ta = typeof a;
  if (ta === typeof b && (ta === 'number' || ta === 'string')) return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 2:
      return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
    case 3:
      return compareStrings(a as string, b as string);
    case 4:
      return a === b ? 0 : a === false ? -1 : 1;
    case 5:
      return compareArrays(a as readonly JsonValue[], b as readonly JsonValue[], compareJson);
    case 6: {
      const oa = a as Readonly<Record<string, JsonValue>>;
      const ob = b as Readonly<Record<string, JsonValue>>;
      const ka = Object.keys(oa).sort();
      const kb = Object.keys(ob).sort();
      const c = compareArrays(ka, kb, (x, y) => compareStrings(x as string, y as string));
      if (c !== 0) return c;
      for (const k of ka) {
        const cv = compareJson(oa[k], ob[k]);
        if (cv !== 0) return cv;
      }
      return 0;
    }
    default:
      return 0; // both missing or both null
  }
}

/** Deep JSON equality: same type and same content; object key order is irrelevant. */
export function jsonEquals(a: Lookup, b: Lookup): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEquals(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const oa = a as Readonly<Record<string, JsonValue>>;
  const ob = b as Readonly<Record<string, JsonValue>>;
  const ka = Object.keys(oa);
  if (ka.length !== Object.keys(ob).length) return false;
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(ob, k) || !jsonEquals(oa[k], ob[k])) return false;
  }
  return true;
}
