/**
 * CausalStorage: every write is an immutable, content-addressed version appended to
 * its key's chain. Metadata and indexes live in memory (a columnar version table);
 * values of older versions stay with the adapter and are read on demand.
 *
 * Writes go through one commit queue: puts issued in the same tick are persisted by a
 * single adapter call (group commit), applied in order, then acknowledged. A write is
 * visible to readers only once the adapter has accepted it; if the adapter fails, the
 * failed writes and every write queued behind them are rejected and nothing of them
 * is applied.
 */
import {
  canonicalize,
  ClockSkewError,
  formatHlc,
  HLC_MAX_LOGICAL,
  HybridClock,
  isId,
  parseHlc,
  InvalidArgumentError,
  InvalidNamespaceError,
  isKoruError,
  compareHlc,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_VALUE_BYTES,
  valueIdOfCanonical,
  versionIdOf,
  type Canonical,
  type HlcStamp,
  type JsonValue,
  type WallClock,
} from '@koru/engine';
import type { CommitEntry, LoadedState, StorageAdapter } from './adapter.js';
import { ClosedError, CorruptionError, IoError, KeyNotFoundError, VersionConflictError, VersionNotFoundError } from './errors.js';
import { MemoryAdapter } from './memory-adapter.js';
import { SYSTEM_NAMESPACE, validateKey, validateNamespace } from './names.js';
import { KeyIndex, type KeyState } from './key-index.js';
import type { Change, RecoveryReport, StorageStats, Version, VerifyReport } from './types.js';
import { ValueIndex } from './value-index.js';
import { VersionReader } from './version-reader.js';
import { FLAG_DELETED } from './version-table.js';
import { verifyIndex } from './verify.js';
import { MerkleState, type MerkleNode } from './merkle-state.js';

/** Options of {@link CausalStorage.open}. */
export interface CausalStorageOptions {
  /** Where versions are persisted; default: a new {@link MemoryAdapter}. */
  readonly adapter?: StorageAdapter;
  /** Largest canonical JSON value in bytes (default 16 MiB). */
  readonly maxValueBytes?: number;
  /** Deepest nesting of a value (default 512). */
  readonly maxDepth?: number;
  /** Wall clock in ms (injectable for tests). */
  readonly now?: WallClock;
  /** Bytes of materialized historical versions kept in memory (default 256 MiB; 0 disables). */
  readonly valueCacheBytes?: number;
}

/** Options of a write. */
export interface WriteOptions {
  /** Compare-and-set: the write happens only if the key's head is this version id (`null`: the key must not exist). */
  readonly ifVersion?: string | null;
}

/** A version to import (see {@link CausalStorage.importVersions}): what `history` lists. */
export interface ImportedVersion {
  readonly namespace: string;
  readonly key: string;
  /** Ignored for a tombstone. */
  readonly value?: unknown;
  /** Checked when given. */
  readonly valueId?: string | null;
  /** Checked when given: the ISO-8601 form of the `hlc`'s wall-clock part, as exported. */
  readonly timestamp?: string;
  readonly versionId: string;
  readonly previousVersion: string | null;
  readonly hlc: string;
  readonly node: string;
  readonly deleted: boolean;
}

/** One item of {@link CausalStorage.putMany}. */
export interface PutItem {
  readonly namespace: string;
  readonly key: string;
  readonly value: unknown;
  readonly ifVersion?: string | null;
}

/** Options of {@link CausalStorage.applyReplicated}. */
export interface ReplicationOptions {
  /** Refuse versions stamped more than this far ahead of the local wall clock (default 10 minutes). */
  readonly maxClockAheadMs?: number;
}

/** What {@link CausalStorage.applyReplicated} did. */
export interface ReplicationResult {
  /** The versions stored now (in clock order). */
  readonly applied: readonly Version[];
  /** Versions that were stored already (skipped). */
  readonly duplicates: number;
  /** Versions not stored because their predecessor is unknown here (yet). */
  readonly orphans: readonly ImportedVersion[];
}

/** Options of {@link CausalStorage.importVersions}. */
export interface ImportOptions {
  /** Refuse versions stamped more than this far ahead of the local wall clock (default 10 minutes), as replication does. */
  readonly maxClockAheadMs?: number;
  /**
   * Admits records of the reserved namespace (a whole-database export carries the index
   * and view definitions there): called with each one's key, value and tombstone flag, it
   * throws to refuse it. Without it, such records are refused (INVALID_NAMESPACE): only a
   * layer that can check a definition may restore one.
   */
  readonly checkSystemRecord?: (key: string, value: unknown, deleted: boolean) => void;
}

/** Default of {@link ReplicationOptions.maxClockAheadMs}. */
export const DEFAULT_MAX_CLOCK_AHEAD_MS = 10 * 60 * 1000;

/** Options of a history read. */
export interface HistoryOptions {
  /** At most this many versions: the newest ones. */
  readonly limit?: number;
}

/** A version ready to commit: its log entry and what readers will see. */
interface StampedWrite {
  readonly ks: KeyState;
  readonly entry: CommitEntry;
  readonly version: Version;
  readonly wall: number;
  readonly logical: number;
}

interface PendingWrite extends StampedWrite {
  readonly resolve: (v: Version) => void;
  readonly reject: (e: unknown) => void;
}

const noop = (): void => {};

/** A write with its settlers (a literal of one fixed shape: this runs once per write). */
function pending(w: StampedWrite, resolve: (v: Version) => void, reject: (e: unknown) => void): PendingWrite {
  return { ks: w.ks, entry: w.entry, version: w.version, wall: w.wall, logical: w.logical, resolve, reject };
}

/** True for a well-formed clock stamp (integer wall ms and counter, as `parseHlc` gives). */
function isStamp(t: unknown): t is HlcStamp {
  if (t === null || typeof t !== 'object') return false;
  const { wall, logical } = t as Partial<HlcStamp>;
  return Number.isSafeInteger(wall) && wall! >= 0 && Number.isSafeInteger(logical) && logical! >= 0 && logical! <= HLC_MAX_LOGICAL;
}

function describeTime(t: unknown): string {
  try {
    return typeof t === 'object' && t !== null ? JSON.stringify(t) : String(t);
  } catch {
    return typeof t;
  }
}

/** Default budget of the cache of materialized historical versions. */
const DEFAULT_CACHE_BYTES = 256 * 1024 * 1024;


