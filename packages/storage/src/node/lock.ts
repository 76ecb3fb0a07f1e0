/**
 * One process owns a data directory. The LOCK file holds the owner's pid, host and
 * start time; a second opener gets DATABASE_LOCKED naming the holder. A lock left by
 * a process that no longer exists (killed with SIGKILL) is taken over: it is renamed
 * away first, so of two processes racing for a stale lock exactly one wins.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { DatabaseLockedError, IoError } from '../errors.js';

/** Who holds a data directory. */
export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  readonly startedAt: string;
  /** Set by a server that serves this directory (the CLI then talks to it). */
  readonly url?: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Reads the holder of a directory's lock, or null when unlocked or unreadable. */
export function readLockHolder(dir: string): LockHolder | null {
  try {
    return JSON.parse(fs.readFileSync(join(dir, 'LOCK'), 'utf8')) as LockHolder;
  } catch {
    return null;
  }
}

// Directories this process holds: a second open in the same process is refused too.
const heldHere = new Set<string>();

/** An acquired lock. */
export class DirectoryLock {
  readonly #path: string;
  #released = false;

  private constructor(path: string) {
    this.#path = path;
  }

  /** Takes the lock of `dir` or throws DATABASE_LOCKED naming the live holder. */
  static acquire(dir: string): DirectoryLock {
    const path = join(fs.realpathSync(dir), 'LOCK');
    if (heldHere.has(path)) {
      throw new DatabaseLockedError(`database ${dir} is already open in this process (pid ${process.pid})`, { dir, pid: process.pid });
    }
    const me: LockHolder = { pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString() };
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const fd = fs.openSync(path, 'wx');
        fs.writeSync(fd, JSON.stringify(me));
        // Not synced: O_EXCL is the lock; its text only names the holder for messages. A
        // crash that loses the text leaves an empty lock, which is stale once a second
        // old (below). The fsync cost a new file's journal commit on every open.
        fs.closeSync(fd);
        heldHere.add(path);
        return new DirectoryLock(path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new IoError(`cannot create lock file ${path}: ${(e as Error).message}`, e);
      }
      const holder = readLockHolder(dir);
      if (holder !== null && holder.host === me.host && holder.pid !== process.pid && alive(holder.pid)) {
        throw new DatabaseLockedError(
          `database ${dir} is locked by process ${holder.pid} on ${holder.host} (since ${holder.startedAt})` +
            (holder.url ? `, serving ${holder.url}` : ''),
          { dir, ...holder },
        );
      }
      if (holder !== null && holder.host !== me.host) {
        throw new DatabaseLockedError(`database ${dir} is locked by process ${holder.pid} on host ${holder.host}`, { dir, ...holder });
      }
      if (holder === null) {
        // A lock being written right now reads as empty: give its writer a moment.
        const stat = fs.statSync(path, { throwIfNoEntry: false });
        if (stat && Date.now() - stat.mtimeMs < 1000 && attempt < 4) {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
          continue;
        }
      }
      // Stale: its process is gone. Rename it away; only one contender's rename succeeds.
      try {
        fs.renameSync(path, `${path}.stale-${process.pid}`);
        fs.rmSync(`${path}.stale-${process.pid}`, { force: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new IoError(`cannot take over stale lock ${path}`, e);
      }
    }
    throw new DatabaseLockedError(`could not acquire the lock of ${dir}`, { dir });
  }

  /** Adds facts to the lock file (a server records its URL). */
  update(extra: Partial<LockHolder>): void {
    const cur = JSON.parse(fs.readFileSync(this.#path, 'utf8')) as LockHolder;
    const tmp = `${this.#path}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify({ ...cur, ...extra }));
    fs.renameSync(tmp, this.#path);
  }

  /** Releases the lock (idempotent). */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    heldHere.delete(this.#path);
    const holder = readLockHolder(join(this.#path, '..'));
    if (holder === null || holder.pid === process.pid) fs.rmSync(this.#path, { force: true });
  }
}
