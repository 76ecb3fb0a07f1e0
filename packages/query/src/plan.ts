/**
 * Index selection: which secondary indexes can narrow a filter down to candidate keys.
 * A plan is a union of index accesses whose keys include every document the filter can
 * match; the compiled filter still runs on each candidate, so a plan only has to be a
 * superset, never exact.
 *
 * - `eq` / `in` on an indexed field: point lookups; `gt`/`gte`/`lt`/`lte`: a range.
 * - `and`: the most selective indexable part (points before two-sided ranges before
 *   one-sided ones); ranges on the same field are intersected first (`age >= 30 and
 *   age < 40` is one range).
 * - `or`: a union, when every branch is indexable.
 * - anything else (`ne`, `nin`, `not`, `contains`, `exists`, `matches`, `all`, `size`,
 *   `elemMatch`): no index of its own (the index keys a field's whole value, so array
 *   conditions cannot be looked up); inside an `and` another part may still narrow.
 */
import type { Filter } from './filter.js';
import { compareJson } from './order.js';
import type { Bound, IndexRange, SecondaryIndex } from './secondary-index.js';

/** Ranges of one index. */
export interface IndexAccess {
  readonly index: SecondaryIndex;
  readonly ranges: readonly IndexRange[];
}

/** A union of index accesses. */
export type IndexPlan = readonly IndexAccess[];

/** Looks up the index of a field path, if there is one. */
export type IndexLookup = (path: string) => SecondaryIndex | undefined;

/** Lower is better: point lookups, then bounded ranges, then half-open ones. */
function rank(plan: IndexPlan): number {
  let worst = 0;
  for (const a of plan) {
    for (const r of a.ranges) {
      const point = r.lo !== undefined && r.hi !== undefined && compareJson(r.lo.value, r.hi.value) === 0;
      worst = Math.max(worst, point ? 0 : r.lo !== undefined && r.hi !== undefined ? 1 : 2);
    }
  }
  return worst * 1e6 + plan.reduce((n, a) => n + a.ranges.length, 0);
}

function tighterLo(a: Bound | undefined, b: Bound | undefined): Bound | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  const c = compareJson(a.value, b.value);
  return c > 0 || (c === 0 && !a.inclusive) ? a : b;
}

function tighterHi(a: Bound | undefined, b: Bound | undefined): Bound | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  const c = compareJson(a.value, b.value);
  return c < 0 || (c === 0 && !a.inclusive) ? a : b;
}

function single(index: SecondaryIndex, range: IndexRange): IndexPlan {
  return [{ index, ranges: [range] }];
}

/** The plan for `filter`, or undefined when it has to scan. `filter` must be valid (compiled already). */
export function planFilter(filter: Filter, lookup: IndexLookup): IndexPlan | undefined {
  switch (filter.op) {
    case 'eq':
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      const index = lookup(filter.path);
      if (index === undefined) return undefined;
      const b: Bound = { value: filter.value, inclusive: filter.op !== 'gt' && filter.op !== 'lt' };
      if (filter.op === 'eq') return single(index, { lo: b, hi: b });
      return single(index, filter.op === 'gt' || filter.op === 'gte' ? { lo: b } : { hi: b });
    }
    case 'in': {
      const index = lookup(filter.path);
      if (index === undefined || !Array.isArray(filter.values)) return undefined;
      return [{ index, ranges: filter.values.map((value) => ({ lo: { value, inclusive: true }, hi: { value, inclusive: true } })) }];
    }
    case 'or': {
      if (!Array.isArray(filter.filters) || filter.filters.length === 0) return undefined;
      const out: IndexAccess[] = [];
      for (const f of filter.filters) {
        const p = planFilter(f, lookup);
        if (p === undefined) return undefined;
        out.push(...p);
      }
      return out;
    }
    case 'and': {
      if (!Array.isArray(filter.filters)) return undefined;
      // Single-range parts on the same index narrow one another.
      const merged = new Map<SecondaryIndex, IndexRange>();
      let best: IndexPlan | undefined;
      const consider = (p: IndexPlan): void => {
        if (best === undefined || rank(p) < rank(best)) best = p;
      };
      for (const f of filter.filters) {
        const p = planFilter(f, lookup);
        if (p === undefined) continue;
        if (p.length === 1 && p[0]!.ranges.length === 1) {
          const { index, ranges } = p[0]!;
          const r = ranges[0]!;
          const prev = merged.get(index);
          const lo = tighterLo(prev?.lo, r.lo);
          const hi = tighterHi(prev?.hi, r.hi);
          merged.set(index, { ...(lo !== undefined ? { lo } : {}), ...(hi !== undefined ? { hi } : {}) });
        } else consider(p);
      }
      for (const [index, range] of merged) consider(single(index, range));
      return best;
    }
    default:
      return undefined;
  }
}
