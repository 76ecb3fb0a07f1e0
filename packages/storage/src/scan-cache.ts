/**
 * Whole namespaces' live versions, kept for repeated full scans (a query without an index
 * walks every live version of its namespace each time it runs). The first scan of a
 * namespace reads its head records and, when the namespace fits the budget, keeps the
 * versions in key order; later scans walk that array. Commits do not throw a list away:
 * the versions that became current are noted, and merged in (one pass, no value read)
 * by the next scan, into a new array — a scan already iterating keeps the array it began
 * with. Lists are dropped least recently scanned first when the budget is exceeded.
 *
 * Bounded: at most `budgetBytes` / {@link ENTRY_BYTES} versions in all, whatever the
 * history size; a namespace larger than that is never kept (its scans stream).
 */
import type { Version } from './types.js';

/** Bytes counted per kept version: the frozen object with its ids, stamps and a small value. */
export const ENTRY_BYTES = 1024;

/** One namespace's kept list. */
interface NamespaceList {
  /** Live versions in key order. */
  versions: readonly Version[];
  /** Their key prefixes (the order: UTF-8 bytes of the key). */
  prefixes: readonly string[];
  /** Versions that became current since (tombstones included), by key prefix. */
  readonly pending: Map<string, Version>;
}

/** The kept lists of one store. */
export class ScanCache {
  readonly #capacity: number;
  /** In least recently scanned first order (a scan re-inserts its namespace). */
  readonly #lists = new Map<string, NamespaceList>();
  #size = 0;

  /** @param budgetBytes the most bytes of versions kept (0: none) */
  constructor(budgetBytes: number) {
    this.#capacity = Math.floor(budgetBytes / ENTRY_BYTES);
  }

  /** True when a namespace of `liveKeys` versions may be kept. */
  fits(liveKeys: number): boolean {
    return liveKeys > 0 && liveKeys <= this.#capacity;
  }

  /** The namespace's live versions in key order, if kept (changes since merged in first). */
  get(namespace: string): readonly Version[] | undefined {
    const list = this.#lists.get(namespace);
    if (list === undefined) return undefined;
    this.#lists.delete(namespace);
    this.#lists.set(namespace, list);
    if (list.pending.size > 0) this.#merge(namespace, list);
    return this.#lists.has(namespace) ? list.versions : undefined;
  }

  /** Keeps a namespace's live versions (in key order, with their key prefixes). */
  put(namespace: string, versions: readonly Version[], prefixes: readonly string[]): void {
    this.#drop(namespace);
    if (!this.fits(versions.length)) return;
    this.#lists.set(namespace, { versions, prefixes, pending: new Map() });
    this.#size += versions.length;
    this.#evict(namespace);
  }

  /** Notes versions that became their key's current one, for the lists that hold their namespace. */
  applied(current: readonly Version[], prefixOf: (v: Version) => string): void {
    if (this.#lists.size === 0) return;
    for (const v of current) this.#lists.get(v.namespace)?.pending.set(prefixOf(v), v);
  }

  /** Merges the pending versions into a new array (the old one stays valid for scans that hold it). */
  #merge(namespace: string, list: NamespaceList): void {
    const changes = [...list.pending.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    list.pending.clear();
    const versions: Version[] = [];
    const prefixes: string[] = [];
    const old = list.versions;
    const oldPrefixes = list.prefixes;
    let i = 0;
    for (const [p, v] of changes) {
      while (i < old.length && oldPrefixes[i]! < p) {
        versions.push(old[i]!);
        prefixes.push(oldPrefixes[i]!);
        i++;
      }
      if (i < old.length && oldPrefixes[i] === p) i++; // replaced (or deleted)
      if (!v.deleted) {
        versions.push(v);
        prefixes.push(p);
      }
    }
    for (; i < old.length; i++) {
      versions.push(old[i]!);
      prefixes.push(oldPrefixes[i]!);
    }
    this.#size += versions.length - old.length;
    list.versions = versions;
    list.prefixes = prefixes;
    if (!this.fits(versions.length)) this.#drop(namespace);
    else this.#evict(namespace);
  }

  /** Drops least recently scanned lists (never `keep`) until the budget holds. */
  #evict(keep: string): void {
    for (const ns of this.#lists.keys()) {
      if (this.#size <= this.#capacity) return;
      if (ns !== keep) this.#drop(ns);
    }
  }

  #drop(namespace: string): void {
    const list = this.#lists.get(namespace);
    if (list === undefined) return;
    this.#size -= list.versions.length;
    this.#lists.delete(namespace);
  }
}
