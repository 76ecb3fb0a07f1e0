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
import { ErrorCodes, KoruError, koruErrorFromWire } from '@koru/engine';

/**
 * The KoruError a wire error stands for (@koru/engine's `koruErrorFromWire`: the engine's
 * classes). A code the client does not know (a newer server's, or the server's
 * `INTERNAL`) is kept as it is.
 */
export function errorFromWire(wire: unknown): KoruError {
  return koruErrorFromWire(wire) ?? protocolError(`the server sent a malformed error: ${preview(wire)}`);
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
