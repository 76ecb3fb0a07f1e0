/**
 * `executeQuery`: runs a {@link QuerySpec} over `{ key, value }` entries — filter, then
 * sort, then offset/limit, then projection.
 */
import { deepFreeze, type JsonValue } from '@koru/engine';
import { aggregate } from './aggregate.js';
import { compileFilter } from './compile.js';
import { compareJson } from './order.js';
import { compileGetter, getAt, splitPath, type Lookup } from './paths.js';
import { checkCount, checkDirection, type QuerySpec } from './query.js';

/**
 * One document: its key and its value. `T` is the document type the caller says it
 * stores (types only, nothing is checked at run time); the default is any JSON value.
 */
export interface Entry<T = JsonValue> {
  readonly key: string;
  readonly value: T;
}
/** How a query ran. */
export interface QueryExplain {
  /** `scan`: every live document was tested; `index`: only candidates from secondary indexes. */
  readonly strategy: 'scan' | 'index';
  /** The indexed fields the candidates came from (empty for a scan). */
  readonly indexes: readonly string[];
  /** Documents the filter was evaluated on. */
  readonly examined: number;
  /**
   * On a PostgreSQL store: the part of the filter that ran in SQL (`where`, with its
   * `params`), and whether it was the whole filter (`complete`). Otherwise (or absent)
   * the filter ran in the process, on every document PostgreSQL returned; it always runs
   * there too, so the answer is the embedded engine's.
   */
  readonly sql?: { readonly where: string; readonly params: readonly unknown[]; readonly complete: boolean };
}

/**
 * What `executeQuery` returns: the page of rows and how many documents matched in all.
 * For a query with an aggregation: `rows` is empty, `total` the number of matching
 * documents and `aggregate` the aggregation's result (shapes in ./aggregate.ts).
 */
export interface QueryResult<T = JsonValue> {
  readonly rows: readonly Entry<T>[];
  /** Matching documents before offset/limit. */
  readonly total: number;
  /** The aggregation's result, when the query has one (present then, even when it is `null`). */
  readonly aggregate?: JsonValue;
  readonly explain: QueryExplain;
}

const SCAN = /* @__PURE__ */ Object.freeze({ strategy: 'scan' as const, indexes: /* @__PURE__ */ Object.freeze([]) as readonly string[] });

const hasOwn = Object.prototype.hasOwnProperty;

function define(target: Record<string, JsonValue>, key: string, value: JsonValue): void {
  // defineProperty, not assignment: a `__proto__` segment must become an own key.
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * A projector for `select`: builds a new object holding only the listed paths, nesting
 * plain objects along each path (a path through an array, `items.0.sku`, yields
 * `{ items: { '0': { sku } } }`). Missing paths are left out; when one path is a prefix
 * of another (`a` and `a.b`), the shorter wins. A non-object document projects to `{}`.
 */
export function compileProjection(select: readonly string[]): (doc: JsonValue) => JsonValue {
  // Shorter paths first, so a prefix is placed before the longer paths it covers.
  const paths = select.map((p, i) => splitPath(p, `select.${i}`)).sort((a, b) => a.length - b.length);
  return (doc) => {
    const out: Record<string, JsonValue> = {};
    const built = new Set<object>([out]);
    for (const segs of paths) {
      const v = getAt(doc, segs);
      if (v === undefined) continue;
      let target = out;
      let covered = false;
      for (let i = 0; i < segs.length - 1; i++) {
        const s = segs[i]!;
        if (!hasOwn.call(target, s)) {
          const fresh: Record<string, JsonValue> = {};
          built.add(fresh);
          define(target, s, fresh);
        }
        const next = target[s] as Record<string, JsonValue>;
        if (!built.has(next)) {
          covered = true; // a shorter selected path already holds the whole value
          break;
        }
        target = next;
      }
      const last = segs[segs.length - 1]!;
      if (!covered && !hasOwn.call(target, last)) define(target, last, v);
    }
    return out;
  };
}

/** A compiled sort key. */
interface SortKeyReader {
  readonly get: (doc: Lookup) => Lookup;
  /** 1 ascending, -1 descending. */
  readonly sign: number;
}

/** A match decorated with its sort keys and input position. */
interface Item {
  readonly e: Entry;
  readonly keys: Lookup[];
  readonly i: number;
}

/** Largest offset + limit kept by the online top-k rather than a full sort. */
const MAX_ONLINE_TOP = 256;

/** Orders items by their keys; ties keep input order (a stable sort): the position breaks them. */
function compareItems(sortKeys: readonly SortKeyReader[], a: Item, b: Item): number {
  for (let j = 0; j < sortKeys.length; j++) {
    const c = compareJson(a.keys[j], b.keys[j]);
    if (c !== 0) return c * sortKeys[j]!.sign;
  }
  return a.i - b.i;
}

/** The first `wanted` items in sort order among those offered, kept sorted. */
class TopK {
  readonly #best: Item[] = [];

  constructor(
    private readonly sortKeys: readonly SortKeyReader[],
    private readonly wanted: number,
  ) {}

  offer(e: Entry, i: number): void {
    const best = this.#best;
    const keys = this.sortKeys;
    if (best.length === this.wanted) {
      if (this.wanted === 0) return;
      // Most rows lose to the current last one on the first key: decide that before
      // building anything. A tie on every key loses too (it came later).
      const last = best[best.length - 1]!;
      let c = 0;
      for (let j = 0; j < keys.length && c === 0; j++) c = compareJson(keys[j]!.get(e.value), last.keys[j]) * keys[j]!.sign;
      if (c >= 0) return;
    }
    const it: Item = { e, keys: keys.map((k): Lookup => k.get(e.value)), i };
    let lo = 0;
    let hi = best.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareItems(keys, best[mid]!, it) <= 0) lo = mid + 1;
      else hi = mid;
    }
    best.splice(lo, 0, it);
    if (best.length > this.wanted) best.pop();
  }

  entries(): Entry[] {
    return this.#best.map((d) => d.e);
  }
}

