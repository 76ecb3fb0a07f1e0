/**
 * What every command gets: the global options, the output helpers and the database,
 * opened only when a command first asks for it (so `--help` never touches it).
 */
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { readFile } from 'node:fs/promises';
import type { KoruDelta, StartOptions } from '@koru/delta';
import { UsageError } from './errors.js';
import { colorsFor, type Colors, type Io } from './io.js';

/** Options every command accepts. */
export interface GlobalOptions {
  readonly dbPath?: string;
  readonly store?: string;
  readonly json?: boolean;
  readonly url?: string;
  readonly token?: string;
}

/**
 * What the commands use of a database: the embedded `KoruDelta` and the remote
 * `KoruClient` both have it. Export and compaction exist only locally.
 */
export type Database = Pick<
  KoruDelta,
  | 'put'
  | 'getVersion'
  | 'getAt'
  | 'history'
  | 'diff'
  | 'delete'
  | 'listNamespaces'
  | 'listKeys'
  | 'countKeys'
  | 'stats'
  | 'verify'
  | 'query'
  | 'aggregate'
  | 'createIndex'
  | 'dropIndex'
  | 'listIndexes'
  | 'createView'
  | 'listViews'
  | 'refreshView'
  | 'queryView'
  | 'deleteView'
  | 'importVersions'
  | 'setRetention'
  | 'retention'
  | 'retentionPolicies'
  | 'purge'
  | 'putMany'
  | 'changes'
  | 'seq'
  | 'nodeId'
  | 'close'
> &
  Partial<Pick<KoruDelta, 'exportVersions' | 'compact'>>;

/**
 * The store named by `--store` or KORU_STORE, if any. Refused (usage error) together
 * with anything else saying where the data is: `-d`, KORU_DB_PATH, `--url`, KORU_URL.
 * Which one was meant is not for kdelta to guess.
 */
function storeOf(options: GlobalOptions, env: Io['env'], url: string | undefined): string | undefined {
  const store = options.store ?? (env.KORU_STORE || undefined);
  if (store === undefined) return undefined;
  const from = options.store !== undefined ? '--store' : 'KORU_STORE';
  const other =
    options.dbPath !== undefined ? '--db-path (-d)' : env.KORU_DB_PATH ? 'KORU_DB_PATH' : options.url !== undefined ? '--url' : url !== undefined ? 'KORU_URL' : undefined;
  if (other !== undefined) {
    const hint = other.startsWith('KORU_') ? `unset ${other}` : from.startsWith('KORU_') ? `unset ${from}` : 'give one';
    throw new UsageError(`${from} and ${other} both say where the data is: ${hint}`);
  }
  return store;
}

/** The default data directory: `~/.korudelta/db`. */
export function defaultDbPath(): string {
  return join(homedir(), '.korudelta', 'db');
}

/** The marker a server leaves in the data directory it serves (see @koru/server). */
const SERVER_FILE = 'SERVER.json';

export class Context {
  readonly json: boolean;
  readonly c: Colors;
  /** Colours for stderr (progress, warnings). */
  readonly ce: Colors;
  readonly dbPath: string;
  /**
   * The PostgreSQL store to open instead of the directory (`--store`, `KORU_STORE`).
   * It may hold a password: print {@link where} instead, never this.
   */
  readonly store: string | undefined;
  /** The server to talk to (`--url`, `KORU_URL`); undefined for the local database. */
  readonly url: string | undefined;
  readonly token: string | undefined;
  /** True when the token came from `--token` (not the environment). */
  readonly tokenFromFlag: boolean;
  /** Where the data is: the server's URL, the local directory, or the store's URL without its password. */
  where: string;
  /** True when commands talk to a server (`--url`, or the one serving the directory). */
  #remote: boolean;
  #db: Promise<Database> | undefined;

