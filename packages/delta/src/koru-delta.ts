/**
 * KoruDelta: the handle users import. Zero configuration: `KoruDelta.start()` is an
 * in-memory database; `KoruDelta.start({ path })` a durable one (Node). Every method
 * is async and fails only with KoruError subclasses that carry a stable `code`.
 * Values handed out are deep-frozen: mutating them throws in strict mode and never
 * changes stored data.
 */
import { InvalidArgumentError, isKoruError, UnsupportedError, type JsonValue } from '@koru/engine';
import { IoError } from '@koru/storage/errors';
import { validateKey, validateNamespace } from '@koru/storage/names';
import type {
  CausalStorage,
  HistoryOptions,
  ImportedVersion,
  ListKeysOptions,
  RecoveryReport,
  Version,
  VerifyReport,
  RetentionPolicy,
  PurgeResult,
} from '@koru/storage';
// Types only: the engine's code is reached through `LocalEngine` (./local-engine.ts), so
// that a browser page whose databases run in a worker does not bundle it.
import type {
  Aggregation,
  IndexSet,
  ViewSet,
  FilterInput,
  Query,
  IndexInfo,
  DefinitionProblem,
  ViewDefinition,
  ViewInfo,
  ViewResult,
  ChangeEvent,
  LaggedEvent,
  PrunedEvent,
  QueryResult,
  Subscription,
  SubscriptionSpec,
} from '@koru/query';
import { diffInHistory } from './diff.js';
import { loadedLocalEngine, loadLocalEngine } from './engine-slot.js';
import type { LocalEngine } from './local-engine.js';
import { pathAdapterFactory, sharedDatabaseOpener, storeOpener } from './platform.js';
import { loadSyncModule } from './lazy-modules.js';
import { toEpochMs, toTimePoint, type TimeInput } from './time.js';
import { checkSyncOptions, checkSyncUrl } from './sync/options.js';
import type { SyncHandle, SyncOptions, SyncStatus } from './sync/types.js';
import {
  AGGREGATE_OPTIONS,
  checkAck,
  checkIfVersion,
  checkOptions,
  optionsOf,
  QUERY_HISTORY_OPTIONS,
  QUERY_OPTIONS,
  type AggregateOptions,
  type DatabaseStats,
  type DiffOptions,
  type PutManyItem,
  type PutOptions,
  type QueryHistoryOptions,
  type QueryOptions,
  type Replicator,
  type StartOptions,
  type VersionDiff,
  type VersionOf,
} from './options.js';

export type {
  AckLevel,
  AggregateOptions,
  DatabaseStats,
  DiffOptions,
  PutManyItem,
  PutOptions,
  QueryHistoryOptions,
  QueryOptions,
  Replicator,
  StartOptions,
  StorageEstimateInfo,
  VersionDiff,
  VersionOf,
  VersionRef,
} from './options.js';

/** The KoruDelta database handle. */
export class KoruDelta {
  readonly #e: LocalEngine;
  readonly #s: CausalStorage;
  readonly #indexes: IndexSet;
  readonly #views: ViewSet;
  #replicator: Replicator | undefined;
  #sync: SyncHandle | undefined;

  /**
   * `undefined` only for a subclass that forwards every method elsewhere (the browser's
   * shared database, whose engine runs in a worker): it then has no storage here, and
   * must override every public member (a test enumerates them).
   */
  protected constructor(storage: CausalStorage | undefined) {
    if (storage === undefined) {
      this.#e = this.#s = this.#indexes = this.#views = undefined as never;
      return;
    }
    // Loaded: only start() constructs a local handle, after loading the engine.
    this.#e = loadedLocalEngine();
    this.#s = storage;
    this.#indexes = new this.#e.IndexSet(storage);
    this.#views = new this.#e.ViewSet(storage);
  }