/** The causal store. Create with {@link CausalStorage.open}. */
export class CausalStorage {
  readonly #adapter: StorageAdapter;
  readonly #limits: { maxBytes: number; maxDepth: number };
  readonly #clock: HybridClock;
  readonly #now: WallClock;
  readonly #index = new KeyIndex();
  readonly #merkle = new MerkleState(this.#index);
  readonly #reader: VersionReader;
  #isoWall = -1;
  #iso = '';
  #values: ValueIndex | undefined;
  #nodeId = '';
  #seq = 0;
  #queue: PendingWrite[] = [];
  #flushScheduled = false;
  #flushing: Promise<void> | undefined;
  #closed = false;
  #recovery: RecoveryReport = { replayed: 0, fromSnapshot: 0 };
  readonly #listeners = new Set<(seq: number) => void>();
  readonly #appliers = new Set<(current: readonly Version[], all: readonly Version[]) => void>();
  /** Per namespace, its live heads as of the last commit to it (see #liveList). */
  readonly #liveLists = new Map<string, readonly Version[]>();
  #lastChange: Change | undefined;
  /**
   * Versions made elsewhere (imported, replicated) that are queued but not committed yet,
   * with their clocks: a second batch carrying one of them, or its successor, must see it.
   */
  readonly #queuedForeign = new Map<string, HlcStamp>();

  private constructor(options: CausalStorageOptions) {
    this.#adapter = options.adapter ?? new MemoryAdapter();
    this.#limits = { maxBytes: options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES, maxDepth: options.maxDepth ?? DEFAULT_MAX_DEPTH };
    this.#now = options.now ?? Date.now;
    this.#clock = new HybridClock(this.#now);
    const budget = options.valueCacheBytes ?? DEFAULT_CACHE_BYTES;
    this.#reader = new VersionReader(this.#index, this.#adapter, budget);
  }

  /** Opens a store: loads the adapter's snapshot and replays its log. */
  static async open(options: CausalStorageOptions = {}): Promise<CausalStorage> {
    const s = new CausalStorage(options);
    const loaded = await s.#adapter.open();
    try {
      s.#load(loaded);
    } catch (e) {
      await s.#adapter.close();
      throw e;
    }
    return s;
  }

  /** This node's id. */
  get nodeId(): string {
    return this.#nodeId;
  }

  /** What recovery did on open (torn tail truncated, records replayed). */
  get recovery(): RecoveryReport {
    return this.#recovery;
  }

  /** The last committed change's seq. */
  get seq(): number {
    return this.#seq;
  }

  // ---- writes ---------------------------------------------------------------

  /** Writes a new version of `namespace/key`. Resolves once persisted per the adapter's policy. */
  put(namespace: string, key: string, value: unknown, options?: WriteOptions): Promise<Version> {
    return this.#put(namespace, key, value, options, false);
  }

  /**
   * Writes one of the database's own records (index and view definitions) under `key` in
   * {@link SYSTEM_NAMESPACE}: committed, persisted and recovered like any write, but
   * unreachable through the user-facing methods, listings and the change feed.
   */
  putSystem(key: string, value: unknown): Promise<Version> {
    return this.#put(SYSTEM_NAMESPACE, key, value, undefined, true);
  }

