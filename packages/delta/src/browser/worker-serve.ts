/**
 * The database worker's side: opens the database on the adapter the factory gives and
 * serves the owning tab's calls and subscriptions over a port (the worker's global
 * scope, or any MessagePort). One port, one database; the tab addresses everything by
 * ids it allocates. The adapter factory is injected so the same server runs on OPFS in
 * the shipped worker and on memory in tests.
 */
import { ErrorCodes, InvalidArgumentError, isKoruError } from '@koru/engine';
import type { StorageAdapter } from '@koru/storage';
import type { OpfsListing } from '@koru/storage/browser';
import type { Subscription, SubscriptionSpec } from '@koru/query';
import { KoruDelta } from '../koru-delta.js';
import type { DurableOptions } from '../platform.js';
import type { SyncHandle } from '../sync/types.js';
import { errorToWire } from './errors.js';
import { isMethod, type FromWorker, type OpenRequest, type SyncInfo, type ToWorker } from './protocol.js';
import { answerHead, InvalidationStream } from './worker-invalidations.js';

/**
 * Opens the storage adapter of the database at `path` (in the worker); `listing`: its
 * OPFS pool as the owning tab listed it, if it did (on the first attempt only).
 */
export type WorkerAdapterFactory = (path: string, options: DurableOptions, listing?: OpfsListing) => StorageAdapter | Promise<StorageAdapter>;

/** The side of a port the worker talks through (a DedicatedWorkerGlobalScope, a MessagePort). */
export interface WorkerPort {
  postMessage(message: unknown): void;
  onmessage: ((event: MessageEvent) => void) | null;
}

const DURABLE_KEYS = ['sync', 'syncIntervalMs', 'memtableBytes', 'cacheBytes', 'repair'] as const;
const START_KEYS = ['maxValueBytes', 'maxDepth', 'valueCacheBytes', 'scanCacheBytes'] as const;

function pick(from: Readonly<Record<string, unknown>>, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (from[k] !== undefined) out[k] = from[k];
  return out;
}

/**
 * True for a failure to open that a dead owner's worker still holding the files
 * explains: the lock (DATABASE_LOCKED), or the browser refusing a second access handle
 * (NoModificationAllowedError) before that worker is gone.
 */
