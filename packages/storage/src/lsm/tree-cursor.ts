/**
 * The cursor the tree hands out: deletion markers hidden, and synchronous by contract —
 * used after a write or a background install (which may have removed its files), it
 * throws rather than read what may be gone.
 */
import { InvalidArgumentError } from '@koru/engine';
import { KIND_DELETE, type EntryCursor, type EntryKind } from './types.js';

/** A cursor over the tree (see the module doc for its lifetime). */
export interface LsmCursor extends EntryCursor {
  /** Releases it (a no-op today; kept so callers say when they are done). */
  close(): void;
}

/** A cursor that hides deletion markers and refuses use after the tree changed. */
export class TreeCursor implements LsmCursor {
  readonly #inner: EntryCursor;
  /** The tree's current epoch (it changes on every write and install). */
  readonly #epochNow: () => number;
  readonly #epoch: number;
  readonly #deletes: boolean;

  constructor(inner: EntryCursor, epochNow: () => number, deletes: boolean) {
    this.#inner = inner;
    this.#epochNow = epochNow;
    this.#epoch = epochNow();
    this.#deletes = deletes;
  }

  valid(): boolean {
    this.#check();
    return this.#inner.valid();
  }
  key(): string {
    return this.#inner.key();
  }
  kind(): EntryKind {
    return this.#inner.kind();
  }
  value(): Uint8Array {
    return this.#inner.value();
  }
  next(): void {
    this.#check();
    this.#inner.next();
    this.#skip();
  }
  seek(key: string): void {
    this.#check();
    this.#inner.seek(key);
    this.#skip();
  }
  seekToFirst(): void {
    this.#check();
    this.#inner.seekToFirst();
    this.#skip();
  }
  close(): void {}

  #skip(): void {
    if (this.#deletes) return;
    while (this.#inner.valid() && this.#inner.kind() === KIND_DELETE) this.#inner.next();
  }

  #check(): void {
    if (this.#epochNow() !== this.#epoch) throw new InvalidArgumentError('an engine cursor was used after a write or a background install: cursors are synchronous');
  }
}
