/**
 * A running sync of one database with one server (`KoruDelta.sync`): connects with
 * `KoruClient` (which reconnects by itself), subscribes to the server's feed as a
 * signal to pull, pulls from the persisted cursor until caught up, pushes the local
 * versions after the push cursor on each local commit, and does both again at each
 * (re)connect. One loop does the work, so pulls and pushes never overlap.
 */
import { KoruClient, type Subscription } from '@koru/client';
import { ClosedError, type CausalStorage } from '@koru/storage';
import { lastServer, loadCursors, saveCursors, saveLastServer } from './cursors.js';
import { PullOrphans, pullNext } from './pull.js';
import { countOwn, pushNext } from './push.js';
import { StatusBox } from './status.js';
import { errorOf, type SyncHandle, type SyncStatus, type SyncOptions } from './types.js';

/** Retry delays after a failed step or connect, ms: doubled up to the ceiling. */
const RETRY_MIN_MS = 200;
const RETRY_MAX_MS = 10_000;

interface Waiter {
  readonly localSeq: number;
  /** The pull counter when it was made: the first pull started after it gives the server seq to reach. */
  readonly pullsBefore: number;
  serverSeq: number | undefined;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

/** See the module doc. Made by {@link startSync}. */
export class SyncSession implements SyncHandle {
  readonly #storage: CausalStorage;
  readonly #url: string;
  readonly #options: SyncOptions;
  readonly #namespaces: ReadonlySet<string> | undefined;
  readonly #box = new StatusBox();
  readonly #onStop: () => void;
  #client: KoruClient | undefined;
  #subs: Subscription[] = [];
  #stopped = false;
  #stopping: Promise<void> | undefined;
  /**
   * The server node the cursors belong to: before the first welcome, the one last synced
   * with at this URL, if any (so `pending` is right while offline); checked at each welcome.
   */
  #server: string | undefined;
  #pull = 0;
  #push = 0;
  /** Local seq through which `pending` was counted. */
  #counted = 0;
  #pending = 0;
  readonly #orphans = new PullOrphans();
  #wantPull = false;
  #wantPush = false;
  #running: Promise<void> | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #retryMs = RETRY_MIN_MS;
  /** Ends the connect loop's pause at once (stop). */
  #wake: (() => void) | undefined;
  #pullsStarted = 0;
  readonly #waiters = new Set<Waiter>();
  readonly #offCommit: () => void;