  /** Deletes one of the database's own records (see {@link putSystem}). */
  deleteSystem(key: string): Promise<Version> {
    try {
      this.#checkWritable();
      const ks = this.#index.keyState(SYSTEM_NAMESPACE, key, false, true);
      if (ks === undefined || this.#absent(ks)) throw new KeyNotFoundError(SYSTEM_NAMESPACE, key);
      return this.#enqueueOne(ks, null, undefined);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** The database's own live records (see {@link putSystem}), in the order first written. */
  systemEntries(): Version[] {
    this.#checkOpen();
    return [...this.#live(SYSTEM_NAMESPACE)];
  }

  #put(namespace: string, key: string, value: unknown, options: WriteOptions | undefined, system: boolean): Promise<Version> {
    try {
      this.#checkWritable();
      if (!system) validateNamespace(namespace);
      validateKey(key);
      const canon = canonicalize(value, this.#limits);
      const ks = this.#index.keyState(namespace, key, true, system)!;
      try {
        return this.#enqueueOne(ks, canon, options?.ifVersion);
      } catch (e) {
        this.#index.dropIfEmpty(ks);
        throw e;
      }
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Writes several versions as one batch: validated together (any bad item rejects
   * the whole batch, nothing stored), persisted in one adapter call, all or none
   * surviving a crash. Resolves to the versions in input order.
   */
  putMany(items: readonly PutItem[]): Promise<Version[]> {
    try {
      this.#checkWritable();
      if (!Array.isArray(items)) throw new InvalidArgumentError('putMany expects an array of { namespace, key, value }');
      const canons: Canonical[] = [];
      for (const item of items) {
        if (item === null || typeof item !== 'object') throw new InvalidArgumentError('putMany items must be objects');
        validateNamespace(item.namespace);
        validateKey(item.key);
        canons.push(canonicalize(item.value, this.#limits));
      }
      // Check every compare-and-set before queueing anything, so a conflict stores nothing.
      const seen = new Set<string>();
      for (const item of items) {
        const ks = this.#index.keyState(item.namespace, item.key, false);
        const id = `${item.namespace}\u0000${item.key}`;
        // A second write to the same key in one batch cannot know the first one's id.
        if (item.ifVersion !== undefined && (seen.has(id) || !this.#casMatches(ks, item.ifVersion))) {
          throw new VersionConflictError(item.namespace, item.key, item.ifVersion, seen.has(id) ? '(earlier in this batch)' : this.#headIdOf(ks));
        }
        seen.add(id);
      }
      // Every stamp first: a clock at the end of its format refuses before anything is marked pending.
      const stamps = items.map(() => this.#clock.tick());
      const writes = items.map((item, i) => {
        const ks = this.#index.keyState(item.namespace, item.key, true)!;
        const stamp = stamps[i]!;
        const w = this.#stamped(ks, canons[i]!, this.#pendingHeadId(ks), stamp, formatHlc(stamp), this.#nodeId);
        this.#markPending(w); // the next write to this key in the batch chains on it
        return w;
      });
      return this.#enqueueAll(writes);
    } catch (e) {
      return Promise.reject(e);
    }
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
   * the floor of every later local write). Resolves to the number of versions added
   * (`items.length` minus those skipped).
   * @throws INVALID_ARGUMENT naming the item and what does not match (nothing of the batch
   *   is stored); INVALID_NAMESPACE (the reserved namespace); CLOCK_SKEW; name and value errors
   */
  importVersions(items: readonly ImportedVersion[], options: ImportOptions = {}): Promise<number> {
    try {
      this.#checkWritable();
      if (!Array.isArray(items)) throw new InvalidArgumentError('importVersions expects an array of versions');
      const { writes } = this.#admit(items, 'restore', options.maxClockAheadMs, options.checkSystemRecord);
      return this.#enqueueAll(writes).then((vs) => vs.length);
    } catch (e) {
      this.#forgetEmptyKeys(items);
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
      this.#checkWritable();
      if (!Array.isArray(items)) throw new InvalidArgumentError('applyReplicated expects an array of versions');
      const { writes, duplicates, orphans } = this.#admit(items, 'merge', options.maxClockAheadMs);
      return this.#enqueueAll(writes).then((applied) => ({ applied, duplicates, orphans }));
    } catch (e) {
      this.#forgetEmptyKeys(items);
      return Promise.reject(e);
    }
  }

  /**
   * Checks versions made elsewhere and stamps them for commit (marked pending). See
   * {@link importVersions} and {@link applyReplicated} for what each mode accepts.
   */
  #admit(
    items: readonly ImportedVersion[],
    mode: 'restore' | 'merge',
    maxAheadMs = DEFAULT_MAX_CLOCK_AHEAD_MS,
    checkSystemRecord?: (key: string, value: unknown, deleted: boolean) => void,
  ): { writes: StampedWrite[]; duplicates: number; orphans: ImportedVersion[] } {
    const replicate = mode === 'merge';
    // Checked, stamped items with their position in `items` (error messages name it).
    const checked: Array<{ i: number; it: ImportedVersion; stamp: HlcStamp; canon: Canonical | null }> = [];
    const bad = (i: number, what: string): never => {
      const it = items[i] as Partial<ImportedVersion> | null;
      throw new InvalidArgumentError(`${replicate ? 'replicated item' : 'import item'} ${i} (${String(it?.namespace)}/${String(it?.key)}): ${what}`, { details: { index: i } });
    };
    if (typeof maxAheadMs !== 'number' || !(maxAheadMs >= 0)) throw new InvalidArgumentError('maxClockAheadMs must be a non-negative number of ms');
    const limit = this.#now() + maxAheadMs;
    for (let i = 0; i < items.length; i++) {
      const it = items[i]!;
      if (it === null || typeof it !== 'object') bad(i, 'not an object');
      const system = it.namespace === SYSTEM_NAMESPACE;
      if (!system || checkSystemRecord === undefined) validateNamespace(it.namespace);
      validateKey(it.key);
      if (typeof it.deleted !== 'boolean') bad(i, 'deleted must be true or false');
      if (system) {
        try {
          checkSystemRecord!(it.key, it.value, it.deleted);
        } catch (e) {
          const why = e instanceof Error ? e.message : String(e);
          throw new InvalidNamespaceError(`${replicate ? 'replicated item' : 'import item'} ${i} (${SYSTEM_NAMESPACE}/${it.key}): a record of the reserved namespace ${SYSTEM_NAMESPACE} that is not a valid definition: ${why}`, { cause: e, details: { index: i } });
        }
      }
      if (typeof it.node !== 'string' || it.node.length === 0 || it.node.length > 128) bad(i, 'node must be a non-empty string of at most 128 characters');
      if (typeof it.versionId !== 'string' || !isId(it.versionId)) bad(i, 'versionId must be 64 lowercase hex digits');
      if (it.previousVersion !== null && !isId(it.previousVersion)) bad(i, 'previousVersion must be null or 64 lowercase hex digits');
      let stamp: HlcStamp;
      try {
        stamp = parseHlc(it.hlc);
      } catch {
        return bad(i, `hlc ${JSON.stringify(it.hlc)} is not a clock stamp`);
      }
      if (stamp.wall > limit) {
        throw new ClockSkewError(
          `version ${it.versionId} from node ${it.node} is stamped ${new Date(stamp.wall).toISOString()}, ${stamp.wall - limit + maxAheadMs} ms ahead of this node's clock (at most ${maxAheadMs} ms allowed)`,
          { details: { node: it.node, aheadMs: stamp.wall - limit + maxAheadMs, maxClockAheadMs: maxAheadMs } },
        );
      }
      checked.push({ i, it, stamp, canon: it.deleted ? null : canonicalize(it.value, this.#limits) });
    }
    // A predecessor always has an earlier clock than its successor: in clock order,
    // predecessors come first whatever order the items arrived in.
    if (replicate) checked.sort((a, b) => compareHlc(a.stamp, b.stamp) || (a.it.node < b.it.node ? -1 : a.it.node > b.it.node ? 1 : 0));
    const writes: StampedWrite[] = [];
    const orphans: ImportedVersion[] = [];
    let duplicates = 0;
    // Versions of this batch by id: their clocks, for their successors' checks.
    const batch = new Map<string, HlcStamp>();
    let newest: HlcStamp | undefined;
    for (const { i, it, stamp, canon } of checked) {
      const system = it.namespace === SYSTEM_NAMESPACE;
      const ks = this.#index.keyState(it.namespace, it.key, true, system)!;
      const w = this.#stamped(ks, canon, it.previousVersion, stamp, it.hlc, it.node);
      if (it.valueId !== undefined && it.valueId !== w.entry.valueId) bad(i, `value does not hash to valueId ${String(it.valueId)}`);
      // The expected id is not told: it would hand anyone a forged version's id.
      if (w.entry.versionId !== it.versionId) bad(i, `versionId ${it.versionId} does not match its content`);
      if (it.timestamp !== undefined && it.timestamp !== w.version.timestamp) bad(i, `timestamp ${JSON.stringify(it.timestamp)} is not the time of its hlc ${it.hlc} (${w.version.timestamp})`);
      // Same id, so the same fields (they were just hashed): stored already, skipped.
      if (batch.has(it.versionId) || this.#queuedForeign.has(it.versionId) || this.#stored(ks, stamp, it.node, it.versionId)) {
        duplicates++;
        continue;
      }
      if (it.previousVersion !== null) {
        let prevStamp = batch.get(it.previousVersion) ?? this.#queuedForeign.get(it.previousVersion);
        if (prevStamp === undefined) {
          const row = this.#index.rowOfId(ks, it.previousVersion);
          if (row >= 0) prevStamp = { wall: this.#index.table.cols.wall[row]!, logical: this.#index.table.cols.logical[row]! };
        }
        if (prevStamp === undefined) {
          if (!replicate) bad(i, `previousVersion ${it.previousVersion} is not a version of this key stored or imported before it`);
          orphans.push(it);
          continue;
        }
        if (compareHlc(stamp, prevStamp) <= 0) bad(i, `hlc ${it.hlc} is not later than the previous version's`);
      }
      batch.set(it.versionId, stamp);
      if (newest === undefined || compareHlc(stamp, newest) > 0) newest = stamp;
      writes.push(w);
    }
    if (newest !== undefined) this.#clock.observe(newest);
    for (const [id, stamp] of batch) this.#queuedForeign.set(id, stamp);
    for (const w of writes) {
      // Only a version that will be the key's newest is what the next local write follows.
      if (replicate) w.ks.pending++;
      else this.#markPending(w);
    }
    return { writes, duplicates, orphans };
  }

  /** True when `ks` already holds the version `versionId` stamped `stamp` by `node`. */
  #stored(ks: KeyState, stamp: HlcStamp, node: string, versionId: string): boolean {
    const ix = this.#index.knownNode(node);
    return ix !== undefined && ks.rows.length > 0 && this.#index.findVersion(ks, stamp.wall, stamp.logical, ix, versionId) >= 0;
  }

  /** Keys a refused batch created and that hold nothing are forgotten. */
  #forgetEmptyKeys(items: unknown): void {
    if (!Array.isArray(items)) return;
    for (const it of items as Array<Partial<ImportedVersion> | null>) {
      if (it === null || typeof it !== 'object' || typeof it.namespace !== 'string' || typeof it.key !== 'string') continue;
      const ks = this.#index.keyState(it.namespace, it.key, false, true);
      if (ks !== undefined) this.#index.dropIfEmpty(ks);
    }
  }

  /** Writes a tombstone: history is kept, `get` then reports not found. */
  delete(namespace: string, key: string, options?: WriteOptions): Promise<Version> {
    try {
      this.#checkWritable();
      const ks = this.#index.keyState(namespace, key, false);
      if (ks === undefined || this.#absent(ks)) {
        validateNamespace(namespace);
        validateKey(key);
        throw new KeyNotFoundError(namespace, key);
      }
      return this.#enqueueOne(ks, null, options?.ifVersion);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** True when the key's newest version (queued ones included) is a tombstone or there is none. */
  #absent(ks: KeyState | undefined): boolean {
    if (ks === undefined) return true;
    if (ks.pendingId !== undefined) return ks.pendingDeleted;
    return ks.rows.length === 0 || this.#index.isDeleted(ks.rows[ks.rows.length - 1]!);
  }

  #headIdOf(ks: KeyState | undefined): string | null {
    return ks === undefined ? null : this.#pendingHeadId(ks);
  }

  /** Compare-and-set: `null` expects no live value (never written, or deleted); an id expects that head. */
  #casMatches(ks: KeyState | undefined, ifVersion: string | null | undefined): boolean {
    if (ifVersion === undefined) return true;
    if (ifVersion === null) return this.#absent(ks);
    return ifVersion === this.#headIdOf(ks);
  }

  #pendingHeadId(ks: KeyState): string | null {
    if (ks.pendingId !== undefined) return ks.pendingId;
    // The materialized head, when there is one, already holds the id as a string.
    if (ks.head !== undefined) return ks.head.versionId;
    const n = ks.rows.length;
    return n === 0 ? null : this.#index.table.versionId(ks.rows[n - 1]!);
  }

  #enqueueOne(ks: KeyState, canon: Canonical | null, ifVersion: string | null | undefined): Promise<Version> {
    const prev = this.#pendingHeadId(ks);
    if (!this.#casMatches(ks, ifVersion)) throw new VersionConflictError(ks.namespace, ks.key, ifVersion ?? null, prev);
    const stamp = this.#clock.tick();
    return this.#enqueue(this.#stamped(ks, canon, prev, stamp, formatHlc(stamp), this.#nodeId));
  }

  /** A write of `canon` (null: a tombstone) after `prev`, stamped `hlc` by `node`. */
  #stamped(ks: KeyState, canon: Canonical | null, prev: string | null, stamp: HlcStamp, hlc: string, node: string): StampedWrite {
    const deleted = canon === null;
    const valueId = deleted ? null : valueIdOfCanonical(canon.text);
    const versionId = versionIdOf({ namespace: ks.namespace, key: ks.key, valueId, previousVersion: prev, hlc, node, deleted });
    const value = deleted ? null : canon.value;
    const version: Version = Object.freeze({
      namespace: ks.namespace,
      key: ks.key,
      value,
      valueId,
      versionId,
      previousVersion: prev,
      timestamp: this.#isoOf(stamp.wall),
      hlc,
      node,
      deleted,
    });
    const entry: CommitEntry = {
      seq: 0,
      namespace: ks.namespace,
      key: ks.key,
      versionId,
      previousVersion: prev,
      valueId,
      hlc,
      node,
      deleted,
      valueText: deleted ? null : canon.text,
      value,
      sameAs: null,
      loc: -1,
      len: 0,
    };
    return { ks, entry, version, wall: stamp.wall, logical: stamp.logical };
  }

  #markPending(w: StampedWrite): void {
    const ks = w.ks;
    ks.pendingId = w.entry.versionId;
    ks.pendingDeleted = w.entry.deleted;
    ks.pending++;
  }

  /** Nothing to batch with when persisting costs nothing: commit right away. */
  #canCommitNow(): boolean {
    return this.#adapter.synchronous && this.#queue.length === 0 && this.#flushing === undefined;
  }

  /** Commits `batch` synchronously; returns the adapter's error, if it failed (the writes are then failed). */
  #commitNow(batch: PendingWrite[]): unknown {
    const entries = this.#prepareBatch(batch);
    try {
      this.#adapter.append(entries);
    } catch (e) {
      this.#failWrites(batch, e);
      return e;
    }
    this.#apply(batch);
    return undefined;
  }

  #queueWrite(w: PendingWrite): void {
    this.#queue.push(w);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(this.#startFlush);
    }
  }

  #enqueue(w: StampedWrite): Promise<Version> {
    this.#markPending(w);
    if (this.#canCommitNow()) {
      const error = this.#commitNow([pending(w, noop, noop)]);
      return error === undefined ? Promise.resolve(w.version) : Promise.reject(error);
    }
    return new Promise<Version>((resolve, reject) => this.#queueWrite(pending(w, resolve, reject)));
  }

  /**
   * Commits `writes` (already marked pending) together, with one promise for all: they are
   * queued back to back, so one flush persists and applies them as one batch.
   */
  #enqueueAll(writes: readonly StampedWrite[]): Promise<Version[]> {
    const versions = writes.map((w) => w.version);
    if (writes.length === 0) return Promise.resolve(versions);
    if (this.#canCommitNow()) {
      const error = this.#commitNow(writes.map((w) => pending(w, noop, noop)));
      return error === undefined ? Promise.resolve(versions) : Promise.reject(error);
    }
    return new Promise<Version[]>((resolve, reject) => {
      const last = writes.length - 1;
      for (let i = 0; i < last; i++) this.#queueWrite(pending(writes[i]!, noop, noop));
      // A failure rejects every write of the batch; the last one carries the promise.
      this.#queueWrite(pending(writes[last]!, () => resolve(versions), reject));
    });
  }

  readonly #startFlush = (): void => {
    this.#flushScheduled = false;
    if (this.#flushing === undefined) this.#flushing = this.#flushLoop().finally(() => (this.#flushing = undefined));
  };

  async #flushLoop(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      const entries = this.#prepareBatch(batch);
      try {
        const p = this.#adapter.append(entries);
        if (p !== undefined) await p;
      } catch (e) {
        this.#failWrites(batch, e);
        continue;
      }
      this.#apply(batch);
    }
    if (!this.#closed && this.#adapter.wantsSnapshot()) {
      try {
        this.#snapshotNow();
      } catch {
        // An automatic snapshot only saves replay time: its writes are already
        // acknowledged and in the log. The adapter tries again on a later flush, or
        // refuses further writes itself if it cannot go on safely. Rethrowing would
        // reject a promise nobody awaits.
      }
    }
  }

  /** Numbers the entries and stores each distinct value once. */
  #prepareBatch(batch: PendingWrite[]): CommitEntry[] {
    const values = this.#valueIndex();
    const cols = this.#index.table.cols;
    let firstOfBatch: Map<string, CommitEntry> | undefined;
    const entries = new Array<CommitEntry>(batch.length);
    let seq = this.#seq;
    for (let i = 0; i < batch.length; i++) {
      const e = batch[i]!.entry;
      (e as { seq: number }).seq = ++seq;
      entries[i] = e;
      if (e.valueId === null) continue;
      const row = values.find(e.valueId);
      if (row >= 0) {
        e.valueText = null;
        e.loc = cols.loc[row]!;
        e.len = cols.len[row]!;
        continue;
      }
      firstOfBatch ??= new Map();
      const first = firstOfBatch.get(e.valueId);
      if (first === undefined) firstOfBatch.set(e.valueId, e);
      else {
        e.valueText = null;
        e.sameAs = first;
      }
    }
    return entries;
  }

