/** How errors leave the server: `{ error: { code, message, details } }` with a fitting status. */
import { ErrorCodes, isKoruError } from '@koru/delta';

/** HTTP status of each error code; anything else is 500. */
const STATUS: Readonly<Record<string, number>> = {
  [ErrorCodes.INVALID_NAMESPACE]: 400,
  [ErrorCodes.INVALID_KEY]: 400,
  [ErrorCodes.INVALID_VALUE]: 400,
  [ErrorCodes.VALUE_TOO_DEEP]: 400,
  [ErrorCodes.INVALID_ARGUMENT]: 400,
  [ErrorCodes.INVALID_QUERY]: 400,
  [ErrorCodes.LIMIT_EXCEEDED]: 400,
  [ErrorCodes.CLOCK_SKEW]: 400,
  [ErrorCodes.UNAUTHORIZED]: 401,
  [ErrorCodes.FORBIDDEN]: 403,
  [ErrorCodes.METHOD_NOT_ALLOWED]: 405,
  [ErrorCodes.UNSUPPORTED_MEDIA_TYPE]: 415,
  [ErrorCodes.KEY_NOT_FOUND]: 404,
  [ErrorCodes.VERSION_NOT_FOUND]: 404,
  [ErrorCodes.VIEW_NOT_FOUND]: 404,
  [ErrorCodes.INDEX_NOT_FOUND]: 404,
  [ErrorCodes.NOT_FOUND]: 404,
  [ErrorCodes.VIEW_EXISTS]: 409,
  [ErrorCodes.VERSION_CONFLICT]: 412,
  // The versions asked for were cut by retention or a purge: gone for good, not just missing.
  [ErrorCodes.HISTORY_PRUNED]: 410,
  [ErrorCodes.VALUE_TOO_LARGE]: 413,
  [ErrorCodes.BODY_TOO_LARGE]: 413,
  [ErrorCodes.DATABASE_LOCKED]: 423,
  [ErrorCodes.TOO_MANY_CONNECTIONS]: 503,
  [ErrorCodes.SERVER_BUSY]: 503,
  [ErrorCodes.REQUEST_TIMEOUT]: 408,
  // The write is stored locally; too few replicas confirmed it in time.
  [ErrorCodes.REPLICATION_TIMEOUT]: 504,
  [ErrorCodes.CLOSED]: 503,
  // The store (PostgreSQL) cannot be reached: the server stays up and recovers with it.
  [ErrorCodes.UNAVAILABLE]: 503,
  [ErrorCodes.STORAGE_FULL]: 507,
};

/** The wire form of an error. */
export interface WireError {
  readonly code: string;
  readonly message: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

/** The status and wire form for anything thrown while serving. */
export function toWireError(e: unknown): { status: number; error: WireError } {
  if (isKoruError(e)) {
    const details = Object.keys(e.details).length > 0 ? { details: e.details } : {};
    return { status: STATUS[e.code] ?? 500, error: { code: e.code, message: e.message, ...details } };
  }
  return { status: 500, error: { code: ErrorCodes.INTERNAL, message: 'internal error' } };
}
