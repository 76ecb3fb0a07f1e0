/** The error of a filter expression that cannot be parsed (kept apart so the entries share it). */
import { InvalidQueryError } from '../errors.js';

/**
 * A filter expression that cannot be parsed: an {@link InvalidQueryError} (code
 * `INVALID_QUERY`) with `details.column` (1-based, in code points) and `details.option`;
 * the message is `${option}: ${message}`. `details.path` is `''` (the whole filter).
 */
export class FilterSyntaxError extends InvalidQueryError {
  /** Where the problem is, 1-based, in code points. */
  readonly column: number;
  /** What the expression came from, as the message names it: the command-line option (`--filter`), or a caller's label. */
  readonly option: string;

  constructor(option: string, message: string, column: number, cause?: unknown) {
    super(`${option}: ${message}`, '', { details: { column, option }, ...(cause !== undefined ? { cause } : {}) });
    this.column = column;
    this.option = option;
  }
}
