/**
 * The tab's handle on the database's sync with a server. The sync itself runs in the
 * database worker of the owning tab (one per database, whichever tab started it) and
 * moves with the database when another tab takes over; every tab sees its status.
 */
import { ClosedError } from '@koru/storage/errors';
import type { SyncHandle, SyncStatus } from '../sync/types.js';
import type { SyncInfo } from './protocol.js';
import type { Session } from './session.js';

/** A {@link SyncHandle} whose sync runs wherever the database runs. */
export class SharedSync implements SyncHandle {
  readonly #session: Session;
  readonly #url: string;
  #status: SyncStatus;

  /** @param info the sync as the owner reported it when it started */
  constructor(session: Session, info: SyncInfo) {
    this.#session = session;
    this.#url = info.url;
    this.#status = info.status;
    const off = session.onSync((sync) => {
      if (sync !== null && sync.url === this.#url) this.#status = sync.status;
      else if (sync === null) off();
    });
  }

  /** The status the owner last reported. */
  get status(): SyncStatus {
    return this.#session.state.sync?.status ?? this.#status;
  }

  onStatus(listener: (status: SyncStatus) => void): () => void {
    return this.#session.onSync((sync) => {
      if (sync !== null) listener(sync.status);
    });
  }

  /** As on a local database; rejects with CLOSED when the sync stops first. */
  async synced(): Promise<void> {
    await this.#session.call('syncSynced', []);
    if (this.#session.state.sync === null) throw new ClosedError('the sync stopped before it caught up');
  }

  stop(): Promise<void> {
    return this.#session.call('syncStop', []).then(() => undefined);
  }
}
