/**
 * Digests for anti-entropy: what two replicas compare to find, cheaply, the keys whose
 * histories differ.
 *
 * - A key's digest covers the ids of all its versions in clock order (its whole history,
 *   not just the head: history is a union, so a missing old version is a difference):
 *   the first id, then SHA-256(digest ‖ next id) for each later one, so a new newest
 *   version extends a known digest in O(1) (a store keeps its keys' digests up this way
 *   while nothing was ever cut from a history; after a cut they are recomputed when
 *   asked for, from the kept ids).
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
import { sha256HexOfBytes, sha256HexOfText, toHex } from '@koru/engine';
import { mayHaveHorizons } from './horizon-records.js';
import { SYSTEM_NAMESPACE } from './names.js';
import type { StoreContext } from './store-context.js';

/** Children per inner node of a namespace's tree. */
export const MERKLE_FANOUT = 16;
/** Levels below a namespace's root: buckets are named by this many hex digits. */
export const MERKLE_DEPTH = 4;
/** The digest of an empty subtree, namespace or store. */
export const EMPTY_DIGEST = '0'.repeat(64);

const BUCKET_BITS = 4 * MERKLE_DEPTH;

/** Scratch for {@link extendKeyDigest}: a digest and the next id, hashed together. */
const pair = new Uint8Array(64);

/** The value of one lowercase hex digit's char code. */
function hexDigit(c: number): number {
  return c <= 57 ? c - 48 : c - 87;
}

/**
 * Writes the 32 bytes of a 64-digit lowercase hex digest or id into `pair` at `at`: no
 * array per id (a joiner digests every id it installed, a million of them and more).
 */
function hexInto(hex: string, at: number): void {
  for (let i = 0; i < 32; i++) pair[at + i] = (hexDigit(hex.charCodeAt(2 * i)) << 4) | hexDigit(hex.charCodeAt(2 * i + 1));
}

/** A key's digest extended by its next version's id (see the module comment). */
export function extendKeyDigest(digest: string, versionId: string): string {
  hexInto(digest, 0);
  hexInto(versionId, 32);
  return sha256HexOfBytes(pair);
}

/** {@link extendKeyDigest} with the id as the 32 bytes of `ids` at `at` (no hex to parse). */
function extendKeyDigestWith(digest: string, ids: Uint8Array, at: number): string {
  hexInto(digest, 0);
  pair.set(ids.subarray(at, at + 32), 32);
  return sha256HexOfBytes(pair);
}

/** Reused by every key digest recomputed from the ids (grown for the longest history). */
let idScratch: Uint8Array = new Uint8Array(32 * 128);

/** The bucket of a key: 16 bits of its FNV-1a hash (stable across processes and platforms). */
export function bucketOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) >>> (32 - BUCKET_BITS);
}

/** One node of a namespace's tree, as a peer sees it. */
export interface MerkleNode {
  /** Hex digits naming the subtree ('' is the namespace's root, MERKLE_DEPTH digits a bucket). */
  readonly prefix: string;
  readonly digest: string;
  /** Keys stored under it. */
  readonly keys: number;
}

/** Inner nodes above the buckets: 1 + 16 + 256 + 4096, numbered level by level. */
const INNER = (MERKLE_FANOUT ** MERKLE_DEPTH - 1) / (MERKLE_FANOUT - 1);
/** First slot of each level in the inner arrays (level 0 is the root). */
const LEVEL_START = [0, 1, 17, 273];

/** The slot of inner node `prefix` (fewer than MERKLE_DEPTH hex digits). */
function innerSlot(prefix: string): number {
  return LEVEL_START[prefix.length]! + (prefix.length === 0 ? 0 : parseInt(prefix, 16));
}

