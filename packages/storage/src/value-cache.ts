/**
 * A bounded cache of decoded historical values, keyed by their location. First in,
 * first out: cheap on the hit path (one Map lookup) and good enough for history
 * scans, which read each key's versions together. A budget of 0 disables it.
 */
import type { JsonValue } from '@koru/engine';

// Decoded JSON takes several times its text size in the heap.
const HEAP_FACTOR = 4;

export class ValueCache {
  readonly #budget: number;
  readonly #map = new Map<number, JsonValue>();
  readonly #sizes = new Map<number, number>();
  #bytes = 0;

  constructor(budgetBytes: number) {
    this.#budget = budgetBytes;
  }

  get(loc: number): JsonValue | undefined {
    return this.#budget === 0 ? undefined : this.#map.get(loc);
  }

  set(loc: number, value: JsonValue, textBytes: number): void {
    if (this.#budget === 0) return;
    const size = textBytes * HEAP_FACTOR + 64;
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
