/**
 * Keys with writes queued but not committed yet. A queued write is its key's newest
 * version for the next write to chain on (its predecessor, a compare-and-set), before
 * the store holds it; only keys with queued writes are tracked, so this stays as small
 * as the commit queue.
 *
 * Looked up per write: a map per namespace keyed by the caller's key strings (whose
 * hashes the engine caches), rather than one map keyed by a `namespace\0key` string that
 * every lookup would build and hash anew.
 */

/** Namespaces whose (empty) map is kept when their last queued key goes. */
const EMPTY_KEPT = 64;

/** One key with queued writes. */
export class PendingKey {
  /** Id of the newest queued version that the next local write follows, if any. */
  pendingId: string | undefined = undefined;
  pendingDeleted = false;
  /** Queued writes of the key (replicated ones included). */
  pending = 0;
  constructor(
    readonly namespace: string,
    readonly key: string,
  ) {}

  /** The key's id: namespace and key joined by a NUL (a name never holds one). */
  get id(): string {
    return `${this.namespace}\u0000${this.key}`;
  }
}

/** The keys of one store with queued writes. */
export class PendingKeys {
  /**
   * Namespace → key → entry. A namespace's map stays when its last key goes (a write
   * after write to one namespace would otherwise make and drop a map each time), unless
   * more than {@link EMPTY_KEPT} namespaces have none.
   */
  readonly #keys = new Map<string, Map<string, PendingKey>>();
  /** Entries held, over every namespace. */
  #count = 0;

  /** The key's entry, if it has queued writes (or is being queued). O(1). */
  get(namespace: string, key: string): PendingKey | undefined {
    return this.#count === 0 ? undefined : this.#keys.get(namespace)?.get(key);
  }

  /** The key's entry, made if there is none (names already validated). */
  acquire(namespace: string, key: string): PendingKey {
    let keys = this.#keys.get(namespace);
    if (keys === undefined) this.#keys.set(namespace, (keys = new Map()));
    let pk = keys.get(key);
    if (pk === undefined) {
      keys.set(key, (pk = new PendingKey(namespace, key)));
      this.#count++;
    }
    return pk;
  }

  /** Forgets the key once nothing of it is queued. */
  release(pk: PendingKey): void {
    if (pk.pending !== 0) return;
    const keys = this.#keys.get(pk.namespace);
    if (keys === undefined || keys.get(pk.key) !== pk) return;
    keys.delete(pk.key);
    this.#count--;
    // Bounded: a store written across many namespaces must not keep a map for each.
    if (keys.size === 0 && this.#keys.size > EMPTY_KEPT) this.#keys.delete(pk.namespace);
  }
}
