/**
 * A tab's cache of current versions (what `get`, `getVersion` and `contains` read), so a
 * repeated read answers in the tab without crossing to the database worker.
 *
 * Never wrong, by the order of one stream (the argument, step by step):
 * 1. The worker. It reads a key's current version and posts the answer in one
 *    synchronous step (./worker-invalidations.ts, `answerHead`). At every commit (any
 *    tab's write, putMany, delete, purge's tombstone, an import, a sync pull: all go
 *    through the commit queue's apply) it notes the keys written in the step that applies
 *    the commit, and the next message it posts carries them (`inv`; an `inval` of its
 *    own if nothing else goes out soon). One port, and a port delivers in order:
 *    in the worker's stream an answer read before a commit comes before that commit's
 *    keys, one read after it comes after them. So an answer is true as of its place in
 *    the stream, and any later change of its key comes after it.
 * 2. The owner tab handles its worker's messages in order: a message's `inv` first (its
 *    own cache, and pending for the others), then the message. Whatever it then posts on
 *    its BroadcastChannel (an answer or event it relays for another tab, the `state`
 *    that follows every commit, anything) carries the pending keys (./relay.ts, `stamp`),
 *    so on the channel too they come before everything of the worker's stream that came
 *    after them. A BroadcastChannel delivers one sender's messages in order.
 * 3. Every other tab handles each message's `inv` first, whoever the message is for.
 *    So each tab sees its part of the stream in the stream's order, and applying it in
 *    order — drop the keys of an `inv`, fill a key from an answer — leaves only entries
 *    current as of the last message handled. Its own write's answer comes after the
 *    write's keys (read-your-writes); another tab's write's change event too.
 * 4. Only the current owner's stream fills it: an answer from another tab than the owner
 *    followed now fills nothing (./session.ts); a new owner (takeover), an owner's `bye`,
 *    close and failure clear it; so does a skipped commit number (a gap: never expected).
 *    Requests sent again to a new owner are answered on the new stream, into a cache
 *    cleared when it began. Retention, compaction and purge's own rewrite never change a
 *    key's current version (purge's change is its tombstone, a commit like any other).
 *
 * Bounded by an estimate of the bytes held (default {@link DEFAULT_TAB_CACHE_BYTES}),
 * evicting by second chance (CLOCK): a hit only sets a bit, so the hot path does not
 * reorder anything.
 */
import type { Version } from '@koru/storage';
import { errorFromWire, type WireError } from './errors.js';
import type { Invalidation } from './protocol.js';

/**
 * The default budget, in estimated bytes: 8 MiB. Every tab holds its own copy of what it
 * reads, next to the worker's own value cache (32 MiB), so a few tabs stay modest; at
 * about 1 KB per document it holds several thousand current versions, the hot set of
 * most pages.
 */
export const DEFAULT_TAB_CACHE_BYTES = 8 * 1024 * 1024;

/** What a read of a key's current version answers, as cached. */
export interface CachedHead {
  /** The current version (deep-frozen); undefined when the key has none. */
  readonly version: Version | undefined;
  /** The KEY_NOT_FOUND the worker answered, when the key has no current version. */
  readonly missing: WireError | undefined;
}

interface Entry extends CachedHead {
  readonly namespace: string;
  readonly key: string;
  readonly bytes: number;
  /** Read since the clock hand last passed. */
  used: boolean;
  /** False once dropped (it may still sit in the eviction queue). */
  live: boolean;
}

/** The plain current-value reads the cache answers. */
export type HeadRead = 'get' | 'getVersion' | 'contains';

/**
 * Deep-freezes a cloned value and estimates the bytes it holds (strings by length,
 * objects and arrays by their slots): what the budget counts.
 */
function freezeSized(x: unknown): number {
  if (typeof x === 'string') return 16 + x.length;
  if (x === null || typeof x !== 'object') return 8;
  let n = 32;
  if (Array.isArray(x)) for (const item of x) n += 8 + freezeSized(item);
  else for (const k of Object.keys(x)) n += 24 + k.length + freezeSized((x as Record<string, unknown>)[k]);
  Object.freeze(x);
  return n;
}

/** A tab's current versions by namespace and key; see the module comment. */
export class TabCache {
  readonly #byNamespace = new Map<string, Map<string, Entry>>();
  /** Entries in the order the clock hand visits them (dropped ones linger until it passes). */
  #queue: Entry[] = [];
  #hand = 0;
  #bytes = 0;
  #count = 0;
  /** The last commit number of the stream's invalidations (undefined: none since the last clear). */
  #last: number | undefined;

  /** @param maxBytes the budget in estimated bytes; an entry over an eighth of it is not kept */
  constructor(readonly maxBytes: number = DEFAULT_TAB_CACHE_BYTES) {}

  /** Estimated bytes held. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Keys held. */
  get size(): number {
    return this.#count;
  }

  /** The cached read of `namespace/key`, if any (marks it used). */
  lookup(namespace: unknown, key: unknown): CachedHead | undefined {
    const e = this.#byNamespace.get(namespace as string)?.get(key as string);
    if (e !== undefined) e.used = true;
    return e;
  }

