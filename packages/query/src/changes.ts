/**
 * The change feed. A subscription is a cursor over the store's numbered changes: it
 * reads change `next` from the store when the consumer asks for it, so a `since` replay
 * and the live tail are one sequence with no gap and no duplicate at the seam, and a
 * slow consumer costs no memory. Its buffer is how far behind the live head (counting
 * changes committed after it subscribed) it may fall: past that it gets one `lagged`
 * event carrying the seq to resume from (`since: seq`) and ends, never a silent drop.
 * A change the store no longer has (retention or a purge removed its version) is one
 * `pruned` event saying where to resync from (read the current state, then changes
 * after `resyncFrom`), and the feed goes on from there: never a silent gap, never a
 * dead subscription.
 */
import { ErrorCodes, InvalidArgumentError } from '@koru/engine';
import { SYSTEM_NAMESPACE, validateKey, validateNamespace, type Change, type ChangeType } from '@koru/storage';
import type { JsonValue } from '@koru/engine';
import { matcherOf, type FilterInput } from './matcher.js';

/** Where changes come from: a CausalStorage, or a store read over the network (PostgreSQL). */
export interface ChangeSource {
  /** The last committed change's seq. */
  readonly seq: number;
  /**
   * Change `seq`. A store that must fetch an older change (a replay from further back
   * than it keeps at hand) returns a promise; the change just announced by `onCommit`
   * must be returned at once.
   */
  changeAt(seq: number): Change | Promise<Change>;
  /**
   * The namespace and key of change `seq`, without building the change (optional: a
   * source without it has changes built to route them to namespace and key subscribers).
   */
  changeKeyAt?(seq: number): { readonly namespace: string; readonly key: string };
  /** Called after each commit with the new seq, and with -1 when the source closes. */
  onCommit(listener: (seq: number) => void): () => void;
}

/** One change, as subscribers receive it. */
export interface ChangeEvent {
  readonly type: 'change';
  readonly seq: number;
  readonly changeType: ChangeType;
  readonly namespace: string;
  readonly key: string;
  /** null for a delete. */
  readonly value: JsonValue;
  readonly previousValue: JsonValue;
  readonly versionId: string;
  readonly previousVersion: string | null;
  readonly timestamp: string;
  /**
   * Set on a version replicated from another node that lost to a version with a later
   * clock: it joins the key's history, the current value (`previousValue`) stays.
   */
  readonly superseded?: true;
}

/** The subscriber fell more than its buffer behind; resume with `since: seq`. The stream ends. */
export interface LaggedEvent {
  readonly type: 'lagged';
  /** The last seq this subscriber saw (or started after): resume with `since: seq`. */
  readonly seq: number;
  /** How many changes were committed past it. */
  readonly behind: number;
}

/**
 * Change `seq` (and maybe more after it) is gone: retention or a purge removed its
 * version. Read the current state, then go on from `resyncFrom`: the feed itself goes on
 * with the changes after `resyncFrom`.
 */
export interface PrunedEvent {
  readonly type: 'pruned';
  /** The first change this subscriber could not be given. */
  readonly seq: number;
  /** The last committed change when it was found: the state to resync from; the feed resumes after it. */
  readonly resyncFrom: number;
}

/**
 * Change `seq` from `source`, or the {@link PrunedEvent} for it when retention or a
 * purge removed it (anything else thrown is rethrown).
 */
function changeOrPruned(source: ChangeSource, seq: number): Change | PrunedEvent | Promise<Change | PrunedEvent> {
  const pruned = (e: unknown): PrunedEvent => {
    if ((e as { code?: unknown } | null)?.code !== ErrorCodes.HISTORY_PRUNED) throw e;
    return Object.freeze({ type: 'pruned' as const, seq, resyncFrom: source.seq });
  };
  try {
    const c = source.changeAt(seq);
    return c instanceof Promise ? c.catch(pruned) : c;
  } catch (e) {
    return pruned(e);
  }
}

/** What a subscription selects. */
export interface SubscriptionSpec {
  /** Only this namespace (default: all). */
  readonly namespace?: string;
  /** Only this key (needs `namespace`). */
  readonly key?: string;
  /** Only changes whose new value matches (a `Filter`, a `Query` with only a filter, or the wire form); deletes match no filter. */
  readonly filter?: FilterInput | unknown;
  /** Only these change types (default: all three). */
  readonly types?: readonly ChangeType[];
  /** Replay every matching change after this seq first (default: only changes from now on). */
  readonly since?: number;
  /** End after the change with this seq (default: never): with `since`, a replay of a range. */
  readonly until?: number;
  /**
   * How far behind the live head the subscriber may fall, in changes (default 1,024).
   * With `subscribe`, changes outside its namespace or key do not count while it is caught up.
   */
  readonly bufferSize?: number;
}

