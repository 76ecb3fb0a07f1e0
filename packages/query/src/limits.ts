/**
 * The bounds on one filter, so that the work a single request can ask for is bounded
 * before any of it is done (parsing, compiling, then evaluating once per document).
 * Passing one is `INVALID_QUERY` (an {@link InvalidQueryError} with `details.path` where
 * the bound was crossed and `details.limit`): they are rules of the query language, like
 * a malformed operand, not a quota on stored data (that is `LIMIT_EXCEEDED`).
 */
import { InvalidQueryError } from './errors.js';

/** Longest regular expression source `$regex`/`$matches` accepts, in UTF-16 code units. */
export const MAX_PATTERN_LENGTH = 1000;

/**
 * Deepest filter: the height of its tree of nodes (a single condition is 1, `$not` of it
 * 2; several keys in one object are an `and` of them, one level down). `compileFilter`
 * checks it exactly; `parseFilter` refuses wire objects nested deeper (each `$and`/`$or`
 * item, `$not` and `$elemMatch` operand is a level, and makes at least one node level)
 * before descending into them, so a filter nested 10,000 deep is refused, not a stack overflow.
 */
export const MAX_FILTER_DEPTH = 64;

/** Most filter nodes (conditions, `and`/`or`/`not`/`elemMatch`) in one filter. */
export const MAX_FILTER_NODES = 1000;

/** Most values in the `$in`, `$nin` and `$all` lists of one filter, counted together. */
export const MAX_FILTER_VALUES = 10_000;

/**
 * Most `$regex`/`$matches` conditions in one filter. Each compiled pattern may keep a lazy
 * DFA of up to about 8 MB while it runs (re2js's default budget): this bounds what one
 * request can make the process hold.
 */
export const MAX_FILTER_PATTERNS = 16;

/** The error for a filter nested deeper than {@link MAX_FILTER_DEPTH}, at `where`. */
export function depthLimitError(where: string): InvalidQueryError {
  return new InvalidQueryError(`a filter may nest at most ${MAX_FILTER_DEPTH} levels deep ($and, $or, $not, $elemMatch)`, where, {
    details: { limit: MAX_FILTER_DEPTH },
  });
}

/** The error for a filter of more than {@link MAX_FILTER_NODES} nodes, at `where`. */
export function nodesLimitError(where: string): InvalidQueryError {
  return new InvalidQueryError(`a filter may have at most ${MAX_FILTER_NODES} conditions and combinators`, where, {
    details: { limit: MAX_FILTER_NODES },
  });
}

/** The error for more than {@link MAX_FILTER_VALUES} values in a filter's `$in`/`$nin`/`$all` lists, at `where`. */
export function valuesLimitError(where: string): InvalidQueryError {
  return new InvalidQueryError(`a filter may hold at most ${MAX_FILTER_VALUES} values in its $in, $nin and $all lists together`, where, {
    details: { limit: MAX_FILTER_VALUES },
  });
}

/** The error for more than {@link MAX_FILTER_PATTERNS} regular expressions in one filter, at `where`. */
export function patternsLimitError(where: string): InvalidQueryError {
  return new InvalidQueryError(`a filter may have at most ${MAX_FILTER_PATTERNS} $regex conditions`, where, {
    details: { limit: MAX_FILTER_PATTERNS },
  });
}
