/**
 * Digests for anti-entropy: what two replicas compare to find, cheaply, the keys whose
 * histories differ.
 *
 * - A key's digest covers the ids of all its versions in clock order (its whole history,
 *   not just the head: history is a union, so a missing old version is a difference).
 * - Each namespace is a fixed-shape hash tree: a key falls in one of 16^4 buckets by a
 *   hash of its name; a bucket's digest covers its (key, digest) pairs; an inner node's
 *   covers its 16 children. Two replicas holding the same versions get the same digests
 *   at every node, so a comparison descends only into differing subtrees.
 * - The state root covers every namespace's root: quiet replicas with the same data
 *   report the same root.
 *
 * Nothing is tracked until the first digest is asked for (a database that never syncs
 * pays nothing); after that each committed version marks its bucket dirty in O(1), and
 * digests are recomputed on demand for dirty buckets only.
 */
import { sha256HexOfBytes, sha256HexOfText } from '@koru/engine';
import type { KeyIndex, KeyState } from './key-index.js';
import { SYSTEM_NAMESPACE } from './names.js';

/** Children per inner node of a namespace's tree. */
export const MERKLE_FANOUT = 16;
/** Levels below a namespace's root: buckets are named by this many hex digits. */
export const MERKLE_DEPTH = 4;
/** The digest of an empty subtree, namespace or store. */
export const EMPTY_DIGEST = '0'.repeat(64);

const BUCKET_BITS = 4 * MERKLE_DEPTH;

/** The bucket of a key: 16 bits of its FNV-1a hash (stable across processes and platforms). */
export function bucketOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) >>> (32 - BUCKET_BITS);
}

/** A bucket's name in the tree: MERKLE_DEPTH hex digits. */
export function bucketPrefix(bucket: number): string {
  return bucket.toString(16).padStart(MERKLE_DEPTH, '0');
}

/** One node of a namespace's tree, as a peer sees it. */
export interface MerkleNode {
  /** Hex digits naming the subtree ('' is the namespace's root, MERKLE_DEPTH digits a bucket). */
  readonly prefix: string;
  readonly digest: string;
  /** Keys stored under it. */
  readonly keys: number;
}

class NamespaceTree {
  /** Bucket -> its keys. */
  readonly buckets = new Map<number, Set<KeyState>>();
  /** `${prefix}` -> keys under it, for every prefix of every bucket in use ('' included). */
  readonly counts = new Map<string, number>();
  /** `${prefix}` -> digest, for subtrees not changed since computed. */
  readonly digests = new Map<string, string>();

  add(ks: KeyState): void {
    const b = bucketOf(ks.key);
    let set = this.buckets.get(b);
    if (set === undefined) this.buckets.set(b, (set = new Set()));
    if (!set.has(ks)) {
      set.add(ks);
      const p = bucketPrefix(b);
      for (let len = 0; len <= MERKLE_DEPTH; len++) {
        const q = p.slice(0, len);
        this.counts.set(q, (this.counts.get(q) ?? 0) + 1);
      }
    }
    this.dirty(b);
  }

  dirty(b: number): void {
    const p = bucketPrefix(b);
    for (let len = 0; len <= MERKLE_DEPTH; len++) this.digests.delete(p.slice(0, len));
  }
}

/** The anti-entropy digests of a store (see the module comment). */
export class MerkleState {
  readonly #index: KeyIndex;
  #trees: Map<string, NamespaceTree> | undefined;

  constructor(index: KeyIndex) {
    this.#index = index;
  }

