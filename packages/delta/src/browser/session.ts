/**
 * One tab's membership in a browser database shared by every tab of the origin.
 *
 * Ownership is a Web Lock named `koru:<path>`: the tab holding it runs the database in
 * its dedicated worker (./owner-worker.ts); every other tab waits in the lock's queue
 * and meanwhile forwards its calls and subscriptions to the owner over a
 * BroadcastChannel of the same name (the owner relays them to its worker: ./relay.ts).
 * When the owner closes, it answers everything it received, says `bye` and lets go;
 * when it crashes, the lock passes on without a word. Either way the next tab in the
 * queue opens the files in a worker of its own and announces itself; the others then
 * send it what had no answer: reads again, writes only when the old owner is known not
 * to have run them (after its `bye`) — a write that may have reached a crashed owner
 * rejects with IO_ERROR saying it may or may not be stored, never runs twice.
 * Subscriptions start again after the last seq they received.
 */
import { ClosedError, IoError } from '@koru/storage/errors';
import { deepFreeze, UnsupportedError, type KoruError } from '@koru/engine';
import type { DefinitionProblem } from '@koru/query';
import type { WorkerSource } from '../platform.js';
import { errorFromWire } from './errors.js';
import { METHODS, type DatabaseState, type FromWorker, type MethodName, type SyncInfo, type TabMessage } from './protocol.js';
import { EarlyWorker, OwnerWorker } from './owner-worker.js';
import { PendingCalls, type Call } from './pending-calls.js';
import { RemoteSubscription, type FeedEvent } from './remote-subscription.js';
import { Relay } from './relay.js';
import { answer, fromVersion, TabCache, type HeadRead } from './tab-cache.js';

/** How a tab joins a shared database. */
export interface SessionOptions {
  readonly path: string;
  readonly worker?: WorkerSource;
  /** Start options for the worker (those that can be cloned). */
  readonly options: Readonly<Record<string, unknown>>;
  readonly onWarning: (message: string) => void;
  /** How long a new owner retries opening files a dead owner's worker still holds, ms. */
  readonly retryMs: number;
}

/** The name of the lock a tab holds while it is open (see ./relay.ts). */
export function tabLockName(tab: string): string {
  return `koru-tab:${tab}`;
}

function newTabId(): string {
  return typeof crypto !== 'undefined' && typeof crypto.randomUUID === 'function' ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
}

