/**
 * What this server believes each recently written key's head is. A write is made on the
 * head it names, so a right belief saves the read before a write; a wrong one (another
 * server wrote since) costs one retry, never a wrong write: the commit function checks
 * every head in the transaction that moves it (./schema.ts). Bounded: least recently
 * used keys are forgotten first.
 */

/** A key's newest version as far as writes need it; null: the key has no version. */
export type Head = { readonly versionId: string; readonly hlc: string; readonly deleted: boolean } | null;

/** The cache key of (namespace, key): a NUL cannot occur in either. */
export function headKey(ns: string, key: string): string {
  return `${ns}\u0000${key}`;
}

/** A bounded LRU of heads. */
export class HeadCache {
  readonly #max: number;
  readonly #map = new Map<string, Head>();

  constructor(max: number) {
    this.#max = max;
  }

  /** The believed head: undefined when unknown (read it). */
  get(k: string): Head | undefined {
    const h = this.#map.get(k);
    if (h === undefined) return undefined;
    // Re-inserted: Map keeps insertion order, so the first key is the least recently used.
    this.#map.delete(k);
    this.#map.set(k, h);
    return h;
  }

  set(k: string, h: Head): void {
    this.#map.delete(k);
    this.#map.set(k, h);
    if (this.#map.size > this.#max) this.#map.delete(this.#map.keys().next().value!);
  }

  delete(k: string): void {
    this.#map.delete(k);
  }

  clear(): void {
    this.#map.clear();
  }
}
