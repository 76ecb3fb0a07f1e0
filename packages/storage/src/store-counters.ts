/**
 * Counters kept with the versions, so opening, stats and namespace listings cost
 * O(namespaces) instead of a walk of every key: per namespace, how many of its keys have
 * a current version that is not a tombstone (an `N` record), and for the store, its last
 * change number, its values stored and their texts' length (the `C` record: a value of
 * at most the inline limit counts once per version holding it, a larger one once). A
 * commit writes the counters it changed in the same batch as its versions: they are
 * exactly as durable and crash-consistent as the versions (a batch is replayed whole or
 * not at all). A purge writes what it removed the same way.
 *
 * Values removed by merges (retention's cuts, `compact()`'s reclaimed value records) are
 * counted in the manifest instead, in the property `valuesRemoved` (value-reclaim.ts):
 * what merges removed *ever*, written in the same atomic manifest swap as the outputs
 * that no longer hold them, so a kill at any moment leaves the files and that count in
 * step. The `C` record says how much of that count it has already taken off (its
 * `applied` numbers), so the values stored are always
 *
 *   C.values − (manifest.valuesRemoved − C.applied)      (the same for bytes)
 *
 * and the next `C` record written (by a commit, or right after a merge's install) takes
 * off the rest. A kill between the install and that write loses nothing: the difference
 * is still there at the next open. A manifest without the property (no merge removed a
 * value in it yet, or the store was installed from another store's files, whose manifest
 * property does not travel) counts as having exactly what `C` applied.
 *
 * Layout: key 'N' | name(namespace) → varint; key 'C' → varint last seq | varint
 * values stored | varint total UTF-8 bytes of their canonical JSON | varint values
 * applied | varint bytes applied (a record of the first three only, from before merges
 * counted, applied nothing).
 */
import { CorruptionError } from './errors.js';
import { putVarint, varintSize } from './lsm/bytes.js';
import type { LsmTree } from './lsm/lsm-tree.js';
import { KIND_PUT, type Entry } from './lsm/types.js';
import { allocateRecord } from './record-slab.js';
import { valuesRemoved } from './value-reclaim.js';
import { decodeNamespaceCountKey, namespaceCountKey, TAG_NAMESPACE_COUNT } from './version-records.js';

/** The key of the store-wide counters. */
export const COUNTERS_KEY = 'C';

/** n (any safe integer) as an unsigned number: 0, −1, 1, −2, … → 0, 1, 2, 3, … */
function zigzag(n: number): number {
  return n >= 0 ? 2 * n : -2 * n - 1;
}

function unzigzag(z: number): number {
  return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
}

/** One varint (an `N` record's value). */
function encodeVarint(n: number): Uint8Array {
  const out = allocateRecord(varintSize(n));
  putVarint(out, 0, n);
  return out;
}

/** The five varints of a `C` record (written by every commit: no array, a slab view). */
function encodeCounters(seq: number, values: number, textLength: number, appliedValues: number, appliedBytes: number): Uint8Array {
  const out = allocateRecord(varintSize(seq) + varintSize(values) + varintSize(textLength) + varintSize(appliedValues) + varintSize(appliedBytes));
  let at = putVarint(out, 0, seq);
  at = putVarint(out, at, values);
  at = putVarint(out, at, textLength);
  at = putVarint(out, at, appliedValues);
  putVarint(out, at, appliedBytes);
  return out;
}

/** Decodes exactly `count` minimal varints filling `b` (any number of them when `count` is undefined). @throws CorruptionError */
function decodeVarints(b: Uint8Array, count: number | undefined, what: string): number[] {
  const out: number[] = [];
  let p = 0;
  for (let i = 0; count === undefined ? p < b.length : i < count; i++) {
    let v = 0;
    let scale = 1;
    const start = p;
    for (;;) {
      if (p >= b.length || p - start >= 8) throw new CorruptionError(`malformed ${what}: truncated or oversized number`, { offset: p });
      const x = b[p++]!;
      v += (x & 0x7f) * scale;
      if (x < 0x80) {
        if (x === 0 && p - start > 1) throw new CorruptionError(`malformed ${what}: number not in its shortest form`, { offset: p - 1 });
        break;
      }
      scale *= 128;
    }
    if (v > Number.MAX_SAFE_INTEGER) throw new CorruptionError(`malformed ${what}: number past 2^53`, { offset: start });
    out.push(v);
  }
  if (p !== b.length) throw new CorruptionError(`malformed ${what}: ${b.length - p} bytes after its numbers`, { offset: p });
  return out;
}

/** A `C` record decoded. */
export interface CounterRecord {
  readonly seq: number;
  /** Values and bytes as the record holds them (what merges removed since its `applied` not taken off). */
  readonly values: number;
  readonly textLength: number;
  /** How much of the manifest's `valuesRemoved` it took off: [values, bytes] (any integers). */
  readonly applied: readonly [number, number];
}

/** Decodes a `C` record (five numbers, or the first three of an earlier layout). @throws CorruptionError */
export function decodeCounterRecord(bytes: Uint8Array): CounterRecord {
  const v = decodeVarints(bytes, undefined, 'store counters');
  if (v.length !== 3 && v.length !== 5) throw new CorruptionError(`malformed store counters: ${v.length} numbers, not 5`, { offset: 0 });
  return { seq: v[0]!, values: v[1]!, textLength: v[2]!, applied: v.length === 5 ? [unzigzag(v[3]!), unzigzag(v[4]!)] : [0, 0] };
}

/** What a commit changes in the counters, staged until its batch is written. */
export interface CounterChange {
  /** The entries to write with the batch. */
  readonly entries: readonly Entry[];
  /** Makes the change the counters' state (once the batch is written). */
  apply(): void;
}