  /** Opens a database: in memory by default, durable with `path`. */
  static async start(options: StartOptions = {}): Promise<KoruDelta> {
    options ??= {};
    if (typeof options !== 'object') throw new InvalidArgumentError('start options must be an object');
    checkOptions(options);
    if (options.store !== undefined) {
      const open = storeOpener();
      if (open === undefined) throw new UnsupportedError('a PostgreSQL store needs the Node build of @koru/delta');
      return open(options.store, options);
    }
    let adapter = options.adapter;
    if (adapter === undefined && options.path !== undefined) {
      if (typeof options.path !== 'string' || options.path.length === 0) {
        throw new InvalidArgumentError('path must be a non-empty directory path');
      }
      const factory = pathAdapterFactory();
      if (factory === undefined) {
        // The browser build opens the database in a worker shared by every tab.
        const shared = sharedDatabaseOpener();
        if (shared !== undefined) return shared(options.path, options);
        throw new UnsupportedError('a durable database (path) needs the Node or browser build of @koru/delta; without them omit path');
      }
      adapter = factory(options.path, {
        ...(options.sync !== undefined ? { sync: options.sync } : {}),
        ...(options.syncIntervalMs !== undefined ? { syncIntervalMs: options.syncIntervalMs } : {}),
        ...(options.memtableBytes !== undefined ? { memtableBytes: options.memtableBytes } : {}),
        ...(options.cacheBytes !== undefined ? { cacheBytes: options.cacheBytes } : {}),
        ...(options.repair === true ? { repair: true } : {}),
      });
    }
    // In a browser page this is the first time the engine is needed: it loads now.
    const engine = await loadLocalEngine();
    let storage: CausalStorage;
    try {
      storage = await engine.CausalStorage.open({
        ...(adapter !== undefined ? { adapter } : {}),
        ...(options.maxValueBytes !== undefined ? { maxValueBytes: options.maxValueBytes } : {}),
        ...(options.maxDepth !== undefined ? { maxDepth: options.maxDepth } : {}),
        ...(options.valueCacheBytes !== undefined ? { valueCacheBytes: options.valueCacheBytes } : {}),
        ...(options.scanCacheBytes !== undefined ? { scanCacheBytes: options.scanCacheBytes } : {}),
        ...(options.now !== undefined ? { now: options.now } : {}),
      });
    } catch (e) {
      // The file system's own errors (EEXIST, ENOTDIR, EACCES...) must not escape raw.
      if (isKoruError(e)) throw e;
      const where = options.path !== undefined ? ` at ${options.path}` : '';
      throw new IoError(`cannot open the database${where}: ${e instanceof Error ? e.message : String(e)}`, e);
    }
    const warn = (m: string): void => {
      try {
        (options.onWarning ?? ((text: string) => console.warn(text)))(m);
      } catch {
        // A throwing callback must not leave an open database (and its lock) unreachable.
      }
    };
    const t = storage.recovery.truncated;
    if (t !== undefined) {
      // Past the synced checkpoint: a write cut by a crash, or (with sync 'periodic' and a
      // power loss) one acknowledged within the last sync interval.
      warn(`koru: recovered ${t.file}: cut off a torn tail of ${t.bytes} bytes at offset ${t.offset} (a write past the last sync, interrupted by a crash)`);
    }
    for (const r of storage.recovery.repaired ?? []) {
      warn(`koru: repaired ${r.file} at offset ${r.offset}: ${r.message} (${r.bytes} bytes, ${r.records} records${r.keys !== undefined ? `, ${r.keys} keys` : ''} dropped)`);
    }
    let db: KoruDelta;
    try {
      db = new KoruDelta(storage);
    } catch (e) {
      // A failed start releases what it took: the directory lock and its descriptors,
      // so a retry (in this process or another) is not told the database is in use.
      await storage.close().catch(() => undefined);
      throw e;
    }
    for (const p of db.problems) warn(`koru: ${p.message}; skipped (drop it with ${p.kind === 'view' ? 'deleteView' : 'dropIndex'})`);
    if (options.syncWith !== undefined) {
      const { url, ...rest } = options.syncWith;
      await db.sync(url, rest);
    }
    return db;
  }