/** One namespace's tree: keys per bucket, key counts and cached digests per node. */
class NamespaceTree {
  constructor(readonly namespace: string) {}
  /** Bucket -> its keys, each with its history's digest once computed (undefined: changed since). */
  readonly buckets = new Map<number, Map<string, string | undefined>>();
  /** Keys under each inner node. */
  readonly innerCounts = new Uint32Array(INNER);
  /** Digest of each inner node not changed since computed, else undefined. */
  readonly innerDigests: Array<string | undefined> = new Array(INNER);
  /** Digest of each bucket not changed since computed. */
  readonly bucketDigests = new Map<number, string>();

  /** `appended`: the id of the key's new newest version, when its digest may be extended. */
  add(key: string, appended?: string): void {
    const b = bucketOf(key);
    let set = this.buckets.get(b);
    if (set === undefined) this.buckets.set(b, (set = new Map()));
    const known = set.get(key);
    const isNew = known === undefined && !set.has(key);
    set.set(key, appended !== undefined && known !== undefined ? extendKeyDigest(known, appended) : undefined);
    this.bucketDigests.delete(b);
    // The bucket's ancestors, bottom up: its number shifted by 4 bits per level.
    for (let level = MERKLE_DEPTH - 1; level >= 0; level--) {
      const slot = LEVEL_START[level]! + (b >>> (4 * (MERKLE_DEPTH - level)));
      if (isNew) this.innerCounts[slot]!++;
      this.innerDigests[slot] = undefined;
    }
  }

  /** Keys under node `prefix` (any length up to MERKLE_DEPTH). */
  count(prefix: string): number {
    return prefix.length === MERKLE_DEPTH ? (this.buckets.get(parseInt(prefix, 16))?.size ?? 0) : this.innerCounts[innerSlot(prefix)]!;
  }
}

/** The anti-entropy digests of a store (see the module comment). */
export class MerkleState {
  readonly #ctx: StoreContext;
  #trees: Map<string, NamespaceTree> | undefined;
  /** Whether key digests are extended as versions come: only while no history was ever cut. */
  #extending = false;

  /** @param ctx the store whose keys and histories are digested */
  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /** Forgets every digest (the store's content was replaced): rebuilt from the keys when next asked for. */
  reset(): void {
    this.#trees = undefined;
  }

