/**
 * The error this package throws for a malformed filter, query or aggregation: code
 * `INVALID_QUERY`, with `details.path` saying where the problem is: a dotted location in
 * the wire JSON (`$and.1.age.$gt`) or, for builder calls, the field path.
 * (`details.reason` repeats the code, for callers that matched on it.)
 */
import { ErrorCodes, KoruError, type KoruErrorOptions } from '@koru/engine';

/** The `details.reason` every {@link InvalidQueryError} carries. */
export const INVALID_QUERY = 'INVALID_QUERY';

/** A filter, query or aggregation that is malformed; `details.path` locates the problem. */
export class InvalidQueryError extends KoruError {
  /** Where the problem is (see the module comment); `''` for the whole input. */
  readonly path: string;

  constructor(message: string, path: string, options: KoruErrorOptions = {}) {
    super(ErrorCodes.INVALID_QUERY, message, { ...options, details: { ...(options.details ?? {}), reason: INVALID_QUERY, path } });
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

/** No secondary index on that namespace and field. */
export class IndexNotFoundError extends KoruError {
  constructor(namespace: string, field: string) {
    super(ErrorCodes.INDEX_NOT_FOUND, `no index on ${namespace}.${field}`, { details: { namespace, field } });
  }
}

/** No view of that name. */
export class ViewNotFoundError extends KoruError {
  constructor(name: string) {
    super(ErrorCodes.VIEW_NOT_FOUND, `no view named ${JSON.stringify(name)}`, { details: { name } });
  }
}

/** A view of that name exists already (delete it first to redefine it). */
export class ViewExistsError extends KoruError {
  constructor(name: string) {
    super(ErrorCodes.VIEW_EXISTS, `a view named ${JSON.stringify(name)} exists already`, { details: { name } });
  }
}

/** A documented limit (indexes per namespace, views per database) would be passed. */
export class LimitExceededError extends KoruError {
  constructor(message: string, limit: number) {
    super(ErrorCodes.LIMIT_EXCEEDED, message, { details: { limit } });
  }
}
