/**
 * PostgreSQL's failures as KoruErrors. What says the server cannot be reached (refused,
 * reset, timed out, shutting down, in recovery, out of connection slots) is UNAVAILABLE:
 * the caller may retry once it is back. A full disk is STORAGE_FULL. Anything else is an
 * IO_ERROR carrying PostgreSQL's message and SQLSTATE.
 */
import { isKoruError, KoruError, UnavailableError } from '@koru/engine';
import { IoError, StorageFullError } from '@koru/storage/errors';

/** SQLSTATE classes and codes that mean "not reachable now". */
function unreachableState(code: string): boolean {
  return (
    (code.startsWith('08') && code !== '08P01') || // connection exception (not a protocol violation: a bug)
    code === '57P01' || // admin_shutdown
    code === '57P02' || // crash_shutdown
    code === '57P03' || // cannot_connect_now (starting up, in recovery)
    code === '53300' || // too_many_connections
    code === '53400' // configuration_limit_exceeded
  );
}

const UNREACHABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** True for an error that means the server could not be reached (the request may or may not have run). */
export function isUnreachable(e: unknown): boolean {
  if (isKoruError(e)) return e.code === 'UNAVAILABLE';
  const err = e as { code?: unknown; message?: unknown } | null;
  const code = typeof err?.code === 'string' ? err.code : '';
  if (UNREACHABLE_ERRNO.has(code) || unreachableState(code)) return true;
  const message = typeof err?.message === 'string' ? err.message : '';
  // node-postgres's own words for a connection lost or never made.
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|not queryable|Connection ended/i.test(message);
}

/**
 * True for a failure to get a connection at all (refused, not found, timed out waiting,
 * PostgreSQL starting or out of slots): the statement was never sent, so nothing of it
 * happened.
 */
export function neverSent(e: unknown): boolean {
  const err = e as { code?: unknown; message?: unknown } | null;
  const code = typeof err?.code === 'string' ? err.code : '';
  if (['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', '57P03', '53300'].includes(code)) return true;
  return typeof err?.message === 'string' && /timeout exceeded when trying to connect/i.test(err.message);
}

/** The SQLSTATE of a PostgreSQL error, if it is one. */
export function sqlState(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** `e` as the KoruError the caller sees (`doing`: what was being done, for the message). */
export function koruErrorOf(e: unknown, doing: string): KoruError {
  if (isKoruError(e)) return e;
  const message = e instanceof Error ? e.message : String(e);
  if (isUnreachable(e)) return new UnavailableError(`PostgreSQL is unavailable while ${doing}: ${message}`, { cause: e });
  const state = sqlState(e);
  // statement_timeout (or a cancel): PostgreSQL is blocked or overloaded; nothing was done.
  if (state === '57014') return new UnavailableError(`PostgreSQL did not finish in time while ${doing}: ${message}`, { cause: e, details: { sqlState: state } });
  if (state === '53100') return new StorageFullError(`PostgreSQL is out of disk space while ${doing}: ${message}`, e);
  return new IoError(`PostgreSQL failed while ${doing}: ${message}`, e, state !== undefined ? { sqlState: state } : {});
}
