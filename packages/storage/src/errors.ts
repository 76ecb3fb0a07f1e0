/** Errors raised by the storage layer. Codes are stable; see @koru/engine's ErrorCodes. */
import { ErrorCodes, KoruError, type KoruErrorOptions } from '@koru/engine';

/** The key has no current value (never written, or deleted), or nothing at that time. */
export class KeyNotFoundError extends KoruError {
  constructor(namespace: string, key: string, message = `${namespace}/${key} not found`, options: KoruErrorOptions = {}) {
    super(ErrorCodes.KEY_NOT_FOUND, message, { ...options, details: { namespace, key, ...options.details } });
  }
}

/** A version id that is not in the key's history. */
export class VersionNotFoundError extends KoruError {
  constructor(namespace: string, key: string, versionId: string) {
    super(ErrorCodes.VERSION_NOT_FOUND, `${namespace}/${key} has no version ${versionId}`, {
      details: { namespace, key, versionId },
    });
  }
}

/** Compare-and-set failed: the key's head is not the version the caller expected. */
export class VersionConflictError extends KoruError {
  constructor(namespace: string, key: string, expected: string | null, actual: string | null) {
    super(
      ErrorCodes.VERSION_CONFLICT,
      `${namespace}/${key} is at version ${actual ?? '(none)'}, not ${expected ?? '(none)'} as expected`,
      { details: { namespace, key, expected, actual } },
    );
  }
}

/** Stored data failed its checksum or hash: never served. Names file and offset when known. */
export class CorruptionError extends KoruError {
  constructor(message: string, details: Readonly<Record<string, unknown>> = {}, cause?: unknown) {
    super(ErrorCodes.CORRUPTION, message, { details, cause });
  }
}

/** Another process owns the data directory. */
export class DatabaseLockedError extends KoruError {
  constructor(message: string, details: Readonly<Record<string, unknown>> = {}) {
    super(ErrorCodes.DATABASE_LOCKED, message, { details });
  }
}

/** The database was closed (or failed and must be reopened). */
export class ClosedError extends KoruError {
  constructor(message = 'the database is closed') {
    super(ErrorCodes.CLOSED, message);
  }
}

/** The device is full: the write was not stored. */
export class StorageFullError extends KoruError {
  constructor(message: string, cause?: unknown) {
    super(ErrorCodes.STORAGE_FULL, message, { cause });
  }
}

/** Any other I/O failure: the write was not stored. */
export class IoError extends KoruError {
  constructor(message: string, cause?: unknown, details: Readonly<Record<string, unknown>> = {}) {
    super(ErrorCodes.IO_ERROR, message, { cause, details });
  }
}

/** The stable code of {@link HistoryPrunedError} (kept as an export: callers import it from here). */
export const HISTORY_PRUNED = ErrorCodes.HISTORY_PRUNED;

/** Where a key's kept history starts: its oldest kept version. */
export interface Horizon {
  readonly versionId: string;
  readonly hlc: string;
  readonly node: string;
}

/**
 * What was asked for lies before a horizon that retention or a purge left: the versions
 * there are gone (only their hashes remain, in the chain). `details` name the key and
 * its horizon (`{ namespace, key, horizon: { versionId, hlc, node }, purged }`), or, for
 * the change feed, the change asked for and where to resync from (`{ seq, resyncFrom,
 * prunedThroughSeq }`).
 */
export class HistoryPrunedError extends KoruError {
  constructor(message: string, details: Readonly<Record<string, unknown>>) {
    super(HISTORY_PRUNED, message, { details });
  }
}
