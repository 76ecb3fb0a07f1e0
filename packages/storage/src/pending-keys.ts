/**
 * Keys with writes queued but not committed yet. A queued write is its key's newest
 * version for the next write to chain on (its predecessor, a compare-and-set), before
 * the store holds it; only keys with queued writes are tracked, so this stays as small
 * as the commit queue.
 */

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
    /** The key's entry in {@link PendingKeys}. */
    readonly id: string,
  ) {}
}

/** The keys of one store with queued writes. */
export class PendingKeys {
  readonly #keys = new Map<string, PendingKey>();

  /** The key's entry, if it has queued writes (or is being queued). O(1). */
  get(namespace: string, key: string): PendingKey | undefined {
    return this.#keys.size === 0 ? undefined : this.#keys.get(`${namespace}\u0000${key}`);
  }

  /** The key's entry, made if there is none (names already validated). */
  acquire(namespace: string, key: string): PendingKey {
    const id = `${namespace}\u0000${key}`;
    let pk = this.#keys.get(id);
    if (pk === undefined) this.#keys.set(id, (pk = new PendingKey(namespace, key, id)));
    return pk;
  }

  /** Forgets the key once nothing of it is queued. */
  release(pk: PendingKey): void {
    if (pk.pending === 0 && this.#keys.get(pk.id) === pk) this.#keys.delete(pk.id);
  }
}