/** Default subscriber buffer, in changes. */
export const DEFAULT_BUFFER = 1024;

const TYPES = new Set<ChangeType>(['insert', 'update', 'delete']);
const SPEC_KEYS = new Set(['namespace', 'key', 'filter', 'types', 'since', 'until', 'bufferSize']);

/** Validates a spec into the test each change must pass. */
function compileSpec(spec: SubscriptionSpec): (c: Change) => boolean {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) throw new InvalidArgumentError('a subscription spec must be an object');
  for (const k of Object.keys(spec)) {
    if (!SPEC_KEYS.has(k)) throw new InvalidArgumentError(`unknown subscription option ${JSON.stringify(k)}`);
  }
  const { namespace, key, types } = spec;
  if (namespace !== undefined) validateNamespace(namespace);
  if (key !== undefined) {
    if (namespace === undefined) throw new InvalidArgumentError('a key subscription needs its namespace');
    validateKey(key);
  }
  let wanted: Set<ChangeType> | undefined;
  if (types !== undefined) {
    if (!Array.isArray(types) || types.some((t) => !TYPES.has(t))) {
      throw new InvalidArgumentError("types must be a list of 'insert', 'update' and 'delete'");
    }
    wanted = new Set(types);
  }
  const matches = matcherOf(spec.filter);
  return (c) => {
    const v = c.version;
    // The database's own records (index and view definitions) are not user changes.
    if (v.namespace === SYSTEM_NAMESPACE) return false;
    if (namespace !== undefined && v.namespace !== namespace) return false;
    if (key !== undefined && v.key !== key) return false;
    if (wanted !== undefined && !wanted.has(c.changeType)) return false;
    return matches === undefined || (!v.deleted && matches(v.value));
  };
}

// Subscribers to the same change share one frozen event.
const events = new WeakMap<Change, ChangeEvent>();

function toEvent(c: Change): ChangeEvent {
  const known = events.get(c);
  if (known !== undefined) return known;
  const v = c.version;
  const event: ChangeEvent = Object.freeze({
    type: 'change',
    seq: c.seq,
    changeType: c.changeType,
    namespace: v.namespace,
    key: v.key,
    value: v.value,
    previousValue: c.previousValue,
    versionId: v.versionId,
    previousVersion: v.previousVersion,
    timestamp: v.timestamp,
    ...(c.superseded === true ? { superseded: true as const } : {}),
  });
  events.set(c, event);
  return event;
}

/**
 * Validates a spec and fixes where its cursor starts: after `since` (default: the current
 * head), counting lag only from the head at subscription time.
 */
function startCursor(
  source: ChangeSource,
  spec: SubscriptionSpec,
): { test: (c: Change) => boolean; buffer: number; liveFrom: number; since: number; until: number } {
  const test = compileSpec(spec);
  const buffer = spec.bufferSize ?? DEFAULT_BUFFER;
  if (!Number.isInteger(buffer) || buffer < 1) throw new InvalidArgumentError('bufferSize must be a positive integer');
  const head = source.seq;
  const since = spec.since ?? head;
  if (!Number.isInteger(since) || since < 0 || since > head) {
    throw new InvalidArgumentError(`since must be a seq from 0 to ${head}, not ${String(since)}`);
  }
  const until = spec.until ?? Infinity;
  if (until !== Infinity && (!Number.isInteger(until) || until < since)) {
    throw new InvalidArgumentError(`until must be a seq of at least since (${since}), not ${String(until)}`);
  }
  return { test, buffer, liveFrom: head, since, until };
}