  /**
   * Records that a key gained a version (no-op until digests were first asked for);
   * `newest`: the version sorts after every other of its key (its id then extends the
   * key's digest instead of dropping it).
   */
  touch(namespace: string, key: string, versionId?: string, newest = false): void {
    if (this.#trees === undefined || namespace === SYSTEM_NAMESPACE) return;
    this.#checkCuts();
    if (this.#trees === undefined) return;
    let t = this.#trees.get(namespace);
    if (t === undefined) this.#trees.set(namespace, (t = new NamespaceTree(namespace)));
    t.add(key, this.#extending && newest ? versionId : undefined);
  }

  /**
   * A merge or purge may cut any history at any time, which an extended digest would
   * not know: once the store has cut something, every digest is rebuilt from the kept
   * ids and then only dropped, never extended.
   */
  #checkCuts(): void {
    if (this.#extending && mayHaveHorizons(this.#ctx.tree)) this.#trees = undefined;
  }

  /** Digest of one key's history (see the module comment): recomputed from its ids when not known. */
  #keyDigest(namespace: string, key: string, set: Map<string, string | undefined>): string {
    const cached = set.get(key);
    if (cached !== undefined) return cached;
    // The ids as bytes, newest first: the digest starts from the oldest (the last).
    const { bytes, count } = this.#ctx.store.idBytes(namespace, key, idScratch);
    idScratch = bytes;
    let d = count === 0 ? EMPTY_DIGEST : toHex(bytes.subarray(32 * (count - 1), 32 * count));
    for (let i = count - 2; i >= 0; i--) d = extendKeyDigestWith(d, bytes, 32 * i);
    set.set(key, d);
    return d;
  }

  /** The state root: one digest of every namespace's root (EMPTY_DIGEST for an empty store). */
  stateRoot(): string {
    const roots = this.namespaceRoots();
    if (roots.size === 0) return EMPTY_DIGEST;
    const names = [...roots.keys()].sort();
    // Namespace names are [A-Za-z0-9_.-]: `name:root` lines cannot be confused.
    return sha256HexOfText(names.map((n) => `${n}:${roots.get(n)!}`).join('\n'));
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
      const keys = t.count(p);
      if (keys > 0) out.push({ prefix: p, digest: this.#digest(t, p), keys });
    }
    return out;
  }

  /** The digest and key count of subtree `prefix` of `namespace` (EMPTY_DIGEST, 0 when it holds nothing). */
  node(namespace: string, prefix: string): MerkleNode {
    const t = this.#built().get(namespace);
    const keys = t?.count(prefix) ?? 0;
    if (t === undefined || keys === 0) return { prefix, digest: EMPTY_DIGEST, keys: 0 };
    return { prefix, digest: this.#digest(t, prefix), keys };
  }

  /** The keys under subtree `prefix` of `namespace` with their digests, sorted by key. */
  keysUnder(namespace: string, prefix: string): Array<readonly [key: string, digest: string]> {
    const t = this.#built().get(namespace);
    if (t === undefined) return [];
    const out: Array<readonly [string, string]> = [];
    if (t.count(prefix) === 0) return out;
    // The buckets under `prefix` are a range of numbers: look each up rather than scan all.
    const shift = 4 * (MERKLE_DEPTH - prefix.length);
    const first = (prefix.length === 0 ? 0 : parseInt(prefix, 16)) << shift;
    for (let b = first; b < first + (1 << shift); b++) {
      const set = t.buckets.get(b);
      if (set !== undefined) for (const key of set.keys()) out.push([key, this.#keyDigest(namespace, key, set)]);
    }
    return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }

  #built(): Map<string, NamespaceTree> {
    this.#checkCuts();
    if (this.#trees !== undefined) return this.#trees;
    this.#trees = new Map();
    this.#extending = !mayHaveHorizons(this.#ctx.tree);
    // One walk of every key (deleted ones count): O(keys) once, then kept up by touch().
    const store = this.#ctx.store;
    for (const ns of store.namespaces()) {
      if (ns === SYSTEM_NAMESPACE) continue;
      for (const { key } of store.keys(ns)) this.touch(ns, key);
    }
    return this.#trees;
  }

  #digest(t: NamespaceTree, prefix: string): string {
    if (prefix.length === MERKLE_DEPTH) return this.#bucketDigest(t, parseInt(prefix, 16));
    return this.#innerDigest(t, prefix.length, prefix.length === 0 ? 0 : parseInt(prefix, 16));
  }

  /** Digest of inner node `index` of `level`: SHA-256 of its 16 children's digests. */
  #innerDigest(t: NamespaceTree, level: number, index: number): string {
    const slot = LEVEL_START[level]! + index;
    const cached = t.innerDigests[slot];
    if (cached !== undefined) return cached;
    let d = EMPTY_DIGEST;
    if (t.innerCounts[slot]! > 0) {
      let text = '';
      for (let i = 0; i < MERKLE_FANOUT; i++) {
        const child = index * MERKLE_FANOUT + i;
        text += level + 1 === MERKLE_DEPTH ? this.#bucketDigest(t, child) : this.#innerDigest(t, level + 1, child);
      }
      d = sha256HexOfText(text);
    }
    t.innerDigests[slot] = d;
    return d;
  }

  /** Digest of a bucket: SHA-256 of its keys (sorted) with their history digests. */
  #bucketDigest(t: NamespaceTree, b: number): string {
    const cached = t.bucketDigests.get(b);
    if (cached !== undefined) return cached;
    const set = t.buckets.get(b);
    if (set === undefined) return EMPTY_DIGEST;
    const keys = [...set.keys()].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    // Keys hold no NUL (validateKey), so `key NUL digest` lines cannot be confused.
    let text = '';
    for (const key of keys) text += `${key}\u0000${this.#keyDigest(t.namespace, key, set)}\n`;
    const d = sha256HexOfText(text);
    t.bucketDigests.set(b, d);
    return d;
  }
}
