/**
 * The owning tab's service to the other tabs: their calls and subscriptions, received
 * over the BroadcastChannel, go to this tab's worker under ids of their own (negative,
 * so they never meet this tab's own, which are positive), and the worker's replies and
 * events go back to the tab that asked. Once the owner is closing, a call it has not
 * passed on is answered `retry` (it was not run: the next owner runs it).
 *
 * A tab that goes away without a word (closed, crashed) would leave its feeds running
 * here, posting every change to no one: each tab holds a Web Lock of its own while it
 * is open, and the relay waits on the lock of every tab it serves; once granted, that
 * tab is gone and its feeds end.
 *
 * The worker's invalidations (./tab-cache.ts) go to every tab with the next message this
 * tab posts on the channel, whatever it is: before anything of the worker's stream that
 * came after them (an answer, an event, the `state` that follows every commit), and
 * without a message of their own for each commit.
 */
import type { FromWorker, Invalidation, TabMessage } from './protocol.js';
import type { OwnerWorker } from './owner-worker.js';
import { errorToWire } from './errors.js';
import { InvalidationCarrier } from './invalidation-carrier.js';

interface Origin {
  readonly from: string;
  readonly id: number;
}

/** Relays other tabs' calls and feeds to this tab's worker. */
export class Relay {
  readonly #calls = new Map<number, Origin>();
  readonly #subs = new Map<number, Origin>();
  readonly #subIds = new Map<string, number>();
  readonly #watched = new Set<string>();
  readonly #stopWatching = new AbortController();
  #nextId = -1;
  #open = true;
  /**
   * Invalidations not passed on yet. The `state` the worker posts after every commit
   * (already on its way) takes them out at once; alone only if nothing did.
   */
  readonly #inv = new InvalidationCarrier(() => this.post({ t: 'inval', owner: this.me }));

  /** @param lockName the name of the lock tab `tab` holds while it is open */
  constructor(
    readonly me: string,
    readonly worker: OwnerWorker,
    readonly post: (m: TabMessage) => void,
    readonly lockName: (tab: string) => string,
  ) {}

  /** Stops waiting on other tabs' locks (this tab is leaving). */
  stop(): void {
    this.#open = false;
    this.#stopWatching.abort();
  }

  /** Waits for tab `tab` to go away, then ends its feeds (once per tab). */
  #watch(tab: string): void {
    if (this.#watched.has(tab)) return;
    this.#watched.add(tab);
    navigator.locks
      .request(this.lockName(tab), { signal: this.#stopWatching.signal }, () => this.#gone(tab))
      .catch(() => undefined); // aborted: this tab is leaving
  }

  #gone(tab: string): void {
    this.#watched.delete(tab);
    for (const [id, o] of [...this.#subs]) {
      if (o.from !== tab) continue;
      this.#subs.delete(id);
      this.#subIds.delete(`${o.from}\n${o.id}`);
      this.worker.post({ t: 'unsub', id });
    }
  }

  /** Invalidations from the worker: they go out with the next message on the channel (see the module comment). */
  pass(inv: Invalidation): void {
    // Cloned for this tab: its own array.
    this.#inv.add(inv.first, inv.last, inv.keys as string[]);
  }

  /** `m` (made for this post), carrying the invalidations not passed on yet. */
  stamp(m: TabMessage): TabMessage {
    const inv = this.#inv.pending;
    if (inv === undefined) return m;
    this.#inv.sent();
    (m as { inv?: Invalidation }).inv = inv;
    return m;
  }

  /** False once the owner began closing. */
  get open(): boolean {
    return this.#open;
  }

  /** The owner is closing: calls received from now on are not run. */
  closing(): void {
    this.#open = false;
  }

  /** A call, subscription or unsubscription another tab addressed to this one. */
  fromTab(m: Extract<TabMessage, { t: 'calls' | 'sub' | 'unsub' }>): void {
    if (m.t === 'calls') {
      if (!this.#open) return this.post({ t: 'retry', to: m.from, ids: m.calls.map((c) => c.id) });
      const calls = m.calls.map((c) => {
        const id = this.#nextId--;
        this.#calls.set(id, { from: m.from, id: c.id });
        return { id, method: c.method, args: c.args };
      });
      try {
        this.worker.post({ t: 'calls', calls });
      } catch (e) {
        // They were cloned once to get here: they clone again. Never leave a caller waiting.
        calls.forEach((c, i) => {
          this.#calls.delete(c.id);
          this.post({ t: 'error', to: m.from, from: this.me, id: m.calls[i]!.id, error: errorToWire(e), seq: 0 });
        });
      }
    } else if (m.t === 'sub') {
      // A closing owner ends every feed; the tab subscribes again with the next owner.
      if (!this.#open) return;
      this.#watch(m.from);
      const id = this.#nextId--;
      this.#subs.set(id, { from: m.from, id: m.id });
      this.#subIds.set(`${m.from}\n${m.id}`, id);
      this.worker.post({ t: 'sub', id, spec: m.spec });
    } else {
      const key = `${m.from}\n${m.id}`;
      const id = this.#subIds.get(key);
      if (id === undefined) return;
      this.#subIds.delete(key);
      this.#subs.delete(id);
      this.worker.post({ t: 'unsub', id });
    }
  }

  /** Passes a worker message on to the tab it is for; false when it is this tab's own. */
  fromWorker(m: FromWorker): boolean {
    if (!('id' in m) || m.id >= 0) return false;
    if (m.t === 'result' || m.t === 'error') {
      const o = this.#calls.get(m.id);
      if (o === undefined) return true;
      this.#calls.delete(m.id);
      // On the channel every other message of this stream takes (the `inval`s too,
      // ./session.ts), in the order the worker posted them: see ./tab-cache.ts.
      this.post(
        m.t === 'result'
          ? { t: 'result', to: o.from, from: this.me, id: o.id, value: m.value, seq: m.seq }
          : { t: 'error', to: o.from, from: this.me, id: o.id, error: m.error, seq: m.seq },
      );
      return true;
    }
    const o = this.#subs.get(m.id);
    if (o === undefined) return true;
    if (m.t === 'subbed') this.post({ t: 'subbed', to: o.from, id: o.id, since: m.since });
    else if (m.t === 'event') this.post({ t: 'event', to: o.from, id: o.id, event: m.event });
    else if (m.t === 'end') {
      this.#subs.delete(m.id);
      this.#subIds.delete(`${o.from}\n${o.id}`);
      this.post(m.error === undefined ? { t: 'end', to: o.from, id: o.id } : { t: 'end', to: o.from, id: o.id, error: m.error });
    }
    return true;
  }
}