/** An async iterator over the changes `spec` selects. `return()` releases it. */
export function changeStream(source: ChangeSource, spec: SubscriptionSpec = {}): AsyncIterableIterator<ChangeEvent | LaggedEvent | PrunedEvent> {
  const { test, buffer, liveFrom, since, until } = startCursor(source, spec);
  let next = since + 1;
  let done = false;
  // Several next() calls may be waiting at once; a commit wakes them all.
  let waiting: Array<() => void> = [];
  const wakeAll = (): void => {
    const w = waiting;
    waiting = [];
    for (const resolve of w) resolve();
  };
  const off = source.onCommit((seq) => {
    if (seq < 0) finish();
    wakeAll();
  });
  function finish(): void {
    if (done) return;
    done = true;
    off();
  }
  const end = { done: true, value: undefined } as const;
  const iterator: AsyncIterableIterator<ChangeEvent | LaggedEvent | PrunedEvent> = {
    async next() {
      for (;;) {
        if (done) return end;
        const last = source.seq;
        const behind = last - Math.max(next - 1, liveFrom);
        if (behind > buffer) {
          finish();
          return { done: false, value: Object.freeze({ type: 'lagged', seq: next - 1, behind: last - (next - 1) }) };
        }
        while (next <= last && next <= until) {
          const found = changeOrPruned(source, next++);
          const c = found instanceof Promise ? await found : found;
          if ('type' in c) {
            next = c.resyncFrom + 1;
            return { done: false, value: c };
          }
          if (test(c)) return { done: false, value: toEvent(c) };
        }
        if (next > until) {
          finish();
          return end;
        }
        await new Promise<void>((resolve) => waiting.push(resolve));
      }
    },
    async return() {
      finish();
      wakeAll();
      return end;
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

/**
 * How the commit dispatcher reaches a subscription: change `seq` (or, for one that
 * selects every namespace, a batch starting there) may concern it; -1: the source closed.
 */
type Wakeable = (seq: number) => void;

/**
 * One commit listener per source for all its subscriptions, waking only those a change
 * concerns: a subscription that names a key is indexed under its key, one that names a
 * namespace under its namespace, so a write costs O(subscriptions it matches) plus
 * those that select every namespace — never one call per subscription of another
 * namespace.
 */
class Dispatcher {
  readonly #all = new Set<Wakeable>();
  readonly #byNamespace = new Map<string, Set<Wakeable>>();
  readonly #byKey = new Map<string, Set<Wakeable>>();
  #seen: number;
  #size = 0;
  readonly #off: () => void;

  constructor(
    private readonly source: ChangeSource,
    private readonly onEmpty: () => void,
  ) {
    this.#seen = source.seq;
    this.#off = source.onCommit((seq) => this.#commit(seq));
  }

  add(w: Wakeable, namespace: string | undefined, key: string | undefined): () => void {
    const set = namespace === undefined ? this.#all : key === undefined ? bucket(this.#byNamespace, namespace) : bucket(this.#byKey, `${namespace}\u0000${key}`);
    set.add(w);
    this.#size++;
    return () => {
      if (!set.delete(w)) return;
      if (set.size === 0 && set !== this.#all) {
        if (key === undefined) this.#byNamespace.delete(namespace!);
        else this.#byKey.delete(`${namespace!}\u0000${key}`);
      }
      if (--this.#size === 0) {
        this.#off();
        this.onEmpty();
      }
    };
  }

  #commit(seq: number): void {
    if (seq < 0) {
      // Copied first: each one removes itself from its set as it finishes.
      const everyone = [...this.#all];
      for (const set of [...this.#byNamespace.values(), ...this.#byKey.values()]) everyone.push(...set);
      for (const w of everyone) w(-1);
      return;
    }
    const from = this.#seen + 1;
    this.#seen = seq;
    for (const w of this.#all) w(from);
    if (this.#byNamespace.size === 0 && this.#byKey.size === 0) return;
    const source = this.source;
    for (let q = from; q <= seq; q++) {
      // Routing needs only the change's key; each subscriber builds (and shares) the change.
      const found = source.changeKeyAt !== undefined ? { version: source.changeKeyAt(q) } : changeOrPruned(source, q);
      // A source that fetches old changes gives announced ones at once (see ChangeSource).
      if (found instanceof Promise) throw new Error('koru: a change feed announced a change it cannot give at once (a bug)');
      const c = found;
      if ('type' in c) {
        // Removed already (a purge right after it): whom it concerned is unknown; each is told.
        for (const set of [...this.#byNamespace.values(), ...this.#byKey.values()]) for (const w of set) w(q);
        continue;
      }
      const v = c.version;
      const inNamespace = this.#byNamespace.get(v.namespace);
      if (inNamespace !== undefined) for (const w of inNamespace) w(q);
      const onKey = this.#byKey.size > 0 ? this.#byKey.get(`${v.namespace}\u0000${v.key}`) : undefined;
      if (onKey !== undefined) for (const w of onKey) w(q);
    }
  }
}

function bucket(map: Map<string, Set<Wakeable>>, name: string): Set<Wakeable> {
  let set = map.get(name);
  if (set === undefined) map.set(name, (set = new Set()));
  return set;
}

const dispatchers = new WeakMap<ChangeSource, Dispatcher>();

function dispatcherOf(source: ChangeSource): Dispatcher {
  let d = dispatchers.get(source);
  if (d === undefined) {
    const created = new Dispatcher(source, () => {
      if (dispatchers.get(source) === created) dispatchers.delete(source);
    });
    dispatchers.set(source, (d = created));
  }
  return d;
}

/** A running subscription. */
export interface Subscription {
  /** Stops it and releases everything; idempotent. */
  unsubscribe(): void;
  /** Settles when it ends: unsubscribed, lagged, source closed, or the handler threw (rejects). */
  readonly done: Promise<void>;
}

/**
 * Calls `handler` for each selected change, in order, awaiting it before the next.
 * Delivery is a cursor pumped once per commit (in a microtask, never inside the commit
 * itself): a synchronous handler gets every new change in one pass, with no promise per
 * event, so a commit reaches many subscribers quickly.
 */
export function subscribe(
  source: ChangeSource,
  spec: SubscriptionSpec,
  handler: (event: ChangeEvent | LaggedEvent | PrunedEvent) => void | Promise<void>,
): Subscription {
  if (typeof handler !== 'function') throw new InvalidArgumentError('subscribe needs a handler function');
  const { test, buffer, liveFrom, since, until } = startCursor(source, spec);
  let next = since + 1;
  let finished = false;
  let busy = false; // awaiting a handler's promise
  let scheduled = false;
  // Caught up with the head when it last ran: it is woken only for changes that may
  // concern it, so every change between its cursor and the one it is woken for is not
  // its business, and the cursor may jump there.
  let caughtUp = next > source.seq;
  let settle!: (error?: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    settle = (error) => (error === undefined ? resolve() : reject(error));
  });
  // Nobody has to await `done`: a handler's error must not become an unhandled rejection.
  done.catch(() => {});
  const finish = (error?: unknown): void => {
    if (finished) return;
    finished = true;
    off();
    settle(error);
  };
  const resume = (): void => {
    busy = false;
    pump();
  };
  const deliver = (event: ChangeEvent | LaggedEvent | PrunedEvent): boolean => {
    let r: void | Promise<void>;
    try {
      r = handler(event);
    } catch (e) {
      finish(e);
      return false;
    }
    if (r !== undefined && typeof (r as Promise<void>).then === 'function') {
      busy = true;
      (r as Promise<void>).then(resume, (e: unknown) => finish(e));
      return false;
    }
    return true;
  };
  function pump(): void {
    scheduled = false;
    caughtUp = false;
    while (!finished && !busy) {
      const last = source.seq;
      if (last - Math.max(next - 1, liveFrom) > buffer) {
        // The subscription ends with this event, whatever the handler does with it.
        deliver(Object.freeze({ type: 'lagged', seq: next - 1, behind: last - (next - 1) }));
        finish();
        return;
      }
      if (next > until) return finish();
      if (next > last) {
        caughtUp = true;
        return;
      }
      const found = changeOrPruned(source, next++);
      if (found instanceof Promise) {
        // Fetched from further back: the pump waits for it, as for a handler's promise.
        busy = true;
        found.then(
          (c) => {
            busy = false;
            if (finished) return;
            if (take(c)) pump();
          },
          (e: unknown) => finish(e),
        );
        return;
      }
      if (!take(found)) return;
    }
  }
  /** Delivers one change (or pruned event) read at the cursor; false when the pump must stop for now. */
  function take(c: Change | PrunedEvent): boolean {
    if ('type' in c) {
      next = c.resyncFrom + 1;
      return deliver(c);
    }
    return !test(c) || deliver(toEvent(c));
  }
  const schedule = (): void => {
    if (scheduled || finished) return;
    scheduled = true;
    queueMicrotask(pump);
  };
  // With an `until` it is woken by every commit, not only those that may concern it: the
  // head passing `until` ends it even when nothing after it matched (a server then tells
  // its client the range is complete, which the client cannot know by itself).
  const bounded = until !== Infinity;
  const off = dispatcherOf(source).add(
    (seq) => {
      if (seq < 0) return finish();
      if (scheduled || finished) return;
      if (caughtUp && !busy && seq > next) next = Math.min(seq, until + 1);
      schedule();
    },
    bounded ? undefined : spec.namespace,
    bounded ? undefined : spec.key,
  );
  if (!caughtUp || until !== Infinity) schedule(); // the `since` replay, or an `until` already reached
  return { unsubscribe: () => finish(), done };
}