  #apply(batch: PendingWrite[]): void {
    const values = this.#valueIndex();
    const own = this.#nodeId;
    const ownIx = this.#index.nodeIndex(own);
    // Versions that became their key's current one (derived state follows only those).
    let current: Version[] | undefined;
    for (let i = 0; i < batch.length; i++) {
      const w = batch[i]!;
      const e = w.entry;
      const ks = w.ks;
      const node = e.node === own ? ownIx : this.#index.nodeIndex(e.node);
      if (e.sameAs !== null) {
        e.loc = e.sameAs.loc;
        e.len = e.sameAs.len;
      }
      const placed = this.#index.place(ks, w.wall, w.logical, e, node);
      if (this.#liveLists.size > 0) this.#liveLists.delete(ks.namespace);
      if (e.valueText !== null) values.add(placed.row);
      if (placed.current) {
        ks.head = w.version;
        if (current !== undefined) current.push(w.version);
      } else if (current === undefined) current = batch.slice(0, i).map((b) => b.version);
      this.#merkle.touch(ks);
      if (this.#queuedForeign.size > 0) this.#queuedForeign.delete(e.versionId);
      if (--ks.pending === 0) ks.pendingId = undefined;
      this.#seq = e.seq;
      w.resolve(w.version);
    }
    if (this.#appliers.size > 0) {
      const all = batch.map((w) => w.version);
      for (const applier of this.#appliers) applier(current ?? all, all);
    }
    for (const listener of this.#listeners) {
      try {
        listener(this.#seq);
      } catch {
        // A listener's failure is its own; the commit stands.
      }
    }
  }

  #failWrites(batch: PendingWrite[], cause: unknown): void {
    // Writes queued behind a failed batch may chain on it: they fail too.
    const all = batch.concat(this.#queue);
    this.#queue = [];
    const error = isKoruError(cause) ? cause : new IoError(`write failed: ${String(cause)}`, cause);
    for (const w of all) {
      this.#queuedForeign.delete(w.entry.versionId);
      w.ks.pending = 0;
      w.ks.pendingId = undefined;
      this.#index.dropIfEmpty(w.ks);
      w.reject(error);
    }
  }

  #snapshotNow(): void {
    const reloc = this.#adapter.snapshot({
      count: this.#index.table.count,
      cols: this.#index.table.trimmed(),
      nodes: this.#index.nodes,
      keys: () => this.#index.keys(),
      keyCount: this.#index.keyCount(),
      seq: this.#seq,
    });
    if (reloc === null) return;
    this.#index.table.cols.loc.set(reloc.loc);
    this.#index.table.cols.len.set(reloc.len);
    this.#reader.clear();
  }

