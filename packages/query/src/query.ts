/**
 * Queries: the plain {@link QuerySpec}, the immutable fluent {@link Query} builder and the
 * wire form.
 *
 * Wire form (JSON): `{ filter?: <wire filter>, sort?: [[path, 'asc' | 'desc'], ...],
 * select?: [path, ...], offset?: n, limit?: n, aggregate?: <aggregation> }`. Unknown keys
 * are rejected; `offset` and `limit` are non-negative safe integers. Sort keys apply in
 * order (the first one decides, later ones break ties). `aggregate` (an `Agg.…` value,
 * `{ op: 'count' }`, the shape `db.aggregate` and views take) reduces the matching
 * documents to one result instead of listing them; the query may then only filter.
 */
import { canonicalJson, type JsonValue } from '@koru/engine';
import { aggregate as runAggregate, type Aggregation } from './aggregate.js';
import { at, InvalidQueryError } from './errors.js';
import { isFilter, type Filter } from './filter-ast.js';
import { validatePath } from './paths.js';
import { parseFilter, toWire, type WireFilter } from './wire.js';

/** Sort direction. */
export type SortDirection = 'asc' | 'desc';
/** One sort key. */
export interface SortKey {
  readonly path: string;
  readonly direction: SortDirection;
}
/** A query as plain data: what `executeQuery` runs. Every field is optional. */
export interface QuerySpec {
  readonly filter?: Filter;
  readonly sort?: readonly SortKey[];
  readonly select?: readonly string[];
  readonly offset?: number;
  readonly limit?: number;
  /** Reduce the matching documents with this aggregation instead of listing them (then no sort, select, offset or limit). */
  readonly aggregate?: Aggregation;
}

/** Throws an {@link InvalidQueryError} at `where` unless `n` is a non-negative safe integer. */
export function checkCount(n: unknown, where: string): asserts n is number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw new InvalidQueryError(`${where} must be a non-negative integer`, where);
  }
}

/** Throws an {@link InvalidQueryError} at `where` unless `d` is `'asc'` or `'desc'`. */
export function checkDirection(d: unknown, where: string): asserts d is SortDirection {
  if (d !== 'asc' && d !== 'desc') throw new InvalidQueryError('sort direction must be "asc" or "desc"', where);
}

/** An immutable query builder: every method returns a new `Query`; `spec` is the result. */
export class Query {
  readonly #spec: QuerySpec;

  private constructor(spec: QuerySpec) {
    this.#spec = Object.freeze(spec);
  }

  /** An empty query: every document, in input order. */
  static new(): Query {
    return new Query({});
  }

  /** A builder starting from an existing spec (validated as by `parseQuery`'s rules). */
  static from(spec: QuerySpec): Query {
    return new Query({ ...parseQuery(queryToWire(spec)) });
  }

