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
  /** The server to talk to (`--url`, `KORU_URL`); undefined for the local database. */
  readonly url: string | undefined;
  readonly token: string | undefined;
  /** True when the token came from `--token` (not the environment). */
  readonly tokenFromFlag: boolean;
  /** Where the data is: the server's URL or the local directory. */
  where: string;
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
    this.token = options.token ?? (io.env.KORU_TOKEN || undefined);
    this.tokenFromFlag = options.token !== undefined;
    this.where = this.url ?? this.dbPath;
  }

  /** True when commands talk to a server. */
  get remote(): boolean {
    return this.where !== this.dbPath;
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