  /**
   * Asks the browser to keep this origin's data (OPFS, IndexedDB) even under storage
   * pressure (`navigator.storage.persist()`); resolves to whether it is persistent now.
   * A static method because persistence is granted per origin, not per database.
   * Resolves false where there is no such notion (Node, whose files are never evicted).
   */
  static async requestPersistence(): Promise<boolean> {
    const storage = (globalThis as { navigator?: { storage?: { persist?: () => Promise<boolean> } } }).navigator?.storage;
    return typeof storage?.persist === 'function' ? storage.persist() : false;
  }

  /** This node's persistent id. */
  get nodeId(): string {
    return this.#s.nodeId;
  }

  /**
   * Stored index and view definitions that could not be loaded when the database opened
   * (written by an older version, or imported before imports were checked): each is
   * skipped, never fatal, reported here and through `onWarning` at start, and removed
   * with `dropIndex(namespace, field)` / `deleteView(name)` like any other.
   */
  get problems(): DefinitionProblem[] {
    return [...this.#indexes.problems, ...this.#views.problems];
  }

  /** What recovery did when the database was opened. */
  get recovery(): RecoveryReport {
    return this.#s.recovery;
  }

  /**
   * The store underneath, for layers built on this one (the cluster replicates through
   * it). Applications use the methods of this class.
   */
  get storage(): CausalStorage {
    return this.#s;
  }

  /** Plugs in (or with undefined, removes) the cluster layer that `ack: 'quorum' | 'all'` waits on. */
  setReplicator(replicator: Replicator | undefined): void {
    this.#replicator = replicator;
  }

  /**
   * Writes a new version; `ifVersion` makes it a compare-and-set (VERSION_CONFLICT
   * otherwise); `ack` says how many nodes must hold it first (see {@link PutOptions}).
   * `put<User>(...)` checks the value against the document type `User` (types only).
   */
  // Write methods hand back the storage's promise rather than being `async`: an async
  // function resolving with a promise costs extra microtask turns on the hottest path.
  put<T = unknown>(namespace: string, key: string, value: NoInfer<T>, options?: PutOptions): Promise<Version> {
    try {
      checkIfVersion(options?.ifVersion);
      checkAck(options?.ack);
    } catch (e) {
      return Promise.reject(e);
    }
    const written = this.#s.put(namespace, key, value, options);
    return options?.ack === undefined || options.ack === 'local' ? written : this.#confirmed(written, options.ack);
  }

  #confirmed(written: Promise<Version>, ack: 'quorum' | 'all'): Promise<Version> {
    const r = this.#replicator;
    // On its own, a database is a cluster of one: stored here is stored everywhere.
    return r === undefined ? written : written.then((v) => r.confirm(v, ack).then(() => v));
  }

