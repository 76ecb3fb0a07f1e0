/**
 * Reclaiming large values: what the main thread keeps so that `compact()`'s full merge may
 * drop the value records (`X`) no kept version references (reclaim-filter.ts) without
 * losing a value a write made meanwhile depends on, and so that the store's counters
 * (store-counters.ts) stay true.
 *
 * **The race.** A commit stores a large value's record only when it does not find one
 * (version-store.ts). The full merge decides from its inputs alone — the segments live
 * when it started — which value records nobody references. A commit made while it runs
 * may find such a record *in those inputs*, skip writing it, and reference it from a
 * version the merge never sees: once the merge's outputs are installed, that version's
 * value would be gone. So the store opens a *reclaim window* in the same synchronous step
 * as it asks the tree to compact (whose first act, still in that step, freezes the
 * memtable: every write before the window is in a segment the merge reads), and closes
 * it once the merge's outputs are installed (or the compaction failed). While the window
 * is open a commit writes the value record of every large value it stores, found or not
 * (the duplicate has the same key: merges keep one), and notes the value here.
 *
 * **Only that merge.** The reclaim filter is given to a merge only when it is full (it
 * sees every segment) *and* the window is open (retention.ts): `LsmTree.compact()`
 * called any other way (the version-1 converter, say) gets the plain retention filter,
 * which never drops a value record. Compactions through {@link VersionStore.compact} run
 * one at a time, so one window serves one merge.
 *
 * **Counting.** The merge counts the values its outputs hold (inline values of the
 * versions it keeps, value records it keeps) and reports them with the `C` record of its
 * inputs — the counters as of the last batch its inputs hold (each commit and purge
 * writes `C` in its batch, and segments hold a prefix of the log) — and the ids of the
 * value records it dropped. At the install the counters are set so that what the inputs
 * held is replaced by what the outputs hold: drift in the counters (a purge and a
 * retention cut that counted the same version, say) is gone after each compaction. A
 * value the window noted and the merge dropped — rewritten by a commit since (so still
 * stored) or erased by a purge (which counted it) — is counted back: see
 * {@link ReclaimState.excluded}.
 *
 * Browser-safe: no Node module is used.
 */
import { CorruptionError } from './errors.js';
import type { LsmTree } from './lsm/lsm-tree.js';
import type { StoreCounters } from './store-counters.js';

/**
 * The manifest property holding what merges removed, ever: `[values, bytes]` (see
 * store-counters.ts). Written with the outputs of the merge that removed them, in the
 * same atomic manifest swap.
 */
export const VALUES_REMOVED = 'valuesRemoved';

/** Bytes of a value id in a key (raw, as in an `X` key after its tag). */
export const ID_BYTES = 32;

/** The store's reclaim state for one tree (see the module doc). */
export class ReclaimState {
  /** The counters of the store over this tree (set by the store when it opens). */
  counters: StoreCounters | undefined;
  #open = false;
  /**
   * Large values the window noted (raw id, 32 chars → UTF-8 bytes of their text), with
   * whether a commit rewrote them (true) or a purge erased them (false).
   */
  readonly #noted = new Map<string, { readonly bytes: number; readonly rewritten: boolean }>();

  /** True while a reclaiming compaction may run (commits then write every large value's record). */
  get isOpen(): boolean {
    return this.#open;
  }

  /** Opens the window (the caller then starts the compaction in the same synchronous step). @throws Error when one is open already */
  open(): void {
    if (this.#open) throw new Error('a reclaim window is open already: compactions run one at a time');
    this.#open = true;
    this.#noted.clear();
  }

  /** Closes the window and forgets what it noted. Idempotent. */
  close(): void {
    this.#open = false;
    this.#noted.clear();
  }

  /** A commit found value `id` (raw) stored and wrote its record again. No-op outside the window. */
  rewritten(id: string, bytes: number): void {
    if (this.#open) this.#noted.set(id, { bytes, rewritten: true });
  }

  /** A purge erased value `id` (raw) and counted it. No-op outside the window. */
  erased(id: string, bytes: number): void {
    if (this.#open && this.#noted.get(id)?.rewritten !== true) this.#noted.set(id, { bytes, rewritten: false });
  }

  /**
   * Of the value records the merge dropped (`dropped`: raw ids, 32 chars each, end to
   * end), those the window noted: their count and bytes (to count back: a rewritten
   * value is still stored, though the merge's outputs lack it; an erased one was taken
   * off by its purge already), and whether any was rewritten (its record, in the log,
   * must be synced before the merge's outputs are installed). O(dropped).
   */
  excluded(dropped: string): { readonly values: number; readonly bytes: number; readonly rewritten: boolean } {
    let values = 0;
    let bytes = 0;
    let rewritten = false;
    if (this.#noted.size === 0) return { values, bytes, rewritten };
    for (let i = 0; i + ID_BYTES <= dropped.length; i += ID_BYTES) {
      const n = this.#noted.get(dropped.slice(i, i + ID_BYTES));
      if (n === undefined) continue;
      values++;
      bytes += n.bytes;
      if (n.rewritten) rewritten = true;
    }
    return { values, bytes, rewritten };
  }
}

const states = new WeakMap<LsmTree, ReclaimState>();

/**
 * The reclaim state of `tree`: one per tree, shared by its version store (which opens the
 * window and notes values) and its retention hook (which gives the reclaim filter and
 * settles the count at the install).
 */
export function reclaimStateOf(tree: LsmTree): ReclaimState {
  let s = states.get(tree);
  if (s === undefined) states.set(tree, (s = new ReclaimState()));
  return s;
}

/**
 * What merges took off the store's value counters, ever (the {@link VALUES_REMOVED}
 * property: what they removed, and the corrections `compact()` made: any integers), or
 * undefined when this manifest records none (no merge removed a value here yet, or the
 * store was installed from another's files: see store-counters.ts).
 * @throws CorruptionError when the property is not two safe integers
 */
export function valuesRemoved(properties: Readonly<Record<string, unknown>>): readonly [values: number, bytes: number] | undefined {
  const v = properties[VALUES_REMOVED];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length !== 2 || !v.every((n) => Number.isSafeInteger(n))) {
    throw new CorruptionError(`the manifest's ${VALUES_REMOVED} is not two integers: ${JSON.stringify(v)}`, { property: VALUES_REMOVED });
  }
  return v as unknown as readonly [number, number];
}
