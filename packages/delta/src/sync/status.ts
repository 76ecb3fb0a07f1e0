/** The observable status of a running sync: a new frozen object at every change, told to listeners. */
import type { SyncStatus } from './types.js';

/** Holds a sync's status and tells listeners about each change. */
export class StatusBox {
  #status: SyncStatus = Object.freeze({ online: false, pending: 0, lastSyncedSeq: 0, lastPushedSeq: 0 });
  readonly #listeners = new Set<(s: SyncStatus) => void>();

  /** The current status. */
  get status(): SyncStatus {
    return this.#status;
  }

  /** Merges `change` in (an `error: undefined` clears the error); tells listeners if anything changed. */
  update(change: { online?: boolean; pending?: number; lastSyncedSeq?: number; lastPushedSeq?: number; error?: SyncStatus['error'] | undefined }): void {
    const s = this.#status;
    const error = 'error' in change ? change.error : s.error;
    const next: SyncStatus = {
      online: change.online ?? s.online,
      pending: change.pending ?? s.pending,
      lastSyncedSeq: change.lastSyncedSeq ?? s.lastSyncedSeq,
      lastPushedSeq: change.lastPushedSeq ?? s.lastPushedSeq,
      ...(error !== undefined ? { error } : {}),
    };
    if (
      next.online === s.online &&
      next.pending === s.pending &&
      next.lastSyncedSeq === s.lastSyncedSeq &&
      next.lastPushedSeq === s.lastPushedSeq &&
      next.error?.code === s.error?.code &&
      next.error?.message === s.error?.message
    ) {
      return;
    }
    this.#status = Object.freeze(next);
    for (const l of [...this.#listeners]) {
      try {
        l(this.#status);
      } catch {
        // A throwing listener must not stop the sync or the other listeners.
      }
    }
  }

  /** Adds a listener; returns its remover. */
  listen(listener: (s: SyncStatus) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }
}