  /**
   * A worker's answer to a read of `namespace/key`'s current version: deep-frozen (as the
   * handle hands it out), and kept when `keep` (it comes from the stream the cache
   * follows) and it is a version or KEY_NOT_FOUND (other errors are not cached). Returns
   * what to hand out: the version already held when it is the same one (two reads were
   * in flight), so that every read of a version held hands out one object.
   */
  admit(namespace: string, key: string, ok: boolean, value: unknown, keep: boolean): unknown {
    const bytes = ok ? freezeSized(value) : 0;
    if (!keep) return value;
    if (!ok && (value as WireError | null)?.code !== 'KEY_NOT_FOUND') return value;
    const held = this.#byNamespace.get(namespace)?.get(key);
    if (held !== undefined) {
      if (ok && held.version?.versionId === (value as Version).versionId) return held.version;
      if (!ok && held.missing !== undefined) return value;
    }
    const size = 64 + namespace.length + key.length + (ok ? bytes : 128);
    if (size > this.maxBytes / 8) return value;
    this.drop(namespace, key);
    const e: Entry = {
      namespace,
      key,
      version: ok ? (value as Version) : undefined,
      missing: ok ? undefined : (value as WireError),
      bytes: size,
      used: false,
      live: true,
    };
    let keys = this.#byNamespace.get(namespace);
    if (keys === undefined) this.#byNamespace.set(namespace, (keys = new Map()));
    keys.set(key, e);
    this.#queue.push(e);
    this.#bytes += size;
    this.#count++;
    if (this.#bytes > this.maxBytes) this.#evict();
    return value;
  }

  /** Forgets `namespace/key` (anything else: nothing to forget). */
  drop(namespace: unknown, key: unknown): void {
    const keys = this.#byNamespace.get(namespace as string);
    const e = keys?.get(key as string);
    if (e === undefined) return;
    keys!.delete(key as string);
    if (keys!.size === 0) this.#byNamespace.delete(namespace as string);
    e.live = false;
    this.#bytes -= e.bytes;
    this.#count--;
    // Dropped entries wait in the queue for the hand: compact when they are most of it.
    if (this.#queue.length - this.#hand > 2 * this.#count + 1024) {
      this.#queue = this.#queue.slice(this.#hand).filter((x) => x.live);
      this.#hand = 0;
    }
  }

  /**
   * The stream's invalidation: its keys are dropped. Commits skipped since the last one
   * (a gap: never expected, ports and channels lose nothing) clear everything.
   */
  apply(inv: Invalidation): void {
    if (this.#last !== undefined && inv.first !== this.#last + 1) this.clear();
    else if (this.#count > 0) {
      const keys = inv.keys;
      for (let i = 0; i + 1 < keys.length; i += 2) this.drop(keys[i], keys[i + 1]);
    }
    this.#last = inv.last;
  }

  /**
   * This tab is sending a write: its keys are dropped now, so a read issued after it
   * (awaited or not) crosses behind it, as it did without a cache.
   */
  writing(method: string, args: readonly unknown[]): void {
    if (this.#count === 0) return;
    if (method === 'put' || method === 'delete' || method === 'purge') this.drop(args[0], args[1]);
    else if ((method === 'putMany' || method === 'importVersions') && Array.isArray(args[0])) {
      for (const item of args[0] as unknown[]) {
        if (item !== null && typeof item === 'object') this.drop((item as { namespace?: unknown }).namespace, (item as { key?: unknown }).key);
      }
    }
  }

  /** Forgets everything (and the stream's numbering: the next stream may be another one). */
  clear(): void {
    this.#last = undefined;
    this.#byNamespace.clear();
    for (const e of this.#queue) e.live = false;
    this.#queue = [];
    this.#hand = 0;
    this.#bytes = 0;
    this.#count = 0;
  }

  /** Second chance: the hand passes over used entries (clearing the bit) and evicts the first unused one, until under budget. */
  #evict(): void {
    while (this.#bytes > this.maxBytes && this.#hand < this.#queue.length) {
      const e = this.#queue[this.#hand++]!;
      if (!e.live) continue;
      if (e.used) {
        e.used = false;
        this.#queue.push(e);
      } else this.drop(e.namespace, e.key);
    }
    if (this.#hand > 1024 && this.#hand * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#hand).filter((x) => x.live);
      this.#hand = 0;
    }
  }
}

/** What `read` gives for a cached head (a settled promise: no crossing). */
export function answer(head: CachedHead, read: HeadRead): Promise<unknown> {
  const v = head.version;
  if (v !== undefined) return Promise.resolve(read === 'get' ? v.value : read === 'getVersion' ? v : true);
  return read === 'contains' ? Promise.resolve(false) : Promise.reject(errorFromWire(head.missing));
}

/** What `read` gives from the worker's answer to `getVersion` (how every cacheable read crosses). */
export function fromVersion(read: HeadRead, version: Promise<unknown>): Promise<unknown> {
  if (read === 'getVersion') return version;
  if (read === 'get') return version.then((v) => (v as Version).value);
  return version.then(
    () => true,
    (e: unknown) => {
      if ((e as { code?: unknown } | null)?.code === 'KEY_NOT_FOUND') return false;
      throw e;
    },
  );
}
