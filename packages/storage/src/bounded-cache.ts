/**
 * A bounded cache keyed by a number (a value's location, a version's row). First in,
 * first out: cheap on the hit path (one Map lookup) and good enough for history
 * scans, which read each key's versions together. A budget of 0 disables it.
 */

// Decoded JSON takes about twice its text size in the heap.
const HEAP_FACTOR = 2;

export class BoundedCache<V> {
  readonly #budget: number;
  readonly #map = new Map<number, V>();
  readonly #sizes = new Map<number, number>();
  #bytes = 0;

  constructor(budgetBytes: number) {
    this.#budget = budgetBytes;
  }

  get(loc: number): V | undefined {
    return this.#budget === 0 ? undefined : this.#map.get(loc);
  }

  /** Caches `value`, whose JSON text is `textBytes` long, plus `overhead` bytes. */
  set(loc: number, value: V, textBytes: number, overhead = 64): void {
    if (this.#budget === 0) return;
    const size = textBytes * HEAP_FACTOR + overhead;
    if (size > this.#budget / 4) return;
    this.#map.set(loc, value);
    this.#sizes.set(loc, size);
    this.#bytes += size;
    if (this.#bytes > this.#budget) {
      for (const [k, sz] of this.#sizes) {
        this.#sizes.delete(k);
        this.#map.delete(k);
        this.#bytes -= sz;
        if (this.#bytes <= this.#budget * 0.9) break;
      }
    }
  }

  clear(): void {
    this.#map.clear();
    this.#sizes.clear();
    this.#bytes = 0;
  }
}
