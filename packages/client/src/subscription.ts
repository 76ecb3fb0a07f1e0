/**
 * Subscriptions over the wire, resumed across reconnects without a gap or a duplicate.
 *
 * A subscription starts from an explicit seq: the caller's `since`, or else the server's
 * head when it subscribes (the subscribe answer says which). Each event received moves the
 * resume point to its seq; after a reconnect the client subscribes again with `since` =
 * that point, so the server replays exactly what it missed. Events are handed to the
 * handler in order, each awaited before the next, as on the embedded handle.
 *
 * `bufferSize` keeps its meaning: a subscriber whose handler falls more than that many
 * changes behind the newest change it was sent (not counting the replay it asked for
 * with `since`, nor the backlog of an outage) gets one `lagged` event and the
 * subscription ends. A `lagged` event from the server ends it the same way.
 *
 * A subscription with `until` ends once an event at or past `until` was handled, or the
 * server said it ended there (`end`, sent after every event up to `until`: the client
 * cannot tell by itself, since a server may still be reading a replay from its store
 * when its head is already past `until`).
 */
import { deepFreeze, InvalidArgumentError, type KoruError } from '@koru/engine';
import type { ChangeEvent, LaggedEvent, PrunedEvent, Subscription, SubscriptionSpec } from '@koru/query';
import type { Connection } from './connection.js';
import { errorFromWire } from './errors.js';
import { filterArg, optionsArg } from './wire.js';

/** An event as handlers receive it. */
export type Event = ChangeEvent | LaggedEvent | PrunedEvent;
/** A subscription's handler. */
export type Handler = (event: Event) => void | Promise<void>;

const DEFAULT_BUFFER = 1024;

const FOREVER = { retry: false, bounded: false } as const;

/** Every subscription of one client. */
export class Subscriptions {
  readonly #all = new Set<RemoteSubscription>();
  readonly #bySid = new Map<string, RemoteSubscription>();
  #conn: Connection | undefined;

  /** Set once, right after the connection is made (the connection needs these hooks first). */
  attach(conn: Connection): void {
    this.#conn = conn;
  }

