/**
 * The state every part of a tree shares (see lsm-tree.ts): whether it is closed, whether
 * a failed log sync stopped its writes, and the epoch that tells cursors the tree
 * changed. One small object, held by reference by the write path, the flush, the merges
 * and the segment files, so none of them needs the others to learn it.
 */
import { isKoruError } from '@koru/engine';
import { ClosedError, IoError } from '../errors.js';

/** The tree's shared lifecycle state (internal to src/lsm). */
export class TreeStatus {
  /** Changes on every write and install: a cursor made before refuses to go on. */
  epoch = 0;
  /** Set once by close: background work that ends later installs nothing. */
  closed = false;
  /** What stopped writes (a log that could not be synced); undefined while they go on. */
  broken: unknown;
  readonly #onError: (error: unknown) => void;

  /** `onError` is told of failed background work (see LsmTreeOptions.onBackgroundError). */
  constructor(onError: (error: unknown) => void) {
    this.#onError = onError;
  }

  /** @throws ClosedError once closed */
  checkOpen(): void {
    if (this.closed) throw new ClosedError();
  }

  /** @throws ClosedError; the error that stopped writes (an IoError when it was none of ours) */
  checkWritable(): void {
    this.checkOpen();
    if (this.broken !== undefined) {
      throw isKoruError(this.broken) ? this.broken : new IoError(`the engine stopped after a failed write: ${String(this.broken)}`, this.broken);
    }
  }

  /** A log sync failed: writes stop (the log may have lost what they wrote), and the owner is told. */
  breakWrites(error: unknown): void {
    this.broken = error;
    this.#onError(error);
  }

  /** A background flush or merge failed. */
  backgroundFailed(error: unknown): void {
    if (this.closed) return; // a merge cut short by close: its inputs stay, nothing to report
    // The inputs are untouched and still named by the manifest: nothing is lost, and the
    // work is tried again after the next write rotates or installs.
    this.#onError(error);
  }
}
