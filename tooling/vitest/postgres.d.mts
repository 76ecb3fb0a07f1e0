// Types for the PostgreSQL test server in postgres.mjs.

/** The codes a {@link PostgresHarnessError} carries. */
export const PostgresHarnessErrorCodes: {
  /** No PostgreSQL binaries (or, as root, no `postgres` account) and none could be installed. */
  readonly UNAVAILABLE: 'PG_UNAVAILABLE';
  /** initdb failed. */
  readonly INITDB_FAILED: 'PG_INITDB_FAILED';
  /** The server exited, or did not accept connections in time. */
  readonly START_FAILED: 'PG_START_FAILED';
  /** A database name that is not a lower-case identifier of 1 to 63 characters. */
  readonly INVALID_NAME: 'PG_INVALID_NAME';
  /** A server setting whose name or value cannot be written to postgresql.conf. */
  readonly INVALID_SETTING: 'PG_INVALID_SETTING';
  /** The server is not running (killed, or stopped for good). */
  readonly NOT_RUNNING: 'PG_NOT_RUNNING';
};
/** One of the codes in {@link PostgresHarnessErrorCodes}. */
export type PostgresHarnessErrorCode = (typeof PostgresHarnessErrorCodes)[keyof typeof PostgresHarnessErrorCodes];

/** Why the harness failed; match on `code`. */
export class PostgresHarnessError extends Error {
  readonly code: PostgresHarnessErrorCode;
  constructor(code: PostgresHarnessErrorCode, message: string, options?: ErrorOptions);
}

/** Options of {@link startPostgres}. */
export interface StartPostgresOptions {
  /** The fresh database `url` names; `koru` by default. A lower-case identifier. */
  readonly database?: string;
  /** Extra postgresql.conf settings, written after (so overriding) the harness's own. */
  readonly settings?: Readonly<Record<string, string | number | boolean>>;
  /** Bound on accepting connections after each start and on pg_ctl stop; 30,000 ms by default. */
  readonly timeoutMs?: number;
}

/** A running private PostgreSQL server (see {@link startPostgres}). */
export interface PgServer {
  /** `postgres://koru@127.0.0.1:PORT/DB` of the fresh database made at start (no password: trust on loopback). */
  readonly url: string;
  /** The TCP port on 127.0.0.1; the same after restart(). */
  readonly port: number;
  /** The cluster's data directory, inside the server's temporary directory. */
  readonly dataDir: string;
  /** The server's log (stdout and stderr of the postmaster), inside the temporary directory. */
  readonly logFile: string;
  /** The postmaster's pid while running; undefined after kill() or stop(). Changes on restart(). */
  readonly pid: number | undefined;
  /** Creates an empty database (name: a lower-case identifier, unique by default) and resolves to its URL. */
  createDatabase(name?: string): Promise<string>;
  /**
   * Shuts down (pg_ctl stop -m fast; SIGKILL if that does not finish in time), waits until
   * no process of the data directory is left, then removes the temporary directory.
   * Idempotent; the server cannot be restarted afterwards.
   */
  stop(): Promise<void>;
  /**
   * A crash: SIGKILL to the postmaster and every process it forked; resolves once all are
   * gone. The data directory stays, so restart() goes through crash recovery. No-op unless running.
   */
  kill(): Promise<void>;
  /**
   * Starts the server again on the same port and data directory and resolves once it
   * accepts connections: after kill() that is crash recovery; on a running server it is a
   * clean shutdown (pg_ctl stop -m fast) first. Rejects with PG_NOT_RUNNING after stop().
   */
  restart(): Promise<void>;
}

/** The newest `/usr/lib/postgresql/<major>/bin` holding initdb, pg_ctl and postgres, or undefined. */
export function postgresBinDir(): string | undefined;

/**
 * Whether servers can be started here (Debian's PostgreSQL binaries; as root, also the
 * `postgres` account). Installs Debian's `postgresql` when missing and allowed; under
 * CI=true still missing throws, else `reason` is one line to print before skipping.
 */
export function postgresAvailable(): { available: true } | { available: false; reason: string };

/**
 * Starts a private PostgreSQL server: a fresh cluster (initdb: C collation, UTF-8,
 * superuser `koru`, trust auth) in a new temporary directory, listening on 127.0.0.1
 * only, on a port the OS picked, with fsync on, 16MB shared_buffers, 200 connections,
 * and a fresh database. Resolves once it accepts connections; rejects within the timeout
 * with the log's tail. As root the server runs as the `postgres` account. A server still
 * running when the process exits is stopped then; one whose process is SIGKILLed is
 * stopped by a watchdog.
 */
export function startPostgres(options?: StartPostgresOptions): Promise<PgServer>;

/**
 * Pids of the live (not zombie) processes working in `dataDir`: the postmaster and every
 * process it forked, even orphaned ones. Linux /proc only; processes of other users are
 * seen only as root.
 */
export function serverProcesses(dataDir: string): number[];
