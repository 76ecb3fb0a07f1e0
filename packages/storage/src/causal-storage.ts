/**
 * CausalStorage: every write is an immutable, content-addressed version appended to
 * its key's chain. Versions live in a VersionStore (version-store.ts) over the
 * adapter's log-structured tree: history stays on disk, opening reads none of it, and
 * memory holds only bounded caches (heads, values, blocks) and the queued writes.
 *
 * Writes go through one commit queue: puts issued in the same tick are persisted by a
 * single adapter call (group commit), applied in order, then acknowledged. A write is
 * visible to readers only once the adapter has accepted it; if the adapter fails, the
 * failed writes and every write queued behind them are rejected and nothing of them
 * is applied.
 *
 * This file holds the class users see; each part is in its own file: the shared state
 * (store-context.ts), local writes (local-writes.ts), stamping (stamped-write.ts), the
 * commit queue (commit-queue.ts), admission of versions made elsewhere (admission.ts),
 * live lists (live-lists.ts), history and time travel (history-reads.ts), reads by change
 * number (feed-reads.ts), anti-entropy digests (merkle-state.ts) and verification
 * (version-verify.ts).
 */
import { InvalidArgumentError, type HlcStamp, type JsonValue } from '@koru/engine';
import { Admission } from './admission.js';
import { CommitQueue } from './commit-queue.js';
import { KeyNotFoundError } from './errors.js';
import { countLiveKeys, listKeyPage, liveNamespaces, type ListKeysOptions } from './key-pages.js';
import { FeedReads } from './feed-reads.js';
import { historyOf, versionAt, versionById, versionsIn } from './history-reads.js';
import { LiveLists } from './live-lists.js';
import { LocalWrites } from './local-writes.js';
import type { MerkleNode } from './merkle-state.js';
import { SYSTEM_NAMESPACE, validateKey, validateNamespace } from './names.js';
import type {
  CausalStorageOptions,
  HistoryOptions,
  ImportedVersion,
  ImportOptions,
  PutItem,
  ReplicationOptions,
  ReplicationResult,
  WriteOptions,
} from './storage-options.js';
import { StoreContext } from './store-context.js';
import { CheckpointReceiver, StoreNotEmptyError, takeCheckpoint, type CheckpointFile, type StoreCheckpoint } from './checkpoint.js';
import { DEFAULT_SCAN_CACHE_BYTES } from './storage-options.js';
import type { Change, RecoveryReport, StorageStats, Version, VerifyReport } from './types.js';
import { verifyVersions } from './version-verify.js';
import { readLocalState, writeLocalState } from './local-state.js';
import { RetentionPolicies, type RetentionPolicy } from './retention.js';
import { purgeBelow, type PurgeResult } from './purge.js';
import { dropUnsharedValues } from './purge-values.js';
import { markImportedHorizons, prunedThroughSeq } from './horizon-records.js';

export {
  DEFAULT_MAX_CLOCK_AHEAD_MS,
  type CausalStorageOptions,
  type HistoryOptions,
  type ImportedVersion,
  type ImportOptions,
  type PreviousCut,
  type PutItem,
  type ReplicationOptions,
  type ReplicationResult,
  type WriteOptions,
} from './storage-options.js';

/** The causal store. Create with {@link CausalStorage.open}. */
export class CausalStorage {
  readonly #ctx: StoreContext;
  #liveLists: LiveLists;
  readonly #scanCacheBytes: number;
  readonly #queuedForeign: Map<string, HlcStamp>;
  readonly #commits: CommitQueue;
  readonly #writes: LocalWrites;
  readonly #admission: Admission;
  readonly #feed: FeedReads;
  #recovery: RecoveryReport = { replayed: 0 };
  #retention: RetentionPolicies | undefined;
  /** The clock retention's age rule counts from (`options.now`). */
  #now: () => number = Date.now;

