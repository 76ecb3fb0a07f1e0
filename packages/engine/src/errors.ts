/**
 * Typed errors shared by every KoruDelta layer. Each error has a stable string
 * `code` that the server maps to HTTP statuses and the CLI to exit codes; on the
 * wire an error is `{ code, message }` and is turned back into the same class.
 */

/** Every stable error code. String literals, never numbers. */
export const ErrorCodes = {
  INVALID_NAMESPACE: 'INVALID_NAMESPACE',
  INVALID_KEY: 'INVALID_KEY',
  INVALID_VALUE: 'INVALID_VALUE',
  VALUE_TOO_LARGE: 'VALUE_TOO_LARGE',
  VALUE_TOO_DEEP: 'VALUE_TOO_DEEP',
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  INVALID_QUERY: 'INVALID_QUERY',
  KEY_NOT_FOUND: 'KEY_NOT_FOUND',
  VERSION_NOT_FOUND: 'VERSION_NOT_FOUND',
  VERSION_CONFLICT: 'VERSION_CONFLICT',
  /** What was asked for lies before a horizon left by retention or a purge (HTTP 410). */
  HISTORY_PRUNED: 'HISTORY_PRUNED',
  DATABASE_LOCKED: 'DATABASE_LOCKED',
  CORRUPTION: 'CORRUPTION',
  CLOSED: 'CLOSED',
  STORAGE_FULL: 'STORAGE_FULL',
  IO_ERROR: 'IO_ERROR',
  UNSUPPORTED: 'UNSUPPORTED',
  INDEX_NOT_FOUND: 'INDEX_NOT_FOUND',
  VIEW_NOT_FOUND: 'VIEW_NOT_FOUND',
  VIEW_EXISTS: 'VIEW_EXISTS',
  LIMIT_EXCEEDED: 'LIMIT_EXCEEDED',
  UNAUTHORIZED: 'UNAUTHORIZED',
  /** A request from a web origin or to a host name the server does not allow (HTTP 403). */
  FORBIDDEN: 'FORBIDDEN',
  /** A write whose body is not declared `Content-Type: application/json` (HTTP 415). */
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  /** A method the route does not have (HTTP 405, with `Allow`). */
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  NOT_FOUND: 'NOT_FOUND',
  BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  TOO_MANY_CONNECTIONS: 'TOO_MANY_CONNECTIONS',
  /** The server's budget for request bodies being received is spent: retry shortly. */
  SERVER_BUSY: 'SERVER_BUSY',
  /** A client took too long to send its request (its body stalled). */
  REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
  PROTOCOL_ERROR: 'PROTOCOL_ERROR',
  CLOCK_SKEW: 'CLOCK_SKEW',
  REPLICATION_TIMEOUT: 'REPLICATION_TIMEOUT',
  /**
   * The store behind this database cannot be reached (a PostgreSQL store whose server is
   * down or unreachable, HTTP 503): nothing was done, or a write's outcome is reported
   * as unknown in `details`; retry once it is back.
   */
  UNAVAILABLE: 'UNAVAILABLE',
  INTERNAL: 'INTERNAL',
} as const;

/** One of the stable error codes in {@link ErrorCodes}. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Options every KoruError accepts. */
export interface KoruErrorOptions {
  /** The underlying error, when this one wraps another. */
  readonly cause?: unknown;
  /** Structured facts about the failure (namespace, key, file, offset...). */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** Base class of every error KoruDelta throws. Match on `code`, not on the message. */
export class KoruError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: KoruErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = Object.freeze({ ...(options.details ?? {}) });
  }

  /** The wire form: `{ code, message, details }`. */
  toJSON(): { code: ErrorCode; message: string; details: Readonly<Record<string, unknown>> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

/** A namespace that is empty, too long, uses characters outside `[A-Za-z0-9_.-]` or starts with `_`. */
export class InvalidNamespaceError extends KoruError {
  constructor(message: string, options?: KoruErrorOptions) {
    super(ErrorCodes.INVALID_NAMESPACE, message, options);
  }
}

/** A key that is empty, over 1,024 UTF-8 bytes, contains NUL or is not a well-formed string. */
export class InvalidKeyError extends KoruError {
  constructor(message: string, options?: KoruErrorOptions) {
    super(ErrorCodes.INVALID_KEY, message, options);
  }
}

/** A value that is not JSON (undefined, function, symbol, BigInt, NaN, cycle, lone surrogate...). */
export class InvalidValueError extends KoruError {
  constructor(message: string, options?: KoruErrorOptions) {
    super(ErrorCodes.INVALID_VALUE, message, options);
  }
}

/** A value whose canonical JSON exceeds the configured size limit. */
export class ValueTooLargeError extends KoruError {
  constructor(message: string, options?: KoruErrorOptions) {
    super(ErrorCodes.VALUE_TOO_LARGE, message, options);
  }
}

/** A value nested deeper than the configured depth limit. */
export class ValueTooDeepError extends KoruError {
  constructor(message: string, options?: KoruErrorOptions) {
    super(ErrorCodes.VALUE_TOO_DEEP, message, options);
  }
}

/** An argument of the wrong type or form (a bad timestamp, an unknown option...). */
export class InvalidArgumentError extends KoruError {
  constructor(message: string, options?: KoruErrorOptions) {
    super(ErrorCodes.INVALID_ARGUMENT, message, options);
  }
}

/** The operation needs something this platform does not have. */
export class UnsupportedError extends KoruError {
  constructor(message: string, options?: KoruErrorOptions) {
    super(ErrorCodes.UNSUPPORTED, message, options);
  }
}

/** The store cannot be reached now (see {@link ErrorCodes.UNAVAILABLE}); retry later. */
export class UnavailableError extends KoruError {
  constructor(message: string, options?: KoruErrorOptions) {
    super(ErrorCodes.UNAVAILABLE, message, options);
  }
}

/** A replicated version stamped too far ahead of this node's clock: refused, nothing stored. */
export class ClockSkewError extends KoruError {
  constructor(message: string, options?: KoruErrorOptions) {
    super(ErrorCodes.CLOCK_SKEW, message, options);
  }
}

/**
 * A write was stored here but too few cluster members acknowledged it in time (details:
 * `acked`, `required`). The write is not undone: replication goes on in the background.
 */
export class ReplicationTimeoutError extends KoruError {
  constructor(message: string, options?: KoruErrorOptions) {
    super(ErrorCodes.REPLICATION_TIMEOUT, message, options);
  }
}

/** True when `e` is a KoruError, optionally with the given code. */
export function isKoruError(e: unknown, code?: ErrorCode): e is KoruError {
  return e instanceof KoruError && (code === undefined || e.code === code);
}
