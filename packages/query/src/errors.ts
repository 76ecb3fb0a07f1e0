/**
 * The error this package throws for a malformed filter, query or aggregation.
 *
 * The engine's `ErrorCodes` has no `INVALID_QUERY` yet and `KoruError`'s constructor only
 * accepts an engine `ErrorCode`, so for now an invalid query is an
 * {@link InvalidArgumentError} (code `INVALID_ARGUMENT`) whose `details.reason` is
 * `'INVALID_QUERY'` and whose `details.path` says where the problem is: a dotted location
 * in the wire JSON (`$and.1.age.$gt`) or, for builder calls, the field path.
 */
import { InvalidArgumentError, type KoruErrorOptions } from '@koru/engine';

/** The `details.reason` every {@link InvalidQueryError} carries. */
export const INVALID_QUERY = 'INVALID_QUERY';

/** A filter, query or aggregation that is malformed; `details.path` locates the problem. */
export class InvalidQueryError extends InvalidArgumentError {
  /** Where the problem is (see the module comment); `''` for the whole input. */
  readonly path: string;

  constructor(message: string, path: string, options: KoruErrorOptions = {}) {
    super(message, { ...options, details: { ...(options.details ?? {}), reason: INVALID_QUERY, path } });
    this.path = path;
  }
}

/** True when `e` is an {@link InvalidQueryError}. */
export function isInvalidQueryError(e: unknown): e is InvalidQueryError {
  return e instanceof InvalidQueryError;
}

/** Appends a segment to a location path (`''` + `a` → `a`, `a` + `0` → `a.0`). */
export function at(base: string, segment: string | number): string {
  return base === '' ? String(segment) : `${base}.${segment}`;
}
