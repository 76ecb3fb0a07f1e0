/**
 * A map bounded by the bytes its entries say they hold, least recently used out first:
 * the version store's cache of heads (keyed by a key's record prefix) and of values
 * read by reference (keyed by value id).
 *
 * Entries are nodes of a doubly linked list (oldest at the head, newest at the tail)
 * found through a Map. A hit relinks its node at the tail: a few pointer writes, and
 * none at all when it is the newest already (a key read again and again). The Map is
 * only written when an entry is added or dropped: a Map delete + set per hit (the
 * simpler way to keep order) was measured a large part of a cached read.
 */
interface Node<K, V> {
  readonly key: K;
  value: V;
  bytes: number;
  prev: Node<K, V> | undefined;
  next: Node<K, V> | undefined;
}

/** A byte-bounded LRU map (see the module doc). */
export class ByteLru<K, V> {
  readonly #budget: number;
  readonly #map = new Map<K, Node<K, V>>();
  /** Least recently used entry (evicted first). */
  #oldest: Node<K, V> | undefined;
  /** Most recently used entry. */
  #newest: Node<K, V> | undefined;
  #bytes = 0;

  /** `budget`: the most bytes held (0 disables the cache). */
  constructor(budget: number) {
    this.#budget = budget;
  }

  /** Bytes held now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Entries held now. */
  get size(): number {
    return this.#map.size;
  }

  /** The entry's value, made the most recently used; undefined when absent. */
  get(key: K): V | undefined {
    const e = this.#map.get(key);
    if (e === undefined) return undefined;
    if (e !== this.#newest) {
      this.#unlink(e);
      this.#append(e);
    }
    return e.value;
  }

  /** The entry's value, leaving the order as it is (a lookup the caller follows with a {@link set}); undefined when absent. */
  peek(key: K): V | undefined {
    return this.#map.get(key)?.value;
  }

  /**
   * Stores `value` as holding `bytes`, replacing the key's entry, then drops the least
   * recently used entries past the budget. An entry over a quarter of the budget is not
   * kept (it would flush the rest), and the key's old entry is dropped anyway.
   */
  set(key: K, value: V, bytes: number): void {
    const old = this.#map.get(key);
    if (bytes > this.#budget / 4) {
      if (old !== undefined) this.#drop(old);
      return;
    }
    if (old !== undefined) {
      // Replaced in place: the node becomes the newest, as a delete + insert would make it.
      this.#bytes += bytes - old.bytes;
      old.value = value;
      old.bytes = bytes;
      if (old !== this.#newest) {
        this.#unlink(old);
        this.#append(old);
      }
    } else {
      const e: Node<K, V> = { key, value, bytes, prev: undefined, next: undefined };
      this.#map.set(key, e);
      this.#append(e);
      this.#bytes += bytes;
    }
    while (this.#bytes > this.#budget) this.#drop(this.#oldest!);
  }

  /** Forgets the key's entry. */
  delete(key: K): void {
    const e = this.#map.get(key);
    if (e !== undefined) this.#drop(e);
  }

  /** Forgets every entry. */
  clear(): void {
    this.#map.clear();
    this.#oldest = this.#newest = undefined;
    this.#bytes = 0;
  }

  #drop(e: Node<K, V>): void {
    this.#map.delete(e.key);
    this.#unlink(e);
    this.#bytes -= e.bytes;
  }

  #unlink(e: Node<K, V>): void {
    const { prev, next } = e;
    if (prev === undefined) this.#oldest = next;
    else prev.next = next;
    if (next === undefined) this.#newest = prev;
    else next.prev = prev;
    e.prev = e.next = undefined;
  }

  #append(e: Node<K, V>): void {
    const last = this.#newest;
    e.prev = last;
    if (last === undefined) this.#oldest = e;
    else last.next = e;
    this.#newest = e;
  }
}
