/**
 * Wire errors back to KoruErrors: `{ code, message, details }` (what `toJSON` gives, what
 * the server sends, what the browser's database worker posts) becomes a KoruError with
 * the same three, of the class its code stands for when the caller knows that class.
 * Shared by @koru/client (over a WebSocket) and @koru/delta's browser build (across tabs),
 * each adding the classes of the packages it loads.
 */
import {
  ErrorCodes,
  InvalidArgumentError,
  InvalidKeyError,
  InvalidNamespaceError,
  InvalidValueError,
  KoruError,
  UnavailableError,
  UnsupportedError,
  ValueTooDeepError,
  ValueTooLargeError,
  type ErrorCode,
  type KoruErrorOptions,
} from './errors.js';

/** Makes the error of one code from a wire error's message and details. */
export type KoruErrorMaker = (message: string, options: KoruErrorOptions) => KoruError;

/** The codes whose classes live in this package, with their makers. */
export const ENGINE_ERROR_MAKERS: ReadonlyMap<string, KoruErrorMaker> = new Map<string, KoruErrorMaker>([
  [ErrorCodes.INVALID_NAMESPACE, (m, o) => new InvalidNamespaceError(m, o)],
  [ErrorCodes.INVALID_KEY, (m, o) => new InvalidKeyError(m, o)],
  [ErrorCodes.INVALID_VALUE, (m, o) => new InvalidValueError(m, o)],
  [ErrorCodes.VALUE_TOO_LARGE, (m, o) => new ValueTooLargeError(m, o)],
  [ErrorCodes.VALUE_TOO_DEEP, (m, o) => new ValueTooDeepError(m, o)],
  [ErrorCodes.INVALID_ARGUMENT, (m, o) => new InvalidArgumentError(m, o)],
  [ErrorCodes.UNSUPPORTED, (m, o) => new UnsupportedError(m, o)],
  [ErrorCodes.UNAVAILABLE, (m, o) => new UnavailableError(m, o)],
]);

/**
 * The KoruError a wire error stands for: of the class `makers` (then this package's
 * classes) give for its code, else a plain KoruError with that code (a code the reader
 * does not know is kept as it is). Undefined when `wire` is not a wire error (no string
 * `code`): the caller says what that means on its channel.
 */
export function koruErrorFromWire(wire: unknown, makers?: ReadonlyMap<string, KoruErrorMaker>): KoruError | undefined {
  if (wire === null || typeof wire !== 'object' || typeof (wire as { code?: unknown }).code !== 'string') return undefined;
  const { code, message, details } = wire as { code: string; message?: unknown; details?: unknown };
  const text = typeof message === 'string' ? message : code;
  const options: KoruErrorOptions =
    details !== null && typeof details === 'object' && !Array.isArray(details) ? { details: details as Record<string, unknown> } : {};
  const make = makers?.get(code) ?? ENGINE_ERROR_MAKERS.get(code);
  return make !== undefined ? make(text, options) : new KoruError(code as ErrorCode, text, options);
}
