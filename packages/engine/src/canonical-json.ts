/**
 * RFC 8785 (JSON Canonicalization Scheme) in one walk that also validates and
 * copies: the value is checked to be JSON, limited in depth and size, serialized
 * canonically (keys sorted by UTF-16 code units, ECMAScript number form, minimal
 * string escapes) and deep-copied into a frozen structure the database can hand out
 * without further copying. Nothing of the caller's object is retained or mutated.
 */
import { InvalidValueError, ValueTooDeepError, ValueTooLargeError } from './errors.js';

/** Any JSON value. */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [k: string]: JsonValue };

/** Limits enforced while canonicalizing. */
export interface CanonicalLimits {
  /** Largest canonical UTF-8 size in bytes (default 16 MiB). */
  readonly maxBytes?: number;
  /** Deepest nesting of arrays/objects; a scalar is depth 0 (default 512). */
  readonly maxDepth?: number;
}

/** The default size limit: 16 MiB of canonical JSON. */
export const DEFAULT_MAX_VALUE_BYTES = 16 * 1024 * 1024;
/** The default nesting limit. */
export const DEFAULT_MAX_DEPTH = 512;

/** A canonicalized value: its RFC 8785 text, its UTF-8 size and a deep-frozen copy. */
export interface Canonical {
  readonly text: string;
  readonly bytes: number;
  readonly value: JsonValue;
}

const hasWellFormed = typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === 'function';
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True when `s` has no lone UTF-16 surrogate (so it has a UTF-8 form). */
export function isWellFormedString(s: string): boolean {
  return hasWellFormed ? (s as string & { isWellFormed(): boolean }).isWellFormed() : !LONE_SURROGATE.test(s);
}

/** UTF-8 byte length of a well-formed string, without allocating. */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 2; // a surrogate pair: 4 bytes for 2 units
      i++;
    } else n += 2;
  }
  return n;
}

// One walk validates the value, checks the limits and builds a deep-frozen copy whose
// objects have their keys in RFC 8785 order; the text is then that copy through the
// native JSON.stringify, whose string and number forms are exactly RFC 8785's. The one
// exception: JavaScript enumerates integer-like keys ("1", "20") first, whatever the
// insertion order, so a value with such keys is serialized by `serialize` instead.
// The path of the node being visited is kept as a stack of segments and only
// formatted when reporting an error, so a valid value pays nothing for it.
class Walker {
  readonly maxDepth: number;
  readonly maxBytes: number;
  /** A lower bound of the canonical text's size so far (one byte per UTF-16 unit at least). */
  units = 0;
  /** Set when some object has an integer-like key. */
  integerKeys = false;
  /** Path segments (keys and indexes) from the root to the node being visited. */
  readonly segments: Array<string | number> = [];
  /** The objects and arrays being visited, root first (for cycle reports). */
  readonly ancestors: object[] = [];

  constructor(maxDepth: number, maxBytes: number) {
    this.maxDepth = maxDepth;
    this.maxBytes = maxBytes;
  }

  path(length = this.segments.length): string {
    let p = 'value';
    for (let i = 0; i < length; i++) {
      const s = this.segments[i]!;
      p += typeof s === 'number' ? `[${s}]` : `.${s}`;
    }
    return p;
  }

  fail(what: string): never {
    const path = this.path();
    throw new InvalidValueError(`${path} ${what}: only JSON values can be stored`, { details: { path } });
  }

  // Refusing as soon as the lower bound passes the limit stops an oversized value (a
  // huge array, or a small graph sharing subtrees that expands exponentially) early.
  grow(n: number): void {
    this.units += n;
    if (this.units > this.maxBytes) {
      throw new ValueTooLargeError(
        `value is at least ${this.units} bytes of canonical JSON, over the limit of ${this.maxBytes}`,
        { details: { bytes: this.units, maxBytes: this.maxBytes } },
      );
    }
  }

  walk(v: unknown, depth: number): JsonValue {
    switch (typeof v) {
      case 'string':
        if (!isWellFormedString(v)) this.fail('is a string with a lone surrogate');
        this.grow(v.length + 2);
        return v;
      case 'number':
        if (!Number.isFinite(v)) this.fail(`is ${String(v)}`);
        this.grow(1);
        // RFC 8785 writes -0 as 0; the copy holds 0 so that text and copy agree.
        return v === 0 ? 0 : v;
      case 'boolean':
        this.grow(4);
        return v;
      case 'object':
        if (v === null) {
          this.grow(4);
          return null;
        }
        return this.walkObject(v, depth + 1);
      case 'undefined':
        return this.fail('is undefined');
      case 'bigint':
        return this.fail('is a BigInt');
      case 'function':
        return this.fail('is a function');
      case 'symbol':
        return this.fail('is a symbol');
      default:
        return this.fail(`has unsupported type ${typeof v}`);
    }
  }