/** A tab's side of a shared database: routes calls and subscriptions to whichever tab owns it. */
export class Session {
  readonly me = newTabId();
  readonly #o: SessionOptions;
  readonly #channel: BroadcastChannel;
  /** Calls without an answer, sent to whichever tab owns the database (./pending-calls.ts). */
  readonly #calls = new PendingCalls((owner, calls) => {
    if (owner === this.me) this.#worker!.post({ t: 'calls', calls });
    else this.#channel.postMessage({ t: 'calls', to: owner, from: this.me, calls } satisfies TabMessage);
  });
  readonly #subs = new Map<number, RemoteSubscription>();
  /** Current versions read here, kept coherent by the owner's stream (./tab-cache.ts). */
  readonly #cache = new TabCache();
  readonly #lockAbort = new AbortController();
  #nextId = 1;
  #owner: string | undefined;
  #state: DatabaseState | undefined;
  #worker: OwnerWorker | undefined;
  /** The worker started at join, until this tab owns the database or learns another tab does. */
  #early: EarlyWorker | undefined;
  #relay: Relay | undefined;
  #releaseLock: (() => void) | undefined;
  #releaseTabLock: (() => void) | undefined;
  #failed: unknown;
  #closed: Promise<void> | undefined;
  /** This tab's calls not answered yet (a closing tab waits for them). */
  readonly #inflight = new Set<Promise<unknown>>();
  /** Settles once a takeover in progress opened its worker or failed. */
  #owning: Promise<void> | undefined;
  /** Told when the database's sync (started, stopped, its status) changes. */
  readonly #syncListeners = new Set<(sync: SyncInfo | null) => void>();
  #ready!: { resolve: () => void; reject: (e: unknown) => void };
  readonly #readyPromise: Promise<void>;

  private constructor(options: SessionOptions) {
    this.#o = options;
    this.#readyPromise = new Promise<void>((resolve, reject) => (this.#ready = { resolve, reject }));
    this.#channel = new BroadcastChannel(`koru:${options.path}`);
    this.#channel.onmessage = (e: MessageEvent<TabMessage>) => this.#fromTab(e.data);
  }

  /** Joins the database at `path`: owning it, or forwarding to the tab that does. */
  static async join(options: SessionOptions): Promise<Session> {
    const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks;
    if (locks === undefined || typeof BroadcastChannel === 'undefined') {
      throw new UnsupportedError('a shared browser database needs Web Locks and BroadcastChannel (a secure context: https or localhost)');
    }
    const session = new Session(options);
    // The worker's script loads and evaluates (tens of milliseconds) while this tab takes
    // its locks: if the database's lock comes to this tab, the worker is ready sooner; if
    // another tab turns out to run the database, it is terminated unused (#ownerIs).
    session.#early = EarlyWorker.spawn(options.worker);
    // This tab's presence: a lock of its own, held while it is open. The owner waits on
    // it to learn that a tab went away (./relay.ts drops that tab's feeds). Taken before
    // the tab says anything, so no owner can take it first.
    await new Promise<void>((granted, failed) => {
      locks
        .request(tabLockName(session.me), () => {
          granted();
          return new Promise<void>((release) => (session.#releaseTabLock = release));
        })
        .catch(failed);
    });
    locks
      .request(`koru:${options.path}`, { signal: session.#lockAbort.signal }, () => session.#own())
      .catch((e: unknown) => {
        // Aborted: this tab closed while waiting. Anything else: no lock, no database.
        if (!session.#lockAbort.signal.aborted) session.#fail(new IoError(`cannot take the lock of ${options.path}: ${String(e)}`, e));
      });
    session.#post({ t: 'hello', from: session.me });
    try {
      await session.#readyPromise;
    } catch (e) {
      session.#shutDown();
      throw e;
    }
    return session;
  }

  /** What the owner last said about the database. */
  get state(): DatabaseState {
    return this.#state!;
  }

  /** Calls `listener` whenever the database's sync changes; returns the function that removes it. */
  onSync(listener: (sync: SyncInfo | null) => void): () => void {
    this.#syncListeners.add(listener);
    return () => this.#syncListeners.delete(listener);
  }

  /** True while this tab runs the database. */
  get owning(): boolean {
    return this.#owner === this.me;
  }

  /** Runs `method` wherever the database is. */
  call(method: MethodName, args: readonly unknown[]): Promise<unknown> {
    if (this.#closed !== undefined) return Promise.reject(new ClosedError());
    if (this.#failed !== undefined) return Promise.reject(this.#failed);
    if (METHODS[method] === 'write') this.#cache.writing(method, args);
    return this.#start(method, args, undefined);
  }

  /**
   * `get`, `getVersion` or `contains` of `namespace/key`: from the read cache when it
   * holds the key (a settled promise, nothing crosses), else as `getVersion` in the
   * worker, whose answer fills the cache.
   */
  read(kind: HeadRead, namespace: string, key: string): Promise<unknown> {
    if (this.#closed !== undefined) return Promise.reject(new ClosedError());
    if (this.#failed !== undefined) return Promise.reject(this.#failed);
    const hit = this.#cache.lookup(namespace, key);
    if (hit !== undefined) return answer(hit, kind);
    const head = typeof namespace === 'string' && typeof key === 'string' ? ([namespace, key] as const) : undefined;
    return fromVersion(kind, this.#start('getVersion', [namespace, key], head));
  }

  #start(method: MethodName, args: readonly unknown[], head: Call['head']): Promise<unknown> {
    const p = new Promise<unknown>((resolve, reject) => {
      const call: Call = { id: this.#nextId++, method, args, resolve, reject, target: undefined, sent: false, ...(head !== undefined ? { head } : {}) };
      this.#calls.add(call, this.#owner);
    });
    const settled = p.then(
      () => undefined,
      () => undefined,
    );
    this.#inflight.add(settled);
    void settled.then(() => this.#inflight.delete(settled));
    return p;
  }

  /** Starts a feed wherever the database is; events go to `handler` in this tab. */
  subscribe(
    spec: Readonly<Record<string, unknown>>,
    since: number | undefined,
    bufferSize: number | undefined,
    handler: (event: FeedEvent) => void | Promise<void>,
  ): RemoteSubscription {
    const sub = new RemoteSubscription(this.#nextId++, spec, since, bufferSize, handler, (s) => this.#unsubscribe(s));
    if (this.#closed !== undefined) sub.end(new ClosedError());
    else if (this.#failed !== undefined) sub.end(this.#failed);
    else {
      this.#subs.set(sub.id, sub);
      this.#sendSub(sub);
    }
    return sub;
  }

  /**
   * Leaves: waits for this tab's calls, ends its subscriptions; the owner then closes
   * its worker (flushed, files released) and lets the next tab take over.
   */
  close(): Promise<void> {
    this.#cache.clear();
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    // Queued writes finish, as the local close finishes them (if the owner goes away
    // meanwhile, this tab may become the owner and run them itself).
    while (this.#inflight.size > 0) await Promise.all([...this.#inflight]);
    for (const sub of [...this.#subs.values()]) sub.unsubscribe();
    await this.#owning;
    const worker = this.#worker;
    if (worker !== undefined && this.#failed === undefined) {
      this.#relay?.closing();
      await worker.close();
      this.#post({ t: 'bye', owner: this.me });
    }
    this.#shutDown();
  }

  /** Lets go of everything: the lock (or the place in its queue), the worker, the channel. */
  #shutDown(): void {
    this.#cache.clear();
    this.#dropEarly();
    this.#worker?.terminate();
    this.#worker = undefined;
    this.#lockAbort.abort();
    this.#releaseLock?.();
    this.#relay?.stop();
    this.#channel.close();
    this.#releaseTabLock?.();
  }

  /** The lock is ours: open the database in a worker, announce it, hold the lock until closed. */
  async #own(): Promise<void> {
    if (this.#lockAbort.signal.aborted || this.#failed !== undefined) return;
    let opened!: () => void;
    this.#owning = new Promise<void>((r) => (opened = r));
    try {
      await this.#openWorker();
    } finally {
      opened();
    }
    if (this.#worker === undefined) return;
    // Held until this tab shuts down (closing, or its worker crashed).
    if (!this.#lockAbort.signal.aborted) await new Promise<void>((resolve) => (this.#releaseLock = resolve));
  }

  /** Terminates the worker started at join, if it was not used. */
  #dropEarly(): void {
    this.#early?.terminate();
    this.#early = undefined;
  }

  async #openWorker(): Promise<void> {
    // The sync goes on with the new owner: the one the database ran (taking over), else
    // the one this tab asked for at start.
    const known = this.#state;
    const sync = known === undefined ? this.#o.options.syncWith : known.sync === null ? undefined : { ...known.sync.options, url: known.sync.url };
    const options: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(this.#o.options)) if (k !== 'syncWith') options[k] = v;
    if (sync !== undefined) options.syncWith = sync;
    const early = this.#early;
    this.#early = undefined;
    try {
      this.#worker = await OwnerWorker.start(
        this.#o.worker,
        this.#o.path,
        options,
        this.#o.retryMs,
        (m) => this.#fromWorker(m),
        (e) => this.#crashed(e),
        early,
      );
    } catch (e) {
      // Opening failed here: this tab cannot serve. Letting go of the lock lets the next
      // tab try (and fail or succeed on its own).
      this.#fail(e);
      return;
    }
    for (const w of this.#worker.warnings) this.#o.onWarning(w);
    this.#relay = new Relay(this.me, this.#worker, (m) => this.#post(m), tabLockName);
    this.#ownerIs(this.me, this.#worker.state);
    this.#post({ t: 'owner', owner: this.me, state: this.#worker.state });
  }

  /** The worker died under us: nothing here can go on; another tab takes over. */
  #crashed(error: KoruError): void {
    this.#fail(error);
    this.#shutDown();
  }

  /** This tab can no longer reach the database: everything pending and later fails with `error`. */
  #fail(error: unknown): void {
    if (this.#failed !== undefined) return;
    this.#failed = error;
    this.#cache.clear();
    this.#ready.reject(error);
    this.#calls.failAll(error);
    for (const s of this.#subs.values()) s.end(error);
    this.#subs.clear();
  }

  #post(m: TabMessage): void {
    try {
      this.#channel.postMessage(this.#relay === undefined ? m : this.#relay.stamp(m));
    } catch {
      // The channel is closed: this tab is leaving.
    }
  }

  #sendSub(sub: RemoteSubscription): void {
    const owner = this.#owner;
    sub.target = owner;
    if (owner === undefined) return;
    const spec = sub.resumeFrom === undefined ? sub.spec : { ...sub.spec, since: sub.resumeFrom };
    if (owner === this.me) this.#worker!.post({ t: 'sub', id: sub.id, spec });
    else this.#post({ t: 'sub', to: owner, from: this.me, id: sub.id, spec });
  }

  #unsubscribe(sub: RemoteSubscription): void {
    this.#subs.delete(sub.id);
    const owner = sub.target;
    if (owner === undefined || owner !== this.#owner) return;
    if (owner === this.me) this.#worker?.post({ t: 'unsub', id: sub.id });
    else this.#post({ t: 'unsub', to: owner, from: this.me, id: sub.id });
  }

  /** What the owner says now (`sync` undefined: unchanged). */
  #setSeq(seq: number, problems?: readonly DefinitionProblem[], sync?: SyncInfo | null): void {
    const s = this.#state;
    if (s === undefined) return;
    if (seq > s.seq || problems !== undefined || sync !== undefined) {
      this.#state = {
        ...s,
        seq: Math.max(seq, s.seq),
        problems: problems === undefined ? s.problems : deepFreeze(problems),
        sync: sync === undefined ? s.sync : sync === null ? null : deepFreeze(sync),
      };
    }
    if (sync !== undefined) this.#syncChanged(sync);
  }

  #syncChanged(sync: SyncInfo | null): void {
    for (const listener of [...this.#syncListeners]) {
      try {
        listener(sync);
      } catch {
        // One listener's failure is its own.
      }
    }
  }

  /** `owner` runs the database now: send it whatever has no answer. */
  #ownerIs(owner: string, state: DatabaseState): void {
    if (owner === this.#owner) {
      this.#setSeq(state.seq, state.problems, state.sync);
      return;
    }
    this.#owner = owner;
    // A new owner's worker is another stream: nothing read from the old one is followed.
    this.#cache.clear();
    if (owner !== this.me) this.#dropEarly();
    // Handed out by the getters as the local handle hands them out: frozen.
    deepFreeze(state.recovery);
    deepFreeze(state.problems);
    deepFreeze(state.sync);
    this.#state = this.#state === undefined ? state : { ...state, seq: Math.max(state.seq, this.#state.seq) };
    this.#syncChanged(state.sync);
    this.#calls.retarget(owner);
    for (const sub of this.#subs.values()) if (sub.target !== owner) this.#sendSub(sub);
    this.#ready.resolve();
  }

  /** The owner said `bye`: it answered everything it ran, so what it did not answer was not run. */
  #ownerGone(): void {
    this.#owner = undefined;
    this.#cache.clear();
    this.#calls.unsent();
    for (const sub of this.#subs.values()) sub.target = undefined;
  }

  /** A call's answer, `from` the owner whose stream carried it. */
  #settle(id: number, ok: boolean, value: unknown, seq: number, from: string): void {
    this.#setSeq(seq);
    const call = this.#calls.take(id);
    if (call === undefined) return;
    // An answer fills the cache only from the stream the cache follows (a late answer of
    // an owner that is gone does not), and only while this tab is open.
    const head = call.head;
    if (head !== undefined) value = this.#cache.admit(head[0], head[1], ok, value, from === this.#owner && this.#closed === undefined && this.#failed === undefined);
    if (ok) call.resolve(value);
    else call.reject(errorFromWire(value));
  }

  #fromWorker(m: FromWorker): void {
    // Commits' keys first, here and (with this tab's next message on the channel, before
    // anything of the stream that came after them) to the other tabs: ./tab-cache.ts.
    if (m.inv !== undefined) {
      this.#cache.apply(m.inv);
      this.#relay?.pass(m.inv);
    }
    if (this.#relay?.fromWorker(m) === true) return;
    switch (m.t) {
      case 'result':
        return this.#settle(m.id, true, m.value, m.seq, this.me);
      case 'error':
        return this.#settle(m.id, false, m.error, m.seq, this.me);
      case 'subbed':
        return this.#subs.get(m.id)?.started(m.since);
      case 'event':
        return this.#subs.get(m.id)?.event(m.event);
      case 'end':
        return this.#subEnded(m.id, m.error);
      case 'state':
        this.#setSeq(m.seq, m.problems, m.sync);
        return this.#post({ t: 'state', owner: this.me, seq: m.seq, problems: m.problems, sync: m.sync });
      default:
        return;
    }
  }

  #subEnded(id: number, error: unknown): void {
    const sub = this.#subs.get(id);
    if (sub === undefined) return;
    this.#subs.delete(id);
    sub.end(error === undefined ? undefined : errorFromWire(error));
  }

  #fromTab(m: TabMessage): void {
    // Only the owner sends them, on whatever it posts next (to whichever tab): first.
    // (One from an owner gone would only drop entries or clear: never wrong.)
    if (m.inv !== undefined) this.#cache.apply(m.inv);
    switch (m.t) {
      case 'hello':
        if (this.owning && this.#relay?.open === true) this.#post({ t: 'owner', owner: this.me, state: this.#state! });
        return;
      case 'owner':
        if (m.owner !== this.me && this.#failed === undefined) this.#ownerIs(m.owner, m.state);
        return;
      case 'bye':
        if (m.owner === this.#owner) this.#ownerGone();
        return;
      case 'state':
        if (m.owner === this.#owner) this.#setSeq(m.seq, m.problems, m.sync);
        return;
      case 'inval':
        return; // its `inv`, above, is all it says
      case 'calls':
      case 'sub':
      case 'unsub':
        if (m.to === this.me) this.#relay?.fromTab(m);
        return;
      default:
        break;
    }
    if (m.to !== this.me) return;
    switch (m.t) {
      case 'result':
        return this.#settle(m.id, true, m.value, m.seq, m.from);
      case 'error':
        return this.#settle(m.id, false, m.error, m.seq, m.from);
      case 'retry':
        // The owner is closing and did not run them: they go to the next owner.
        this.#calls.unsent(m.ids);
        return;
      case 'subbed':
        return this.#subs.get(m.id)?.started(m.since);
      case 'event':
        return this.#subs.get(m.id)?.event(m.event);
      case 'end':
        return this.#subEnded(m.id, m.error);
    }
  }
}