  constructor(
    readonly io: Io,
    options: GlobalOptions,
  ) {
    this.json = options.json === true;
    this.c = colorsFor(io.stdout, io.env, this.json);
    this.ce = colorsFor(io.stderr, io.env, false);
    const path = options.dbPath ?? io.env.KORU_DB_PATH ?? defaultDbPath();
    this.dbPath = isAbsolute(path) ? path : resolve(io.cwd, path);
    this.url = options.url ?? (io.env.KORU_URL || undefined);
    this.store = storeOf(options, io.env, this.url);
    this.token = options.token ?? (io.env.KORU_TOKEN || undefined);
    this.tokenFromFlag = options.token !== undefined;
    // The store's own URL may hold a password: #open puts the redacted one here.
    this.where = this.url ?? (this.store !== undefined ? 'the PostgreSQL store' : this.dbPath);
    this.#remote = this.url !== undefined;
  }

  /** True when commands talk to a server. */
  get remote(): boolean {
    return this.#remote;
  }

  /**
   * The database, opened on first use: the server at `url`, else the local directory,
   * or, when a running server holds that directory, that server. `options` apply to a
   * local open (warnings go to stderr unless `onWarning` says otherwise).
   */
  db(options: Omit<StartOptions, 'path'> = {}): Promise<Database> {
    this.#db ??= this.#open(options);
    return this.#db;
  }

  async #open(options: Omit<StartOptions, 'path'>): Promise<Database> {
    if (this.url !== undefined) return this.#connect(this.url);
    const { KoruDelta, isKoruError, ErrorCodes } = await import('@koru/delta');
    if (this.store !== undefined) {
      // Loaded only for a store: the PostgreSQL driver is no cost to the other commands.
      this.where = (await import('@koru/storage-postgres')).redactUrl(this.store);
      return KoruDelta.start({ onWarning: (m) => this.warn(m), ...options, store: this.store });
    }
    try {
      return await KoruDelta.start({ onWarning: (m) => this.warn(m), ...options, path: this.dbPath });
    } catch (e) {
      if (!isKoruError(e, ErrorCodes.DATABASE_LOCKED)) throw e;
      // Held by a server? Then go through it.
      let marker: { url?: unknown; pid?: unknown; token?: unknown };
      try {
        marker = JSON.parse(await readFile(join(this.dbPath, SERVER_FILE), 'utf8')) as typeof marker;
      } catch {
        throw e;
      }
      if (typeof marker.url !== 'string' || e.details.pid !== marker.pid) throw e;
      if (marker.token === true && this.token === undefined) {
        throw new UsageError(`the database is served by ${marker.url}, which needs a token: give --token or KORU_TOKEN`);
      }
      this.where = marker.url;
      this.#remote = true;
      return this.#connect(marker.url);
    }
  }

  async #connect(url: string): Promise<Database> {
    const { KoruClient } = await import('@koru/client');
    // One attempt: a command should fail fast, not wait for a server to come back.
    return (await KoruClient.connect(url, { ...(this.token !== undefined ? { token: this.token } : {}), reconnect: false })) as unknown as Database;
  }

  /** Closes the database if a command opened it. */
  async close(): Promise<void> {
    const db = this.#db;
    this.#db = undefined;
    if (db !== undefined) await (await db.catch(() => undefined))?.close();
  }

  /** True once the reader of stdout has gone (see {@link Io.stdoutClosed}): output is dropped. */
  get stdoutClosed(): boolean {
    return this.io.stdoutClosed?.aborted === true;
  }

  /** Writes a line to stdout (nothing once its reader has gone). */
  out(line = ''): void {
    if (!this.stdoutClosed) this.io.stdout.write(`${line}\n`);
  }

  /** Writes one JSON document (one line) to stdout (nothing once its reader has gone). */
  outJson(value: unknown): void {
    if (!this.stdoutClosed) this.io.stdout.write(`${JSON.stringify(value)}\n`);
  }

  /** Writes a warning line to stderr. */
  warn(message: string): void {
    this.io.stderr.write(`${this.ce.yellow('kdelta:')} ${message}\n`);
  }

  /** Progress on a terminal only (rewritten in place); nothing when stderr is not a TTY. */
  progress(message: string | undefined): void {
    if (this.io.stderr.isTTY !== true) return;
    this.io.stderr.write(message === undefined ? '\r\x1b[2K' : `\r\x1b[2K${this.ce.dim(message)}`);
  }
}
