/**
 * The read of one key prefix's entries (a version store key's versions): the same
 * answer as a tree cursor seeked into the prefix and stopped after it, without the
 * general cursor's costs. A tree cursor merges every source over the whole key space;
 * here each source stops at the first key past the prefix (a segment cursor without
 * loading the block after the prefix's last one), the sources are few (the tree passes
 * only those whose Bloom filter may hold the prefix), and the segment cursors are kept
 * and re-pointed from one read to the next, so a read allocates no block scanner.
 *
 * Sources are given newest first; a key held by several is seen once, with the newest
 * source's entry, and deletion markers hide their key (as in the tree's cursors).
 */
import { InvalidArgumentError } from '@koru/engine';
import type { SegmentCursor, SegmentReader } from './segment-reader.js';
import { KIND_DELETE, type EntryCursor } from './types.js';

/**
 * Told each live entry in ascending key order; returns false to stop. `value` is a view
 * into a cached block or the memtable's bytes: read it before returning (or copy it).
 */
export type KeyVisitor = (key: string, value: Uint8Array) => boolean;

/** One source of a scan: a memtable cursor, or a (reused) segment cursor. */
interface Source {
  cursor: EntryCursor;
  /** The segment cursor, when the source is a segment (its prefix-bounded step is used). */
  segment: SegmentCursor | undefined;
}

/**
 * A reusable scan over the sources of one read. Use: {@link begin}, add the sources
 * newest first ({@link addCursor}, {@link addSegment}), then {@link run}. Not
 * re-entrant: a visitor that starts another prefix read must use another KeyScan (see
 * {@link busy}).
 */
export class KeyScan {
  /** True from {@link begin} until {@link run} returns (a nested read needs another scan). */
  busy = false;
  readonly #sources: Source[] = [];
  #count = 0;
  /** Segment cursors kept from earlier reads, re-pointed by {@link addSegment}. */
  readonly #segments: SegmentCursor[] = [];
  #segmentsUsed = 0;
  /** Each source's current key, or undefined once it left the prefix. */
  readonly #keys: (string | undefined)[] = [];

  /** Starts a read: forgets the previous read's sources. */
  begin(): void {
    this.busy = true;
    this.#count = 0;
    this.#segmentsUsed = 0;
  }

  /** Adds a source (a memtable's cursor): the next oldest. */
  addCursor(cursor: EntryCursor): void {
    this.#add(cursor, undefined);
  }

  /** Adds a segment as the next oldest source, through a kept cursor re-pointed at it. */
  addSegment(reader: SegmentReader): void {
    const kept = this.#segments[this.#segmentsUsed];
    const c = reader.cursor(kept);
    if (kept === undefined) this.#segments.push(c);
    this.#segmentsUsed++;
    this.#add(c, c);
  }

  #add(cursor: EntryCursor, segment: SegmentCursor | undefined): void {
    const s = this.#sources[this.#count];
    if (s === undefined) this.#sources.push({ cursor, segment });
    else {
      s.cursor = cursor;
      s.segment = segment;
    }
    this.#count++;
  }

  /**
   * Visits the live entries whose key starts with `prefix` and is ≥ `from` (which must
   * start with `prefix`), ascending, until `visit` returns false. `unchanged` is asked
   * after each visit: false (the visitor wrote to the tree) throws, as a tree cursor
   * used after a write does.
   * @throws InvalidArgumentError for a `from` outside the prefix, or a visitor that changed the tree
   */
  run(prefix: string, from: string, visit: KeyVisitor, unchanged: () => boolean): void {
    try {
      if (!from.startsWith(prefix)) throw new InvalidArgumentError('a key scan starts inside its prefix');
      const n = this.#count;
      const sources = this.#sources;
      const keys = this.#keys;
      for (let i = 0; i < n; i++) {
        const c = sources[i]!.cursor;
        c.seek(from);
        keys[i] = keyWithin(c, sources[i]!.segment, prefix);
      }
      for (;;) {
        // The smallest key; of sources sharing it, the first (newest).
        let best = -1;
        let bestKey = '';
        for (let i = 0; i < n; i++) {
          const k = keys[i];
          if (k !== undefined && (best < 0 || k < bestKey)) {
            best = i;
            bestKey = k;
          }
        }
        if (best < 0) return;
        const c = sources[best]!.cursor;
        if (c.kind() !== KIND_DELETE) {
          const more = visit(bestKey, c.value());
          if (!unchanged()) throw new InvalidArgumentError('the tree changed during a key scan: scans are synchronous');
          if (!more) return;
        }
        // Every source on that key moves on: the newest was seen, the others are hidden.
        for (let i = best; i < n; i++) {
          if (keys[i] !== bestKey) continue;
          const s = sources[i]!;
          if (s.segment !== undefined) s.segment.nextWithin(prefix);
          else s.cursor.next();
          keys[i] = keyWithin(s.cursor, s.segment, prefix);
        }
      }
    } finally {
      this.busy = false;
      // Sources may pin blocks and memtables: let them go (the kept segment cursors are
      // re-pointed on the next read; their last block stays referenced until then).
      for (let i = 0; i < this.#count; i++) {
        const s = this.#sources[i]!;
        if (s.segment === undefined) s.cursor = NO_CURSOR;
      }
    }
  }
}

/** The cursor's key when it is on one starting with `prefix`, else undefined (a segment's key past it is not even built). */
function keyWithin(c: EntryCursor, segment: SegmentCursor | undefined, prefix: string): string | undefined {
  if (!c.valid()) return undefined;
  if (segment !== undefined) return segment.startsWith(prefix) ? segment.key() : undefined;
  const k = c.key();
  return k.startsWith(prefix) ? k : undefined;
}

/** Stands in for a released memtable cursor. */
const NO_CURSOR: EntryCursor = {
  valid: () => false,
  key: () => {
    throw new InvalidArgumentError('no cursor');
  },
  kind: () => {
    throw new InvalidArgumentError('no cursor');
  },
  value: () => {
    throw new InvalidArgumentError('no cursor');
  },
  next: () => {},
  seek: () => {},
  seekToFirst: () => {},
};
