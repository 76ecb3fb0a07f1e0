/**
 * What callers hand in as a filter, where a filter (not a whole query) is taken —
 * queries over history, aggregations, subscriptions: a `Filter`, a `Query` (its filter is
 * used; anything else in it is refused rather than ignored) or the JSON wire form.
 */
import type { JsonValue } from '@koru/engine';
import { compileFilter, type Predicate } from './compile.js';
import { InvalidQueryError } from './errors.js';
import type { Filter } from './filter-ast.js';
import { Query, type QuerySpec } from './query.js';
import { parseFilter, type WireFilter } from './wire.js';

/**
 * What APIs taking a filter accept: a `Filter`, a `Query` with only a filter, or the wire
 * form ({@link WireFilter}; `Filter`s may stand inside it for any filter object, so its
 * values are typed loosely: everything is checked at run time).
 */
export type FilterInput = Filter | Query | WireFilter | { readonly [key: string]: unknown };

/** A `Query` from any copy of this package: it has `spec` and `toJSON()`. */
function isQueryLike(x: unknown): x is { readonly spec: QuerySpec; toJSON(): Record<string, JsonValue> } {
  return x instanceof Query || (x !== null && typeof x === 'object' && 'spec' in x && typeof (x as { toJSON?: unknown }).toJSON === 'function');
}

function onlyFilter(spec: QuerySpec): Filter | undefined {
  const extra = (['sort', 'select', 'offset', 'limit', 'aggregate'] as const).find((k) => spec[k] !== undefined);
  if (extra !== undefined) {
    throw new InvalidQueryError(`only a filter is taken here: the Query's ${extra} would be ignored; pass a Query with just a filter`, extra);
  }
  return spec.filter;
}

/** The filter `input` stands for (undefined: none, everything matches). @throws InvalidQueryError */
export function filterOf(input: unknown): Filter | undefined {
  if (input === undefined) return undefined;
  if (isQueryLike(input)) return onlyFilter(input.spec);
  return parseFilter(input);
}

/** The compiled test, or undefined when there is no filter (everything matches). @throws InvalidQueryError */
export function matcherOf(input: unknown): Predicate | undefined {
  const filter = filterOf(input);
  return filter === undefined ? undefined : compileFilter(filter);
}
