/**
 * KoruErrors across the worker and the tabs: thrown on one side, posted as their wire
 * form `{ code, message, details }`, rebuilt on the other as the same class (the
 * engine's `koruErrorFromWire`, plus the classes of @koru/storage and @koru/query, which
 * this package loads), so `instanceof KeyNotFoundError` holds in every tab.
 */
import { ErrorCodes, isKoruError, KoruError, koruErrorFromWire, type KoruErrorMaker } from '@koru/engine';
import {
  ClosedError,
  CorruptionError,
  DatabaseLockedError,
  HistoryPrunedError,
  IoError,
  KeyNotFoundError,
  StorageFullError,
  VersionConflictError,
  VersionNotFoundError,
} from '@koru/storage/errors';
import { IndexNotFoundError, InvalidQueryError, LimitExceededError, ViewExistsError, ViewNotFoundError } from '@koru/query/errors';

/** A KoruError as it crosses a MessagePort or a BroadcastChannel (structured clone). */
export interface WireError {
  readonly code: string;
  readonly message: string;
  readonly details: Readonly<Record<string, unknown>>;
}

function str(d: Readonly<Record<string, unknown>> | undefined, k: string): string {
  const v = d?.[k];
  return typeof v === 'string' ? v : '';
}

/** `e` with `message` as sent: constructors that build their own message from details get the sender's text back. */
function withMessage<E extends KoruError>(e: E, message: string): E {
  if (e.message !== message) Object.defineProperty(e, 'message', { value: message, writable: true, configurable: true });
  return e;
}

/** The classes of the storage and query layers, by code (the engine's own come from @koru/engine). */
const MAKERS: ReadonlyMap<string, KoruErrorMaker> = new Map<string, KoruErrorMaker>([
  [ErrorCodes.KEY_NOT_FOUND, (m, o) => new KeyNotFoundError(str(o.details, 'namespace'), str(o.details, 'key'), m, o)],
  [ErrorCodes.VERSION_NOT_FOUND, (m, o) => withMessage(new VersionNotFoundError(str(o.details, 'namespace'), str(o.details, 'key'), str(o.details, 'versionId')), m)],
  [
    ErrorCodes.VERSION_CONFLICT,
    (m, o) => {
      const d = o.details ?? {};
      const id = (k: string): string | null => (typeof d[k] === 'string' ? (d[k] as string) : null);
      return withMessage(new VersionConflictError(str(d, 'namespace'), str(d, 'key'), id('expected'), id('actual')), m);
    },
  ],
  [ErrorCodes.CORRUPTION, (m, o) => new CorruptionError(m, o.details)],
  [ErrorCodes.DATABASE_LOCKED, (m, o) => new DatabaseLockedError(m, o.details)],
  [ErrorCodes.CLOSED, (m) => new ClosedError(m)],
  [ErrorCodes.STORAGE_FULL, (m) => new StorageFullError(m)],
  [ErrorCodes.IO_ERROR, (m, o) => new IoError(m, undefined, o.details)],
  [ErrorCodes.HISTORY_PRUNED, (m, o) => new HistoryPrunedError(m, o.details ?? {})],
  [ErrorCodes.INVALID_QUERY, (m, o) => new InvalidQueryError(m, str(o.details, 'path'), o)],
  [ErrorCodes.INDEX_NOT_FOUND, (m, o) => withMessage(new IndexNotFoundError(str(o.details, 'namespace'), str(o.details, 'field')), m)],
  [ErrorCodes.VIEW_NOT_FOUND, (m, o) => withMessage(new ViewNotFoundError(str(o.details, 'name')), m)],
  [ErrorCodes.VIEW_EXISTS, (m, o) => withMessage(new ViewExistsError(str(o.details, 'name')), m)],
  [ErrorCodes.LIMIT_EXCEEDED, (m, o) => new LimitExceededError(m, typeof o.details?.limit === 'number' ? o.details.limit : 0)],
]);

/**
 * The wire form of anything thrown: a KoruError as its three fields; anything else (a
 * bug, a browser's DOMException) as INTERNAL naming it, never lost.
 */
export function errorToWire(e: unknown): WireError {
  if (isKoruError(e)) return { code: e.code, message: e.message, details: { ...e.details } };
  const name = e instanceof Error ? e.name : typeof e;
  return { code: ErrorCodes.INTERNAL, message: `the database worker failed: ${e instanceof Error ? e.message : String(e)}`, details: { name } };
}

/** The KoruError a wire error stands for, of its class. */
export function errorFromWire(wire: unknown): KoruError {
  return koruErrorFromWire(wire, MAKERS) ?? new IoError(`the database worker sent a malformed error: ${String(wire)}`);
}
