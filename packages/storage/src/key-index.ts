/**
 * The in-memory index of a store: namespaces → keys → the rows of each key's versions
 * in the columnar version table, plus the table of node ids. Pure bookkeeping: no
 * I/O, no hashing. CausalStorage commits through it; loading fills it.
 */
import { parseHlc, type HlcStamp } from '@koru/engine';
import type { ChangeRecord, LoadedSnapshot, ReplayEntry } from './adapter.js';
import { CorruptionError, KeyNotFoundError } from './errors.js';
import { SYSTEM_NAMESPACE, validateKey, validateNamespace } from './names.js';
import type { Version } from './types.js';
import { FLAG_DELETED, VersionTable } from './version-table.js';

/**
 * One key: its rows in clock order (hlc, then node), its materialized head and its
 * queued writes. The last row is the current version.
 */
export class KeyState {
  /** The materialized head version; undefined until first read after a load. */
  head: Version | undefined = undefined;
  /**
   * True while the rows are also in commit order and each version's predecessor is the
   * row before it: a history written on one node. Versions replicated from other nodes
   * can fork a history (two versions after the same one) or arrive after later ones;
   * such a key takes the slower, general paths.
   */
  linear = true;
  /** Hex digest of the key's version ids in clock order (see {@link keyDigest}); undefined until asked. */
  digest: string | undefined = undefined;
  /** Id of the newest queued (not yet committed) version, if any. */
  pendingId: string | undefined = undefined;
  pendingDeleted = false;
  pending = 0;
  constructor(
    readonly namespace: string,
    readonly key: string,
    /** Rows of its versions in the version table, in clock order. */
    readonly rows: number[] = [],
  ) {}
}

/** What the index records of a version besides its clock stamp and node. */
export type PlacedVersion = Pick<ChangeRecord, 'versionId' | 'previousVersion' | 'valueId' | 'deleted' | 'loc' | 'len'>;

/** Live-key and stored-value counts for `stats()`. */
export interface IndexCounts {
  readonly keys: number;
  readonly namespaces: number;
  readonly distinctValues: number;
  readonly valueBytes: number;
}

/** Namespaces, keys, rows and nodes. */
export class KeyIndex {
  readonly table = new VersionTable();
  /**
   * The key of every row, so the change feed can go from a seq to its version (8 B per
   * row). Rows loaded from a snapshot are filled in on first use: most opens never need them.
   */
  #rowKeys: KeyState[] = [];
  #rowKeysComplete = true;
  readonly nodes: string[] = [];
  readonly #nodeIx = new Map<string, number>();
  readonly #namespaces = new Map<string, Map<string, KeyState>>();

  /**
   * The key's state, or undefined; with `create`, a new empty one (names validated first).
   * The reserved namespace is reachable only with `system` (otherwise INVALID_NAMESPACE). O(1).
   */
  keyState(namespace: string, key: string, create: boolean, system = false): KeyState | undefined {
    if (namespace === SYSTEM_NAMESPACE && !system) validateNamespace(namespace);
    let keys = this.#namespaces.get(namespace);
    let ks = keys?.get(key);
    if (ks !== undefined || !create) return ks;
    if (!system) validateNamespace(namespace);
    validateKey(key);
    if (keys === undefined) this.#namespaces.set(namespace, (keys = new Map()));
    keys.set(key, (ks = new KeyState(namespace, key)));
    return ks;
  }

  /** A key with at least one version. @throws KeyNotFoundError (or a name error for malformed names) */
  existing(namespace: string, key: string): KeyState {
    if (namespace === SYSTEM_NAMESPACE) validateNamespace(namespace);
    const ks = this.#namespaces.get(namespace)?.get(key);
    if (ks !== undefined && ks.rows.length > 0) return ks;
    validateNamespace(namespace);
    validateKey(key);
    throw new KeyNotFoundError(namespace, key);
  }

  /** Forgets a key that was created for a write that then failed. */
  dropIfEmpty(ks: KeyState): void {
    if (ks.rows.length > 0 || ks.pending > 0) return;
    const keys = this.#namespaces.get(ks.namespace);
    if (keys?.get(ks.key) !== ks) return;
    keys.delete(ks.key);
    if (keys.size === 0) this.#namespaces.delete(ks.namespace);
  }

  isDeleted(row: number): boolean {
    return (this.table.cols.flags[row]! & FLAG_DELETED) !== 0;
  }

  /** True when the key's newest committed version exists and is not a tombstone. */
  isLive(ks: KeyState): boolean {
    return ks.rows.length > 0 && !this.isDeleted(ks.rows[ks.rows.length - 1]!);
  }

  /** The index of a node id in the node table, adding it if new. */
  nodeIndex(node: string): number {
    let ix = this.#nodeIx.get(node);
    if (ix === undefined) {
      ix = this.nodes.length;
      this.nodes.push(node);
      this.#nodeIx.set(node, ix);
    }
    return ix;
  }

  /** The index of a node id already in the node table, or undefined. */
  knownNode(node: string): number | undefined {
    return this.#nodeIx.get(node);
  }

