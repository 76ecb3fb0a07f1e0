// The PostgreSQL harness's clusters (postgres.mjs): where the binaries are, whether they
// can be used here, the errors, and this process's template cluster.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { systemTool } from './helpers.mjs';
import { armWatchdog, isRoot, postgresAccount, privateDir, run } from './postgres-processes.mjs';

const PG_ROOT = '/usr/lib/postgresql';
/** The superuser initdb creates; trust auth, so no password. */
export const SUPERUSER = 'koru';
const SETTING_NAME = /^[a-z_][a-z0-9_.]*$/;

/** The codes a {@link PostgresHarnessError} carries. */
export const PostgresHarnessErrorCodes = Object.freeze({
  /** No PostgreSQL binaries (or, as root, no `postgres` user) and none could be installed. */
  UNAVAILABLE: 'PG_UNAVAILABLE',
  /** initdb failed. */
  INITDB_FAILED: 'PG_INITDB_FAILED',
  /** The server exited, or did not accept connections in time. */
  START_FAILED: 'PG_START_FAILED',
  /** A database name that is not a lower-case identifier of 1 to 63 characters. */
  INVALID_NAME: 'PG_INVALID_NAME',
  /** A server setting whose name or value cannot be written to postgresql.conf. */
  INVALID_SETTING: 'PG_INVALID_SETTING',
  /** The server is not running (killed, or stopped for good). */
  NOT_RUNNING: 'PG_NOT_RUNNING',
});

/**
 * Why the harness failed. (Not a KoruError: the preset depends on no KoruDelta package,
 * so every package, the engine included, can use it without a cycle.)
 */
export class PostgresHarnessError extends Error {
  constructor(code, message, options) {
    super(message, options);
    this.name = 'PostgresHarnessError';
    this.code = code;
  }
}

/** The newest `/usr/lib/postgresql/<major>/bin` holding initdb, pg_ctl and postgres, or undefined. */
export function postgresBinDir() {
  if (!existsSync(PG_ROOT)) return undefined;
  const majors = readdirSync(PG_ROOT)
    .filter((v) => /^\d+$/.test(v) && ['initdb', 'pg_ctl', 'postgres'].every((b) => existsSync(join(PG_ROOT, v, 'bin', b))))
    .map(Number)
    .sort((a, b) => b - a);
  return majors.length > 0 ? join(PG_ROOT, String(majors[0]), 'bin') : undefined;
}

let availability;

/**
 * Whether servers can be started here: Debian's PostgreSQL binaries, and as root the
 * unprivileged `postgres` account (initdb refuses to run as root). Installs Debian's
 * `postgresql` when missing and allowed; under CI=true still missing throws, else
 * `reason` is one line for the caller to print before `describe.skipIf(!available)`.
 * Checked once per process.
 *
 * @returns {{ available: true } | { available: false, reason: string }}
 */
export function postgresAvailable() {
  availability ??= systemTool({
    name: `PostgreSQL (${PG_ROOT}/<major>/bin${isRoot() ? ' and the postgres account' : ''})`,
    present: () => postgresBinDir() !== undefined && (!isRoot() || postgresAccount() !== undefined),
    apt: 'postgresql',
  });
  return availability;
}

/** This process's template cluster, made by initdb once and copied for every server: its data directory. */
let template;
/** Its temporary directory and watchdog, while it exists. */
let templateHome;

/** The template's data directory, made on first use; a failed initdb is retried on the next call. */
export function clusterTemplate(binDir) {
  template ??= (async () => {
    const dir = privateDir('koru-pg-template-');
    const dataDir = join(dir, 'data');
    templateHome = { dir, watchdog: armWatchdog(binDir, dataDir, dir) };
    // C collation (--no-locale): text compares by bytes, the order KoruDelta's keys use.
    // --no-sync: initdb's closing fsync only guards against the machine crashing right
    // now; the servers themselves run with fsync on.
    const { status, output } = await run(
      join(binDir, 'initdb'),
      ['-D', dataDir, '-A', 'trust', '-U', SUPERUSER, '--no-locale', '-E', 'UTF8', '--no-sync', '--no-instructions'],
      dir,
      60_000,
    );
    if (status !== 0) {
      removeTemplate();
      throw new PostgresHarnessError(PostgresHarnessErrorCodes.INITDB_FAILED, `initdb failed (exit ${status}):\n${output}`);
    }
    return dataDir;
  })();
  return template;
}

/** Removes the template (the exit and signal hooks call this). Synchronous. */
export function removeTemplate() {
  if (templateHome === undefined) return;
  rmSync(templateHome.dir, { recursive: true, force: true });
  templateHome.watchdog.stdin.end('stopped\n');
  templateHome = undefined;
  template = undefined;
}

/** One postgresql.conf line; throws PG_INVALID_SETTING for a name or value it cannot write. */
export function settingLine(name, value) {
  const text = String(value);
  if (!SETTING_NAME.test(name) || /[\n\r\0]/.test(text)) {
    throw new PostgresHarnessError(PostgresHarnessErrorCodes.INVALID_SETTING, `invalid server setting ${JSON.stringify(name)} = ${JSON.stringify(text)}`);
  }
  return `${name} = '${text.replaceAll("'", "''")}'`;
}