  /**
   * Writes a snapshot now (durable adapters): all history is kept, the log is
   * restarted, and the next open loads the snapshot instead of replaying the log.
   */
  async compact(): Promise<void> {
    this.#checkWritable();
    while (this.#flushing !== undefined || this.#queue.length > 0) {
      if (this.#flushing === undefined) this.#startFlush();
      await this.#flushing;
    }
    this.#snapshotNow();
  }

  // ---- reads ----------------------------------------------------------------

  /** The current value. O(1). @throws KeyNotFoundError */
  get(namespace: string, key: string): JsonValue {
    return this.getVersion(namespace, key).value;
  }

  /** The current version (metadata and value). O(1). @throws KeyNotFoundError */
  getVersion(namespace: string, key: string): Version {
    this.#checkOpen();
    const ks = this.#index.keyState(namespace, key, false);
    if (ks !== undefined) {
      const head = this.#reader.head(ks);
      if (head !== undefined && !head.deleted) return head;
    }
    validateNamespace(namespace);
    validateKey(key);
    throw new KeyNotFoundError(namespace, key);
  }

  /** True when the key has a current (not deleted) value. */
  contains(namespace: string, key: string): boolean {
    this.#checkOpen();
    const ks = this.#index.keyState(namespace, key, false);
    return ks !== undefined && this.#index.isLive(ks);
  }

  /** Every version of the key, oldest first (tombstones included). O(h). @throws KeyNotFoundError */
  history(namespace: string, key: string, options: HistoryOptions = {}): Version[] {
    const ks = this.#existingKey(namespace, key);
    const limit = options.limit;
    if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0)) {
      throw new InvalidArgumentError(`history limit must be a non-negative integer, got ${String(limit)}`);
    }
    const n = ks.rows.length;
    const from = limit !== undefined ? Math.max(0, n - limit) : 0;
    const out = new Array<Version>(n - from);
    let prev: Version | undefined;
    for (let i = from; i < n; i++) {
      // Each version's predecessor id is the one just materialized: no second hex encoding.
      const v = i === n - 1 ? (this.#reader.head(ks)!) : this.#reader.at(ks, i, prev?.versionId);
      out[i - from] = v;
      prev = v;
    }
    return out;
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
    const ks = this.#existingKey(namespace, key);
    let found: number;
    if (typeof at === 'number' && !Number.isNaN(at)) found = this.#index.indexAt(ks, at);
    else if (isStamp(at)) found = this.#index.indexAtStamp(ks, at.wall, at.logical);
    else throw new InvalidArgumentError(`getAt expects a time in ms since the epoch or a clock stamp, got ${describeTime(at)}`);
    const rows = ks.rows;
    if (found < 0 || this.#index.isDeleted(rows[found]!)) {
      const stamp = typeof at !== 'number';
      // ±Infinity and times beyond Date's range have no ISO form.
      const when = stamp ? formatHlc(at) : Math.abs(at) <= 8.64e15 ? new Date(at).toISOString() : String(at);
      throw new KeyNotFoundError(namespace, key, `${namespace}/${key} had no value at ${stamp ? 'hlc ' : ''}${when}`, { details: stamp ? { hlc: when } : { at: when } });
    }
    return this.#reader.at(ks, found);
  }

