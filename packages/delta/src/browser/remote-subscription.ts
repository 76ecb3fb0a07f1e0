/**
 * A subscription in a tab whose feed runs in the database worker (of this tab or of the
 * owning tab): events arrive as messages, are queued, and go to the handler one at a
 * time, each awaited before the next, as the local `subscribe` does. It remembers the
 * last seq it received so that, when the owner changes, the feed is started again
 * right after it: no change skipped, none repeated.
 */
import { deepFreeze } from '@koru/engine';
import type { ChangeEvent, LaggedEvent, PrunedEvent, Subscription } from '@koru/query';

/** Any event of the feed. */
export type FeedEvent = ChangeEvent | LaggedEvent | PrunedEvent;

/** Default tab-side buffer, in events (the local feed's default). */
const DEFAULT_BUFFER = 1024;

/** A remote feed's tab side. */
export class RemoteSubscription implements Subscription {
  readonly done: Promise<void>;
  /** Where the feed is sent now (an owner's tab id), undefined while there is no owner. */
  target: string | undefined;
  /** The seq the feed is past: a new owner starts it after this one. Undefined until the first owner said where it started. */
  resumeFrom: number | undefined;
  #queue: FeedEvent[] = [];
  #busy = false;
  #ended = false;
  #endError: unknown;
  #ending = false;
  /** The seq of the last event handed to the handler (or where it started): a `lagged` event's resume point. */
  #handled = 0;
  #settle!: { resolve: () => void; reject: (e: unknown) => void };
  readonly #bufferSize: number;

  /**
   * @param id this tab's id of the subscription
   * @param spec what the feed selects, in wire form, without `since` (see `resumeFrom`)
   * @param stop called once when it ends on this side (to release the remote feed)
   */
  constructor(
    readonly id: number,
    readonly spec: Readonly<Record<string, unknown>>,
    since: number | undefined,
    bufferSize: number | undefined,
    readonly handler: (event: FeedEvent) => void | Promise<void>,
    readonly stop: (sub: RemoteSubscription) => void,
  ) {
    this.resumeFrom = since;
    this.#handled = since ?? 0;
    this.#bufferSize = bufferSize ?? DEFAULT_BUFFER;
    this.done = new Promise<void>((resolve, reject) => (this.#settle = { resolve, reject }));
    // `done` rejecting with no one listening must not be an unhandled rejection.
    this.done.catch(() => undefined);
  }

  /** True once it ended (unsubscribed, lagged, handler threw, the feed ended). */
  get ended(): boolean {
    return this.#ended || this.#ending;
  }

  /** The feed started after `since` (the first owner's answer to a subscription without one). */
  started(since: number): void {
    if (this.resumeFrom === undefined) {
      this.resumeFrom = since;
      this.#handled = since;
    }
  }

  /** An event from the feed. */
  event(raw: unknown): void {
    if (this.ended) return;
    const event = deepFreeze(raw) as FeedEvent;
    this.resumeFrom = event.type === 'pruned' ? event.resyncFrom : event.seq;
    this.#queue.push(event);
    if (this.#queue.length > this.#bufferSize) {
      // The handler is this far behind: as the local feed does, one `lagged` with the
      // seq to resume from, and the subscription ends.
      const behind = this.#queue.length;
      this.#queue = [Object.freeze({ type: 'lagged', seq: this.#handled, behind } as const)];
      this.#ending = true;
      this.stop(this);
    }
    this.#pump();
  }

  /** The feed ended over there (until reached, lagged, or failed): deliver what is queued, then settle. */
  end(error?: unknown): void {
    if (this.ended) return;
    this.#ending = true;
    this.#endError = error;
    this.#pump();
  }

  /** Stops it and releases everything; idempotent. */
  unsubscribe(): void {
    if (this.#ended) return;
    const wasEnding = this.#ending;
    this.#queue = [];
    this.#finish(undefined);
    if (!wasEnding) this.stop(this);
  }

  #finish(error: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#queue = [];
    if (error === undefined) this.#settle.resolve();
    else this.#settle.reject(error);
  }

  #pump(): void {
    if (this.#busy || this.#ended) return;
    this.#busy = true;
    void this.#drain();
  }

  async #drain(): Promise<void> {
    try {
      while (!this.#ended && this.#queue.length > 0) {
        const event = this.#queue.shift()!;
        // Handed over is seen: a `lagged` while the handler works on it resumes after it.
        if (event.type !== 'lagged') this.#handled = event.type === 'pruned' ? event.resyncFrom : event.seq;
        await this.handler(event);
      }
    } catch (e) {
      const wasEnding = this.#ending;
      this.#finish(e);
      if (!wasEnding) this.stop(this);
      return;
    } finally {
      this.#busy = false;
    }
    if (this.#ending && this.#queue.length === 0) this.#finish(this.#endError);
    else if (this.#queue.length > 0) this.#pump();
  }
}
