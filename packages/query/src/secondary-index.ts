/**
 * A secondary index: one field of one namespace's live documents, kept in a B+ tree
 * ordered by the total order of `compareJson`, so equality, `in` and ranges are tree
 * walks. The filter semantics use the same order (`gt 30` also matches strings, which
 * sort after numbers), so a range of the tree holds exactly the documents the operator
 * can match. A document without the field is not in the index.
 */
import type { JsonValue } from '@koru/engine';
import BTreeImport from 'sorted-btree';
import { compareJson } from './order.js';
import { compileGetter, type Lookup } from './paths.js';

// sorted-btree is CommonJS: Node's ESM loader hands over its whole exports object as
// the default import, bundlers the class itself. A call marked pure: a top-level field
// read would count as a side effect and keep sorted-btree in bundles that never index.
const BTree = /* @__PURE__ */ (() => ((BTreeImport as unknown as { default?: typeof BTreeImport }).default ?? BTreeImport) as typeof BTreeImport)();

/** One end of a range. */
export interface Bound {
  readonly value: JsonValue;
  readonly inclusive: boolean;
}

/** Indexed values between `lo` and `hi` (an absent end is open). */
export interface IndexRange {
  readonly lo?: Bound;
  readonly hi?: Bound;
}

/** Keys of the documents holding one indexed value: one key inline, more in a set. */
type Posting = string | Set<string>;

/** The index of `field` in `namespace`. */
export class SecondaryIndex {
  readonly #get: (doc: Lookup) => Lookup;
  readonly #tree = new BTree<JsonValue, Posting>(undefined, compareJson as (a: JsonValue, b: JsonValue) => number);
  /** Each indexed key's current value, to find its old posting on an update. */
  readonly #valueOf = new Map<string, JsonValue>();

  constructor(
    readonly namespace: string,
    readonly field: string,
  ) {
    this.#get = compileGetter(field, 'field');
  }

  /** Documents in the index. */
  get size(): number {
    return this.#valueOf.size;
  }

  /** Records that `key` now holds `doc` (`undefined`: deleted). O(log n). */
  update(key: string, doc: JsonValue | undefined): void {
    const next = doc === undefined ? undefined : this.#get(doc);
    const prev = this.#valueOf.get(key);
    if (prev !== undefined) {
      if (next !== undefined && compareJson(prev, next) === 0) return;
      this.#remove(prev, key);
    }
    if (next === undefined) {
      this.#valueOf.delete(key);
      return;
    }
    this.#valueOf.set(key, next);
    const posting = this.#tree.get(next);
    if (posting === undefined) this.#tree.set(next, key);
    else if (typeof posting === 'string') this.#tree.set(next, new Set([posting, key]));
    else posting.add(key);
  }

  #remove(value: JsonValue, key: string): void {
    const posting = this.#tree.get(value);
    if (posting === undefined) return;
    if (typeof posting === 'string') {
      if (posting === key) this.#tree.delete(value);
      return;
    }
    posting.delete(key);
    if (posting.size === 1) this.#tree.set(value, posting.values().next().value!);
  }

  /**
   * Adds to `out` the keys whose value lies in `range`; stops early and returns false
   * once `out` would pass `max` keys. O(log n + keys found).
   */
  collect(range: IndexRange, out: Set<string>, max = Infinity): boolean {
    const tree = this.#tree;
    if (tree.size === 0) return true;
    const { lo, hi } = range;
    if (lo !== undefined && hi !== undefined && lo.inclusive && hi.inclusive && compareJson(lo.value, hi.value) === 0) {
      // A point (eq, in): one lookup, no iterator.
      const posting = tree.get(lo.value);
      if (posting === undefined) return true;
      if (typeof posting === 'string') out.add(posting);
      else for (const k of posting) out.add(k);
      return out.size <= max;
    }
    const start = lo === undefined ? tree.minKey()! : lo.value;
    for (const [value, posting] of tree.entries(start)) {
      if (lo !== undefined && !lo.inclusive && compareJson(value, lo.value) === 0) continue;
      if (hi !== undefined) {
        const c = compareJson(value, hi.value);
        if (c > 0 || (c === 0 && !hi.inclusive)) break;
      }
      if (typeof posting === 'string') out.add(posting);
      else for (const k of posting) out.add(k);
      if (out.size > max) return false;
    }
    return true;
  }
}
