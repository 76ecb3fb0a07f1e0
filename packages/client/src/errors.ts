/**
 * Errors on the client: wire errors rebuilt as KoruErrors, and the client's own.
 *
 * A wire error `{ code, message, details }` becomes a KoruError with the same three.
 * Codes whose class lives in @koru/engine come back as that class (InvalidNamespaceError,
 * InvalidKeyError, InvalidValueError, ValueTooLargeError, ValueTooDeepError,
 * InvalidArgumentError, UnsupportedError); every other code (KEY_NOT_FOUND,
 * VERSION_CONFLICT, HISTORY_PRUNED, INVALID_QUERY, VIEW_NOT_FOUND...) comes back as a plain `KoruError`
 * with that code: their classes live in @koru/storage and @koru/query, which the client
 * does not load. Match on `code` (`isKoruError(e, 'KEY_NOT_FOUND')`), which works for both.
 */
import {
  ErrorCodes,
  InvalidArgumentError,
  InvalidKeyError,
  InvalidNamespaceError,
  InvalidValueError,
  KoruError,
  UnsupportedError,
  ValueTooDeepError,
  ValueTooLargeError,
  type ErrorCode,
  type KoruErrorOptions,
} from '@koru/engine';

type Maker = (message: string, options: KoruErrorOptions) => KoruError;

const CLASSES: ReadonlyMap<string, Maker> = new Map<string, Maker>([
  [ErrorCodes.INVALID_NAMESPACE, (m, o) => new InvalidNamespaceError(m, o)],
  [ErrorCodes.INVALID_KEY, (m, o) => new InvalidKeyError(m, o)],
  [ErrorCodes.INVALID_VALUE, (m, o) => new InvalidValueError(m, o)],
  [ErrorCodes.VALUE_TOO_LARGE, (m, o) => new ValueTooLargeError(m, o)],
  [ErrorCodes.VALUE_TOO_DEEP, (m, o) => new ValueTooDeepError(m, o)],
  [ErrorCodes.INVALID_ARGUMENT, (m, o) => new InvalidArgumentError(m, o)],
  [ErrorCodes.UNSUPPORTED, (m, o) => new UnsupportedError(m, o)],
]);

/**
 * The KoruError a wire error stands for. A code the client does not know (a newer
 * server's, or the server's `INTERNAL`) is kept as it is.
 */
export function errorFromWire(wire: unknown): KoruError {
  if (wire === null || typeof wire !== 'object' || typeof (wire as { code?: unknown }).code !== 'string') {
    return protocolError(`the server sent a malformed error: ${preview(wire)}`);
  }
  const { code, message, details } = wire as { code: string; message?: unknown; details?: unknown };
  const text = typeof message === 'string' ? message : code;
  const options: KoruErrorOptions =
    details !== null && typeof details === 'object' && !Array.isArray(details) ? { details: details as Record<string, unknown> } : {};
  const make = CLASSES.get(code);
  return make !== undefined ? make(text, options) : new KoruError(code as ErrorCode, text, options);
}

/** The server broke the protocol (or is not a KoruDelta server). */
export function protocolError(message: string): KoruError {
  return new KoruError(ErrorCodes.PROTOCOL_ERROR, message);
}

/** A transport failure: cannot connect, connection lost, no connection in time. */
export function ioError(message: string, details: Readonly<Record<string, unknown>> = {}): KoruError {
  return new KoruError(ErrorCodes.IO_ERROR, message, { details });
}

/** A call on a closed client. */
export function closedError(): KoruError {
  return new KoruError(ErrorCodes.CLOSED, 'the client is closed');
}

/** At most 200 characters of something, for messages. */
export function preview(v: unknown): string {
  let s: string;
  try {
    s = typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v));
  } catch {
    s = String(v);
  }
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}
