/**
 * A map bounded by the bytes its entries say they hold, least recently used out first:
 * the version store's cache of heads (keyed by a key's record prefix) and of values
 * read by reference (keyed by value id).
 *
 * A Map keeps insertion order, so a hit moves its entry to the end (delete + set) and
 * eviction takes from the front: two Map operations per hit, no list nodes.
 */
export class ByteLru<K, V> {
  readonly #budget: number;
  readonly #map = new Map<K, { readonly value: V; readonly bytes: number }>();
  #bytes = 0;

  /** `budget`: the most bytes held (0 disables the cache). */
  constructor(budget: number) {
    this.#budget = budget;
  }

  /** Bytes held now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Entries held now. */
  get size(): number {
    return this.#map.size;
  }

  /** The entry's value, made the most recently used; undefined when absent. */
  get(key: K): V | undefined {
    const e = this.#map.get(key);
    if (e === undefined) return undefined;
    this.#map.delete(key);
    this.#map.set(key, e);
    return e.value;
  }

  /**
   * Stores `value` as holding `bytes`, replacing the key's entry, then drops the least
   * recently used entries past the budget. An entry over a quarter of the budget is not
   * kept (it would flush the rest), and the key's old entry is dropped anyway.
   */
  set(key: K, value: V, bytes: number): void {
    this.delete(key);
    if (bytes > this.#budget / 4) return;
    this.#map.set(key, { value, bytes });
    this.#bytes += bytes;
    if (this.#bytes <= this.#budget) return;
    for (const [k, e] of this.#map) {
      this.#map.delete(k);
      this.#bytes -= e.bytes;
      if (this.#bytes <= this.#budget) break;
    }
  }

  /** Forgets the key's entry. */
  delete(key: K): void {
    const e = this.#map.get(key);
    if (e === undefined) return;
    this.#map.delete(key);
    this.#bytes -= e.bytes;
  }

  /** Forgets every entry. */
  clear(): void {
    this.#map.clear();
    this.#bytes = 0;
  }
}