  walkObject(v: object, depth: number): JsonValue {
    if (depth > this.maxDepth) {
      // A cycle always ends up here: only now is it worth looking for one. Report the
      // place where it first closes (ancestors[k] is reached through segments[0, k)).
      const a = this.ancestors;
      for (let k = 1; k < a.length; k++) {
        if (a.indexOf(a[k]!) < k) {
          const path = this.path(k);
          throw new InvalidValueError(`${path} is a cyclic reference: only JSON values can be stored`, { details: { path } });
        }
      }
      const path = this.path();
      throw new ValueTooDeepError(`${path} nests deeper than the limit of ${this.maxDepth}`, {
        details: { path, maxDepth: this.maxDepth },
      });
    }
    this.ancestors.push(v);
    let result: JsonValue;
    if (Array.isArray(v)) {
      const n = v.length;
      // Brackets and commas first: a huge array fails before its elements are walked.
      this.grow(n + 1);
      const copy: JsonValue[] = new Array(n);
      const seg = this.segments.length;
      this.segments.push(0);
      for (let i = 0; i < n; i++) {
        this.segments[seg] = i;
        if (!(i in v)) this.fail('is a hole in a sparse array');
        copy[i] = this.walk(v[i], depth);
      }
      this.segments.pop();
      result = Object.freeze(copy);
    } else {
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) {
        const name = (v as { constructor?: { name?: string } }).constructor?.name ?? 'object';
        this.fail(`is a ${name}, not a plain object`);
      }
      if (Object.getOwnPropertySymbols(v).length > 0) this.fail('has symbol keys');
      const keys = sortKeys(Object.keys(v));
      this.grow(keys.length + 1);
      const copy: Record<string, JsonValue> = {};
      const seg = this.segments.length;
      this.segments.push('');
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        this.segments[seg] = k;
        if (!isWellFormedString(k)) this.fail('is a key with a lone surrogate');
        this.grow(k.length + 3);
        const c0 = k.charCodeAt(0);
        if (c0 >= 48 && c0 <= 57 && INTEGER_KEY.test(k)) this.integerKeys = true;
        const child = this.walk((v as Record<string, unknown>)[k], depth);
        // `__proto__` must become an own data property, never a prototype change.
        if (k === '__proto__') Object.defineProperty(copy, k, { value: child, enumerable: true, writable: true, configurable: true });
        else copy[k] = child;
      }
      this.segments.pop();
      result = Object.freeze(copy);
    }
    this.ancestors.pop();
    return result;
  }
}

/**
 * Sorts keys by UTF-16 code units, exactly as RFC 8785 §3.2.3 requires (`<` on strings
 * and the default sort both compare code units). Documents have few keys, and for
 * those an insertion sort costs a fraction of a call to Array.prototype.sort.
 */
function sortKeys(keys: string[]): string[] {
  if (keys.length > 32) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i]!;
    let j = i - 1;
    while (j >= 0 && keys[j]! > k) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = k;
  }
  return keys;
}

// Keys that JavaScript enumerates before all others (array-index-like).
const INTEGER_KEY = /^(?:0|[1-9]\d{0,9})$/;

/** RFC 8785 text of an already validated value, sorting keys itself. */
function serialize(v: JsonValue): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) {
    let out = '[';
    for (let i = 0; i < v.length; i++) out += (i > 0 ? ',' : '') + serialize(v[i] as JsonValue);
    return out + ']';
  }
  const o = v as { readonly [k: string]: JsonValue };
  const keys = Object.keys(o).sort();
  let out = '{';
  for (let i = 0; i < keys.length; i++) out += (i > 0 ? ',' : '') + JSON.stringify(keys[i]) + ':' + serialize(o[keys[i]!]!);
  return out + '}';
}

/**
 * Validates `value` as JSON within `limits` and returns its RFC 8785 text, UTF-8
 * size and a deep-frozen copy. O(n) in the size of the value; an oversized value is
 * refused as soon as a lower bound of its size crosses `maxBytes` (`details.bytes` is
 * then that lower bound).
 * @throws InvalidValueError, ValueTooDeepError, ValueTooLargeError
 */
export function canonicalize(value: unknown, limits: CanonicalLimits = {}): Canonical {
  const maxBytes = limits.maxBytes ?? DEFAULT_MAX_VALUE_BYTES;
  const maxDepth = limits.maxDepth ?? DEFAULT_MAX_DEPTH;
  const walker = new Walker(maxDepth, maxBytes);
  let copy: JsonValue;
  try {
    copy = walker.walk(value, 0);
  } catch (e) {
    // A depth limit set beyond what the JS stack allows ends here, not as a raw RangeError.
    if (e instanceof RangeError && /call stack/i.test(e.message)) {
      throw new ValueTooDeepError(`value nests deeper than this platform's stack allows (limit ${maxDepth})`, {
        details: { maxDepth },
      });
    }
    throw e;
  }
  const text = walker.integerKeys ? serialize(copy) : JSON.stringify(copy);
  const bytes = utf8Length(text);
  if (bytes > maxBytes) {
    throw new ValueTooLargeError(`value is ${bytes} bytes of canonical JSON, over the limit of ${maxBytes}`, {
      details: { bytes, maxBytes },
    });
  }
  return { text, bytes, value: copy };
}

/** RFC 8785 canonical JSON text of `value` (validated as {@link canonicalize} does). */
export function canonicalJson(value: unknown, limits?: CanonicalLimits): string {
  return canonicalize(value, limits).text;
}

/** Deep-freezes a freshly parsed JSON value in place and returns it. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const k of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[k]);
    Object.freeze(value);
  }
  return value;
}
