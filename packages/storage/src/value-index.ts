/**
 * valueId → the first row that stored that value, so identical values are stored
 * once. Open addressing over an Int32Array of row numbers (~16 bytes per distinct
 * value at load ≤ 1/2); the 32-byte ids themselves stay in the version table.
 */
import { hexHash, type VersionTable } from './version-table.js';

export class ValueIndex {
  #slots: Int32Array;
  #mask: number;
  #size = 0;
  readonly #table: VersionTable;

  constructor(table: VersionTable, capacity = 1024) {
    this.#table = table;
    let cap = 16;
    while (cap < capacity * 2) cap *= 2;
    this.#slots = new Int32Array(cap).fill(-1);
    this.#mask = cap - 1;
  }

  get size(): number {
    return this.#size;
  }

  /** The row that first stored `valueId`, or -1. O(1) expected. */
  find(valueId: string): number {
    const slots = this.#slots;
    let i = hexHash(valueId) & this.#mask;
    for (;;) {
      const r = slots[i]!;
      if (r < 0) return -1;
      if (this.#table.valueIdEquals(r, valueId)) return r;
      i = (i + 1) & this.#mask;
    }
  }

  /** Records row `r` as the home of its value id (the caller checked it is new). */
  add(r: number): void {
    if ((this.#size + 1) * 2 > this.#slots.length) this.#rehash(this.#slots.length * 2);
    this.#insert(r);
    this.#size++;
  }

  /** Forgets every row ≥ `count` (undoing a failed commit). */
  dropFrom(count: number): void {
    let dropped = false;
    for (let i = 0; i < this.#slots.length; i++) if (this.#slots[i]! >= count) dropped = true;
    if (dropped) {
      const rows = [...this.#slots].filter((r) => r >= 0 && r < count);
      this.#slots.fill(-1);
      this.#size = 0;
      for (const r of rows) this.add(r);
    }
  }

  #insert(r: number): void {
    let i = this.#table.valueHash(r) & this.#mask;
    while (this.#slots[i]! >= 0) i = (i + 1) & this.#mask;
    this.#slots[i] = r;
  }

  #rehash(cap: number): void {
    const old = this.#slots;
    this.#slots = new Int32Array(cap).fill(-1);
    this.#mask = cap - 1;
    for (let i = 0; i < old.length; i++) if (old[i]! >= 0) this.#insert(old[i]!);
  }
}
