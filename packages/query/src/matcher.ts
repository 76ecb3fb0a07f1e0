/**
 * A value test from what callers hand in as a filter: the JSON wire form, or a `Query`
 * from the builder (its filter is used). Shared by queries over history, aggregations
 * and subscriptions, which take a filter but no sort or page.
 */
import { compileFilter, type Predicate } from './compile.js';
import { Query } from './query.js';
import { parseFilter } from './wire.js';

/** The compiled test, or undefined when there is no filter (everything matches). @throws InvalidQueryError */
export function matcherOf(input: unknown): Predicate | undefined {
  if (input === undefined) return undefined;
  const filter = input instanceof Query ? input.spec.filter : parseFilter(input);
  return filter === undefined ? undefined : compileFilter(filter);
}