  /** Records that `ks` gained a version (no-op until digests were first asked for). */
  touch(ks: KeyState): void {
    if (this.#trees === undefined || ks.namespace === SYSTEM_NAMESPACE) return;
    let t = this.#trees.get(ks.namespace);
    if (t === undefined) this.#trees.set(ks.namespace, (t = new NamespaceTree()));
    t.add(ks);
  }

  /** Digest of one key's history: its single version id, or SHA-256 of all ids in clock order. */
  keyDigest(ks: KeyState): string {
    if (ks.digest !== undefined) return ks.digest;
    const table = this.#index.table;
    const rows = ks.rows;
    if (rows.length === 1) return (ks.digest = table.versionId(rows[0]!));
    const bytes = new Uint8Array(32 * rows.length);
    const ids = table.cols.ids;
    for (let i = 0; i < rows.length; i++) bytes.set(ids.subarray(rows[i]! * 32, rows[i]! * 32 + 32), i * 32);
    return (ks.digest = sha256HexOfBytes(bytes));
  }

  /** The state root: one digest of every namespace's root (EMPTY_DIGEST for an empty store). */
  stateRoot(): string {
    const roots = this.namespaceRoots();
    if (roots.size === 0) return EMPTY_DIGEST;
    const names = [...roots.keys()].sort();
    return sha256HexOfText(names.map((n) => `${JSON.stringify(n)}:${roots.get(n)!}`).join('\n'));
  }

  /** Every namespace holding at least one version (deleted keys count) with its root digest. */
  namespaceRoots(): Map<string, string> {
    const out = new Map<string, string>();
    for (const [ns, t] of this.#built()) out.set(ns, this.#digest(t, ''));
    return out;
  }

  /**
   * The children of subtree `prefix` of `namespace` (fewer than MERKLE_DEPTH digits):
   * the non-empty ones, with their digests and key counts.
   */
  children(namespace: string, prefix: string): MerkleNode[] {
    const t = this.#built().get(namespace);
    if (t === undefined || prefix.length >= MERKLE_DEPTH) return [];
    const out: MerkleNode[] = [];
    for (let i = 0; i < MERKLE_FANOUT; i++) {
      const p = prefix + i.toString(16);
      const keys = t.counts.get(p);
      if (keys !== undefined) out.push({ prefix: p, digest: this.#digest(t, p), keys });
    }
    return out;
  }

  /** The digest and key count of subtree `prefix` of `namespace` (EMPTY_DIGEST, 0 when it holds nothing). */
  node(namespace: string, prefix: string): MerkleNode {
    const t = this.#built().get(namespace);
    const keys = t?.counts.get(prefix);
    if (t === undefined || keys === undefined) return { prefix, digest: EMPTY_DIGEST, keys: 0 };
    return { prefix, digest: this.#digest(t, prefix), keys };
  }

  /** The keys under subtree `prefix` of `namespace` with their digests, sorted by key. */
  keysUnder(namespace: string, prefix: string): Array<readonly [key: string, digest: string]> {
    const t = this.#built().get(namespace);
    if (t === undefined) return [];
    const out: Array<readonly [string, string]> = [];
    for (const [b, set] of t.buckets) {
      if (!bucketPrefix(b).startsWith(prefix)) continue;
      for (const ks of set) out.push([ks.key, this.keyDigest(ks)]);
    }
    return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }

  #built(): Map<string, NamespaceTree> {
    if (this.#trees !== undefined) return this.#trees;
    this.#trees = new Map();
    for (const ks of this.#index.keys()) this.touch(ks);
    return this.#trees;
  }

  #digest(t: NamespaceTree, prefix: string): string {
    const cached = t.digests.get(prefix);
    if (cached !== undefined) return cached;
    let d: string;
    if (!t.counts.has(prefix)) d = EMPTY_DIGEST;
    else if (prefix.length === MERKLE_DEPTH) {
      const pairs: Array<readonly [string, string]> = [];
      for (const ks of t.buckets.get(parseInt(prefix, 16))!) pairs.push([ks.key, this.keyDigest(ks)]);
      pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      d = sha256HexOfText(pairs.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join('\n'));
    } else {
      let text = '';
      for (let i = 0; i < MERKLE_FANOUT; i++) text += this.#digest(t, prefix + i.toString(16));
      d = sha256HexOfText(text);
    }
    t.digests.set(prefix, d);
    return d;
  }
}
