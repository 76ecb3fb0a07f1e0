/**
 * Materializes versions from the columnar table: ids decoded, the value read from the
 * adapter, the result frozen and kept in a bounded cache so repeated history reads cost
 * a lookup each. Heads are kept on their key once read.
 */
import { formatHlc } from '@koru/engine';
import type { StorageAdapter } from './adapter.js';
import type { KeyIndex, KeyState } from './key-index.js';
import type { Version } from './types.js';
import { BoundedCache } from './bounded-cache.js';
import { FLAG_DELETED } from './version-table.js';

/** A materialized version's size beyond its value: the object, three ids, timestamp, HLC. */
const VERSION_OVERHEAD_BYTES = 600;

export class VersionReader {
  readonly #index: KeyIndex;
  readonly #adapter: StorageAdapter;
  readonly #cache: BoundedCache<Version>;

  constructor(index: KeyIndex, adapter: StorageAdapter, cacheBytes: number) {
    this.#index = index;
    this.#adapter = adapter;
    this.#cache = new BoundedCache(cacheBytes);
  }

  /** The key's newest version (tombstone included), or undefined for a key with none. */
  head(ks: KeyState): Version | undefined {
    if (ks.head !== undefined || ks.rows.length === 0) return ks.head;
    ks.head = this.#materialize(ks, ks.rows.length - 1);
    return ks.head;
  }

  /**
   * The key's version at index `i` of its rows. `prevId`, when the caller just read the
   * version before it, saves decoding that id again.
   */
  at(ks: KeyState, i: number, prevId?: string): Version {
    if (i === ks.rows.length - 1) return this.head(ks)!;
    return this.#materialize(ks, i, prevId);
  }

  /** Forgets every cached version (value locations changed). */
  clear(): void {
    this.#cache.clear();
  }

  #materialize(ks: KeyState, i: number, prevId?: string): Version {
    const r = ks.rows[i]!;
    const cached = this.#cache.get(r);
    if (cached !== undefined) return cached;
    const v = this.#build(ks, r, prevId);
    this.#cache.set(r, v, this.#index.table.cols.len[r]!, VERSION_OVERHEAD_BYTES);
    return v;
  }

  #build(ks: KeyState, r: number, prevId?: string): Version {
    const t = this.#index.table;
    const c = t.cols;
    const deleted = (c.flags[r]! & FLAG_DELETED) !== 0;
    const wall = c.wall[r]!;
    const prev = c.prev[r]!;
    return Object.freeze({
      namespace: ks.namespace,
      key: ks.key,
      value: deleted ? null : this.#adapter.readValue(c.loc[r]!, c.len[r]!),
      valueId: t.valueId(r),
      versionId: t.versionId(r),
      // `prevId` is the version before in clock order: the predecessor only in a linear history.
      previousVersion: prev < 0 ? null : prevId !== undefined && ks.linear ? prevId : t.versionId(prev),
      timestamp: new Date(wall).toISOString(),
      hlc: formatHlc({ wall, logical: c.logical[r]! }),
      node: this.#index.nodes[c.node[r]!]!,
      deleted,
    });
  }
}
