/**
 * Arguments to JSON and results back: what the client does so that a call over the wire
 * behaves like the same call on the embedded handle.
 *
 * - Values written (`put`, `putMany`) are validated as the database validates them
 *   (@koru/engine's `canonicalize`) before they are sent: `undefined`, `NaN`, a `Date`,
 *   a `Map`, a cycle... fail with the same INVALID_VALUE instead of being turned into
 *   something else by `JSON.stringify`.
 * - Times (`getAt`'s `when`, `at`, `from`/`to`) that are `Date`s are sent as ISO-8601
 *   strings (a diff's `from`/`to` too: a number there is a history index).
 * - A `Query` from the builder is sent as its wire form (`toJSON()`), a `Filter` as its
 *   wire form wherever it is (a query given as a `Filter` as `{ filter }`); where a filter
 *   is expected (`aggregate`, `queryHistory`, `subscribe`), a `Query` as its filter's wire
 *   form (one with more than a filter fails with INVALID_QUERY, as on the database).
 * - Results are deep-frozen where the embedded handle's are.
 */
import { canonicalize, deepFreeze, ErrorCodes, KoruError, type JsonValue } from '@koru/engine';

/** Deepest value the client sends: the most any server can be configured to accept. */
const MAX_DEPTH = 1000;

/** A value validated and copied as the database would (throws its INVALID_VALUE / VALUE_TOO_DEEP). */
export function jsonValue(value: unknown): JsonValue {
  return canonicalize(value, { maxDepth: MAX_DEPTH, maxBytes: Number.POSITIVE_INFINITY }).value;
}

/** A `Query` from the builder (any copy of @koru/query): an object with `spec` and `toJSON()`. */
function isQuery(x: unknown): x is { toJSON(): Record<string, unknown> } {
  return x !== null && typeof x === 'object' && 'spec' in x && typeof (x as { toJSON?: unknown }).toJSON === 'function';
}

// The mark @koru/query puts on the filters it makes (Symbol.for: any copy of it). A
// marked filter's JSON is its wire form, so one anywhere in an argument is sent right.
const FILTER_MARK = Symbol.for('@koru/query.Filter');

/** A `Filter` made by @koru/query (any copy). */
function isFilter(x: unknown): boolean {
  return x !== null && typeof x === 'object' && (x as { [FILTER_MARK]?: unknown })[FILTER_MARK] === true;
}

/** A query argument: a `Query` as its wire form, a `Filter` as `{ filter }`; the default `{}`. */
export function queryArg(q: unknown): unknown {
  if (q === undefined) return {};
  if (isQuery(q)) return q.toJSON();
  return isFilter(q) ? { filter: q } : q;
}

/**
 * A filter argument: a `Query`'s filter in wire form (undefined: none), anything else as
 * it is. A `Query` with more than a filter fails with INVALID_QUERY, as on the database
 * (sending its filter alone would ignore the rest).
 */
export function filterArg(f: unknown): unknown {
  if (!isQuery(f)) return f;
  const wire = f.toJSON();
  const extra = Object.keys(wire).find((k) => k !== 'filter');
  if (extra !== undefined) {
    throw new KoruError(ErrorCodes.INVALID_QUERY, `only a filter is taken here: the Query's ${extra} would be ignored; pass a Query with just a filter`, {
      details: { reason: 'INVALID_QUERY', path: extra },
    });
  }
  return wire.filter;
}

/** A time argument: a `Date` as ISO-8601 (an invalid one as the text "Invalid Date", which the server refuses). */
export function timeArg(t: unknown): unknown {
  if (!(t instanceof Date)) return t;
  return Number.isNaN(t.getTime()) ? String(t) : t.toISOString();
}

/**
 * An options object with some fields converted; anything that is not a plain object
 * is passed as it is, for the server to judge. Fields that are undefined are left out.
 */
export function optionsArg(o: unknown, convert: Readonly<Record<string, (v: unknown) => unknown>>): unknown {
  if (o === null || typeof o !== 'object' || Array.isArray(o) || o instanceof Date) return o;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) {
    const raw = (o as Record<string, unknown>)[k];
    const v = Object.prototype.hasOwnProperty.call(convert, k) ? convert[k]!(raw) : raw;
    if (v === undefined) continue;
    // An own `__proto__` key stays data, never a prototype.
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** Positional params without their trailing undefineds (JSON would make them null). */
export function params(...args: unknown[]): unknown[] {
  let n = args.length;
  while (n > 0 && args[n - 1] === undefined) n--;
  return args.slice(0, n);
}

/** How a method's result is handed out, matching the embedded handle. */
export type Shape = 'frozen' | 'elements' | 'plain' | 'void';

/** Applies `shape` to a parsed result. */
export function shaped(result: unknown, shape: Shape): unknown {
  switch (shape) {
    case 'frozen':
      return deepFreeze(result);
    case 'elements':
      // A fresh, mutable list of deep-frozen items (versions, index and view infos).
      if (Array.isArray(result)) for (const item of result) deepFreeze(item);
      return result;
    case 'void':
      return undefined;
    default:
      return result;
  }
}