  /** Every key with at least one version. */
  *keys(): Generator<KeyState> {
    for (const keys of this.#namespaces.values()) for (const ks of keys.values()) if (ks.rows.length > 0) yield ks;
  }

  /** The keys of one namespace (some may have no committed version yet). */
  namespaceKeys(namespace: string): Iterable<KeyState> {
    return this.#namespaces.get(namespace)?.values() ?? [];
  }

  /** Index in `ks.rows` of the version current at `atMs` (the last written at or before it), or -1. O(log h). */
  indexAt(ks: KeyState, atMs: number): number {
    const wall = this.table.cols.wall;
    const rows = ks.rows;
    let lo = 0;
    let hi = rows.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (wall[rows[mid]!]! <= atMs) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  /**
   * Index in `ks.rows` of the version current at clock stamp (wall, logical): the last
   * whose hlc is at or before it (of versions sharing that hlc, the one of the greatest
   * node id), or -1. O(log h).
   */
  indexAtStamp(ks: KeyState, wall: number, logical: number): number {
    const c = this.table.cols;
    const rows = ks.rows;
    let lo = 0;
    let hi = rows.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const r = rows[mid]!;
      const w = c.wall[r]!;
      if (w < wall || (w === wall && c.logical[r]! <= logical)) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  /** Index in `ks.rows` of the last version with a row below `endRow` (committed before change `endRow + 1`), or -1. O(log h). */
  indexBeforeRow(ks: KeyState, endRow: number): number {
    const rows = ks.rows;
    if (!ks.linear) {
      // The current version then: the latest in clock order of those committed by then.
      for (let i = rows.length - 1; i >= 0; i--) if (rows[i]! < endRow) return i;
      return -1;
    }
    let lo = 0;
    let hi = rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (rows[mid]! < endRow) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }

  /** Index in `ks.rows` of the first version written at or after `atMs` (rows.length if none). O(log h). */
  firstAtOrAfter(ks: KeyState, atMs: number): number {
    const wall = this.table.cols.wall;
    const rows = ks.rows;
    let lo = 0;
    let hi = rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (wall[rows[mid]!]! < atMs) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index of `row` in its key's rows. O(log h) (O(h) for a key that is not linear). */
  indexOfRow(ks: KeyState, row: number): number {
    const rows = ks.rows;
    if (!ks.linear) return rows.indexOf(row);
    let lo = 0;
    let hi = rows.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const r = rows[mid]!;
      if (r === row) return mid;
      if (r < row) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Keys known, including ones with only queued writes. */
  keyCount(): number {
    let n = 0;
    for (const keys of this.#namespaces.values()) n += keys.size;
    return n;
  }

  /** Namespaces with at least one live key, sorted. */
  listNamespaces(): string[] {
    const out: string[] = [];
    for (const [ns, keys] of this.#namespaces) {
      if (ns === SYSTEM_NAMESPACE) continue;
      for (const ks of keys.values()) {
        if (this.isLive(ks)) {
          out.push(ns);
          break;
        }
      }
    }
    return out.sort();
  }

  /** Live keys of a namespace, sorted. */
  listKeys(namespace: string): string[] {
    const out: string[] = [];
    const keys = this.#namespaces.get(namespace);
    if (keys !== undefined) for (const ks of keys.values()) if (this.isLive(ks)) out.push(ks.key);
    return out.sort();
  }

  /** Live keys and namespaces, distinct stored values and their bytes. O(keys + versions). */
  counts(): IndexCounts {
    let keys = 0;
    let namespaces = 0;
    for (const [ns, m] of this.#namespaces) {
      if (ns === SYSTEM_NAMESPACE) continue;
      let live = 0;
      for (const ks of m.values()) if (this.isLive(ks)) live++;
      keys += live;
      if (live > 0) namespaces++;
    }
    let distinctValues = 0;
    let valueBytes = 0;
    const cols = this.table.cols;
    const seen = new Set<number>();
    for (let r = 0; r < this.table.count; r++) {
      if (cols.flags[r]! & FLAG_DELETED || seen.has(cols.loc[r]!)) continue;
      seen.add(cols.loc[r]!);
      distinctValues++;
      valueBytes += cols.len[r]!;
    }
    return { keys, namespaces, distinctValues, valueBytes };
  }

  /** Takes over a loaded snapshot's table and keys. Returns its largest HLC stamp. */
  loadSnapshot(snap: LoadedSnapshot): HlcStamp {
    this.table.cols = snap.cols;
    this.table.count = snap.count;
    this.#rowKeys = [];
    this.#rowKeysComplete = false;
    for (const n of snap.nodes) this.nodeIndex(n);
    for (const k of snap.keys) {
      let keys = this.#namespaces.get(k.namespace);
      if (keys === undefined) this.#namespaces.set(k.namespace, (keys = new Map()));
      const ks = new KeyState(k.namespace, k.key, k.rows);
      ks.linear = this.#isLinear(k.rows);
      keys.set(k.key, ks);
    }
    let last = { wall: 0, logical: 0 };
    for (let r = 0; r < snap.count; r++) {
      const w = snap.cols.wall[r]!;
      const l = snap.cols.logical[r]!;
      if (w > last.wall || (w === last.wall && l > last.logical)) last = { wall: w, logical: l };
    }
    return last;
  }

  /** Adds one change replayed from the log. Returns its HLC stamp. */
  replay(e: ReplayEntry): HlcStamp {
    const ks = this.keyState(e.namespace, e.key, true, e.namespace === SYSTEM_NAMESPACE)!;
    const stamp = parseHlc(e.hlc);
    this.place(ks, stamp.wall, stamp.logical, e, this.nodeIndex(e.node));
    ks.head = undefined;
    return stamp;
  }

  /**
   * Adds a version to `ks`'s rows at its place in clock order, linked to its predecessor
   * (`v.previousVersion`, which must be one of the key's rows). Returns the new row and
   * whether it became the key's current version. O(1) for a version later than the
   * head (every local write), O(log h) otherwise plus the search for its predecessor.
   * @throws CorruptionError when the predecessor is not a version of the key
   */
  place(ks: KeyState, wall: number, logical: number, v: PlacedVersion, node: number): { readonly row: number; readonly current: boolean } {
    const rows = ks.rows;
    const n = rows.length;
    const prevRow = v.previousVersion === null ? -1 : this.#rowOfId(ks, v.previousVersion);
    if (prevRow === -2) {
      throw new CorruptionError(`${ks.namespace}/${ks.key}: version ${v.versionId} follows ${String(v.previousVersion)}, which is not a version of this key`);
    }
    const pos = n === 0 || this.#before(rows[n - 1]!, wall, logical, node, v.versionId) ? n : this.#position(rows, wall, logical, node, v.versionId);
    const row = this.table.push(wall, logical, prevRow, v.versionId, v.valueId, v.deleted ? -1 : v.loc, v.deleted ? 0 : v.len, node, v.deleted ? FLAG_DELETED : 0);
    if (pos === n) rows.push(row);
    else rows.splice(pos, 0, row);
    if (pos !== n || prevRow !== (pos === 0 ? -1 : rows[pos - 1]!)) ks.linear = false;
    ks.digest = undefined;
    if (this.#rowKeysComplete) this.#rowKeys[row] = ks;
    return { row, current: pos === n };
  }

  /** The row of `ks`'s version `versionId`, -2 when it has none. Searches from the newest. O(h). */
  rowOfId(ks: KeyState, versionId: string): number {
    return this.#rowOfId(ks, versionId);
  }

  #rowOfId(ks: KeyState, versionId: string): number {
    const rows = ks.rows;
    for (let i = rows.length - 1; i >= 0; i--) if (this.table.versionIdEquals(rows[i]!, versionId)) return rows[i]!;
    return -2;
  }

  /** The index in `ks.rows` of the version with these fields, or -1. O(log h). */
  findVersion(ks: KeyState, wall: number, logical: number, node: number, versionId: string): number {
    const rows = ks.rows;
    // Versions sharing a clock stamp and node (a cloned data directory) sit together.
    for (let i = this.#position(rows, wall, logical, node, ''); i < rows.length; i++) {
      const r = rows[i]!;
      const c = this.table.cols;
      if (c.wall[r] !== wall || c.logical[r] !== logical || c.node[r] !== node) return -1;
      if (this.table.versionIdEquals(r, versionId)) return i;
    }
    return -1;
  }

  /** True when row `r` sorts before a version stamped (wall, logical) by `node` with id `versionId`. */
  #before(r: number, wall: number, logical: number, node: number, versionId: string): boolean {
    const c = this.table.cols;
    const w = c.wall[r]!;
    if (w !== wall) return w < wall;
    const l = c.logical[r]!;
    if (l !== logical) return l < logical;
    const rn = c.node[r]!;
    if (rn !== node) return this.nodes[rn]! < this.nodes[node]!;
    return this.table.versionId(r) < versionId;
  }

  /** The index in `rows` before which such a version belongs (binary search). */
  #position(rows: readonly number[], wall: number, logical: number, node: number, versionId: string): number {
    let lo = 0;
    let hi = rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#before(rows[mid]!, wall, logical, node, versionId)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** True when `rows` ascend and each row's predecessor is the row before it. */
  #isLinear(rows: readonly number[]): boolean {
    const prev = this.table.cols.prev;
    let last = -1;
    for (const r of rows) {
      if (r <= last || prev[r] !== last) return false;
      last = r;
    }
    return true;
  }

  /** The key a row belongs to. O(1), after one O(rows) pass the first time following a snapshot load. */
  keyOfRow(row: number): KeyState {
    if (!this.#rowKeysComplete) {
      const all = new Array<KeyState>(this.table.count);
      for (const keys of this.#namespaces.values()) for (const ks of keys.values()) for (const r of ks.rows) all[r] = ks;
      this.#rowKeys = all;
      this.#rowKeysComplete = true;
    }
    return this.#rowKeys[row]!;
  }
}