  constructor(storage: CausalStorage, url: string, options: SyncOptions, namespaces: ReadonlySet<string> | undefined, onStop: () => void) {
    this.#storage = storage;
    this.#url = url;
    this.#options = options;
    this.#namespaces = namespaces;
    this.#onStop = onStop;
    const last = lastServer(storage, url);
    const c = last === undefined ? { pull: 0, push: 0 } : loadCursors(storage, last, namespaces);
    this.#server = last;
    this.#setCursors(c.pull, c.push);
    this.#offCommit = storage.onCommit((seq) => {
      if (seq < 0) return void this.stop();
      this.#countTo(seq);
      this.#wantPush = true;
      this.#kick();
    });
    void this.#connect();
  }

  get status(): SyncStatus {
    return this.#box.status;
  }

  onStatus(listener: (status: SyncStatus) => void): () => void {
    return this.#box.listen(listener);
  }

  synced(): Promise<void> {
    if (this.#stopped) return Promise.reject(new ClosedError('the sync was stopped'));
    return new Promise<void>((resolve, reject) => {
      this.#waiters.add({ localSeq: this.#storage.seq, pullsBefore: this.#pullsStarted, serverSeq: undefined, resolve, reject });
      this.#wantPull = true;
      this.#wantPush = true;
      this.#kick();
    });
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#stopped = true;
    this.#offCommit();
    clearTimeout(this.#retryTimer);
    this.#wake?.();
    for (const s of this.#subs) s.unsubscribe();
    this.#subs = [];
    const client = this.#client;
    this.#client = undefined;
    await client?.close().catch(() => undefined);
    await this.#running?.catch(() => undefined);
    const closed = new ClosedError('the sync was stopped');
    for (const w of this.#waiters) w.reject(closed);
    this.#waiters.clear();
    this.#box.update({ online: false });
    this.#onStop();
  }

  // ---- connection ----------------------------------------------------------------

  /** Connects, retrying with backoff until it succeeds or the sync stops (KoruClient reconnects after that). */
  async #connect(): Promise<void> {
    let delay = RETRY_MIN_MS;
    while (!this.#stopped) {
      // Read by the state listener, which is first called before `connect` resolves.
      let client: KoruClient | undefined;
      try {
        client = await KoruClient.connect(this.#url, {
          ...(this.#options.token !== undefined ? { token: this.#options.token } : {}),
          ...(this.#options.WebSocket !== undefined ? { WebSocket: this.#options.WebSocket } : {}),
          reconnect: { initialDelayMs: RETRY_MIN_MS, maxDelayMs: RETRY_MAX_MS },
          onStateChange: (state, error) => this.#onState(client, state, error),
        });
        if (this.#stopped) return void (await client.close());
        this.#client = client;
        this.#opened(client);
        return;
      } catch (e) {
        this.#box.update({ online: false, error: errorOf(e) });
        if (this.#stopped) return;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.#wake = undefined;
        delay = Math.min(delay * 2, RETRY_MAX_MS);
      }
    }
  }

  #onState(client: KoruClient | undefined, state: string, error: unknown): void {
    if (this.#stopped || client === undefined || client !== this.#client) return;
    if (state === 'open') this.#opened(client);
    else if (state === 'reconnecting') {
      this.#box.update({ online: false });
      // Subscribed again fresh at the next open: a replay of everything missed would only say "pull".
      for (const s of this.#subs) s.unsubscribe();
      this.#subs = [];
    } else if (state === 'closed') {
      // Given up (a wrong token, another protocol): start over, with backoff.
      this.#client = undefined;
      this.#box.update({ online: false, ...(error !== undefined ? { error: errorOf(error) } : {}) });
      void this.#connect();
    }
  }

  /** Welcomed (first time or again): cursors of this server, a fresh feed subscription, pull and push. */
  #opened(client: KoruClient): void {
    const node = client.nodeId;
    if (node !== this.#server) {
      const c = loadCursors(this.#storage, node, this.#namespaces);
      this.#server = node;
      this.#setCursors(c.pull, c.push);
      saveLastServer(this.#storage, this.#url, node);
    }
    this.#box.update({ online: true });
    for (const s of this.#subs) s.unsubscribe();
    this.#subs = [];
    const specs = this.#namespaces === undefined || this.#namespaces.size > 8 ? [{}] : [...this.#namespaces].map((namespace) => ({ namespace }));
    for (const spec of specs) this.#subscribe(client, spec);
    this.#wantPull = true;
    this.#wantPush = true;
    this.#kick();
  }

  /**
   * Subscribes to the server's feed: each event only says "pull" (the pull brings the
   * versions whole, from the cursor, so a `lagged` or `pruned` event loses nothing).
   * A subscription the server ends (lagged, failed) is replaced while connected.
   */
  #subscribe(client: KoruClient, spec: { readonly namespace?: string }): void {
    const signal = (): void => {
      this.#wantPull = true;
      this.#kick();
    };
    const sub = client.subscribe(spec, signal);
    this.#subs.push(sub);
    const ended = (after: number): void => {
      signal();
      const i = this.#subs.indexOf(sub);
      // Ended by us (reconnecting, stopping): the next open subscribes again, if any.
      if (i < 0) return;
      this.#subs.splice(i, 1);
      const again = (): void => {
        if (!this.#stopped && client === this.#client && client.state === 'open') this.#subscribe(client, spec);
      };
      if (after === 0) again();
      else setTimeout(again, after);
    };
    // Lagged or ended by the server: again at once; refused: again after a pause (not in a tight loop).
    void sub.done.then(
      () => ended(0),
      (e: unknown) => {
        this.#box.update({ error: errorOf(e) });
        ended(RETRY_MAX_MS);
      },
    );
  }

  /** New cursors (a new server, or one that lost history): pending counted again. */
  #setCursors(pull: number, push: number): void {
    this.#pull = pull;
    this.#push = push;
    this.#orphans.clear();
    this.#counted = this.#storage.seq;
    this.#pending = countOwn(this.#storage, push, this.#counted, this.#storage.nodeId, this.#namespaces);
    this.#box.update({ pending: this.#pending, lastSyncedSeq: pull, lastPushedSeq: push });
  }

  /** Counts the local versions committed through `seq` (after those counted). */
  #countTo(seq: number): void {
    if (seq <= this.#counted) return;
    this.#pending += countOwn(this.#storage, Math.max(this.#counted, this.#push), seq, this.#storage.nodeId, this.#namespaces);
    this.#counted = seq;
    this.#box.update({ pending: this.#pending });
  }

  // ---- the work loop -----------------------------------------------------------------

  #kick(): void {
    if (this.#running !== undefined || this.#stopped) return;
    this.#running = this.#work().finally(() => {
      this.#running = undefined;
      // Asked for while the last step was finishing.
      if ((this.#wantPull || this.#wantPush) && this.#retryTimer === undefined && this.#client?.state === 'open') this.#kick();
    });
  }

  async #work(): Promise<void> {
    while (!this.#stopped && (this.#wantPull || this.#wantPush)) {
      const client = this.#client;
      if (client === undefined || client.state !== 'open' || this.#server !== client.nodeId) return;
      try {
        if (this.#wantPush) {
          this.#wantPush = false;
          await this.#pushAll(client);
        }
        if (this.#wantPull) {
          this.#wantPull = false;
          await this.#pullAll(client);
        }
        this.#retryMs = RETRY_MIN_MS;
        if (this.#box.status.error !== undefined) this.#box.update({ error: undefined });
      } catch (e) {
        if (this.#stopped) return;
        this.#box.update({ error: errorOf(e) });
        // Again after a pause (a lost connection: at the next open, which asks for both).
        this.#wantPull = true;
        this.#wantPush = true;
        this.#retryTimer = setTimeout(() => {
          this.#retryTimer = undefined;
          this.#kick();
        }, this.#retryMs);
        this.#retryMs = Math.min(this.#retryMs * 2, RETRY_MAX_MS);
        return;
      }
      this.#settleWaiters();
    }
  }

  async #pushAll(client: KoruClient): Promise<void> {
    const server = this.#server!;
    for (;;) {
      const pushed = await pushNext(client, this.#storage, this.#push, this.#storage.nodeId, this.#namespaces);
      if (pushed === undefined || this.#stopped || server !== this.#server) return;
      // Only those counted leave `pending` (a version past `counted` was never added).
      let acked = 0;
      for (const v of pushed.own) if (v.seq <= this.#counted) acked++;
      this.#pending -= acked;
      this.#push = pushed.through;
      if (this.#push > this.#counted) this.#counted = this.#push;
      this.#save();
      this.#box.update({ pending: this.#pending, lastPushedSeq: this.#push });
      this.#settleWaiters();
    }
  }

  async #pullAll(client: KoruClient): Promise<void> {
    const server = this.#server!;
    for (;;) {
      const started = ++this.#pullsStarted;
      const pulled = await pullNext(client, this.#storage, this.#pull, this.#namespaces, this.#orphans);
      if (this.#stopped || server !== this.#server) return;
      for (const w of this.#waiters) if (w.serverSeq === undefined && w.pullsBefore < started) w.serverSeq = pulled.head;
      if (pulled.head < this.#pull) {
        // The server has fewer changes than we pulled: restored from an older copy. Start
        // over both ways (what it lost of ours must be pushed again; duplicates are skipped).
        this.#setCursors(0, 0);
        this.#save();
        this.#wantPush = true;
        continue;
      }
      this.#pull = pulled.next;
      this.#save();
      this.#box.update({ lastSyncedSeq: this.#pull });
      this.#settleWaiters();
      if (pulled.next >= pulled.head) return;
    }
  }

  #save(): void {
    // A version waiting for its predecessor is pulled again after a restart.
    const pull = this.#orphans.resumeBefore() ?? this.#pull;
    saveCursors(this.#storage, this.#server!, this.#namespaces, { pull: Math.min(pull, this.#pull), push: this.#push });
  }

  #settleWaiters(): void {
    for (const w of this.#waiters) {
      if (this.#push >= w.localSeq && w.serverSeq !== undefined && this.#pull >= w.serverSeq) {
        this.#waiters.delete(w);
        w.resolve();
      }
    }
  }
}
