/**
 * `Filter`: the filter type (a tagged union on `op`, see ./filter-ast.ts for every
 * node and the semantics) and its constructors (`Filter.eq('age', 30)`, ...).
 *
 * A filter is plain, immutable data: build it with the constructors, parse it from the
 * wire form with `parseFilter`, turn it into a predicate with `compileFilter`. Filters
 * made here are marked, so every API that takes a filter accepts them next to the wire
 * form without ambiguity.
 */
import type { JsonValue } from '@koru/engine';
import { InvalidQueryError } from './errors.js';
import {
  checkJson,
  checkSize,
  checkValues,
  compileRegex,
  type AllFilter,
  type CompareFilter,
  type CompareOp,
  type ContainsFilter,
  type ElemMatchFilter,
  type ExistsFilter,
  type Filter as FilterNode,
  type InFilter,
  type LogicalFilter,
  type MatchesFilter,
  type NotFilter,
  type SizeFilter,
} from './filter-ast.js';
import { validatePath } from './paths.js';
import { filterNode, parseFilter, type WireFilter } from './wire.js';

/** A filter over JSON documents: a tagged union on `op` (see {@link FilterNode}'s members). */
export type Filter = FilterNode;

function compare(op: CompareOp) {
  return (path: string, value: JsonValue): CompareFilter => {
    validatePath(path, path);
    checkJson(value, path);
    return filterNode({ op, path, value });
  };
}

function values(op: 'in' | 'nin' | 'all', path: string, vs: readonly JsonValue[]): readonly JsonValue[] {
  validatePath(path, path);
  checkValues(vs, op, path);
  return Object.freeze([...vs]);
}

/** A sub-filter argument: a `Filter`, or a filter in wire form. */
function sub(f: Filter | WireFilter, where: string): Filter {
  try {
    return parseFilter(f);
  } catch (e) {
    if (e instanceof InvalidQueryError && e.path === '') throw new InvalidQueryError(e.message, where, { cause: e, details: e.details });
    throw e;
  }
}

function regex(op: '$matches' | '$regex') {
  return (path: string, pattern: string, flags?: string): MatchesFilter => {
    validatePath(path, path);
    compileRegex(pattern, flags, path, op);
    return filterNode(flags === undefined ? { op: 'matches', path, pattern } : { op: 'matches', path, pattern, flags });
  };
}

/**
 * Constructors for every filter; each validates its arguments (an {@link InvalidQueryError}
 * otherwise) and returns frozen, marked data. Combinators (`and`, `or`, `not`,
 * `elemMatch`) also take filters in wire form.
 */
export const Filter = /* @__PURE__ */ (() => Object.freeze({
  /** Field deep-equals `value`. */
  eq: compare('eq'),
  /** Field is missing or not deep-equal to `value`. */
  ne: compare('ne'),
  /** Field is present and after `value` in the total order. */
  gt: compare('gt'),
  /** Field is present and not before `value` in the total order. */
  gte: compare('gte'),
  /** Field is present and before `value` in the total order. */
  lt: compare('lt'),
  /** Field is present and not after `value` in the total order. */
  lte: compare('lte'),
  /** String field contains the substring `value`, or array field has an element deep-equal to `value`. */
  contains(path: string, value: JsonValue): ContainsFilter {
    validatePath(path, path);
    checkJson(value, path);
    return filterNode({ op: 'contains', path, value });
  },
  /** Field is present (`true`, the default) or absent (`false`). */
  exists(path: string, exists = true): ExistsFilter {
    validatePath(path, path);
    if (typeof exists !== 'boolean') throw new InvalidQueryError('exists needs true or false', path);
    return filterNode({ op: 'exists', path, exists });
  },
  /**
   * String field matches `pattern` (RE2 syntax, linear-time; at most 1,000 characters;
   * flags among `imsu`; backreferences, lookaround and the rest RE2 lacks are refused, see
   * {@link MatchesFilter}). Wire: `$regex`.
   */
  matches: regex('$matches'),
  /** The same as `matches` (MongoDB's name). */
  regex: regex('$regex'),
  /** Field deep-equals one of `values`. */
  in(path: string, vs: readonly JsonValue[]): InFilter {
    return filterNode({ op: 'in', path, values: values('in', path, vs) });
  },
  /** Field is missing or deep-equals none of `values` (MongoDB's `$nin`). */
  nin(path: string, vs: readonly JsonValue[]): InFilter {
    return filterNode({ op: 'nin', path, values: values('nin', path, vs) });
  },
  /** Field is an array holding an element deep-equal to each of `values`; `[]` matches nothing (as MongoDB). */
  all(path: string, vs: readonly JsonValue[]): AllFilter {
    return filterNode({ op: 'all', path, values: values('all', path, vs) });
  },
  /** Field is an array of exactly `size` elements. */
  size(path: string, size: number): SizeFilter {
    validatePath(path, path);
    checkSize(size, path);
    return filterNode({ op: 'size', path, size });
  },
  /**
   * Field is an array with an element matching `condition`: a `Filter` or wire filter
   * over the element (`Filter.elemMatch('items', { sku: 'A1', qty: { $gte: 2 } })`), or an
   * operator object for the element itself (`Filter.elemMatch('scores', { $gte: 80, $lt: 85 })`).
   */
  elemMatch(path: string, condition: Filter | WireFilter): ElemMatchFilter {
    validatePath(path, path);
    const f = sub({ [path]: { $elemMatch: condition as JsonValue } } as WireFilter, path);
    return f as ElemMatchFilter;
  },
  /** Every filter holds (true when there are none). */
  and(...filters: Array<Filter | WireFilter>): LogicalFilter {
    return filterNode({ op: 'and', filters: Object.freeze(filters.map((f, i) => sub(f, `and.${i}`))) });
  },
  /** Some filter holds (false when there are none). */
  or(...filters: Array<Filter | WireFilter>): LogicalFilter {
    return filterNode({ op: 'or', filters: Object.freeze(filters.map((f, i) => sub(f, `or.${i}`))) });
  },
  /** `filter` does not hold. */
  not(filter: Filter | WireFilter): NotFilter {
    return filterNode({ op: 'not', filter: sub(filter, 'not') });
  },
}))();

export {
  type AllFilter,
  type CompareFilter,
  type CompareOp,
  type ContainsFilter,
  type ElemMatchFilter,
  type ExistsFilter,
  type InFilter,
  type LogicalFilter,
  type MatchesFilter,
  type NotFilter,
  type SizeFilter,
};
export { MAX_PATTERN_LENGTH, compileRegex, isFilter } from './filter-ast.js';