/**
 * Runs `spec` over `entries` (any iterable, consumed once), validating `spec` first (an
 * {@link InvalidQueryError} for a bad filter, path, direction, offset or limit). Sorting is stable (ties keep
 * input order) and uses the total order of `compareJson`, a missing field sorting first
 * ascending. Rows and values are deep-frozen (values in place: the storage layer already
 * hands out frozen values). O(n) to filter plus O(m log m) to sort the m matches (O(m log k)
 * when offset + limit = k is at most 256); each sort key is read once per sorted document.
 */
export function executeQuery(
  entries: Iterable<Entry>,
  spec: QuerySpec,
  source: Omit<QueryExplain, 'examined'> = SCAN,
): QueryResult {
  const pred = spec.filter === undefined ? undefined : compileFilter(spec.filter);
  const project = spec.select === undefined ? undefined : compileProjection(spec.select);
  if (spec.offset !== undefined) checkCount(spec.offset, 'offset');
  if (spec.limit !== undefined) checkCount(spec.limit, 'limit');
  const sortKeys = (spec.sort ?? []).map((k, i): SortKeyReader => {
    checkDirection(k.direction, `sort.${i}.direction`);
    return { get: compileGetter(k.path, `sort.${i}.path`), sign: k.direction === 'desc' ? -1 : 1 };
  });
  if (spec.aggregate !== undefined) {
    aggregate([], spec.aggregate); // validated before any document is read
    const values: JsonValue[] = [];
    let examined = 0;
    for (const e of entries) {
      examined++;
      if (pred === undefined || pred(e.value)) values.push(e.value);
    }
    const explain = Object.freeze({ strategy: source.strategy, indexes: Object.freeze([...source.indexes]), examined });
    const result = deepFreeze(aggregate(values, spec.aggregate));
    return Object.freeze({ rows: Object.freeze([]) as readonly Entry[], total: values.length, aggregate: result, explain });
  }
  const wanted = spec.limit === undefined ? Infinity : (spec.offset ?? 0) + spec.limit;
  let matches: Entry[] = [];
  let examined = 0;
  let total = 0;
  if (sortKeys.length > 0 && wanted <= MAX_ONLINE_TOP) {
    // Only the first `wanted` rows are returned: keep just those while filtering
    // (O(n log k)), never collecting every match.
    const top = new TopK(sortKeys, wanted);
    for (const e of entries) {
      examined++;
      if (pred === undefined || pred(e.value)) top.offer(e, total++);
    }
    matches = top.entries();
  } else {
    for (const e of entries) {
      examined++;
      if (pred === undefined || pred(e.value)) matches.push(e);
    }
    total = matches.length;
    if (sortKeys.length > 0) {
      const decorated = matches.map((e, i): Item => ({ e, keys: sortKeys.map((k): Lookup => k.get(e.value)), i }));
      decorated.sort((a, b) => compareItems(sortKeys, a, b));
      matches = decorated.map((d) => d.e);
    }
  }
  const start = Math.min(spec.offset ?? 0, matches.length);
  const end = spec.limit === undefined ? matches.length : Math.min(matches.length, start + spec.limit);
  const rows: Entry[] = [];
  for (let i = start; i < end; i++) {
    const e = matches[i]!;
    rows.push(Object.freeze({ key: e.key, value: deepFreeze(project === undefined ? e.value : project(e.value)) }));
  }
  const explain = Object.freeze({ strategy: source.strategy, indexes: Object.freeze([...source.indexes]), examined });
  return Object.freeze({ rows: Object.freeze(rows), total, explain });
}