  private constructor(options: CausalStorageOptions) {
    const ctx = new StoreContext(options);
    this.#ctx = ctx;
    this.#scanCacheBytes = options.scanCacheBytes ?? DEFAULT_SCAN_CACHE_BYTES;
    this.#liveLists = new LiveLists(ctx, this.#scanCacheBytes);
    // Versions made elsewhere that are queued but not committed yet: admission adds them,
    // the commit queue forgets them.
    const queuedForeign = new Map<string, HlcStamp>();
    this.#queuedForeign = queuedForeign;
    this.#commits = new CommitQueue(ctx, queuedForeign);
    this.#commits.onApply((current) => this.#liveLists.applied(current));
    this.#writes = new LocalWrites(ctx, this.#commits);
    this.#admission = new Admission(ctx, queuedForeign);
    this.#feed = new FeedReads(ctx);
  }

  /** Opens a store: the adapter opens its tree (which reads its manifest and replays its unflushed logs). */
  static async open(options: CausalStorageOptions = {}): Promise<CausalStorage> {
    const s = new CausalStorage(options);
    const adapter = s.#ctx.adapter;
    const opened = await adapter.open();
    try {
      s.#ctx.attach(opened);
      s.#now = options.now ?? Date.now;
      s.#retention = new RetentionPolicies(opened.tree, s.#now);
    } catch (e) {
      await adapter.close();
      throw e;
    }
    s.#recovery = opened.recovery;
    return s;
  }

  /** This node's id. */
  get nodeId(): string {
    return this.#ctx.nodeId;
  }

  /** What recovery did on open (torn tail truncated, records replayed). */
  get recovery(): RecoveryReport {
    return this.#recovery;
  }

  /** The last committed change's seq. */
  get seq(): number {
    return this.#ctx.seq;
  }

  // ---- writes ---------------------------------------------------------------

  /** Writes a new version of `namespace/key`. Resolves once persisted per the adapter's policy. */
  put(namespace: string, key: string, value: unknown, options?: WriteOptions): Promise<Version> {
    return this.#writes.put(namespace, key, value, options, false);
  }

  /**
   * Writes one of the database's own records (index and view definitions) under `key` in
   * {@link SYSTEM_NAMESPACE}: committed, persisted and recovered like any write, but
   * unreachable through the user-facing methods, listings and the change feed.
   */
  putSystem(key: string, value: unknown): Promise<Version> {
    return this.#writes.put(SYSTEM_NAMESPACE, key, value, undefined, true);
  }

  /** Deletes one of the database's own records (see {@link putSystem}). */
  deleteSystem(key: string): Promise<Version> {
    return this.#writes.deleteSystem(key);
  }

  /** The database's own live records (see {@link putSystem}), in the order first written. */
  systemEntries(): Version[] {
    this.#ctx.checkOpen();
    return this.#liveLists.systemEntries();
  }

  /**
   * Writes several versions as one batch: validated together (any bad item rejects
   * the whole batch, nothing stored), persisted in one adapter call, all or none
   * surviving a crash. Resolves to the versions in input order.
   */
  putMany(items: readonly PutItem[]): Promise<Version[]> {
    return this.#writes.putMany(items);
  }

