// An EntryCursor over a sorted array: the reference source for merge tests.
import type { Entry, EntryCursor, EntryKind } from '../src/lsm/types.js';

/** Cursor over `entries` (ascending, distinct keys — checked, so a bad fixture fails loudly). */
export class ArrayCursor implements EntryCursor {
  #i: number;
  constructor(readonly entries: readonly Entry[], startAtFirst = true) {
    for (let i = 1; i < entries.length; i++) {
      if (!(entries[i - 1]!.key < entries[i]!.key)) throw new Error(`array cursor fixture out of order at ${i}`);
    }
    this.#i = startAtFirst ? 0 : entries.length;
  }
  valid(): boolean {
    return this.#i < this.entries.length;
  }
  key(): string {
    return this.#at().key;
  }
  kind(): EntryKind {
    return this.#at().kind;
  }
  value(): Uint8Array {
    return this.#at().value;
  }
  next(): void {
    if (!this.valid()) throw new RangeError('next on an invalid cursor');
    this.#i++;
  }
  seek(key: string): void {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.entries[mid]!.key < key) lo = mid + 1;
      else hi = mid;
    }
    this.#i = lo;
  }
  seekToFirst(): void {
    this.#i = 0;
  }
  #at(): Entry {
    const e = this.entries[this.#i];
    if (e === undefined) throw new RangeError('cursor is not on an entry');
    return e;
  }
}