  /**
   * The live versions of a namespace, one per key: the current ones, or those current at
   * `atMs` (keys deleted then, or written only later, are absent). In no particular
   * order. O(keys), or O(keys · log h) with `atMs`.
   */
  entries(namespace: string, atMs?: number): Iterable<Version> {
    this.#checkOpen();
    validateNamespace(namespace);
    if (atMs !== undefined && (typeof atMs !== 'number' || Number.isNaN(atMs))) {
      throw new InvalidArgumentError(`entries expects a time in ms since the epoch, got ${String(atMs)}`);
    }
    return atMs === undefined ? this.#liveList(namespace) : this.#liveAt(namespace, (ks) => this.#index.indexAt(ks, atMs));
  }

  /**
   * The namespace's live heads as an array, kept until the next commit to the namespace:
   * repeated scans between writes walk an array, not the key map.
   */
  #liveList(namespace: string): readonly Version[] {
    let list = this.#liveLists.get(namespace);
    if (list === undefined) {
      list = [...this.#live(namespace)];
      this.#liveLists.set(namespace, list);
    }
    return list;
  }

  /**
   * The live versions of a namespace as they were right after change `seq` was committed
   * (0: before any). Exact where a time is not: several changes can share a millisecond.
   * In no particular order. O(keys · log h).
   */
  entriesAsOf(namespace: string, seq: number): Iterable<Version> {
    this.#checkOpen();
    validateNamespace(namespace);
    if (!Number.isInteger(seq) || seq < 0 || seq > this.#seq) {
      throw new InvalidArgumentError(`no state after change ${String(seq)}: changes are numbered 1 to ${this.#seq}`);
    }
    // Change seq is row seq - 1: the state after it holds the rows below seq.
    return this.#liveAt(namespace, (ks) => this.#index.indexBeforeRow(ks, seq));
  }

