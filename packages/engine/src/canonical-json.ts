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

// One walk produces the canonical text (by string concatenation, which V8 turns into
// cheap ropes), checks every limit and builds the frozen copy. The path of the node
// being visited is kept as a stack of segments and only formatted when reporting an
// error, so a valid value pays nothing for it.
class Walker {
  readonly maxDepth: number;
  readonly maxBytes: number;
  /** Canonical text emitted so far. */
  text = '';
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

  // UTF-8 takes at least one byte per UTF-16 unit, so once the text has more units than
  // the limit allows bytes, it is too large: an oversized value (a huge array, or a
  // small graph that shares subtrees and expands exponentially) is refused early.
  checkSize(): void {
    if (this.text.length > this.maxBytes) {
      throw new ValueTooLargeError(
        `value is at least ${this.text.length} bytes of canonical JSON, over the limit of ${this.maxBytes}`,
        { details: { bytes: this.text.length, maxBytes: this.maxBytes } },
      );
    }
  }

  walk(v: unknown, depth: number): JsonValue {
    switch (typeof v) {
      case 'string':
        if (!isWellFormedString(v)) this.fail('is a string with a lone surrogate');
        this.text += JSON.stringify(v);
        return v;
      case 'number':
        if (!Number.isFinite(v)) this.fail(`is ${String(v)}`);
        // ECMAScript Number-to-String is exactly RFC 8785's number form; -0 becomes 0.
        if (v === 0) {
          this.text += '0';
          return 0;
        }
        this.text += String(v);
        return v;
      case 'boolean':
        this.text += v ? 'true' : 'false';
        return v;
      case 'object':
        if (v === null) {
          this.text += 'null';
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
    this.checkSize();
    this.ancestors.push(v);
    let result: JsonValue;
    if (Array.isArray(v)) {
      const n = v.length;
      // A huge array fails before its elements are walked (each takes at least 1 byte).
      if (this.text.length + n > this.maxBytes) {
        throw new ValueTooLargeError(`value has an array of ${n} elements, over the size limit of ${this.maxBytes} bytes`, {
          details: { bytes: this.text.length + n, maxBytes: this.maxBytes },
        });
      }
      const copy: JsonValue[] = new Array(n);
      this.text += '[';
      const seg = this.segments.length;
      this.segments.push(0);
      for (let i = 0; i < n; i++) {
        this.segments[seg] = i;
        if (i > 0) this.text += ',';
        if (!(i in v)) this.fail('is a hole in a sparse array');
        copy[i] = this.walk(v[i], depth);
      }
      this.segments.pop();
      this.text += ']';
      result = Object.freeze(copy);
    } else {
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) {
        const name = (v as { constructor?: { name?: string } }).constructor?.name ?? 'object';
        this.fail(`is a ${name}, not a plain object`);
      }
      if (Object.getOwnPropertySymbols(v).length > 0) this.fail('has symbol keys');
      // Default sort compares UTF-16 code units, exactly as RFC 8785 §3.2.3 requires.
      const keys = Object.keys(v).sort();
      const copy: Record<string, JsonValue> = {};
      this.text += '{';
      const seg = this.segments.length;
      this.segments.push('');
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        this.segments[seg] = k;
        if (!isWellFormedString(k)) this.fail('is a key with a lone surrogate');
        this.text += i > 0 ? ',' + JSON.stringify(k) + ':' : JSON.stringify(k) + ':';
        const child = this.walk((v as Record<string, unknown>)[k], depth);
        // `__proto__` must become an own data property, never a prototype change.
        if (k === '__proto__') Object.defineProperty(copy, k, { value: child, enumerable: true, writable: true, configurable: true });
        else copy[k] = child;
      }
      this.segments.pop();
      this.text += '}';
      result = Object.freeze(copy);
    }
    this.ancestors.pop();
    return result;
  }
}

/**
 * Validates `value` as JSON within `limits` and returns its RFC 8785 text, UTF-8
 * size and a deep-frozen copy. O(n) in the size of the value; an oversized value is
 * refused as soon as its text crosses `maxBytes` (`details.bytes` is then a lower bound).
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
  const text = walker.text;
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