/** The counters of one version store, in memory and as records. */
export class StoreCounters {
  readonly #tree: LsmTree;
  /** Live keys per namespace: read on first use (see {@link #liveMap}). */
  #live: Map<string, number> | undefined;
  #seq = 0;
  /** Values and bytes as the `C` record holds them: with {@link #applied} of the merges' removals taken off. */
  #values = 0;
  #textLength = 0;
  /** How much of the manifest's `valuesRemoved` the `C` record has taken off: [values, bytes]. */
  #applied: readonly [number, number] = [0, 0];

  /**
   * Loads the counters: one get. The `N` records (one per namespace) are scanned at their
   * first use — a scan seeks every level-0 file and one file of each deeper level, which
   * on a large database was a third of an open that serves a read and writes nothing.
   * @throws CorruptionError
   */
  constructor(tree: LsmTree) {
    this.#tree = tree;
    const c = tree.get(COUNTERS_KEY);
    if (c !== undefined) {
      const r = decodeCounterRecord(c);
      this.#seq = r.seq;
      this.#values = r.values;
      this.#textLength = r.textLength;
      this.#applied = r.applied;
    }
    // Throws now, not at the first stats(), when the records and the manifest disagree.
    void this.values;
    void this.textLength;
  }

  /** The live-key counts, scanned from the `N` records on first use. @throws CorruptionError */
  #liveMap(): Map<string, number> {
    if (this.#live !== undefined) return this.#live;
    const live = new Map<string, number>();
    const cursor = this.#tree.cursor();
    for (cursor.seek(TAG_NAMESPACE_COUNT); cursor.valid() && cursor.key().charCodeAt(0) === 0x4e; cursor.next()) {
      const [n] = decodeVarints(cursor.value(), 1, 'namespace counter');
      live.set(decodeNamespaceCountKey(cursor.key()), n!);
    }
    this.#live = live;
    return live;
  }

  /** The last committed change's number (0: none). */
  get seq(): number {
    return this.#seq;
  }

  /** What merges removed ever, as the manifest says now (what `C` applied when it says nothing). */
  get removed(): readonly [values: number, bytes: number] {
    return valuesRemoved(this.#tree.properties) ?? this.#applied;
  }

  /**
   * Values stored: each small (inline) value once per version holding it, each large one
   * once. A statistic: a purge and a retention merge that both removed a version both
   * count it (FORMAT.md, "Counters"), so it may read low, never below 0, until the next
   * `compact()` recounts. Never a reason to refuse a write.
   */
  get values(): number {
    return this.#net(this.#values, 0);
  }

  /** UTF-8 bytes of the values counted by {@link values}, summed (a statistic as it is). */
  get textLength(): number {
    return this.#net(this.#textLength, 1);
  }

  #net(stored: number, i: 0 | 1): number {
    return Math.max(0, stored - (this.removed[i] - this.#applied[i]));
  }

  /** Live keys of a namespace (0 for an unknown one). */
  liveKeys(namespace: string): number {
    return this.#liveMap().get(namespace) ?? 0;
  }

  /** Every namespace that ever held a version, with its live-key count. */
  namespaces(): ReadonlyMap<string, number> {
    return this.#liveMap();
  }

  /**
   * Stages a commit's changes: its last seq, live keys gained (or lost, negative) per
   * namespace, and values newly stored (see {@link values}) with their texts' length
   * (negative: removed, as a purge does). The `C` record written also takes off what
   * merges removed since the last one. @throws CorruptionError when a namespace's
   * live-key count would go below zero (the records disagree with the versions)
   */
  change(seq: number, liveDelta: ReadonlyMap<string, number> | undefined, newValues: number, newTextLength: number): CounterChange {
    const entries: Entry[] = [];
    // Per commit: most change no live-key count (a key written again), so no map is made for them.
    let next: Map<string, number> | undefined;
    if (liveDelta !== undefined) {
      for (const [ns, d] of liveDelta) {
        if (d === 0) continue;
        const n = this.liveKeys(ns) + d;
        if (n < 0) throw new CorruptionError(`the live-key counter of namespace ${ns} would go below zero`, { namespace: ns });
        (next ??= new Map()).set(ns, n);
        entries.push({ key: namespaceCountKey(ns), kind: KIND_PUT, value: encodeVarint(n) });
      }
    }
    const applied = this.removed;
    const removedValues = applied[0] - this.#applied[0];
    const removedBytes = applied[1] - this.#applied[1];
    // Floored at 0: a removal counted twice (see values) must not refuse the commit.
    const values = Math.max(0, Math.max(0, this.#values - removedValues) + newValues);
    const textLength = Math.max(0, Math.max(0, this.#textLength - removedBytes) + newTextLength);
    entries.push({ key: COUNTERS_KEY, kind: KIND_PUT, value: encodeCounters(seq, values, textLength, zigzag(applied[0]), zigzag(applied[1])) });
    return {
      entries,
      apply: () => {
        if (next !== undefined) for (const [ns, n] of next) this.#liveMap().set(ns, n);
        this.#seq = seq;
        this.#values = values;
        this.#textLength = textLength;
        this.#applied = applied;
      },
    };
  }

  /**
   * Writes the `C` record when it has not taken off all the manifest says merges removed
   * (after a merge's install), so the record alone is right again: a store installed
   * from this one's files, whose manifest property does not travel, counts from it.
   * @throws the tree's errors
   */
  settle(): void {
    const removed = this.removed;
    if (removed[0] === this.#applied[0] && removed[1] === this.#applied[1]) return;
    const change = this.change(this.#seq, undefined, 0, 0);
    this.#tree.write(change.entries);
    change.apply();
  }
}
