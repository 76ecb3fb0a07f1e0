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

class Walker {
  readonly maxDepth: number;
  readonly ancestors: object[] = [];
  constructor(maxDepth: number) {
    this.maxDepth = maxDepth;
  }

  fail(path: string, what: string): never {
    throw new InvalidValueError(`value${path} ${what}: only JSON values can be stored`, { details: { path: `value${path}` } });
  }

  walk(v: unknown, depth: number, path: string, out: string[]): JsonValue {
    switch (typeof v) {
      case 'string':
        if (!isWellFormedString(v)) this.fail(path, 'is a string with a lone surrogate');
        out.push(JSON.stringify(v));
        return v;
      case 'number':
        if (!Number.isFinite(v)) this.fail(path, `is ${String(v)}`);
        // ECMAScript Number-to-String is exactly RFC 8785's number form; -0 becomes 0.
        out.push(v === 0 ? '0' : String(v));
        return v === 0 ? 0 : v;
      case 'boolean':
        out.push(v ? 'true' : 'false');
        return v;
      case 'object':
        if (v === null) {
          out.push('null');
          return null;
        }
        return this.walkObject(v, depth + 1, path, out);
      case 'undefined':
        return this.fail(path, 'is undefined');
      case 'bigint':
        return this.fail(path, 'is a BigInt');
      case 'function':
        return this.fail(path, 'is a function');
      case 'symbol':
        return this.fail(path, 'is a symbol');
      default:
        return this.fail(path, `has unsupported type ${typeof v}`);
    }
  }

  walkObject(v: object, depth: number, path: string, out: string[]): JsonValue {
    if (this.ancestors.includes(v)) this.fail(path, 'is a cyclic reference');
    if (depth > this.maxDepth) {
      throw new ValueTooDeepError(`value${path} nests deeper than the limit of ${this.maxDepth}`, {
        details: { path: `value${path}`, maxDepth: this.maxDepth },
      });
    }
    this.ancestors.push(v);
    let result: JsonValue;
    if (Array.isArray(v)) {
      const copy: JsonValue[] = new Array(v.length);
      out.push('[');
      for (let i = 0; i < v.length; i++) {
        if (i > 0) out.push(',');
        if (!(i in v)) this.fail(`${path}[${i}]`, 'is a hole in a sparse array');
        copy[i] = this.walk(v[i], depth, `${path}[${i}]`, out);
      }
      out.push(']');
      result = Object.freeze(copy);
    } else {
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) {
        const name = (v as { constructor?: { name?: string } }).constructor?.name ?? 'object';
        this.fail(path, `is a ${name}, not a plain object`);
      }
      if (Object.getOwnPropertySymbols(v).length > 0) this.fail(path, 'has symbol keys');
      // Default sort compares UTF-16 code units, exactly as RFC 8785 §3.2.3 requires.
      const keys = Object.keys(v).sort();
      const copy: Record<string, JsonValue> = {};
      out.push('{');
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        if (!isWellFormedString(k)) this.fail(path, 'has a key with a lone surrogate');
        if (i > 0) out.push(',');
        out.push(JSON.stringify(k), ':');
        const child = this.walk((v as Record<string, unknown>)[k], depth, `${path}.${k}`, out);
        // `__proto__` must become an own data property, never a prototype change.
        if (k === '__proto__') Object.defineProperty(copy, k, { value: child, enumerable: true, writable: true, configurable: true });
        else copy[k] = child;
      }
      out.push('}');
      result = Object.freeze(copy);
    }
    this.ancestors.pop();
    return result;
  }
}

/**
 * Validates `value` as JSON within `limits` and returns its RFC 8785 text, UTF-8
 * size and a deep-frozen copy. O(n) in the size of the value.
 * @throws InvalidValueError, ValueTooDeepError, ValueTooLargeError
 */
export function canonicalize(value: unknown, limits: CanonicalLimits = {}): Canonical {
  const maxBytes = limits.maxBytes ?? DEFAULT_MAX_VALUE_BYTES;
  const out: string[] = [];
  const copy = new Walker(limits.maxDepth ?? DEFAULT_MAX_DEPTH).walk(value, 0, '', out);
  const text = out.length === 1 ? out[0]! : out.join('');
  const bytes = utf8Length(text);
  if (bytes > maxBytes) {
    throw new ValueTooLargeError(`value is ${bytes} bytes of JSON, over the limit of ${maxBytes}`, {
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
