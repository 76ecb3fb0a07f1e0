/**
 * Reads by change number (the change feed, exports, streaming): each committed change on
 * this node is the next seq, and its `S` record names its version's record (see
 * version-records.ts), so a seq leads straight to its version. The JSON forms are built
 * from the records and the stored value text, without materializing values.
 */
import { InvalidArgumentError, parseHlc } from '@koru/engine';
import { HistoryPrunedError } from './errors.js';
import { mayHaveHorizons, previousCutOf } from './horizon-records.js';
import type { PreviousCut } from './storage-options.js';
import { keyPrefix, versionKeySuffix } from './version-records.js';
import { SYSTEM_NAMESPACE } from './names.js';
import type { StoreContext } from './store-context.js';
import type { Change, Version } from './types.js';
// Only for the {@link} links of the doc comments.
import type { CausalStorage } from './causal-storage.js';

/** The feed reads of one store, with the last change built. */
export class FeedReads {
  readonly #ctx: StoreContext;
  #lastChange: Change | undefined;
  /** The tree's epoch (it moves at every write and install) when {@link #lastChange} was built. */
  #lastChangeEpoch = -1;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /** See {@link CausalStorage.changeAt}. */
  changeAt(seq: number): Change {
    const ctx = this.#ctx;
    ctx.checkOpen();
    if (!Number.isInteger(seq) || seq < 1 || seq > ctx.seq) {
      throw new InvalidArgumentError(`no change ${String(seq)}: changes are numbered 1 to ${ctx.seq}`);
    }
    // Every subscriber asks for the same new change in turn: keep the last one built —
    // while nothing was written (a purge writes) and no flush or merge was installed (a
    // merge may cut the version or its predecessor): never answer with erased data.
    if (this.#lastChange?.seq === seq && this.#lastChangeEpoch === ctx.tree.epoch) return this.#lastChange;
    let stored: NonNullable<ReturnType<typeof ctx.store.changeAt>>;
    try {
      stored = ctx.store.changeAt(seq)!;
    } catch (e) {
      // The version retention or a purge removed: say so, and where to resync from.
      if (e instanceof HistoryPrunedError) {
        throw new HistoryPrunedError(`change ${seq} was pruned by retention or a purge: resync from the current state (seq ${ctx.seq})`, { ...e.details, resyncFrom: ctx.seq });
      }
      throw e;
    }
    const { version, before, superseded } = stored;
    const previousValue = before === undefined || before.deleted ? null : before.value;
    // A version whose predecessor was cut replaced something: an update, its old value unknown (null).
    const changeType = version.deleted ? 'delete' : previousValue === null && !superseded && stored.beforePruned !== true ? 'insert' : 'update';
    this.#lastChange = Object.freeze(superseded ? { seq, changeType, version, previousValue, superseded: true as const } : { seq, changeType, version, previousValue });
    this.#lastChangeEpoch = ctx.tree.epoch;
    return this.#lastChange;
  }

  /** See {@link CausalStorage.committed}. */
  *committed(fromSeq: number, toSeq: number): Generator<Version> {
    const ctx = this.#ctx;
    ctx.checkOpen();
    checkRange(fromSeq, toSeq);
    if (!mayHaveHorizons(ctx.tree)) {
      yield* ctx.store.committed(fromSeq, toSeq);
      return;
    }
    // A key's oldest kept version carries where its history was cut (`previousCut`), so
    // that an import can start the key there: one seek per version with a predecessor.
    for (const v of ctx.store.committed(fromSeq, toSeq)) {
      if (v.previousVersion === null) {
        yield v;
        continue;
      }
      const stamp = parseHlc(v.hlc);
      const prefix = keyPrefix(v.namespace, v.key);
      const cut = previousCutOf(ctx.tree, prefix, prefix + versionKeySuffix(stamp.wall, stamp.logical, v.node, v.versionId), v.previousVersion);
      if (cut === undefined) {
        yield v;
        continue;
      }
      const exported: Version & { readonly previousCut: PreviousCut } = Object.freeze({ ...v, previousCut: cut });
      yield exported;
    }
  }

  /** See {@link CausalStorage.committedJson}. */
  *committedJson(fromSeq: number, toSeq: number, system: boolean): Generator<string> {
    const ctx = this.#ctx;
    ctx.checkOpen();
    yield* ctx.store.committedJson(fromSeq, toSeq, system ? undefined : SYSTEM_NAMESPACE);
  }

  /** See {@link CausalStorage.versionsJson}. */
  versionsJson(namespace: string, key: string, ids?: ReadonlySet<string>): string[] {
    const ctx = this.#ctx;
    ctx.checkOpen();
    const out: string[] = [];
    for (const v of ctx.store.historyJson(namespace, key)) if (ids === undefined || ids.has(v.versionId)) out.push(v.json());
    return out;
  }
}

function checkRange(fromSeq: number, toSeq: number): void {
  for (const [name, n] of [['fromSeq', fromSeq], ['toSeq', toSeq]] as const) {
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer, not ${String(n)}`);
  }
}
