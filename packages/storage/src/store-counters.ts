/**
 * Counters kept with the versions, so opening, stats and namespace listings cost
 * O(namespaces) instead of a walk of every key: per namespace, how many of its keys have
 * a current version that is not a tombstone (an `N` record), and for the store, its last
 * change number, its values stored and their texts' length (the `C` record: a value of
 * at most the inline limit counts once per version holding it, a larger one once). A commit writes the counters it changed in
 * the same batch as its versions: they are exactly as durable and crash-consistent as
 * the versions (a batch is replayed whole or not at all).
 *
 * Layout: key 'N' | name(namespace) → varint; key 'C' → varint last seq | varint
 * values stored | varint total UTF-8 bytes of their canonical JSON.
 */
import { CorruptionError } from './errors.js';
import { putVarint, varintSize } from './lsm/bytes.js';
import type { LsmTree } from './lsm/lsm-tree.js';
import { KIND_PUT, type Entry } from './lsm/types.js';
import { decodeNamespaceCountKey, namespaceCountKey, TAG_NAMESPACE_COUNT } from './version-records.js';

/** The key of the store-wide counters. */
const COUNTERS_KEY = 'C';

function encodeVarints(values: readonly number[]): Uint8Array {
  const out = new Uint8Array(values.reduce((n, v) => n + varintSize(v), 0));
  let at = 0;
  for (const v of values) at = putVarint(out, at, v);
  return out;
}

/** Decodes exactly `count` minimal varints filling `b`. @throws CorruptionError */
function decodeVarints(b: Uint8Array, count: number, what: string): number[] {
  const out: number[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
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

/** What a commit changes in the counters, staged until its batch is written. */
export interface CounterChange {
  /** The entries to write with the batch. */
  readonly entries: readonly Entry[];
  /** Makes the change the counters' state (once the batch is written). */
  apply(): void;
}

/** The counters of one version store, in memory and as records. */
export class StoreCounters {
  readonly #live = new Map<string, number>();
  #seq = 0;
  #values = 0;
  #textLength = 0;

  /** Loads the counters: one get and a scan of the `N` records (one per namespace). @throws CorruptionError */
  constructor(tree: LsmTree) {
    const c = tree.get(COUNTERS_KEY);
    if (c !== undefined) [this.#seq, this.#values, this.#textLength] = decodeVarints(c, 3, 'store counters') as [number, number, number];
    const cursor = tree.cursor();
    for (cursor.seek(TAG_NAMESPACE_COUNT); cursor.valid() && cursor.key().charCodeAt(0) === 0x4e; cursor.next()) {
      const [n] = decodeVarints(cursor.value(), 1, 'namespace counter');
      this.#live.set(decodeNamespaceCountKey(cursor.key()), n!);
    }
  }

  /** The last committed change's number (0: none). */
  get seq(): number {
    return this.#seq;
  }

  /** Values stored: each small (inline) value once per version holding it, each large one once. */
  get values(): number {
    return this.#values;
  }

  /** UTF-8 bytes of the values counted by {@link values}, summed. */
  get textLength(): number {
    return this.#textLength;
  }

  /** Live keys of a namespace (0 for an unknown one). */
  liveKeys(namespace: string): number {
    return this.#live.get(namespace) ?? 0;
  }

  /** Every namespace that ever held a version, with its live-key count. */
  namespaces(): ReadonlyMap<string, number> {
    return this.#live;
  }

  /**
   * Stages a commit's changes: its last seq, live keys gained (or lost, negative) per
   * namespace, and values newly stored (see {@link values}) with their texts' length. @throws CorruptionError
   * when a count would go below zero (the records disagree with the versions)
   */
  change(seq: number, liveDelta: ReadonlyMap<string, number>, newValues: number, newTextLength: number): CounterChange {
    const entries: Entry[] = [];
    const next = new Map<string, number>();
    for (const [ns, d] of liveDelta) {
      if (d === 0) continue;
      const n = this.liveKeys(ns) + d;
      if (n < 0) throw new CorruptionError(`the live-key counter of namespace ${ns} would go below zero`, { namespace: ns });
      next.set(ns, n);
      entries.push({ key: namespaceCountKey(ns), kind: KIND_PUT, value: encodeVarints([n]) });
    }
    const values = this.#values + newValues;
    const textLength = this.#textLength + newTextLength;
    entries.push({ key: COUNTERS_KEY, kind: KIND_PUT, value: encodeVarints([seq, values, textLength]) });
    return {
      entries,
      apply: () => {
        for (const [ns, n] of next) this.#live.set(ns, n);
        this.#seq = seq;
        this.#values = values;
        this.#textLength = textLength;
      },
    };
  }
}
