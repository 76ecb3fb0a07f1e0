/**
 * Aggregations over JSON values: count, sum, avg, min, max, distinct, groupBy.
 *
 * Each aggregation reads `path` in every value (the value itself when `path` is left
 * out); a missing path is skipped. Results, including on empty input:
 * - `count`: how many values have the path (all values without a path); empty → `0`.
 * - `sum`: the sum of the finite numbers; non-numbers are ignored; none → `0`.
 * - `avg`: the mean of the numbers; non-numbers are ignored; none → `null`.
 * - `min` / `max`: the least / greatest present value in the total order of
 *   `compareJson` (any JSON type, so `null` can be a result); none → `null`.
 * - `distinct`: the distinct present values (deep equality), sorted by the total order;
 *   none → `[]`.
 * - `groupBy`: `[{ group, value }]`, one entry per distinct value at `path` (a missing
 *   path groups under `null`), sorted by `group` in the total order, `value` being the
 *   inner aggregation over that group's values; empty → `[]`.
 */
import { canonicalJson, type JsonValue } from '@koru/engine';
import { at, InvalidQueryError } from './errors.js';
import { compareJson } from './order.js';
import { compileGetter, type Lookup } from './paths.js';

/** An aggregation that reduces values to one JSON result. */
export type Aggregation =
  | { readonly op: 'count' | 'sum' | 'avg' | 'min' | 'max' | 'distinct'; readonly path?: string }
  | { readonly op: 'groupBy'; readonly path: string; readonly aggregation: Aggregation };

/** One group of a `groupBy` result. */
export interface Group {
  readonly group: JsonValue;
  readonly value: JsonValue;
}

/** Constructors for aggregations (plain, frozen data). */
export const Agg = /* @__PURE__ */ (() => Object.freeze({
  /** How many values (with `path` present, when given). */
  count: (path?: string): Aggregation => Object.freeze(path === undefined ? { op: 'count' } : { op: 'count', path }),
  /** Sum of the numbers at `path`. */
  sum: (path?: string): Aggregation => Object.freeze(path === undefined ? { op: 'sum' } : { op: 'sum', path }),
  /** Mean of the numbers at `path`, or null. */
  avg: (path?: string): Aggregation => Object.freeze(path === undefined ? { op: 'avg' } : { op: 'avg', path }),
  /** Least value at `path` in the total order, or null. */
  min: (path?: string): Aggregation => Object.freeze(path === undefined ? { op: 'min' } : { op: 'min', path }),
  /** Greatest value at `path` in the total order, or null. */
  max: (path?: string): Aggregation => Object.freeze(path === undefined ? { op: 'max' } : { op: 'max', path }),
  /** Distinct values at `path`, sorted. */
  distinct: (path?: string): Aggregation => Object.freeze(path === undefined ? { op: 'distinct' } : { op: 'distinct', path }),
  /** `aggregation` per distinct value at `path`. */
  groupBy: (path: string, aggregation: Aggregation): Aggregation => Object.freeze({ op: 'groupBy', path, aggregation }),
}))();

/** The same constructors as {@link Agg}, under the name 1.0 used (`Aggregation.count()`). */
export const Aggregation = Agg;

/** A Map key that is equal exactly for deep-equal JSON values. */
function identity(v: JsonValue): string {
  if (v === null || typeof v !== 'object') return typeof v + ':' + String(v === 0 ? 0 : v);
  return 'json:' + canonicalJson(v);
}

type Reducer = (values: readonly JsonValue[]) => JsonValue;

const AGG_KEYS = new Set(['op', 'path', 'aggregation']);

function compileAgg(agg: Aggregation, where: string): Reducer {
  if (agg === null || typeof agg !== 'object' || Array.isArray(agg)) throw new InvalidQueryError('an aggregation must be an object', where);
  for (const k of Object.keys(agg)) if (!AGG_KEYS.has(k)) throw new InvalidQueryError(`unknown aggregation key "${k}"`, at(where, k));
  if (agg.op !== 'groupBy' && (agg as { aggregation?: unknown }).aggregation !== undefined) {
    throw new InvalidQueryError('only groupBy takes an inner aggregation', at(where, 'aggregation'));
  }
  const get = agg.path === undefined ? (v: Lookup) => v : compileGetter(agg.path, at(where, 'path'));
  const present = (values: readonly JsonValue[]): JsonValue[] => {
    const out: JsonValue[] = [];
    for (const v of values) {
      const x = get(v);
      if (x !== undefined) out.push(x);
    }
    return out;
  };
  switch (agg.op) {
    case 'count':
      return agg.path === undefined ? (vs) => vs.length : (vs) => present(vs).length;
    case 'sum':
    case 'avg': {
      const avg = agg.op === 'avg';
      return (vs) => {
        // Neumaier summation: stays accurate over long runs of mixed magnitudes.
        let sum = 0;
        let comp = 0;
        let n = 0;
        for (const v of vs) {
          const x = get(v);
          if (typeof x !== 'number' || !Number.isFinite(x)) continue;
          const t = sum + x;
          comp += Math.abs(sum) >= Math.abs(x) ? sum - t + x : x - t + sum;
          sum = t;
          n++;
        }
        const total = sum + comp;
        return avg ? (n === 0 ? null : total / n) : total;
      };
    }
    case 'min':
    case 'max': {
      const sign = agg.op === 'min' ? -1 : 1;
      return (vs) => {
        let best: Lookup;
        for (const v of vs) {
          const x = get(v);
          if (x !== undefined && (best === undefined || compareJson(x, best) * sign > 0)) best = x;
        }
        return best === undefined ? null : best;
      };
    }
    case 'distinct':
      return (vs) => {
        const seen = new Map<string, JsonValue>();
        for (const x of present(vs)) {
          const id = identity(x);
          if (!seen.has(id)) seen.set(id, x);
        }
        return [...seen.values()].sort(compareJson);
      };
    case 'groupBy': {
      if (agg.path === undefined) throw new InvalidQueryError('groupBy needs a path', where);
      const inner = compileAgg(agg.aggregation, at(where, 'aggregation'));
      return (vs) => {
        const groups = new Map<string, { group: JsonValue; members: JsonValue[] }>();
        for (const v of vs) {
          const g = get(v) ?? null;
          const id = identity(g);
          let entry = groups.get(id);
          if (entry === undefined) groups.set(id, (entry = { group: g, members: [] }));
          entry.members.push(v);
        }
        return [...groups.values()]
          .sort((a, b) => compareJson(a.group, b.group))
          .map(({ group, members }) => ({ group, value: inner(members) }));
      };
    }
    default:
      throw new InvalidQueryError(`unknown aggregation "${String((agg as { op: unknown }).op)}"`, at(where, 'op'));
  }
}

/**
 * Computes `agg` over `values` (see the module comment for every result). Validates `agg`
 * first (an {@link InvalidQueryError} names the bad part). O(n) for count/sum/avg/min/max,
 * O(n log n) for distinct and groupBy.
 */
export function aggregate(values: Iterable<JsonValue>, agg: Aggregation): JsonValue {
  const reduce = compileAgg(agg, '');
  return reduce(Array.isArray(values) ? (values as JsonValue[]) : [...values]);
}