  /** Writes several versions as one atomic batch (all or none, also across a crash). */
  putMany(items: readonly PutManyItem[]): Promise<Version[]> {
    try {
      if (Array.isArray(items)) for (const item of items) checkIfVersion((item as PutManyItem | null)?.ifVersion);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#s.putMany(items);
  }

  /** The current value (deep-frozen), typed as `T` when named (`get<User>`: types only). @throws KEY_NOT_FOUND */
  get<T = JsonValue>(namespace: string, key: string): Promise<T> {
    // Not `async`: a resolved promise made directly is cheaper on the hottest read.
    try {
      return Promise.resolve(this.#s.get(namespace, key) as T);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** The current version with its metadata (its value typed as `T` when named). @throws KEY_NOT_FOUND */
  async getVersion<T = JsonValue>(namespace: string, key: string): Promise<VersionOf<T>> {
    return this.#s.getVersion(namespace, key) as VersionOf<T>;
  }

  /**
   * The version current at `when` (the last written at or before it; its value typed as
   * `T` when named): a time, or a version's `hlc` string, which reaches exactly that
   * version even when others were written in the same millisecond (see
   * `CausalStorage.getAt`). O(log h). @throws KEY_NOT_FOUND
   */
  async getAt<T = JsonValue>(namespace: string, key: string, when: TimeInput): Promise<VersionOf<T>> {
    return this.#s.getAt(namespace, key, toTimePoint(when)) as VersionOf<T>;
  }

  /** Every version, oldest first, tombstones (value `null`) included. @throws KEY_NOT_FOUND */
  async history<T = JsonValue>(namespace: string, key: string, options?: HistoryOptions): Promise<Array<VersionOf<T | null>>> {
    options ??= {};
    if (options.limit !== undefined && (!Number.isInteger(options.limit) || options.limit < 0)) {
      throw new InvalidArgumentError('limit must be a non-negative integer');
    }
    return this.#s.history(namespace, key, options.limit !== undefined ? { limit: options.limit } : {}) as Array<VersionOf<T | null>>;
  }

  /** Structural diff between two versions of a key (default: the latest change). */
  async diff(namespace: string, key: string, options: DiffOptions = {}): Promise<VersionDiff> {
    return diffInHistory(namespace, key, this.#s.history(namespace, key), options);
  }

  /**
   * Runs a query over a namespace's live documents, or over the namespace as it was at
   * `options.at` (keys deleted then, or written only later, are absent). `query` is a
   * `Query` from the builder, a `Filter` (the documents it matches), or the JSON wire
   * form (`{ filter: { age: { $gt: 30 } }, sort: [['name', 'asc']], limit: 10 }`).
   * With an aggregation (`Query.new().filter(f).aggregate(Agg.count())`, wire
   * `{ filter, aggregate: { op: 'count' } }`) the result is `{ rows: [], total: <matching
   * documents>, aggregate: <the aggregation's result, as db.aggregate gives it>, explain }`.
   * Current data is read through secondary indexes when the filter allows, else
   * scanned: O(keys). `query<User>` types the rows' values (types only; with `select`,
   * name the projected type).
   * @throws INVALID_QUERY naming the bad part, INVALID_NAMESPACE, INVALID_ARGUMENT
   */
  async query<T = JsonValue>(namespace: string, query: Query | FilterInput | unknown = {}, options: QueryOptions = {}): Promise<QueryResult<T>> {
    const { at } = optionsOf(options, QUERY_OPTIONS, 'query');
    const spec = this.#e.querySpecOf(query);
    const result = at === undefined ? this.#indexes.execute(namespace, spec) : this.#e.executeQuery(this.#s.entries(namespace, toEpochMs(at)), spec);
    return result as QueryResult<T>;
  }

  /**
   * Indexes `field` (a dotted path) of `namespace`'s documents, so queries filtering on it
   * with `eq`, `in` or a range read candidates from the index instead of scanning (see
   * `explain` on a query's result). Persisted with the database; creating an existing
   * index returns it. At most 64 per namespace.
   * @throws INVALID_NAMESPACE, INVALID_QUERY (bad path), LIMIT_EXCEEDED
   */
  async createIndex(namespace: string, field: string): Promise<IndexInfo> {
    return this.#indexes.create(namespace, field);
  }

  /** Removes a secondary index. @throws INDEX_NOT_FOUND */
  async dropIndex(namespace: string, field: string): Promise<void> {
    return this.#indexes.drop(namespace, field);
  }

  /** The secondary indexes of `namespace`, or of all namespaces. */
  async listIndexes(namespace?: string): Promise<IndexInfo[]> {
    return this.#indexes.list(namespace);
  }

  /**
   * Creates a materialized view: a named query over a namespace, computed now and kept.
   * `autoRefresh: true` keeps it current on every write; otherwise it shows the data as of
   * its last `refreshView`. Persisted with the database. At most 1,024 views.
   * @throws VIEW_EXISTS, INVALID_ARGUMENT, INVALID_NAMESPACE, INVALID_QUERY, LIMIT_EXCEEDED
   */
  async createView(definition: ViewDefinition): Promise<ViewInfo> {
    return this.#views.create(definition);
  }

  /** Every view's definition, sorted by name. */
  async listViews(): Promise<ViewInfo[]> {
    return this.#views.list();
  }

  /** Recomputes a view from the current data and returns it. @throws VIEW_NOT_FOUND */
  async refreshView(name: string): Promise<ViewResult> {
    return this.#views.refresh(name);
  }

  /** A view's rows (or aggregate) with `refreshedAt` and the `seq` it reflects. @throws VIEW_NOT_FOUND */
  async queryView(name: string): Promise<ViewResult> {
    return this.#views.query(name);
  }

  /** Deletes a view. @throws VIEW_NOT_FOUND */
  async deleteView(name: string): Promise<void> {
    return this.#views.delete(name);
  }

  /**
   * Reduces a namespace's live documents (or the namespace as it was at `at`) that match
   * `filter` (a `Filter`, a `Query` with only a filter, or the wire form) with an aggregation from
   * `Agg` (`Agg.sum('total')`, `Agg.groupBy('city', Agg.count())`, ...). Results on empty
   * sets and non-numeric values are documented in @koru/query. O(keys).
   */
  async aggregate(namespace: string, aggregation: Aggregation, options: AggregateOptions = {}): Promise<JsonValue> {
    const { filter, at } = optionsOf(options, AGGREGATE_OPTIONS, 'aggregate');
    const { matcherOf, aggregate } = this.#e;
    const matches = matcherOf(filter);
    aggregate([], aggregation); // a bad aggregation fails before any document is read
    const values: JsonValue[] = [];
    for (const e of this.#s.entries(namespace, at === undefined ? undefined : toEpochMs(at))) {
      if (matches === undefined || matches(e.value)) values.push(e.value);
    }
    return aggregate(values, aggregation);
  }

  /**
   * Versions across history: of one key or of every key in the namespace, written
   * between `from` and `to` (inclusive), whose value matches `filter` (a `Filter`, a
   * `Query` with only a filter, or the wire form). Without a filter tombstones are
   * included. Oldest first within each key; keys in no particular order. O(versions in
   * range). The key goes in the options (`{ key }`): a string in their place is refused.
   * @throws INVALID_ARGUMENT (options not an object, an unknown option), INVALID_QUERY
   */
  async queryHistory(namespace: string, options: QueryHistoryOptions = {}): Promise<Version[]> {
    const { key, from, to, filter } = optionsOf(options, QUERY_HISTORY_OPTIONS, 'queryHistory');
    const matches = this.#e.matcherOf(filter);
    const out: Version[] = [];
    for (const v of this.#s.versions(namespace, {
      ...(key !== undefined ? { key } : {}),
      ...(from !== undefined ? { fromMs: toEpochMs(from) } : {}),
      ...(to !== undefined ? { toMs: toEpochMs(to) } : {}),
    })) {
      if (matches === undefined || (!v.deleted && matches(v.value))) out.push(v);
    }
    return out;
  }

  /** The number of the last committed change (0 before any): a `since` to resume from. */
  get seq(): number {
    return this.#s.seq;
  }

  /**
   * Calls `handler` for every change `spec` selects (a namespace, a key, a value filter,
   * change types), in commit order, awaiting it before the next. With `since`, every
   * matching change after that seq is replayed first, then live ones follow with no gap
   * or duplicate. A subscriber that falls more than `bufferSize` changes behind gets one
   * `lagged` event with the seq to resume from, and the subscription ends. A change that
   * retention or a purge removed (a `since` before the horizon) is one `pruned` event
   * with `resyncFrom` (read the current state as of that seq); the subscription goes on
   * with the changes after it.
   * @throws INVALID_ARGUMENT, INVALID_NAMESPACE, INVALID_KEY, INVALID_QUERY for a bad spec
   */
  subscribe(spec: SubscriptionSpec, handler: (event: ChangeEvent | LaggedEvent | PrunedEvent) => void | Promise<void>): Subscription {
    return this.#e.subscribe(this.#s, spec, handler);
  }

  /** The same feed as an async iterator: `for await (const e of db.changes(spec))`; `return()` releases it. */
  changes(spec: SubscriptionSpec = {}): AsyncIterableIterator<ChangeEvent | LaggedEvent | PrunedEvent> {
    return this.#e.changeStream(this.#s, spec);
  }

  /** Deletes the key by writing a tombstone; its history stays readable. @throws KEY_NOT_FOUND */
  delete(namespace: string, key: string, options?: PutOptions): Promise<Version> {
    try {
      checkIfVersion(options?.ifVersion);
      checkAck(options?.ack);
    } catch (e) {
      return Promise.reject(e);
    }
    const written = this.#s.delete(namespace, key, options);
    return options?.ack === undefined || options.ack === 'local' ? written : this.#confirmed(written, options.ack);
  }

  /** True when the key has a current value. */
  async contains(namespace: string, key: string): Promise<boolean> {
    if (this.#s.contains(namespace, key)) return true;
    // Like get: a malformed name is an error, not "absent".
    validateNamespace(namespace);
    validateKey(key);
    return false;
  }

  /** Namespaces with live keys, sorted. */
  async listNamespaces(): Promise<string[]> {
    return this.#s.listNamespaces();
  }

  /**
   * Live keys of a namespace in key order (UTF-8 bytes): all of them, or one page with
   * `prefix` (only keys starting with it), `after` (only keys after it: the last key of
   * the previous page) and `limit` (1 to 100,000). A page is a seek to its first key and
   * a step per key up to its last (tombstoned keys are stepped over, never returned, and
   * never make a page short while more live keys follow).
   * @throws INVALID_NAMESPACE; INVALID_ARGUMENT for an unknown option or a bad value
   */
  async listKeys(namespace: string, options?: ListKeysOptions): Promise<string[]> {
    return this.#s.listKeys(namespace, options);
  }

  /** The number of live keys of a namespace (0 for an unknown one): a counter every commit keeps, O(1). @throws INVALID_NAMESPACE */
  async countKeys(namespace: string): Promise<number> {
    return this.#s.countKeys(namespace);
  }

  /**
   * One digest (hex) of every version of every namespace: two databases holding the same
   * versions give the same root, whatever order they received them in — how a synced
   * copy shows it converged with the server. The first call reads every version once.
   */
  async stateRoot(): Promise<string> {
    return this.#s.stateRoot();
  }

  /** Keys, versions, namespaces, bytes (and in a browser database the origin's storage estimate). */
  async stats(): Promise<DatabaseStats> {
    return this.#s.stats();
  }

  /** Re-hashes every chain and value; reports anything that does not match. */
  async verify(): Promise<VerifyReport> {
    return this.#s.verify();
  }

  /**
   * Sets how much history a namespace keeps: `{ keep: 'all' }` (the default),
   * `{ lastVersions: N }` or `{ maxAgeMs: D }` (see CausalStorage.setRetention). Stored
   * durably; applied by the merges that follow (`compact()` applies it at once). Reads
   * before what was cut answer HISTORY_PRUNED naming the key's horizon.
   * @throws INVALID_NAMESPACE, INVALID_ARGUMENT
   */
  async setRetention(namespace: string, policy: RetentionPolicy): Promise<RetentionPolicy> {
    return this.#s.setRetention(namespace, policy);
  }

  /** A namespace's retention policy (`{ keep: 'all' }` unless one was set). @throws INVALID_NAMESPACE */
  async retention(namespace: string): Promise<RetentionPolicy> {
    return this.#s.retention(namespace);
  }

  /** Every namespace with a policy other than keep-all, sorted, with its policy. */
  async retentionPolicies(): Promise<Array<readonly [namespace: string, policy: RetentionPolicy]>> {
    return this.#s.retentionPolicies();
  }

  /**
   * Erases a key's history (an erasure request): deletes it (unless deleted already) and
   * removes every older version, leaving a verifiable purge record; the bytes leave the
   * files at the next merges (`compact()` at once). Its large values (over 1 KiB, stored
   * once) are erased too, unless another key's version holds the same value: that is the
   * other key's data as well, and stays. Finding out scans every version record, in
   * slices (O(versions)): purge is a rare admin operation. Resolves to what it removed.
   * @throws KEY_NOT_FOUND for a key never written; INVALID_NAMESPACE, INVALID_KEY
   */
  async purge(namespace: string, key: string): Promise<PurgeResult> {
    return this.#s.purge(namespace, key);
  }

  /** Merges every file of the database into one sorted run now (off the event loop): keeps all history; reads then touch one file per lookup. */
  async compact(): Promise<void> {
    return this.#s.compact();
  }

  /**
   * Every committed version, history and tombstones included, in commit order: of one
   * namespace, or of the whole database (its index and view definitions too, under the
   * reserved namespace `_koru`). Feed them to `importVersions` to restore them, with the
   * same ids, timestamps and (for a whole database into an empty one) the same seqs.
   */
  async *exportVersions(options: { readonly namespace?: string } = {}): AsyncGenerator<Version> {
    const namespace = options?.namespace;
    if (namespace !== undefined) validateNamespace(namespace);
    for (const v of this.#s.committed()) if (namespace === undefined || v.namespace === namespace) yield v;
  }

  /**
   * Adds exported versions (see `exportVersions`) unchanged, as one atomic batch, after
   * checking each against its ids and its key's chain. Call it with batches in export
   * order. A version already stored is skipped (its id matched its fields: it is that
   * very version), so importing a dump twice adds nothing. Resolves to the number added;
   * `versions.length` minus it were skipped. For files, `readImportLine` and
   * `fromV1Database` read export lines, plain writes and 1.0 databases.
   *
   * Records of the reserved namespace `_koru` (a whole-database export's index and view
   * definitions) are admitted only when each is a definition that `createIndex` /
   * `createView` would accept; anything else there is refused with INVALID_NAMESPACE.
   * A restored definition takes effect at the next start. A version stamped more than 10
   * minutes ahead of this machine's clock is refused with CLOCK_SKEW, as replication
   * refuses it: its stamp would otherwise become the floor of every later write's clock.
   * @throws INVALID_ARGUMENT naming the item that does not match (nothing of the batch is
   *   stored), INVALID_NAMESPACE, CLOCK_SKEW
   */
  importVersions(versions: readonly ImportedVersion[]): Promise<number> {
    return this.#s.importVersions(versions, { checkSystemRecord: this.#e.checkDefinitionRecord });
  }

  /**
   * Keeps this database and the server at `url` in step, both ways, over its WebSocket
   * protocol: local writes are pushed (on each commit), the server's pulled (on each
   * change of its feed), from cursors persisted in the store (per server node), so a
   * restart resumes where it was. Offline, writes go on locally and are pushed at
   * reconnect. Merges follow the cluster's rule: duplicates skipped, clock order picks
   * each key's head, history the union, the same version ids everywhere. Resolves at
   * once (connecting goes on in the background: watch `status.online`). `close()` stops it.
   * @throws INVALID_ARGUMENT (a bad URL or option, or a sync already running),
   *   INVALID_NAMESPACE (a bad or reserved namespace in `namespaces`), CLOSED
   */
  async sync(url: string, options: SyncOptions = {}): Promise<SyncHandle> {
    if (this.#sync !== undefined) throw new InvalidArgumentError('this database is syncing already: stop() that sync first');
    // Checked before the store, so a bad call says what is wrong even on a closed database.
    checkSyncUrl(url);
    checkSyncOptions(options ?? {});
    // CLOSED on a closed database (reading the cursors checks it).
    this.#s.localState('koru.sync/');
    // Loaded here: a database that never syncs does not load the client.
    const { startSync } = await loadSyncModule();
    if (this.#sync !== undefined) throw new InvalidArgumentError('this database is syncing already: stop() that sync first');
    const handle = startSync(this.#s, url, options, () => {
      if (this.#sync === handle) this.#sync = undefined;
    });
    this.#sync = handle;
    return handle;
  }

  /** The running sync's status (see {@link KoruDelta.sync}); undefined without one. */
  get syncStatus(): SyncStatus | undefined {
    return this.#sync?.status;
  }

  /** Stops the sync (if any), finishes queued writes, flushes and closes. Later calls fail with CLOSED. */
  async close(): Promise<void> {
    await this.#sync?.stop();
    return this.#s.close();
  }
}