function heldByAnother(e: unknown): boolean {
  if (isKoruError(e)) return e.code === ErrorCodes.DATABASE_LOCKED;
  return e instanceof Error && (e.name === 'NoModificationAllowedError' || e.name === 'InvalidStateError');
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * What makes two sync calls the same sync: the server's URL (as parsed) and the options,
 * keys in order and undefined ones left out (`{ token: undefined }` is no token).
 */
function syncSettings(url: string, options: Readonly<Record<string, unknown>>): string {
  const sorted = (_: string, v: unknown): unknown =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v;
  let href = url;
  try {
    href = new URL(url).href;
  } catch {
    // Not a URL: the database refuses it with INVALID_ARGUMENT.
  }
  return JSON.stringify({ url: href, options }, sorted);
}

/** Serves one database over `port`; the first message must be `open`. */
export function serveDatabase(port: WorkerPort, openAdapter: WorkerAdapterFactory): void {
  let db: KoruDelta | undefined;
  let closing = false;
  const subs = new Map<number, Subscription>();
  const inflight = new Set<Promise<unknown>>();
  let postedSeq = -1;
  let statePending = false;
  // The database's sync with a server (at most one), and what it was started with.
  let sync: { handle: SyncHandle; url: string; options: Readonly<Record<string, unknown>> } | undefined;
  let postedSync: SyncInfo | null = null;
  // A sync being started (its settings, see syncSettings): a same call meanwhile waits for it.
  let syncStarting: { url: string; settings: string; done: Promise<void> } | undefined;
  // Every message goes out through it: the commits' keys ride on the next one.
  const invals = new InvalidationStream();
  const syncInfo = (): SyncInfo | null => (sync === undefined ? null : { url: sync.url, options: sync.options, status: sync.handle.status });

  const post = (m: FromWorker): void => {
    try {
      invals.send(port, m);
    } catch (e) {
      // A value the browser cannot clone (never from the database's own results, but
      // never lose the reply): the caller gets the failure instead.
      if (m.t === 'result') invals.send(port, { t: 'error', id: m.id, error: errorToWire(e), seq: m.seq });
      else throw e;
    }
  };

  // After commits and sync status changes, tell the tab (once per burst): forwarding
  // tabs learn it too.
  const postState = (): void => {
    statePending = false;
    const info = syncInfo();
    if (db === undefined || (db.seq === postedSeq && info?.status === postedSync?.status && (info === null) === (postedSync === null))) return;
    postedSeq = db.seq;
    postedSync = info;
    post({ t: 'state', seq: db.seq, problems: db.problems, sync: info });
  };
  const stateChanged = (): void => {
    if (statePending) return;
    statePending = true;
    queueMicrotask(postState);
  };

  /**
   * Starts the database's sync (the tab checked the arguments; the database checks them
   * again). The sync is the database's, shared by every tab: a call with the URL and
   * options of the one running or starting joins it (each tab of an app, and each reload,
   * asks for the same sync); one with other settings is INVALID_ARGUMENT.
   */
  async function startSync(db: KoruDelta, url: string, options: Readonly<Record<string, unknown>>): Promise<void> {
    // A sync that ended on its own (the database no longer runs it) is joined by no one.
    if (sync !== undefined && db.syncStatus === undefined) sync = undefined;
    const settings = syncSettings(url, options);
    const current = sync !== undefined ? { url: sync.url, settings: syncSettings(sync.url, sync.options) } : syncStarting;
    if (current !== undefined) {
      if (current.settings === settings) return sync === undefined ? syncStarting?.done : undefined;
      throw new InvalidArgumentError(
        `this database syncs with ${current.url} already, with other settings (one sync, shared by every tab): stop() it before syncing with ${url}`,
      );
    }
    const done = (async () => {
      const handle = await db.sync(url, options);
      sync = { handle, url, options };
      handle.onStatus(stateChanged);
      stateChanged();
    })();
    syncStarting = { url, settings, done };
    try {
      await done;
    } finally {
      if (syncStarting?.done === done) syncStarting = undefined;
    }
  }

  async function stopSync(): Promise<void> {
    const running = sync;
    sync = undefined;
    await running?.handle.stop();
    stateChanged();
  }

  async function open(req: OpenRequest): Promise<void> {
    const deadline = Date.now() + req.retryMs;
    // A retry lists afresh: the files were held by a worker that may have changed them.
    let listing = req.listing;
    for (;;) {
      const warnings: string[] = [];
      let adapter: StorageAdapter | undefined;
      try {
        adapter = await openAdapter(req.path, pick(req.options, DURABLE_KEYS) as DurableOptions, listing);
        db = await KoruDelta.start({ ...pick(req.options, START_KEYS), adapter, onWarning: (m) => warnings.push(m) });
      } catch (e) {
        if (heldByAnother(e) && Date.now() < deadline) {
          listing = undefined;
          await sleep(50);
          continue;
        }
        post({ t: 'failed', error: errorToWire(e) });
        return;
      }
      const opened = db;
      opened.storage.onCommit(stateChanged);
      invals.follow(opened.storage, post);
      // A sync asked for at start, or the one the previous owner ran: it goes on here.
      const wanted = req.options.syncWith as { url?: unknown } | undefined;
      if (wanted !== undefined) {
        const { url, ...rest } = wanted;
        try {
          await startSync(opened, url as string, rest);
        } catch (e) {
          await opened.close().catch(() => undefined);
          db = undefined;
          post({ t: 'failed', error: errorToWire(e) });
          return;
        }
      }
      postedSeq = opened.seq;
      postedSync = syncInfo();
      post({ t: 'ready', state: { nodeId: opened.nodeId, seq: opened.seq, problems: opened.problems, recovery: opened.recovery, sync: postedSync }, warnings });
      return;
    }
  }

  function call(db: KoruDelta, id: number, method: string, args: readonly unknown[]): void {
    // The tabs' read caches need this answer in its place among the commits.
    if (method === 'getVersion') return answerHead(db, id, args, post);
    let p: Promise<unknown>;
    if (!isMethod(method)) {
      p = Promise.reject(new TypeError(`no such method ${String(method)}`));
    } else {
      try {
        if (method === 'exportVersions') p = collect(db.exportVersions(...(args as Parameters<KoruDelta['exportVersions']>)));
        else if (method === 'sync') p = startSync(db, args[0] as string, (args[1] ?? {}) as Readonly<Record<string, unknown>>);
        else if (method === 'syncStop') p = stopSync();
        else if (method === 'syncSynced') p = sync === undefined ? Promise.resolve() : sync.handle.synced();
        else p = (db[method] as (...a: readonly unknown[]) => Promise<unknown>)(...args);
      } catch (e) {
        p = Promise.reject(e);
      }
    }
    const settled = p.then(
      (value) => post({ t: 'result', id, value: method === 'compact' || method === 'dropIndex' || method === 'deleteView' || method.startsWith('sync') ? undefined : value, seq: db.seq }),
      (e: unknown) => post({ t: 'error', id, error: errorToWire(e), seq: db.seq }),
    );
    inflight.add(settled);
    void settled.finally(() => inflight.delete(settled));
  }

  function subscribe(db: KoruDelta, id: number, spec: SubscriptionSpec): void {
    // A spec without `since` starts at the current seq: say which, so the tab can resume
    // from it with another owner.
    const since = spec.since ?? db.seq;
    let sub: Subscription;
    try {
      sub = db.subscribe({ ...spec, since }, (event) => post({ t: 'event', id, event }));
    } catch (e) {
      post({ t: 'end', id, error: errorToWire(e) });
      return;
    }
    subs.set(id, sub);
    post({ t: 'subbed', id, since });
    sub.done.then(
      () => {
        // Ended by the feed (lagged, until reached): tell the tab. Unsubscribed, or this
        // worker closing: the tab knows (and resumes elsewhere).
        if (subs.delete(id) && !closing) post({ t: 'end', id });
      },
      (e: unknown) => {
        if (subs.delete(id) && !closing) post({ t: 'end', id, error: errorToWire(e) });
      },
    );
  }

  async function close(db: KoruDelta | undefined): Promise<void> {
    closing = true;
    for (const s of subs.values()) s.unsubscribe();
    subs.clear();
    // Every call already received is answered first: the tab relays those answers
    // before it tells the other tabs it is gone.
    while (inflight.size > 0) await Promise.allSettled([...inflight]);
    sync = undefined;
    try {
      await db?.close();
    } finally {
      post({ t: 'closed' });
    }
  }

  port.onmessage = (event: MessageEvent): void => {
    const m = event.data as ToWorker;
    if (m.t === 'open') {
      void open(m);
      return;
    }
    if (m.t === 'close') {
      void close(db);
      return;
    }
    if (db === undefined || closing) {
      // The tab sends nothing before `ready` nor after `close`; answer anyway.
      if (m.t === 'calls') for (const c of m.calls) post({ t: 'error', id: c.id, error: errorToWire(new TypeError('the database is not open')), seq: 0 });
      return;
    }
    // All in this task: concurrent writes join one commit.
    if (m.t === 'calls') for (const c of m.calls) call(db, c.id, c.method, c.args);
    else if (m.t === 'sub') subscribe(db, m.id, m.spec);
    else if (m.t === 'unsub') {
      const s = subs.get(m.id);
      subs.delete(m.id);
      s?.unsubscribe();
    }
  };
}
