/**
 * Filter expressions checked by the query layer, for the main entry: the syntax of
 * ../filter-expression.ts plus `parseFilter`'s verdict on each comparison (its pattern
 * compiles as RE2, ...) and on the whole filter (the bounds of one filter), each reported
 * as a {@link FilterSyntaxError} with a column. Not part of the light
 * `@koru/query/filter-expression` entry: `parseFilter` compiles patterns with re2js.
 */
import { InvalidQueryError } from '../errors.js';
import { parseFilter, type WireFilter } from '../wire.js';
import { parseExpression } from './parser.js';
import { group } from './scanner.js';
import { FilterSyntaxError } from './syntax-error.js';

/** A comparison as the query layer sees it: refused with its InvalidQueryError, or accepted. */
const checkLeaf = (wire: WireFilter): void => {
  parseFilter(wire);
};

/** `wire` unless the query layer refuses the whole filter (a bound of one filter: depth, size). */
function checkBounds(wire: WireFilter, option: string): WireFilter {
  try {
    parseFilter(wire);
  } catch (e) {
    if (!(e instanceof InvalidQueryError)) throw e;
    throw new FilterSyntaxError(option, `${e.message} at column 1`, 1, e);
  }
  return wire;
}

/**
 * Parses a filter expression (grammar in the `@koru/query/filter-expression` module
 * comment) into the wire form that `parseFilter` and `db.query(ns, { filter })` accept,
 * checked as `parseFilter` checks it: a pattern that is not valid RE2 is refused at its
 * column, a filter past the bounds of one filter at column 1. `option` prefixes error
 * messages. O(length of `text`) plus compiling its patterns. For the syntax alone,
 * without the regular-expression engine (a browser page), use `parseFilterSyntax`.
 * @throws FilterSyntaxError (INVALID_QUERY) naming the option and the column
 */
export function parseFilterExpression(text: string, option = '--filter'): WireFilter {
  return checkBounds(parseExpression(text, option, checkLeaf), option);
}

/**
 * Parses one or more filter expressions (a repeated `--filter`) into one wire filter
 * that all of them must match: `{ "$and": [...] }` (flattened) for several, checked as
 * {@link parseFilterExpression} checks each, and then as a whole. Errors name the option,
 * and which one when there are several (`--filter #2: ...`).
 * @throws FilterSyntaxError (INVALID_QUERY)
 */
export function parseFilterExpressions(texts: readonly string[], option = '--filter'): WireFilter {
  const parts = texts.map((t, i) => parseFilterExpression(t, texts.length > 1 ? `${option} #${i + 1}` : option));
  return checkBounds(group('$and', parts), option);
}