  /** Adds a filter (a `Filter` or its wire form); called again, the filters are ANDed. */
  filter(f: Filter | WireFilter): Query {
    const next = parseFilter(f);
    const prev = this.#spec.filter;
    return new Query({ ...this.#spec, filter: prev === undefined ? next : parseFilter({ $and: [prev, next] }) });
  }

  /**
   * Reduces the matching documents with `aggregation` (`Agg.count()`, ...; replaces an
   * earlier one): `db.query` then answers `{ rows: [], total, aggregate }`. The query may
   * then only filter. @throws INVALID_QUERY for a bad aggregation
   */
  aggregate(aggregation: Aggregation): Query {
    const spec = { ...this.#spec, aggregate: checkAggregation(aggregation, 'aggregate') };
    checkAggregateOnly(spec);
    return new Query(spec);
  }

  /** Appends a sort key (ascending by default). */
  sort(path: string, direction: SortDirection = 'asc'): Query {
    validatePath(path, path);
    checkDirection(direction, 'sort');
    return checked(new Query({ ...this.#spec, sort: Object.freeze([...(this.#spec.sort ?? []), Object.freeze({ path, direction })]) }));
  }

  /** Keeps only these dotted paths in each result (replaces an earlier `select`). */
  select(paths: readonly string[]): Query {
    if (!Array.isArray(paths)) throw new InvalidQueryError('select needs an array of paths', 'select');
    paths.forEach((p, i) => validatePath(p, at('select', i)));
    return checked(new Query({ ...this.#spec, select: Object.freeze([...paths]) }));
  }

  /** Skips the first `n` matching documents (after sorting). */
  offset(n: number): Query {
    checkCount(n, 'offset');
    return checked(new Query({ ...this.#spec, offset: n }));
  }

  /** Returns at most `n` documents. */
  limit(n: number): Query {
    checkCount(n, 'limit');
    return checked(new Query({ ...this.#spec, limit: n }));
  }

  /** The plain, frozen spec. */
  get spec(): QuerySpec {
    return this.#spec;
  }

  /** The wire form of this query. */
  toJSON(): { readonly [key: string]: JsonValue } {
    return queryToWire(this.#spec);
  }
}

const QUERY_KEYS = new Set(['filter', 'sort', 'select', 'offset', 'limit', 'aggregate']);

function checked(q: Query): Query {
  checkAggregateOnly(q.spec);
  return q;
}

/** Validates an aggregation and returns a frozen copy of it (its JSON). */
function checkAggregation(agg: unknown, where: string): Aggregation {
  try {
    runAggregate([], agg as Aggregation);
  } catch (e) {
    if (!(e instanceof InvalidQueryError)) throw e;
    throw new InvalidQueryError(e.message, e.path === '' ? where : at(where, e.path), { cause: e, details: e.details });
  }
  return deepFreezeJson(JSON.parse(canonicalJson(agg as JsonValue)) as JsonValue) as unknown as Aggregation;
}

function deepFreezeJson(v: JsonValue): JsonValue {
  if (v !== null && typeof v === 'object') {
    for (const k of Object.keys(v)) deepFreezeJson((v as Record<string, JsonValue>)[k]!);
    Object.freeze(v);
  }
  return v;
}

/** An aggregating query may only filter (as an aggregate view). */
function checkAggregateOnly(spec: QuerySpec): void {
  if (spec.aggregate === undefined) return;
  const extra = (['sort', 'select', 'offset', 'limit'] as const).find((k) => spec[k] !== undefined);
  if (extra !== undefined) throw new InvalidQueryError(`a query with an aggregation may only filter, not ${extra}`, extra);
}

/**
 * Parses the wire form of a query (see the module comment) into a frozen
 * {@link QuerySpec}; throws an {@link InvalidQueryError} with `details.path` such as
 * `filter.age.$gt` or `sort.1.1`.
 */
export function parseQuery(json: unknown): QuerySpec {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new InvalidQueryError('a query must be a JSON object', '');
  }
  const q = json as Record<string, unknown>;
  const out: {
    filter?: Filter;
    sort?: readonly SortKey[];
    select?: readonly string[];
    offset?: number;
    limit?: number;
    aggregate?: Aggregation;
  } = {};
  for (const key of Object.keys(q)) {
    if (!QUERY_KEYS.has(key)) throw new InvalidQueryError(`unknown query key "${key}"`, key);
  }
  if (q.filter !== undefined) {
    try {
      out.filter = parseFilter(q.filter);
    } catch (e) {
      if (!(e instanceof InvalidQueryError)) throw e;
      throw new InvalidQueryError(e.message, e.path === '' ? 'filter' : at('filter', e.path), { cause: e, details: e.details });
    }
  }
  if (q.sort !== undefined) {
    if (!Array.isArray(q.sort)) throw new InvalidQueryError('sort must be an array of [path, direction] pairs', 'sort');
    out.sort = Object.freeze(
      q.sort.map((pair: unknown, i) => {
        const where = at('sort', i);
        if (!Array.isArray(pair) || pair.length !== 2) throw new InvalidQueryError('a sort key is [path, "asc" | "desc"]', where);
        validatePath(pair[0], at(where, 0));
        checkDirection(pair[1], at(where, 1));
        return Object.freeze({ path: pair[0], direction: pair[1] });
      }),
    );
  }
  if (q.select !== undefined) {
    if (!Array.isArray(q.select)) throw new InvalidQueryError('select must be an array of paths', 'select');
    q.select.forEach((p: unknown, i) => validatePath(p, at('select', i)));
    out.select = Object.freeze([...(q.select as string[])]);
  }
  if (q.offset !== undefined) {
    checkCount(q.offset, 'offset');
    out.offset = q.offset;
  }
  if (q.limit !== undefined) {
    checkCount(q.limit, 'limit');
    out.limit = q.limit;
  }
  if (q.aggregate !== undefined) out.aggregate = checkAggregation(q.aggregate, 'aggregate');
  checkAggregateOnly(out);
  return Object.freeze(out);
}

/** The wire form of `spec`; `parseQuery(queryToWire(s))` is equivalent to `s`. */
export function queryToWire(spec: QuerySpec): { readonly [key: string]: JsonValue } {
  const out: Record<string, JsonValue> = {};
  if (spec.filter !== undefined) out.filter = toWire(spec.filter) as WireFilter;
  if (spec.sort !== undefined) out.sort = spec.sort.map((k) => [k.path, k.direction]);
  if (spec.select !== undefined) out.select = [...spec.select];
  if (spec.offset !== undefined) out.offset = spec.offset;
  if (spec.limit !== undefined) out.limit = spec.limit;
  if (spec.aggregate !== undefined) out.aggregate = JSON.parse(canonicalJson(spec.aggregate as unknown as JsonValue)) as JsonValue;
  return out;
}

/**
 * What APIs taking a query accept, as a spec: a `Query`, a `Filter` (a query with just
 * that filter) or the wire form (whose `filter` may itself be a `Filter`).
 * @throws INVALID_QUERY
 */
export function querySpecOf(input: unknown): QuerySpec {
  if (input instanceof Query) return input.spec;
  if (isFilter(input)) return Object.freeze({ filter: input });
  return parseQuery(input);
}