  /** Starts a subscription. @throws INVALID_ARGUMENT for a handler that is not a function or a spec that is not an object */
  add(spec: SubscriptionSpec, handler: Handler): Subscription {
    if (typeof handler !== 'function') throw new InvalidArgumentError('subscribe needs a handler function');
    if (spec === null || typeof spec !== 'object') throw new InvalidArgumentError('a subscription spec must be an object');
    const sub = new RemoteSubscription(this, this.#conn!, spec, handler);
    this.#all.add(sub);
    sub.begin();
    return { unsubscribe: () => sub.finish(), done: sub.done };
  }

  bind(sid: string, sub: RemoteSubscription): void {
    this.#bySid.set(sid, sub);
  }

  unbind(sid: string): void {
    this.#bySid.delete(sid);
  }

  remove(sub: RemoteSubscription): void {
    this.#all.delete(sub);
  }

  /** A welcome arrived: subscribe again where each subscription left off. */
  open(): void {
    for (const sub of [...this.#all]) sub.resume();
  }

  /** The socket is gone, and its subscription ids with it. */
  down(): void {
    this.#bySid.clear();
    for (const sub of this.#all) sub.lost();
  }

  event(sid: string, event: unknown): void {
    this.#bySid.get(sid)?.receive(event);
  }

  ended(sid: string, error: unknown): void {
    this.#bySid.get(sid)?.ended(sid, error);
  }

  /** The client closed (every subscription ends) or failed (they fail with `error`). */
  closed(error: KoruError | undefined): void {
    for (const sub of [...this.#all]) sub.finish(error);
  }
}

class RemoteSubscription {
  readonly #owner: Subscriptions;
  readonly #conn: Connection;
  readonly #handler: Handler;
  /** The spec as sent, without `since`. */
  readonly #spec: Record<string, unknown>;
  readonly #buffer: number;
  readonly #until: number | undefined;
  /** The seq to resume after: the last event received, or the starting point. */
  #from: unknown;
  /** The last seq handed to the handler (or started after). */
  #delivered = 0;
  /** Changes up to this seq are a replay or an outage's backlog, not lag. */
  #liveFrom = 0;
  /** The seq the client knew when the subscription was made: where to start if the first `seq` call is lost. */
  readonly #fallback: number;
  #sid: string | undefined;
  #started = false;
  #requesting = false;
  #queue: Array<ChangeEvent | PrunedEvent> = [];
  #busy = false;
  #finished = false;
  #untilReached = false;
  #last: LaggedEvent | undefined;
  readonly done: Promise<void>;
  #settle!: (error?: unknown) => void;

  constructor(owner: Subscriptions, conn: Connection, spec: SubscriptionSpec, handler: Handler) {
    this.#owner = owner;
    this.#conn = conn;
    this.#handler = handler;
    const wire = optionsArg(spec, { filter: filterArg }) as Record<string, unknown>;
    delete wire.since;
    this.#spec = wire;
    this.#buffer = typeof spec.bufferSize === 'number' ? spec.bufferSize : DEFAULT_BUFFER;
    this.#until = typeof spec.until === 'number' ? spec.until : undefined;
    this.#from = spec.since;
    this.#fallback = conn.seq;
    this.done = new Promise<void>((resolve, reject) => {
      this.#settle = (error) => (error === undefined ? resolve() : reject(error));
    });
    // Nobody has to await `done`: a handler's error must not become an unhandled rejection.
    this.done.catch(() => {});
  }

  /** Subscribes on the current socket, if there is one and nothing is pending. */
  begin(): void {
    if (this.#finished || this.#requesting || this.#sid !== undefined) return;
    if (this.#conn.state !== 'open') {
      // Subscribed while disconnected: start from the last seq known, so nothing is missed.
      this.#from ??= this.#fallback;
      return;
    }
    this.#requesting = true;
    const since = this.#from;
    if (since !== undefined) this.#start(since);
    // Without a since the server starts at its head and says which seq that is.
    const spec = since === undefined ? { ...this.#spec } : { ...this.#spec, since };
    this.#conn.request('subscribe', [spec], FOREVER, (error, result) => {
      this.#requesting = false;
      const answer = result as { subscription?: unknown; seq?: unknown } | null | undefined;
      const sid = answer?.subscription;
      if (this.#finished) {
        if (error === undefined && typeof sid === 'string') this.#conn.notify('unsubscribe', [sid]);
        return;
      }
      if (error !== undefined) {
        if (this.#conn.state !== 'open') {
          this.#from ??= this.#fallback; // lost: subscribed again at the next welcome
          return;
        }
        return this.finish(error);
      }
      if (typeof sid !== 'string') return this.finish(new InvalidArgumentError('the server answered subscribe without a subscription id'));
      if (this.#from === undefined) {
        if (typeof answer?.seq !== 'number') {
          this.#conn.notify('unsubscribe', [sid]);
          return this.finish(new InvalidArgumentError('the server did not say which seq the subscription starts after'));
        }
        // The answer comes before any event of the subscription: nothing is missed.
        this.#conn.noteSeq(answer.seq);
        this.#from = answer.seq;
        this.#start(answer.seq);
      }
      this.#sid = sid;
      this.#owner.bind(sid, this);
    });
  }

  /** Where counting starts: nothing delivered yet, and what is already committed is no lag. */
  #start(since: unknown): void {
    if (this.#started || typeof since !== 'number') return;
    this.#started = true;
    this.#delivered = since;
    this.#liveFrom = Math.max(this.#liveFrom, since, this.#conn.seq);
  }

  /** After a reconnect: the outage's backlog is no lag; subscribe again from the last event received. */
  resume(): void {
    this.#liveFrom = Math.max(this.#liveFrom, this.#conn.seq);
    this.begin();
  }

  lost(): void {
    this.#sid = undefined;
  }

  /**
   * The server ended this subscription. Without an error, with `until`: every event up to
   * `until` has arrived (they come before the end), so it ends once they are handled.
   * Other ends (the server closing) are left to the reconnect, as a lost socket is.
   */
  ended(sid: string, error: unknown): void {
    if (this.#finished || this.#sid !== sid) return;
    if (error !== undefined && error !== null) {
      this.#owner.unbind(sid);
      this.#sid = undefined;
      return this.finish(errorFromWire(error));
    }
    if (this.#until === undefined) return;
    // Nothing to unsubscribe: the server's side is gone.
    this.#owner.unbind(sid);
    this.#sid = undefined;
    this.#untilReached = true;
    this.#pump();
  }

  receive(raw: unknown): void {
    if (this.#finished || this.#last !== undefined || raw === null || typeof raw !== 'object') return;
    const event = deepFreeze(raw) as Event;
    if (event.type === 'lagged') {
      // The server ended this subscription: hand over what came before, then this.
      this.#release();
      this.#last = event;
      return this.#pump();
    }
    if (event.type === 'pruned') return this.#pruned(event);
    if (event.type !== 'change' || typeof event.seq !== 'number') return;
    if (typeof this.#from === 'number' && event.seq <= this.#from) return; // received already
    this.#from = event.seq;
    this.#conn.noteSeq(event.seq);
    // Only a busy handler falls behind: an idle one is at the head, whatever was skipped
    // as not matching. Lag counts from the event it is busy with, past the live start.
    const busy = this.#busy || this.#queue.length > 0;
    if (busy && event.seq - Math.max(this.#delivered, this.#liveFrom) > this.#buffer) {
      // Too far behind: what is queued is dropped, as the embedded feed would skip it.
      this.#queue = [];
      this.#release();
      this.#last = Object.freeze({ type: 'lagged', seq: this.#delivered, behind: event.seq - this.#delivered });
      return this.#pump();
    }
    this.#queue.push(event as ChangeEvent);
    if (this.#until !== undefined && event.seq >= this.#until) this.#untilReached = true;
    this.#pump();
  }

  /**
   * Retention or a purge removed change `seq` before the server could send it: the
   * server's feed goes on after `resyncFrom`, so that is the resume point now (a
   * reconnect must not ask for the removed changes again).
   */
  #pruned(event: PrunedEvent): void {
    if (typeof event.seq !== 'number' || typeof event.resyncFrom !== 'number') return;
    if (typeof this.#from === 'number' && event.resyncFrom <= this.#from) return; // received already
    this.#from = event.resyncFrom;
    this.#conn.noteSeq(event.resyncFrom);
    this.#queue.push(event);
    if (this.#until !== undefined && event.resyncFrom >= this.#until) this.#untilReached = true;
    this.#pump();
  }

  /** Stops the server's side (it sends nothing more). */
  #release(): void {
    if (this.#sid === undefined) return;
    this.#conn.notify('unsubscribe', [this.#sid]);
    this.#owner.unbind(this.#sid);
    this.#sid = undefined;
  }

  #pump(): void {
    while (!this.#busy && !this.#finished) {
      const event = this.#queue.shift();
      if (event === undefined) {
        const last = this.#last;
        if (last !== undefined) {
          // The subscription ends with this event, whatever the handler does with it.
          this.#deliver(last);
          this.finish();
        } else if (this.#untilReached) this.finish();
        return;
      }
      this.#delivered = event.type === 'pruned' ? event.resyncFrom : event.seq;
      if (!this.#deliver(event)) return;
    }
  }

  /** Calls the handler; false when it is busy with a promise or threw (the subscription then ends). */
  #deliver(event: Event): boolean {
    let r: void | Promise<void>;
    const handler = this.#handler;
    try {
      r = handler(event);
    } catch (e) {
      this.finish(e);
      return false;
    }
    if (r !== undefined && typeof (r as Promise<void>).then === 'function') {
      this.#busy = true;
      (r as Promise<void>).then(
        () => {
          this.#busy = false;
          this.#pump();
        },
        (e: unknown) => this.finish(e),
      );
      return false;
    }
    return true;
  }

  /** Ends it (idempotent): unsubscribed, lagged, until reached, client closed, or failed with `error`. */
  finish(error?: unknown): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#release();
    this.#queue = [];
    this.#owner.remove(this);
    this.#settle(error);
  }
}

/**
 * The feed as an async iterator over a subscription whose handler waits for the consumer
 * to take each event, so `bufferSize` bounds how far the consumer may fall behind.
 * `return()` releases it. A spec the server refuses rejects the first `next()`.
 */
export function changeIterator(subscriptions: Subscriptions, spec: SubscriptionSpec): AsyncIterableIterator<Event> {
  const ready: Array<{ event: Event; take: () => void }> = [];
  const waiting: Array<{ resolve: (r: IteratorResult<Event>) => void; reject: (e: unknown) => void }> = [];
  let ended = false;
  let failure: { error: unknown } | undefined;
  const end = { done: true, value: undefined } as const;
  const sub = subscriptions.add(spec, (event) => {
    const w = waiting.shift();
    if (w !== undefined) {
      w.resolve({ done: false, value: event });
      return;
    }
    return new Promise<void>((take) => ready.push({ event, take }));
  });
  const settleWaiting = (): void => {
    for (const w of waiting.splice(0)) {
      if (failure !== undefined) {
        w.reject(failure.error);
        failure = undefined;
      } else w.resolve(end);
    }
  };
  sub.done.then(
    () => {
      ended = true;
      settleWaiting();
    },
    (error: unknown) => {
      ended = true;
      failure = { error };
      settleWaiting();
    },
  );
  const iterator: AsyncIterableIterator<Event> = {
    next() {
      const item = ready.shift();
      if (item !== undefined) {
        item.take();
        return Promise.resolve({ done: false, value: item.event });
      }
      if (ended) {
        if (failure !== undefined) {
          const { error } = failure;
          failure = undefined;
          return Promise.reject(error);
        }
        return Promise.resolve(end);
      }
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
    return() {
      sub.unsubscribe();
      ended = true;
      failure = undefined;
      for (const item of ready.splice(0)) item.take();
      settleWaiting();
      return Promise.resolve(end);
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
