/**
 * The `Filter` tagged union (plain, immutable data), the mark every filter made by this
 * package carries, and the regular expressions of `matches`.
 *
 * Semantics (see `compileFilter`): `eq`/`ne`/`in`/`nin`/`contains`/`all` use deep JSON
 * equality; `gt`/`gte`/`lt`/`lte` use the total order of `compareJson` and never match a
 * missing field; `ne`, `nin` and `not` match a missing field; `all`, `size`,
 * `elemMatch` need the field to be an array and `matches` a string (there is no implicit
 * descent into arrays: a condition reads the field's whole value, as `eq` does);
 * `and []` matches everything, `or []` nothing.
 */
import type { JsonValue } from '@koru/engine';
import { InvalidQueryError } from './errors.js';
import { MAX_FILTER_VALUES, valuesLimitError } from './limits.js';

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
/**
 * The string field matches the regular expression somewhere (flags among `imsu`). Wire:
 * `$regex` or `$matches`, with `$options`. RE2 syntax and semantics, matched in time
 * linear in the string's length (./regex.ts); refused as `INVALID_QUERY`, naming the
 * feature: backreferences (`\1`, `\k<name>`, `(?P=name)`), lookahead and lookbehind,
 * atomic groups, possessive quantifiers, conditionals, recursion, JavaScript's `\u`
 * and `\cX` escapes and its empty classes `[]`/`[^]`; patterns over 1,000 characters;
 * more than 16 patterns in one filter.
 */
export interface MatchesFilter {
  readonly op: 'matches';
  readonly path: string;
  readonly pattern: string;
  readonly flags?: string;
}
/** The field is deep-equal to one of `values` (`in`), or is missing or deep-equal to none of them (`nin`). */
export interface InFilter {
  readonly op: 'in' | 'nin';
  readonly path: string;
  readonly values: readonly JsonValue[];
}
/** The field is an array holding an element deep-equal to each of `values` (`[]` matches nothing, as in MongoDB). */
export interface AllFilter {
  readonly op: 'all';
  readonly path: string;
  readonly values: readonly JsonValue[];
}
/** The field is an array of exactly `size` elements. */
export interface SizeFilter {
  readonly op: 'size';
  readonly path: string;
  readonly size: number;
}
/**
 * The field is an array with at least one element matching `filter`, whose paths are
 * read inside the element. The empty path `''` (allowed only here) is the element
 * itself: how operator conditions on scalar arrays (`{ $elemMatch: { $gte: 80 } }`) are held.
 */
export interface ElemMatchFilter {
  readonly op: 'elemMatch';
  readonly path: string;
  readonly filter: Filter;
}
/** All (`and`) or any (`or`) of `filters` hold. */
export interface LogicalFilter {
  readonly op: 'and' | 'or';
  readonly filters: readonly Filter[];
}
/** `filter` does not hold (so a condition on a missing field negates to true, as MongoDB's `$not`). */
export interface NotFilter {
  readonly op: 'not';
  readonly filter: Filter;
}

/** A filter over JSON documents: a tagged union on `op`. */
export type Filter =
  | CompareFilter
  | ContainsFilter
  | ExistsFilter
  | MatchesFilter
  | InFilter
  | AllFilter
  | SizeFilter
  | ElemMatchFilter
  | LogicalFilter
  | NotFilter;

/** Every `op` of {@link Filter}. */
export const FILTER_OPS: ReadonlySet<string> = new Set([
  'eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'contains', 'exists', 'matches', 'in', 'nin', 'all', 'size', 'elemMatch', 'and', 'or', 'not',
]);

/**
 * The mark of a filter made by this package (see `filterNode` in ./wire.ts). Symbol.for:
 * a filter made by another copy of this package (a bundled client) is known too.
 */
export const FILTER_MARK: unique symbol = Symbol.for('@koru/query.Filter') as never;

/** True for a filter made by the `Filter` constructors, `parseFilter` or a `Query` (any copy of this package). */
export function isFilter(x: unknown): x is Filter {
  return x !== null && typeof x === 'object' && (x as { [FILTER_MARK]?: unknown })[FILTER_MARK] === true;
}

export { MAX_PATTERN_LENGTH } from './limits.js';
export { compileRegex, type Pattern } from './regex.js';

/** Deepest operand `checkJson` walks (as deep as the deepest value a database accepts). */
const MAX_OPERAND_DEPTH = 1000;

function describe(v: unknown): string {
  if (v instanceof Date) return 'a Date (compare with its ISO-8601 string, d.toISOString())';
  if (typeof v === 'number') return String(v);
  if (v === undefined) return 'undefined';
  if (v !== null && typeof v === 'object') return `a ${(v as object).constructor?.name ?? 'non-plain object'}`;
  return `a ${typeof v}`;
}

/**
 * Throws an {@link InvalidQueryError} at `where` unless `v` is a JSON value: a `Date`,
 * `undefined`, `NaN`, a `Map` or a `Filter` as an operand would compare as something
 * else and silently match nothing. O(size of `v`).
 */
export function checkJson(v: unknown, where: string, depth = 0): asserts v is JsonValue {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return;
  if (typeof v === 'number') {
    if (Number.isFinite(v)) return;
  } else if (typeof v === 'object' && depth < MAX_OPERAND_DEPTH && !isFilter(v)) {
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) checkJson(v[i], where, depth + 1);
      return;
    }
    const proto = Object.getPrototypeOf(v) as unknown;
    if (proto === Object.prototype || proto === null) {
      for (const k of Object.keys(v)) checkJson((v as Record<string, unknown>)[k], where, depth + 1);
      return;
    }
  }
  const what = isFilter(v) ? 'a Filter (use it as a filter, not as a value)' : describe(v);
  throw new InvalidQueryError(`an operand must be a JSON value, not ${what}`, where);
}

/**
 * Throws an {@link InvalidQueryError} at `where` unless `v` is an array (of `op`'s
 * operands) of at most `room` values ({@link MAX_FILTER_VALUES} unless the rest of the
 * filter took some). Checks the length first: O(1) for a list far too long.
 */
export function checkValues(v: unknown, op: string, where: string, room = MAX_FILTER_VALUES): asserts v is readonly JsonValue[] {
  if (!Array.isArray(v)) throw new InvalidQueryError(`${op} needs an array of values`, where);
  if (v.length > room) throw valuesLimitError(where);
  checkJson(v, where);
}

/** Throws an {@link InvalidQueryError} at `where` unless `n` is a non-negative safe integer (a `size`). */
export function checkSize(n: unknown, where: string): asserts n is number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw new InvalidQueryError('$size needs a non-negative integer', where);
  }
}