  /**
   * The current versions of those of `keys` that are live in `namespace`, in the order
   * `entries` lists them (keys first written first), or in `keys`' order when not
   * `ordered`. O(m log m) for m keys (O(m) unordered).
   */
  liveVersionsOf(namespace: string, keys: Iterable<string>, ordered = true): Version[] {
    this.#checkOpen();
    validateNamespace(namespace);
    const found: KeyState[] = [];
    for (const key of keys) {
      const ks = this.#index.keyState(namespace, key, false);
      if (ks !== undefined && this.#index.isLive(ks)) found.push(ks);
    }
    // A key's first row orders keys as the namespace's map does: by first write.
    if (ordered) found.sort((a, b) => a.rows[0]! - b.rows[0]!);
    return found.map((ks) => this.#reader.head(ks)!);
  }

  *#live(namespace: string): Generator<Version> {
    for (const ks of this.#index.namespaceKeys(namespace)) {
      const n = ks.rows.length;
      if (n === 0 || this.#index.isDeleted(ks.rows[n - 1]!)) continue;
      // The version itself carries key and value: no object per entry.
      yield ks.head ?? this.#reader.head(ks)!;
    }
  }

  *#liveAt(namespace: string, indexOf: (ks: KeyState) => number): Generator<Version> {
    for (const ks of this.#index.namespaceKeys(namespace)) {
      if (ks.rows.length === 0) continue;
      const i = indexOf(ks);
      if (i < 0 || this.#index.isDeleted(ks.rows[i]!)) continue;
      yield this.#reader.at(ks, i);
    }
  }

  /**
   * Every version (tombstones included) of one key, or of every key of a namespace,
   * whose timestamp lies in [fromMs, toMs], oldest first within each key. Keys come in
   * no particular order. O(versions listed + log h per key).
   */
  *versions(namespace: string, options: { readonly key?: string; readonly fromMs?: number; readonly toMs?: number } = {}): Generator<Version> {
    this.#checkOpen();
    validateNamespace(namespace);
    const { key, fromMs = -Infinity, toMs = Infinity } = options;
    for (const t of [fromMs, toMs]) {
      if (typeof t !== 'number' || Number.isNaN(t)) throw new InvalidArgumentError(`a time range bound must be ms since the epoch, got ${String(t)}`);
    }
    const keys = key === undefined ? this.#index.namespaceKeys(namespace) : [this.#existingKey(namespace, key)];
    const wall = this.#index.table.cols.wall;
    for (const ks of keys) {
      const rows = ks.rows;
      let i = this.#index.firstAtOrAfter(ks, fromMs);
      let prev: Version | undefined;
      for (; i < rows.length && wall[rows[i]!]! <= toMs; i++) {
        const v = i === rows.length - 1 ? (this.#reader.head(ks)!) : this.#reader.at(ks, i, prev?.versionId);
        prev = v;
        yield v;
      }
    }
  }

  /**
   * The committed change numbered `seq` (1 is the first; each committed change on this
   * node is the next number, its version the next row). O(log h).
   * @throws InvalidArgumentError when `seq` is not in [1, this.seq]
   */
  changeAt(seq: number): Change {
    this.#checkOpen();
    if (!Number.isInteger(seq) || seq < 1 || seq > this.#seq) {
      throw new InvalidArgumentError(`no change ${String(seq)}: changes are numbered 1 to ${this.#seq}`);
    }
    // Every subscriber asks for the same new change in turn: keep the last one built.
    if (this.#lastChange?.seq === seq) return this.#lastChange;
    const row = seq - 1;
    const ks = this.#index.keyOfRow(row);
    const i = this.#index.indexOfRow(ks, row);
    const version = this.#reader.at(ks, i);
    // What was current just before this change: the latest in clock order of the versions
    // committed earlier. In a linear history that is simply the one before it.
    let beforeIx = i - 1;
    let superseded = false;
    if (!ks.linear) {
      const rows = ks.rows;
      beforeIx = -1;
      for (let j = rows.length - 1; j >= 0; j--) {
        if (rows[j]! >= row) continue;
        if (j > i) superseded = true;
        beforeIx = j;
        break;
      }
    }
    const before = beforeIx >= 0 ? this.#reader.at(ks, beforeIx) : undefined;
    const previousValue = before === undefined || before.deleted ? null : before.value;
    const changeType = version.deleted ? 'delete' : previousValue === null && !superseded ? 'insert' : 'update';
    this.#lastChange = Object.freeze(superseded ? { seq, changeType, version, previousValue, superseded: true as const } : { seq, changeType, version, previousValue });
    return this.#lastChange;
  }

  /**
   * Every committed version with a seq in [fromSeq, toSeq] (default: all), in commit
   * order, the database's own records included: an export that `importVersions` replays
   * with the same seqs into an empty database. O(versions · log h).
   */
  *committed(fromSeq = 1, toSeq = this.#seq): Generator<Version> {
    this.#checkOpen();
    for (const [name, n] of [['fromSeq', fromSeq], ['toSeq', toSeq]] as const) {
      if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer, not ${String(n)}`);
    }
    const last = Math.min(toSeq, this.#seq);
    for (let seq = Math.max(1, fromSeq); seq <= last; seq++) {
      const ks = this.#index.keyOfRow(seq - 1);
      yield this.#reader.at(ks, this.#index.indexOfRow(ks, seq - 1));
    }
  }

  /**
   * The JSON of every committed version with a seq in [fromSeq, toSeq] (the fields of
   * {@link Version}, the value in its canonical form), in commit order, built from the
   * stored text without materializing values: for streaming a whole store. The reserved
   * namespace is left out unless `system`. O(versions + value bytes).
   */
  *committedJson(fromSeq = 1, toSeq = this.#seq, system = false): Generator<string> {
    this.#checkOpen();
    const last = Math.min(toSeq, this.#seq);
    for (let seq = Math.max(1, fromSeq); seq <= last; seq++) {
      const ks = this.#index.keyOfRow(seq - 1);
      if (!system && ks.namespace === SYSTEM_NAMESPACE) continue;
      yield this.#rowJson(ks, seq - 1);
    }
  }

  /**
   * The JSON (as {@link committedJson} gives it) of the versions of `namespace/key` whose
   * ids are in `ids` (all of them when omitted), in clock order. O(h + value bytes).
   */
  versionsJson(namespace: string, key: string, ids?: ReadonlySet<string>): string[] {
    this.#checkOpen();
    const ks = this.#index.keyState(namespace, key, false);
    if (ks === undefined) return [];
    const out: string[] = [];
    for (const row of ks.rows) if (ids === undefined || ids.has(this.#index.table.versionId(row))) out.push(this.#rowJson(ks, row));
    return out;
  }

  /** One version's JSON from the table and the stored value text. */
  #rowJson(ks: KeyState, row: number): string {
    const t = this.#index.table;
    // Read afresh each time: between two calls the table may grow or a snapshot move values.
    const c = t.cols;
    const deleted = (c.flags[row]! & FLAG_DELETED) !== 0;
    const prev = c.prev[row]!;
    const wall = c.wall[row]!;
    return (
      '{"namespace":' +
      JSON.stringify(ks.namespace) +
      ',"key":' +
      JSON.stringify(ks.key) +
      ',"value":' +
      (deleted ? 'null' : this.#adapter.readValueText(c.loc[row]!, c.len[row]!)) +
      ',"valueId":' +
      (deleted ? 'null' : `"${t.valueId(row)!}"`) +
      `,"versionId":"${t.versionId(row)}","previousVersion":` +
      (prev < 0 ? 'null' : `"${t.versionId(prev)}"`) +
      `,"timestamp":"${this.#isoOf(wall)}","hlc":"${formatHlc({ wall, logical: c.logical[row]! })}","node":` +
      JSON.stringify(this.#index.nodes[c.node[row]!]!) +
      `,"deleted":${deleted}}`
    );
  }

  /**
   * Calls `listener` after every commit with the new last seq, and once with -1 when the
   * store closes. Returns the function that removes it.
   */
  onCommit(listener: (seq: number) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Calls `listener` synchronously with the versions of every batch as it is applied,
   * before any write of it is reported done, so derived state (secondary indexes, views)
   * never lags a completed write: `current`, those that became their key's current
   * version (in order), and `all` of them (replicated versions that lost to a later
   * clock included). The listener must not throw. Returns its remover.
   */
  onApply(listener: (current: readonly Version[], all: readonly Version[]) => void): () => void {
    this.#appliers.add(listener);
    return () => this.#appliers.delete(listener);
  }

  /** A version by id. O(h). @throws KeyNotFoundError, VersionNotFoundError */
  getVersionById(namespace: string, key: string, versionId: string): Version {
    const ks = this.#existingKey(namespace, key);
    const table = this.#index.table;
    for (let i = ks.rows.length - 1; i >= 0; i--) {
      if (table.versionId(ks.rows[i]!) === versionId) return this.#reader.at(ks, i);
    }
    throw new VersionNotFoundError(namespace, key, versionId);
  }

  /** Namespaces with at least one live key, sorted. */
  listNamespaces(): string[] {
    this.#checkOpen();
    return this.#index.listNamespaces();
  }

  /** Live keys of a namespace, sorted. */
  listKeys(namespace: string): string[] {
    this.#checkOpen();
    validateNamespace(namespace);
    return this.#index.listKeys(namespace);
  }

  /** Counts and sizes. O(keys + versions). */
  stats(): StorageStats {
    this.#checkOpen();
    return {
      ...this.#index.counts(),
      versions: this.#index.table.count,
      diskBytes: this.#adapter.diskBytes(),
      seq: this.#seq,
      adapter: this.#adapter.name,
    };
  }

  // ---- anti-entropy digests (see MerkleState) ----------------------------------

  /**
   * One digest of every version of every user namespace: replicas holding the same
   * versions report the same root, whatever order they received them in. The first call
   * computes it in O(versions); later ones recompute what changed since.
   */
  stateRoot(): string {
    this.#checkOpen();
    return this.#merkle.stateRoot();
  }

  /** Every user namespace that holds a version (deleted keys count), with its root digest. */
  namespaceRoots(): Map<string, string> {
    this.#checkOpen();
    return this.#merkle.namespaceRoots();
  }

  /** The non-empty children of a namespace's hash-tree node `prefix` (hex digits), with digests and key counts. */
  merkleChildren(namespace: string, prefix: string): MerkleNode[] {
    this.#checkOpen();
    return this.#merkle.children(namespace, prefix);
  }

  /** A namespace's hash-tree node `prefix`: its digest and key count. */
  merkleNode(namespace: string, prefix: string): MerkleNode {
    this.#checkOpen();
    return this.#merkle.node(namespace, prefix);
  }

  /** The keys under a namespace's hash-tree node `prefix`, sorted, with the digest of each key's history. */
  merkleKeys(namespace: string, prefix: string): Array<readonly [key: string, digest: string]> {
    this.#checkOpen();
    return this.#merkle.keysUnder(namespace, prefix);
  }

  /** The ids of every version of a key in clock order (empty for an unknown key). */
  versionIdsOf(namespace: string, key: string): string[] {
    this.#checkOpen();
    const ks = this.#index.keyState(namespace, key, false);
    return ks === undefined ? [] : ks.rows.map((r) => this.#index.table.versionId(r));
  }

  /**
   * Re-hashes every version chain and every stored value: each versionId must match
   * its fields, each previousVersion the version before it, each value its valueId.
   * O(total versions + value bytes).
   */
  verify(): VerifyReport {
    this.#checkOpen();
    return verifyIndex(this.#index, (loc, len) => this.#adapter.readValueText(loc, len));
  }

  /** Waits for queued writes, then closes the adapter. Later calls fail with CLOSED. */
  async close(): Promise<void> {
    if (this.#closed) return;
    while (this.#flushing !== undefined || this.#queue.length > 0) {
      if (this.#flushing === undefined) this.#startFlush();
      await this.#flushing;
    }
    this.#closed = true;
    for (const listener of [...this.#listeners]) {
      try {
        listener(-1);
      } catch {
        // Closing goes on.
      }
    }
    this.#listeners.clear();
    await this.#adapter.close();
  }

  // ---- internals ------------------------------------------------------------

  #checkOpen(): void {
    if (this.#closed) throw new ClosedError();
  }

  #checkWritable(): void {
    if (this.#closed) throw new ClosedError();
  }

  #existingKey(namespace: string, key: string): KeyState {
    this.#checkOpen();
    return this.#index.existing(namespace, key);
  }

  #isoOf(wall: number): string {
    if (wall !== this.#isoWall) {
      this.#isoWall = wall;
      this.#iso = new Date(wall).toISOString();
    }
    return this.#iso;
  }



  #valueIndex(): ValueIndex {
    if (this.#values !== undefined) return this.#values;
    // Built on the first write after a load, so opening stays fast.
    const t = this.#index.table;
    const idx = new ValueIndex(t, Math.max(1024, t.count));
    const flags = t.cols.flags;
    for (let r = 0; r < t.count; r++) if ((flags[r]! & FLAG_DELETED) === 0 && idx.find(t.valueId(r)!) < 0) idx.add(r);
    this.#values = idx;
    return idx;
  }

  #load(loaded: LoadedState): void {
    this.#nodeId = loaded.nodeId;
    let last = { wall: 0, logical: 0 };
    if (loaded.snapshot !== null) {
      last = this.#index.loadSnapshot(loaded.snapshot);
      this.#seq = loaded.snapshot.seq;
    }
    for (const e of loaded.log) {
      const stamp = this.#index.replay(e);
      if (compareHlc(stamp, last) > 0) last = stamp;
      if (e.seq > this.#seq) this.#seq = e.seq;
    }
    // Each committed change is one row: the change feed relies on seq = row + 1.
    if (this.#seq !== this.#index.table.count) {
      throw new CorruptionError(`the store holds ${this.#index.table.count} versions but its change counter is ${this.#seq}`);
    }
    this.#index.nodeIndex(this.#nodeId);
    this.#clock.observe(last);
    this.#recovery = loaded.report();
  }
}

