/**
 * The `Filter` tagged union and its constructors (`Filter.eq('age', 30)`, ...).
 *
 * A filter is plain, immutable data: build it with the constructors, parse it from the
 * wire form with `parseFilter`, turn it into a predicate with `compileFilter`.
 * Semantics (see `compileFilter`): `eq`/`ne`/`in`/`contains` use deep JSON equality;
 * `gt`/`gte`/`lt`/`lte` use the total order of `compareJson` and never match a missing
 * field; `ne` matches a missing field; `and []` matches everything, `or []` nothing.
 */
import type { JsonValue } from '@koru/engine';
import { InvalidQueryError } from './errors.js';
import { validatePath } from './paths.js';

/** Operators that compare the field with one operand. */
export type CompareOp = 'eq' | 'ne' | 'gt' | 'gte' | 'lt' | 'lte';

/** `path` compared with `value` (deep equality for eq/ne, the total order otherwise). */
export interface CompareFilter {
  readonly op: CompareOp;
  readonly path: string;
  readonly value: JsonValue;
}
/** The string field contains `value` as a substring, or the array field has an element deep-equal to it. */
export interface ContainsFilter {
  readonly op: 'contains';
  readonly path: string;
  readonly value: JsonValue;
}
/** The field is present (`exists: true`, `null` counts as present) or absent (`false`). */
export interface ExistsFilter {
  readonly op: 'exists';
  readonly path: string;
  readonly exists: boolean;
}
/** The string field matches the regular expression (flags among `imsu`). */
export interface MatchesFilter {
  readonly op: 'matches';
  readonly path: string;
  readonly pattern: string;
  readonly flags?: string;
}
/** The field is deep-equal to one of `values`. */
export interface InFilter {
  readonly op: 'in';
  readonly path: string;
  readonly values: readonly JsonValue[];
}
/** All (`and`) or any (`or`) of `filters` hold. */
export interface LogicalFilter {
  readonly op: 'and' | 'or';
  readonly filters: readonly Filter[];
}
/** `filter` does not hold. */
export interface NotFilter {
  readonly op: 'not';
  readonly filter: Filter;
}

/** A filter over JSON documents: a tagged union on `op`. */
export type Filter = CompareFilter | ContainsFilter | ExistsFilter | MatchesFilter | InFilter | LogicalFilter | NotFilter;

/** Longest regular expression source `matches` accepts. */
export const MAX_PATTERN_LENGTH = 1000;
const FLAGS = /^(?!.*(.).*\1)[imsu]*$/;

/**
 * Compiles a `matches` pattern, throwing an {@link InvalidQueryError} at `where` when it
 * is not a string, longer than {@link MAX_PATTERN_LENGTH}, invalid, or has flags outside
 * `imsu` (`g` and `y` would make `test` stateful). Length is the only guard against
 * catastrophic backtracking: patterns come from trusted code or should be kept simple.
 */
export function compileRegex(pattern: unknown, flags: unknown, where: string): RegExp {
  if (typeof pattern !== 'string') throw new InvalidQueryError('a $matches pattern must be a string', where);
  if (pattern.length > MAX_PATTERN_LENGTH) {
    throw new InvalidQueryError(`a $matches pattern is longer than ${MAX_PATTERN_LENGTH} characters`, where);
  }
  if (flags !== undefined && (typeof flags !== 'string' || !FLAGS.test(flags))) {
    throw new InvalidQueryError('regex flags must be distinct letters among "imsu"', where);
  }
  try {
    return new RegExp(pattern, flags);
  } catch (e) {
    throw new InvalidQueryError(`invalid regular expression: ${(e as Error).message}`, where, { cause: e });
  }
}

function compare(op: CompareOp) {
  return (path: string, value: JsonValue): CompareFilter => {
    validatePath(path, path);
    return Object.freeze({ op, path, value });
  };
}

/** Constructors for every filter; each validates its path (and pattern) and returns frozen data. */
export const Filter = Object.freeze({
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
    return Object.freeze({ op: 'contains', path, value });
  },
  /** Field is present (`true`, the default) or absent (`false`). */
  exists(path: string, exists = true): ExistsFilter {
    validatePath(path, path);
    return Object.freeze({ op: 'exists', path, exists });
  },
  /** String field matches `pattern` (a RegExp source, at most 1,000 characters). */
  matches(path: string, pattern: string, flags?: string): MatchesFilter {
    validatePath(path, path);
    compileRegex(pattern, flags, path);
    return Object.freeze(flags === undefined ? { op: 'matches', path, pattern } : { op: 'matches', path, pattern, flags });
  },
  /** Field deep-equals one of `values`. */
  in(path: string, values: readonly JsonValue[]): InFilter {
    validatePath(path, path);
    if (!Array.isArray(values)) throw new InvalidQueryError('in needs an array of values', path);
    return Object.freeze({ op: 'in', path, values: Object.freeze([...values]) });
  },
  /** Every filter holds (true when there are none). */
  and(...filters: Filter[]): LogicalFilter {
    return Object.freeze({ op: 'and', filters: Object.freeze(filters) });
  },
  /** Some filter holds (false when there are none). */
  or(...filters: Filter[]): LogicalFilter {
    return Object.freeze({ op: 'or', filters: Object.freeze(filters) });
  },
  /** `filter` does not hold. */
  not(filter: Filter): NotFilter {
    return Object.freeze({ op: 'not', filter });
  },
});
