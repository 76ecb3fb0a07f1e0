/**
 * A cursor over one level (1 or deeper): files with disjoint key ranges, read one after
 * another. A file's reader is opened only when the cursor reaches it, so a seek touches
 * one file of the level.
 */
import type { SegmentMeta } from './manifest.js';
import type { EntryCursor, EntryKind } from './types.js';

/** The cursor of one segment file (the tree opens readers lazily and caches them). */
export type OpenCursor = (segment: SegmentMeta) => EntryCursor;

/** Index of the first of `files` (disjoint, by first key) whose last key is ≥ `key`; files.length if none. */
export function firstEndingAtOrAfter(files: readonly SegmentMeta[], key: string): number {
  let lo = 0;
  let hi = files.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (files[mid]!.lastKey < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class LevelCursor implements EntryCursor {
  /** Files by first key. */
  readonly #files: readonly SegmentMeta[];
  readonly #open: OpenCursor;
  #index = -1;
  #current: EntryCursor | undefined;

  constructor(files: readonly SegmentMeta[], open: OpenCursor) {
    this.#files = files;
    this.#open = open;
  }

  valid(): boolean {
    return this.#current !== undefined && this.#current.valid();
  }

  key(): string {
    return this.#current!.key();
  }

  kind(): EntryKind {
    return this.#current!.kind();
  }

  value(): Uint8Array {
    return this.#current!.value();
  }

  next(): void {
    this.#current!.next();
    this.#skipExhausted();
  }

  seek(key: string): void {
    // The first file whose last key is ≥ key holds the first entry ≥ key, if any.
    this.#moveTo(firstEndingAtOrAfter(this.#files, key));
    this.#current?.seek(key);
    this.#skipExhausted();
  }

  seekToFirst(): void {
    this.#moveTo(0);
    this.#current?.seekToFirst();
    this.#skipExhausted();
  }

  #moveTo(i: number): void {
    this.#index = i;
    this.#current = i < this.#files.length ? this.#open(this.#files[i]!) : undefined;
  }

  /** Past the end of a file: on to the start of the next one. */
  #skipExhausted(): void {
    while (this.#current !== undefined && !this.#current.valid()) {
      this.#moveTo(this.#index + 1);
      this.#current?.seekToFirst();
    }
  }
}
