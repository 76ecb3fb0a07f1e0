/**
 * The owning tab's link to its database worker: starts it, asks it to open the
 * database (it retries while a dead owner's worker still holds the files), and later
 * closes it (every call it received answered, the database flushed and its files
 * released) before terminating it.
 */
import { InvalidArgumentError, InvalidValueError, type KoruError } from '@koru/engine';
import { IoError } from '@koru/storage/errors';
import { listOpfsPool } from '@koru/storage/opfs-listing';
import type { WorkerSource } from '../platform.js';
import { errorFromWire } from './errors.js';
import type { DatabaseState, FromWorker, ToWorker } from './protocol.js';
import { spawnWorker } from './spawn-worker.js';

/** The worker's messages after it opened (calls' replies, events, state). */
export type WorkerListener = (message: FromWorker) => void;

/**
 * A database worker started before this tab knows whether it will own the database:
 * its script loads and evaluates (tens of milliseconds) while the tab takes its locks.
 * It is told nothing until the tab owns the database (OwnerWorker.start); a tab that
 * learns another one owns it terminates it. A load failure meanwhile is kept, for
 * OwnerWorker.start to report.
 */
export class EarlyWorker {
  #failure: string | undefined;

  private constructor(readonly worker: Worker) {
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.#failure ??= e.message || 'an error in the worker';
    };
  }

  /** Starts a worker from `source`; undefined when that throws (OwnerWorker.start then tries again, and reports it). */
  static spawn(source: WorkerSource | undefined): EarlyWorker | undefined {
    try {
      return new EarlyWorker(spawnWorker(source));
    } catch {
      return undefined;
    }
  }

  /** Why the worker failed before it was used, if it did. */
  get failure(): string | undefined {
    return this.#failure;
  }

  /** Ends the worker (this tab does not own the database). */
  terminate(): void {
    this.worker.terminate();
  }
}

/** A started, opened database worker. */
export class OwnerWorker {
  #closed: ((value: void) => void) | undefined;

  private constructor(
    readonly worker: Worker,
    readonly state: DatabaseState,
    readonly warnings: readonly string[],
  ) {}

  /**
   * Starts the worker and opens the database at `path`; the caller holds the database's
   * lock (so the OPFS pool listed here meanwhile stays as listed). `listener` gets every message
   * after `ready`; `onCrash` is told if the worker dies (an uncaught error, a message it
   * could not read). `early`: the worker this tab started ahead, used instead of a new one.
   * @throws what opening failed with (the worker is terminated)
   */
  static async start(
    source: WorkerSource | undefined,
    path: string,
    options: Readonly<Record<string, unknown>>,
    retryMs: number,
    listener: WorkerListener,
    onCrash: (error: KoruError) => void,
    early?: EarlyWorker,
  ): Promise<OwnerWorker> {
    let worker: Worker;
    try {
      worker = early?.worker ?? spawnWorker(source);
    } catch (e) {
      throw new IoError(`cannot start the database worker: ${e instanceof Error ? e.message : String(e)}`, e);
    }
    let link: OwnerWorker | undefined;
    return new Promise<OwnerWorker>((resolve, reject) => {
      const crash = (why: string): void => {
        const error = new IoError(`the database worker failed: ${why}`, undefined, { path });
        if (link === undefined) {
          worker.terminate();
          reject(error);
        } else onCrash(error);
      };
      const failed = (why: string): void =>
        // Before it answered, the likely cause is the file: say where it comes from.
        crash(link === undefined ? `${why}; it could not be loaded or started (is browser-worker.js served where the \`worker\` start option, or the file next to the browser build, says?)` : why);
      worker.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        failed(e.message || 'an error in the worker');
      };
      worker.onmessageerror = () => crash('a message could not be read');
      if (early?.failure !== undefined) {
        failed(early.failure);
        return;
      }
      worker.onmessage = (e: MessageEvent<FromWorker>) => {
        const m = e.data;
        if (link !== undefined) {
          if (m.t === 'closed') link.#closed?.();
          else listener(m);
        } else if (m.t === 'ready') {
          link = new OwnerWorker(worker, m.state, m.warnings);
          resolve(link);
        } else if (m.t === 'failed') {
          worker.terminate();
          reject(errorFromWire(m.error));
        }
      };
      // While the worker loads and evaluates its script (tens of milliseconds), this page
      // lists the database's OPFS pool (a few milliseconds of round trips the worker then
      // skips); the open request waits for it, and is queued in the worker until its
      // script has run anyway.
      void listOpfsPool(path).then((listing) => {
        const open: ToWorker = { t: 'open', path, options, retryMs };
        if (listing !== undefined) {
          try {
            worker.postMessage({ ...open, listing } satisfies ToWorker);
            return;
          } catch {
            // A browser that cannot send the handles: the worker lists the pool itself.
          }
        }
        try {
          worker.postMessage(open);
        } catch (e) {
          // An option that cannot be cloned.
          worker.terminate();
          reject(e);
        }
      });
    });
  }

  /** Posts a message (throws DataCloneError for what cannot be cloned). */
  post(message: ToWorker): void {
    this.worker.postMessage(message);
  }

  /** Answers every call received, closes the database and terminates the worker. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#closed = resolve;
      this.worker.postMessage({ t: 'close' } satisfies ToWorker);
    });
    this.worker.terminate();
  }

  /** Ends the worker at once (after a crash). */
  terminate(): void {
    this.worker.terminate();
  }
}

/** The error a call gets when what it sent cannot be cloned (a function, a symbol, a DOM node in a value). */
export function notCloneable(method: string, e: unknown): KoruError {
  const message = `${method}: an argument cannot be sent to the database worker: ${e instanceof Error ? e.message : String(e)}`;
  return method === 'put' || method === 'putMany' || method === 'importVersions' ? new InvalidValueError(message) : new InvalidArgumentError(message);
}