  /**
   * Adds versions written elsewhere (an export of this or another database) with their
   * ids, clocks, nodes and timestamps unchanged, as one atomic batch. Every item is
   * checked before anything is stored: its value hashes to its `valueId`, its fields to
   * its `versionId`, its `timestamp` (when given) is its `hlc`'s; its `previousVersion`
   * is a version of the key already stored or an earlier item of the batch, with an
   * earlier clock. A version already stored (or twice in the batch) is skipped: its id
   * matched its fields, so it is the very version stored, and importing a dump twice
   * changes nothing. Items in the order they were committed (an export's order) pass;
   * the database's own clock moves past the newest. The reserved namespace is refused
   * unless `options.checkSystemRecord` admits each of its records (how a full export
   * restores index and view definitions). A version stamped more than
   * `options.maxClockAheadMs` ahead of the wall clock is refused (its stamp would become
   * the floor of every later local write). A version carrying `previousCut` (an export
   * of a key whose older history retention or a purge removed) may start its key's
   * history when the key has nothing here yet: its horizon is recorded with it (in the
   * same log batch, so a crash keeps both or neither), so `verify` checks the chain from
   * there and reads before it answer HISTORY_PRUNED.
   * Resolves to the number of versions added (`items.length` minus those skipped).
   * @throws INVALID_ARGUMENT naming the item and what does not match (nothing of the batch
   *   is stored); INVALID_NAMESPACE (the reserved namespace); CLOCK_SKEW; name and value errors
   */
  importVersions(items: readonly ImportedVersion[], options: ImportOptions = {}): Promise<number> {
    try {
      this.#ctx.checkWritable();
      if (!Array.isArray(items)) throw new InvalidArgumentError('importVersions expects an array of versions');
      const { writes, horizons } = this.#admission.admit(items, 'restore', options.maxClockAheadMs, options.checkSystemRecord);
      // Versions whose predecessor the export says was cut carry their horizon records
      // into their commit (one log batch). Exports look for horizons once this is set:
      // set first, a crash before the commit leaves it set for nothing, which is harmless.
      if (horizons.length > 0) markImportedHorizons(this.#ctx.tree);
      return this.#commits.enqueueAll(writes).then((vs) => vs.length);
    } catch (e) {
      this.#admission.forgetEmptyKeys(items);
      return Promise.reject(e);
    }
  }

  /**
   * Merges versions replicated from other nodes, unchanged: checked like
   * {@link importVersions} (a bad item refuses the whole batch, nothing stored), but a
   * version already stored is skipped (applying twice is a no-op), items may come in any
   * order, and one whose predecessor is unknown here is handed back unstored in
   * `orphans` (to retry once the predecessor arrives). A replicated version becomes its
   * key's current one only if its clock (then node) is the highest; otherwise it joins
   * the history. The reserved namespace is refused: index and view definitions are each
   * node's own.
   * @throws INVALID_ARGUMENT naming the bad item; CLOCK_SKEW when a version's clock is
   *   more than `maxClockAheadMs` ahead of this node's wall clock
   */
  applyReplicated(items: readonly ImportedVersion[], options: ReplicationOptions = {}): Promise<ReplicationResult> {
    try {
      this.#ctx.checkWritable();
      if (!Array.isArray(items)) throw new InvalidArgumentError('applyReplicated expects an array of versions');
      const { writes, duplicates, orphans } = this.#admission.admit(items, 'merge', options.maxClockAheadMs);
      return this.#commits.enqueueAll(writes).then((applied) => ({ applied, duplicates, orphans }));
    } catch (e) {
      this.#admission.forgetEmptyKeys(items);
      return Promise.reject(e);
    }
  }

  /** Writes a tombstone: history is kept, `get` then reports not found. */
  delete(namespace: string, key: string, options?: WriteOptions): Promise<Version> {
    return this.#writes.delete(namespace, key, options);
  }

  /**
   * Merges every file of the store into its last level now (off the event loop on Node):
   * history is kept but what retention policies and purges cut, and the large values no
   * kept version holds are dropped (FORMAT.md, "Retention and purge"); reads then touch
   * one file per lookup, and the logs are flushed. Reads and writes go on meanwhile.
   */
  async compact(): Promise<void> {
    this.#ctx.checkWritable();
    while (this.#commits.busy) await this.#commits.flush();
    // Through the store: its compaction also reclaims unreferenced large values (value-reclaim.ts).
    await this.#ctx.store.compact();
  }

  // ---- reads ----------------------------------------------------------------

  /** The current value. One lookup (cached heads: none). @throws KeyNotFoundError */
  get(namespace: string, key: string): JsonValue {
    return this.getVersion(namespace, key).value;
  }

  /** The current version (metadata and value). One lookup (cached heads: none). @throws KeyNotFoundError */
  getVersion(namespace: string, key: string): Version {
    const head = this.#head(namespace, key);
    if (head !== undefined && !head.deleted) return head;
    validateNamespace(namespace);
    validateKey(key);
    throw new KeyNotFoundError(namespace, key);
  }

  /** True when the key has a current (not deleted) value. */
  contains(namespace: string, key: string): boolean {
    const head = this.#head(namespace, key);
    return head !== undefined && !head.deleted;
  }

  /** The key's newest version, if any (undefined for names that cannot be stored). @throws INVALID_NAMESPACE for the reserved namespace */
  #head(namespace: string, key: string): Version | undefined {
    this.#ctx.checkOpen();
    if (namespace === SYSTEM_NAMESPACE) validateNamespace(namespace);
    return this.#ctx.headOf(namespace, key);
  }

  /** Every version of the key, oldest first (tombstones included). O(h). @throws KeyNotFoundError */
  history(namespace: string, key: string, options: HistoryOptions = {}): Version[] {
    return historyOf(this.#ctx, namespace, key, options);
  }

  /**
   * The version current at `at`: a time in ms since the epoch, or a clock stamp (a
   * version's `hlc`, parsed). Of a key's versions in clock order (hlc, then node: the
   * order that decides which one is current, on every replica alike), it is the last
   * whose `timestamp` is at or before a time, or whose `hlc` is at or before a stamp.
   *
   * Exactness: a `timestamp` is the wall-clock millisecond of the version's `hlc`, so
   * versions written within one millisecond share it and a time reaches only the last
   * of them. Every version's `hlc` is distinct from the others of its key written on the
   * same node (the clock is strictly increasing per node, across restarts and imports
   * included), so `getAt(ns, key, parseHlc(v.hlc))` returns exactly `v` for every version
   * written locally or on a single node. Replicated versions from two nodes can share an
   * `hlc`; a stamp then reaches the one of the greater node id (the one that was current).
   * The answer is the same before and after a reopen (the clock is stored with each
   * version) and on every replica holding the same versions.
   *
   * A tombstone found, or nothing at or before `at`: KEY_NOT_FOUND. O(log h).
   * @throws KeyNotFoundError; InvalidArgumentError for a time that is not a number or stamp
   */
  getAt(namespace: string, key: string, at: number | HlcStamp): Version {
    return versionAt(this.#ctx, namespace, key, at);
  }

  /**
   * The live versions of a namespace, one per key: the current ones, or those current at
   * `atMs` (keys deleted then, or written only later, are absent). In key order (UTF-8
   * bytes). One seek per key (cached heads: none).
   */
  entries(namespace: string, atMs?: number): Iterable<Version> {
    return this.#liveLists.entries(namespace, atMs);
  }

  /**
   * The live versions of a namespace as they were right after change `seq` was committed
   * (0: before any). Exact where a time is not: several changes can share a millisecond.
   * In key order (UTF-8 bytes). A scan of each key's history.
   */
  entriesAsOf(namespace: string, seq: number): Iterable<Version> {
    return this.#liveLists.entriesAsOf(namespace, seq);
  }

  /**
   * The current versions of those of `keys` that are live in `namespace`, in the order
   * `entries` lists them (key order: UTF-8 bytes), or in `keys`' order when not
   * `ordered`. One lookup per key.
   */
  liveVersionsOf(namespace: string, keys: Iterable<string>, ordered = true): Version[] {
    return this.#liveLists.liveVersionsOf(namespace, keys, ordered);
  }

  /**
   * Every version (tombstones included) of one key, or of every key of a namespace,
   * whose timestamp lies in [fromMs, toMs], oldest first within each key. Keys come in
   * key order (UTF-8 bytes). One range scan of each key's history. Only kept versions
   * are given: for one key whose history retention or a purge cut after `fromMs`, it
   * throws HISTORY_PRUNED naming the key's horizon (a namespace's keys: their kept versions).
   */
  versions(namespace: string, options: { readonly key?: string; readonly fromMs?: number; readonly toMs?: number } = {}): Generator<Version> {
    return versionsIn(this.#ctx, namespace, options);
  }

  /**
   * The namespace and key of change `seq`: one lookup, no version read (what a change
   * feed needs to route a change to its subscribers). Also for a change whose version
   * retention or a purge has since removed.
   * @throws InvalidArgumentError when `seq` is not in [1, this.seq]; ClosedError
   */
  changeKeyAt(seq: number): { readonly namespace: string; readonly key: string } {
    this.#ctx.checkOpen();
    const found = this.#ctx.store.keyOfChange(seq);
    if (found === undefined) throw new InvalidArgumentError(`no change ${String(seq)}: changes are numbered 1 to ${this.#ctx.seq}`);
    return found;
  }

  /**
   * The committed change numbered `seq` (1 is the first; each committed change on this
   * node is the next number, and its change record names its version). One lookup, and
   * a scan of the key's history when the change was superseded.
   * @throws InvalidArgumentError when `seq` is not in [1, this.seq]
   */
  changeAt(seq: number): Change {
    return this.#feed.changeAt(seq);
  }

  /**
   * Every committed version with a seq in [fromSeq, toSeq] (default: all), in commit
   * order, the database's own records included: an export that `importVersions` replays
   * with the same seqs into an empty database. One lookup per version. A key's oldest
   * kept version, when retention or a purge cut what preceded it, carries `previousCut`
   * (the removed predecessor's stamp and node: see ImportedVersion), so that the import
   * records the same horizon; finding it is one more seek per version, only in a
   * database where something was cut.
   */
  committed(fromSeq = 1, toSeq = this.#ctx.seq): Generator<Version> {
    return this.#feed.committed(fromSeq, toSeq);
  }

  /**
   * The JSON of every committed version with a seq in [fromSeq, toSeq] (the fields of
   * {@link Version}, the value in its canonical form), in commit order, built from the
   * stored text without materializing values: for streaming a whole store. The reserved
   * namespace is left out unless `system`. O(versions + value bytes).
   */
  committedJson(fromSeq = 1, toSeq = this.#ctx.seq, system = false): Generator<string> {
    return this.#feed.committedJson(fromSeq, toSeq, system);
  }

  /**
   * The JSON (as {@link committedJson} gives it) of the versions of `namespace/key` whose
   * ids are in `ids` (all of them when omitted), in clock order. O(h + value bytes).
   */
  versionsJson(namespace: string, key: string, ids?: ReadonlySet<string>): string[] {
    return this.#feed.versionsJson(namespace, key, ids);
  }

  /**
   * Calls `listener` after every commit with the new last seq, and once with -1 when the
   * store closes. Returns the function that removes it.
   */
  onCommit(listener: (seq: number) => void): () => void {
    return this.#commits.onCommit(listener);
  }

  /**
   * Calls `listener` synchronously with the versions of every batch as it is applied,
   * before any write of it is reported done, so derived state (secondary indexes, views)
   * never lags a completed write: `current`, those that became their key's current
   * version (in order), and `all` of them (replicated versions that lost to a later
   * clock included). The listener must not throw. Returns its remover.
   */
  onApply(listener: (current: readonly Version[], all: readonly Version[]) => void): () => void {
    return this.#commits.onApply(listener);
  }

  /** A version by id. O(h). @throws KeyNotFoundError, VersionNotFoundError */
  getVersionById(namespace: string, key: string, versionId: string): Version {
    return versionById(this.#ctx, namespace, key, versionId);
  }

  /** Namespaces with at least one live key, sorted. O(namespaces): from the store's counters. */
  listNamespaces(): string[] {
    return liveNamespaces(this.#ctx);
  }

  /** Live keys of a namespace in key order (UTF-8 bytes): all, or a page by `prefix`, `after`, `limit` (key-pages.ts). One seek, a step per key. */
  listKeys(namespace: string, options?: ListKeysOptions): string[] {
    return listKeyPage(this.#ctx, namespace, options);
  }

  /** Live keys of a namespace (0 for an unknown one). O(1): from the store's counters. @throws INVALID_NAMESPACE */
  countKeys(namespace: string): number {
    return countLiveKeys(this.#ctx, namespace);
  }

  /** Counts and sizes. O(namespaces): from the counters every commit keeps with its versions. */
  stats(): StorageStats {
    const ctx = this.#ctx;
    ctx.checkOpen();
    const counters = ctx.store.counters;
    let keys = 0;
    let namespaces = 0;
    for (const [ns, live] of counters.namespaces()) {
      if (ns === SYSTEM_NAMESPACE || live === 0) continue;
      keys += live;
      namespaces++;
    }
    return {
      keys,
      namespaces,
      distinctValues: counters.values,
      valueBytes: counters.textLength,
      // Every version, local or not, was committed here as one change.
      versions: ctx.seq,
      diskBytes: ctx.adapter.diskBytes(),
      seq: ctx.seq,
      adapter: ctx.adapter.name,
    };
  }

  // ---- anti-entropy digests (see MerkleState) ----------------------------------

  /**
   * One digest of every version of every user namespace: replicas holding the same
   * versions report the same root, whatever order they received them in. The first call
   * computes it in O(versions); later ones recompute what changed since.
   */
  stateRoot(): string {
    this.#ctx.checkOpen();
    return this.#ctx.merkle.stateRoot();
  }

  /** Every user namespace that holds a version (deleted keys count), with its root digest. */
  namespaceRoots(): Map<string, string> {
    this.#ctx.checkOpen();
    return this.#ctx.merkle.namespaceRoots();
  }

  /** The non-empty children of a namespace's hash-tree node `prefix` (hex digits), with digests and key counts. */
  merkleChildren(namespace: string, prefix: string): MerkleNode[] {
    this.#ctx.checkOpen();
    return this.#ctx.merkle.children(namespace, prefix);
  }

  /** A namespace's hash-tree node `prefix`: its digest and key count. */
  merkleNode(namespace: string, prefix: string): MerkleNode {
    this.#ctx.checkOpen();
    return this.#ctx.merkle.node(namespace, prefix);
  }

  /** The keys under a namespace's hash-tree node `prefix`, sorted, with the digest of each key's history. */
  merkleKeys(namespace: string, prefix: string): Array<readonly [key: string, digest: string]> {
    this.#ctx.checkOpen();
    return this.#ctx.merkle.keysUnder(namespace, prefix);
  }

  /** The ids of every version of a key in clock order (empty for an unknown key). Reads no value. */
  versionIdsOf(namespace: string, key: string): string[] {
    this.#ctx.checkOpen();
    return this.#ctx.store.ids(namespace, key);
  }

  /**
   * Re-hashes every version chain and every stored value: each versionId must match
   * its fields, each previousVersion an earlier version of its key, each value its
   * valueId, each change number its version. Streams the store in short slices between
   * which reads and writes go on. O(total versions + value bytes).
   */
  async verify(): Promise<VerifyReport> {
    this.#ctx.checkOpen();
    return verifyVersions(this.#ctx.tree);
  }

  // ---- retention and purge (see retention.ts, purge.ts, horizon-records.ts) ------

  /**
   * Sets how much history `namespace` keeps: `{ keep: 'all' }` (the default),
   * `{ lastVersions: N }` (the N newest versions of each key) or `{ maxAgeMs: D }` (the
   * versions younger than D ms, plus the one current D ms ago). Stored durably (a record
   * of its own, synced). Merges apply it as they reach the deepest level holding a key
   * (`compact()` applies it everywhere at once): what they cut leaves a horizon per key
   * (the oldest kept version; its `previousVersion` still names, by hash, what it
   * superseded), and reads before it answer HISTORY_PRUNED. Resolves to the policy stored.
   * @throws INVALID_NAMESPACE; INVALID_ARGUMENT unless a policy above with N, D integers ≥ 1
   */
  async setRetention(namespace: string, policy: RetentionPolicy): Promise<RetentionPolicy> {
    this.#ctx.checkOpen();
    validateNamespace(namespace);
    const set = this.#retention!.set(namespace, policy);
    await this.#durable();
    return set;
  }

  /** The retention policy of `namespace` (`{ keep: 'all' }` unless one was set). @throws INVALID_NAMESPACE */
  retention(namespace: string): RetentionPolicy {
    this.#ctx.checkOpen();
    validateNamespace(namespace);
    return this.#retention!.get(namespace);
  }

  /** Every namespace with a policy other than keep-all, sorted, with its policy. */
  retentionPolicies(): Array<readonly [namespace: string, policy: RetentionPolicy]> {
    this.#ctx.checkOpen();
    return [...this.#retention!.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }

  /**
   * Erases `namespace/key`'s history (an erasure request): deletes the key (a tombstone,
   * written and replicated like any delete, unless its head already is one), then
   * removes every older version, leaving in the newest one's place a purge record that
   * keeps the chain verifiable (the tombstone's predecessor's id). Afterwards `get` finds
   * nothing, `history` gives the tombstone alone, and a time or version before it is
   * HISTORY_PRUNED. The values leave the files at the next merges of the deepest level
   * (`compact()` at once). Values too large to be stored inline (over `inlineMaxBytes`,
   * stored once in a value record) are erased too, unless a version still in the
   * database holds the same value (another key's, or a later write's): then it is that
   * version's data and stays. Finding out scans every version record, a slice at a time
   * (purge-values.ts): O(versions) reads, only when the removed versions held large values.
   * @throws KEY_NOT_FOUND for a key never written; INVALID_NAMESPACE, INVALID_KEY
   */
  async purge(namespace: string, key: string): Promise<PurgeResult> {
    const ctx = this.#ctx;
    const head = ctx.existingHead(namespace, key);
    const tombstone = head.deleted ? head : await this.delete(namespace, key);
    ctx.checkOpen();
    const large = new Set<string>();
    const result = purgeBelow(ctx.tree, namespace, key, tombstone.versionId, large, ctx.store.counters);
    if (large.size > 0) await dropUnsharedValues(ctx.tree, large, () => ctx.seq, { counters: ctx.store.counters });
    await this.#durable();
    return result;
  }

  /**
   * Waits until an adapter that persists asynchronously (IndexedDB) has everything
   * written so far; its failure fails the store, as a failed commit does (commit-queue.ts).
   */
  async #durable(): Promise<void> {
    try {
      await this.#ctx.adapter.whenDurable?.();
    } catch (e) {
      throw this.#ctx.fail(e);
    }
  }

  /**
   * The greatest change number whose version retention or a purge removed (0: none).
   * A change-feed reader resuming from a `since` below it may have missed changes that
   * are gone: `changeAt` of such a change throws HISTORY_PRUNED with `details.resyncFrom`.
   */
  get prunedThroughSeq(): number {
    this.#ctx.checkOpen();
    return prunedThroughSeq(this.#ctx.tree);
  }

  // ---- local state (see local-state.ts) -------------------------------------------

  /**
   * Stores `value` (any JSON value; `undefined` removes it) under `name` as this store's
   * own state: not a version, never replicated, exported or in a checkpoint's history
   * (a layer's bookkeeping, such as a sync's cursors). Durable as a write, not synced on its own.
   * @throws INVALID_ARGUMENT for a bad name, a value with no JSON form or over 64 KiB
   */
  setLocalState(name: string, value: unknown): void {
    this.#ctx.checkWritable();
    writeLocalState(this.#ctx.tree, name, value);
  }

  /** The state stored under `name` by {@link setLocalState} (undefined when none). */
  localState(name: string): unknown {
    this.#ctx.checkOpen();
    return readLocalState(this.#ctx.tree, name);
  }

  // ---- copying by files (see checkpoint.ts) -----------------------------------

  /**
   * Pins the store's files for copying to an empty store (a cluster member joining):
   * flushes, lists every segment with its size, level and CRC-32, and reads them in
   * chunks until released. Writes and merges go on meanwhile.
   * @throws ClosedError; IoError
   */
  async checkpoint(): Promise<StoreCheckpoint> {
    this.#ctx.checkWritable();
    while (this.#commits.busy) await this.#commits.flush();
    return takeCheckpoint(this.#ctx.tree, () => this.#ctx.seq);
  }

  /**
   * Starts receiving a checkpoint's files into this store's directory (see
   * {@link CheckpointReceiver}); {@link installCheckpoint} installs them once whole.
   * `prunedThroughSeq` is the donor's ({@link StoreCheckpoint.prunedThroughSeq}).
   * @throws StoreNotEmptyError unless the store holds nothing; InvalidArgumentError for a malformed list
   */
  receiveCheckpoint(files: readonly CheckpointFile[], prunedThroughSeq = 0): CheckpointReceiver {
    this.#ctx.checkWritable();
    this.#checkEmpty();
    return new CheckpointReceiver(this.#ctx.tree, files, prunedThroughSeq);
  }

  /**
   * Installs a received checkpoint as this store's whole content, in one manifest swap
   * after every segment's checksums are checked, then reloads the store's state
   * (counters, last change number, caches, digests). The donor's change numbers become
   * this store's. A kill at any moment leaves the empty store or the installed one.
   * @throws StoreNotEmptyError unless the store still holds nothing; InvalidArgumentError
   *   when the checkpoint has not arrived whole; CorruptionError for a damaged segment
   *   (nothing installed); IoError
   */
  async installCheckpoint(receiver: CheckpointReceiver): Promise<void> {
    this.#ctx.checkWritable();
    while (this.#commits.busy) await this.#commits.flush();
    this.#checkEmpty();
    const files = receiver.installable();
    const ctx = this.#ctx;
    try {
      ctx.tree.installIncoming(files, receiver.properties());
    } catch (e) {
      receiver.abort();
      throw e instanceof RangeError ? new InvalidArgumentError(`the checkpoint cannot be installed: ${e.message}`) : e;
    }
    receiver.installed();
    ctx.reload();
    // The donor's retention policies came with its files.
    this.#retention = new RetentionPolicies(ctx.tree, this.#now);
    // Lists kept for the empty store (an empty namespace's, say) are stale now.
    this.#liveLists = new LiveLists(ctx, this.#scanCacheBytes);
  }

  /** @throws StoreNotEmptyError unless nothing was ever committed or is queued */
  #checkEmpty(): void {
    const ctx = this.#ctx;
    if (ctx.seq !== 0) throw new StoreNotEmptyError(`it holds ${ctx.seq} changes`);
    if (this.#commits.busy || this.#queuedForeign.size > 0) throw new StoreNotEmptyError('writes are queued');
    if (ctx.tree.segments().length > 0 || ctx.tree.stats().memtableBytes > 0) throw new StoreNotEmptyError('its files hold records');
  }

  /** Waits for queued writes, then closes the adapter. Later calls fail with CLOSED. */
  async close(): Promise<void> {
    const ctx = this.#ctx;
    if (ctx.closed) return;
    while (this.#commits.busy) await this.#commits.flush();
    ctx.closed = true;
    this.#commits.notifyClosed();
    await ctx.adapter.close();
  }
}
