/**
 * Commits' keys waiting to go out with the next message of an ordered stream (the
 * worker's port, ./worker-invalidations.ts; the owner tab's channel, ./relay.ts): the tabs'
 * caches (./tab-cache.ts) apply them before that message, so they arrive before anything
 * of the stream that came after them, at the cost of no message of their own. If nothing
 * goes out for a while, `alone` is called to send them by themselves: a safety net, armed
 * at most once per {@link INV_ALONE_MS}, so writers pay no task per commit.
 */
import type { Invalidation } from './protocol.js';

/** How long the keys wait for a message to ride on before going alone, ms. */
export const INV_ALONE_MS = 20;

/** The keys not sent yet, merged, and what sends them alone. */
export class InvalidationCarrier {
  #pending: { first: number; last: number; keys: string[] } | undefined;
  #armed = false;
  readonly #alone: () => void;

  /** @param alone sends a message of its own (which then takes the keys), when none went out soon */
  constructor(alone: () => void) {
    this.#alone = alone;
  }

  /**
   * Adds the keys (namespace, key, namespace, key, …) of commits `first`…`last`; `keys`
   * is taken, not copied (the caller's own array). Consecutive commits merge; a hole
   * (never expected) gives `first: -1`, which makes the tabs clear.
   */
  add(first: number, last: number, keys: string[]): void {
    const pending = this.#pending;
    if (pending === undefined) this.#pending = { first, last, keys };
    else {
      if (first !== pending.last + 1) pending.first = -1;
      pending.last = last;
      for (const k of keys) pending.keys.push(k);
    }
    if (!this.#armed) {
      this.#armed = true;
      setTimeout(() => {
        this.#armed = false;
        if (this.#pending !== undefined) this.#alone();
      }, INV_ALONE_MS);
    }
  }

  /** The keys not sent yet (undefined: none), for the message about to go out. */
  get pending(): Invalidation | undefined {
    return this.#pending;
  }

  /** The message carrying {@link pending} went out: they are sent. */
  sent(): void {
    this.#pending = undefined;
  }
}
