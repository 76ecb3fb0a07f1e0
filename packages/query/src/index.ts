/**
 * @koru/query — the query layer of KoruDelta: filters with a MongoDB-style wire form and a
 * fluent builder, predicates compiled once, a documented total order over JSON values,
 * sorting, offset/limit, projection and aggregation (pure functions over JSON documents);
 * secondary indexes, materialized views and the change feed over a CausalStorage.
 * Browser-safe.
 */
export {
  InvalidQueryError,
  INVALID_QUERY,
  isInvalidQueryError,
  IndexNotFoundError,
  ViewNotFoundError,
  ViewExistsError,
  LimitExceededError,
} from './errors.js';
export { type Lookup, getAt, compileGetter } from './paths.js';
export { compareJson, jsonEquals } from './order.js';
export {
  type CompareOp,
  type CompareFilter,
  type ContainsFilter,
  type ExistsFilter,
  type MatchesFilter,
  type InFilter,
  type AllFilter,
  type SizeFilter,
  type ElemMatchFilter,
  type LogicalFilter,
  type NotFilter,
  Filter,
  isFilter,
  MAX_PATTERN_LENGTH,
} from './filter.js';
export { type WireFilter, parseFilter, toWire } from './wire.js';
export { MAX_FILTER_DEPTH, MAX_FILTER_NODES, MAX_FILTER_PATTERNS, MAX_FILTER_VALUES } from './limits.js';
export { type Predicate, compileFilter } from './compile.js';
export { type FilterInput, matcherOf, filterOf } from './matcher.js';
export { type SortDirection, type SortKey, type QuerySpec, Query, parseQuery, querySpecOf, queryToWire } from './query.js';
export { type Entry, type QueryResult, type QueryExplain, executeQuery, compileProjection } from './execute.js';
export { SecondaryIndex, type Bound, type IndexRange } from './secondary-index.js';
export { planFilter, type IndexPlan, type IndexAccess, type IndexLookup } from './plan.js';
export { IndexSet, checkField as checkIndexField, type IndexInfo, MAX_INDEXES_PER_NAMESPACE, MAX_INDEX_FIELD_LENGTH, checkIndexRecord } from './indexes.js';
export { ViewSet, checkDefinition as checkViewDefinition, type ViewDefinition, type ViewInfo, type ViewResult, MAX_VIEWS, MAX_DESCRIPTION_LENGTH, checkViewRecord } from './views.js';
export { type DefinitionProblem } from './problems.js';
export { checkDefinitionRecord } from './definitions.js';
export { Aggregation, type Group, Agg, aggregate } from './aggregate.js';
export {
  type ChangeSource,
  type ChangeEvent,
  type LaggedEvent,
  type PrunedEvent,
  type SubscriptionSpec,
  type Subscription,
  DEFAULT_BUFFER,
  changeStream,
  subscribe,
} from './changes.js';
export { checkSubscription } from './subscription-check.js';
export { FilterSyntaxError, parseFilterSyntax } from './filter-expression.js';
export { parseFilterExpression, parseFilterExpressions } from './filter-expression/checked.js';
