/**
 * What every command gets: the global options, the output helpers and the database,
 * opened only when a command first asks for it (so `--help` never touches it).
 */
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type { KoruDelta, StartOptions } from '@koru/delta';
import { colorsFor, type Colors, type Io } from './io.js';

/** Options every command accepts. */
export interface GlobalOptions {
  readonly dbPath?: string;
  readonly json?: boolean;
}

/** The default data directory: `~/.korudelta/db`. */
export function defaultDbPath(): string {
  return join(homedir(), '.korudelta', 'db');
}

export class Context {
  readonly json: boolean;
  readonly c: Colors;
  /** Colours for stderr (progress, warnings). */
  readonly ce: Colors;
  readonly dbPath: string;
  #db: Promise<KoruDelta> | undefined;

  constructor(
    readonly io: Io,
    options: GlobalOptions,
  ) {
    this.json = options.json === true;
    this.c = colorsFor(io.stdout, io.env, this.json);
    this.ce = colorsFor(io.stderr, io.env, false);
    const path = options.dbPath ?? io.env.KORU_DB_PATH ?? defaultDbPath();
    this.dbPath = isAbsolute(path) ? path : resolve(io.cwd, path);
  }

  /** The database at `dbPath`, opened on first use (`options` apply to that first open). */
  db(options: Omit<StartOptions, 'path' | 'onWarning'> = {}): Promise<KoruDelta> {
    this.#db ??= import('@koru/delta').then(({ KoruDelta }) =>
      KoruDelta.start({ ...options, path: this.dbPath, onWarning: (m) => this.warn(m) }),
    );
    return this.#db;
  }

  /** Closes the database if a command opened it. */
  async close(): Promise<void> {
    const db = this.#db;
    this.#db = undefined;
    if (db !== undefined) await (await db.catch(() => undefined))?.close();
  }

  /** Writes a line to stdout. */
  out(line = ''): void {
    this.io.stdout.write(`${line}\n`);
  }

  /** Writes one JSON document (one line) to stdout. */
  outJson(value: unknown): void {
    this.io.stdout.write(`${JSON.stringify(value)}\n`);
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
