/**
 * The shared block cache: verified raw blocks of every open segment, keyed by
 * (file number, offset), bounded in bytes, least recently used out first.
 *
 * Layout: a Map per file number of Map<offset, node>, so a lookup hashes two small
 * integers and allocates nothing (a string key "file:offset" would cost a string per
 * lookup), and dropping a deleted file's blocks walks only that file's map. Recency is an
 * intrusive doubly linked list through the nodes: a hit relinks one node, with no Map
 * writes (measured faster than re-inserting into a Map to move it to the end).
 */
import { InvalidArgumentError } from '@koru/engine';
import type { BlockCache } from './types.js';

/**
 * What a cached block costs beyond its bytes: the list node, its Map slot and the
 * Uint8Array object. An estimate; it keeps many tiny blocks from passing as free.
 */
export const BLOCK_OVERHEAD_BYTES = 64;

/** One cached block, linked into the recency list (head = most recent). */
interface Node {
  readonly fileNumber: number;
  readonly offset: number;
  block: Uint8Array;
  /** block.byteLength + BLOCK_OVERHEAD_BYTES, as counted into `bytes`. */
  cost: number;
  newer: Node | null;
  older: Node | null;
}

/**
 * A {@link BlockCache} bounded by `budgetBytes` (each block counts its byteLength plus
 * {@link BLOCK_OVERHEAD_BYTES}). Blocks larger than an eighth of the budget are not
 * cached: one of them would push out many small hot ones. A budget of 0 disables caching.
 *
 * Blocks are held as given, not copied: pass a block that owns its memory (not a small
 * view of a big buffer, which would keep the whole buffer alive uncounted), and do not
 * modify a block after caching it, since later readers get the same bytes.
 */
export class LruBlockCache implements BlockCache {
  readonly budget: number;
  #bytes = 0;
  #hits = 0;
  #misses = 0;
  readonly #files = new Map<number, Map<number, Node>>();
  #newest: Node | null = null;
  #oldest: Node | null = null;
  /** Largest block byteLength accepted. */
  readonly #maxBlock: number;

  /** @param budgetBytes the most it holds, counted as above; 0 caches nothing. */
  constructor(budgetBytes: number) {
    if (!Number.isSafeInteger(budgetBytes) || budgetBytes < 0) {
      throw new InvalidArgumentError(`the block cache budget must be a non-negative integer of bytes, not ${budgetBytes}`);
    }
    this.budget = budgetBytes;
    this.#maxBlock = Math.floor(budgetBytes / 8);
  }

  /** Bytes held now, overhead included: never more than {@link budget}. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Lookups that found their block. */
  get hits(): number {
    return this.#hits;
  }

  /** Lookups that did not. */
  get misses(): number {
    return this.#misses;
  }

  /** The block at (fileNumber, offset), which becomes the most recently used; or undefined. */
  get(fileNumber: number, offset: number): Uint8Array | undefined {
    const node = this.#files.get(fileNumber)?.get(offset);
    if (node === undefined) {
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    if (node !== this.#newest) {
      this.#unlink(node);
      this.#pushNewest(node);
    }
    return node.block;
  }

  /**
   * Caches `block` as the most recently used, replacing any block at the same place, and
   * drops the least recently used ones until it fits. A block over budget/8 is not
   * cached (and a block already at that place is dropped, as it is stale).
   */
  set(fileNumber: number, offset: number, block: Uint8Array): void {
    let file = this.#files.get(fileNumber);
    const old = file?.get(offset);
    // (With a budget of 0 nothing could stay anyway; testing it here skips the Map work.)
    if (block.byteLength > this.#maxBlock || this.budget === 0) {
      if (old !== undefined) this.#drop(old);
      return;
    }
    const cost = block.byteLength + BLOCK_OVERHEAD_BYTES;
    if (old !== undefined) {
      this.#bytes += cost - old.cost;
      old.block = block;
      old.cost = cost;
      if (old !== this.#newest) {
        this.#unlink(old);
        this.#pushNewest(old);
      }
    } else {
      if (file === undefined) {
        file = new Map();
        this.#files.set(fileNumber, file);
      }
      const node: Node = { fileNumber, offset, block, cost, newer: null, older: null };
      file.set(offset, node);
      this.#pushNewest(node);
      this.#bytes += cost;
    }
    // The new block is the newest, so older ones go first. Only when the budget is below
    // ~8 × 64 B can it alone exceed the budget; then it goes too, and `bytes` stays within.
    while (this.#bytes > this.budget && this.#oldest !== null) this.#drop(this.#oldest);
  }

  /** Forgets every block of `fileNumber` (the file was deleted): O(its blocks). */
  evictFile(fileNumber: number): void {
    const file = this.#files.get(fileNumber);
    if (file === undefined) return;
    this.#files.delete(fileNumber);
    for (const node of file.values()) {
      this.#unlink(node);
      this.#bytes -= node.cost;
    }
  }

  /** Unlinks `node` and removes it from its file's map. */
  #drop(node: Node): void {
    this.#unlink(node);
    this.#bytes -= node.cost;
    const file = this.#files.get(node.fileNumber)!;
    file.delete(node.offset);
    if (file.size === 0) this.#files.delete(node.fileNumber);
  }

  #unlink(node: Node): void {
    if (node.newer === null) this.#newest = node.older;
    else node.newer.older = node.older;
    if (node.older === null) this.#oldest = node.newer;
    else node.older.newer = node.newer;
    node.newer = null;
    node.older = null;
  }

  #pushNewest(node: Node): void {
    node.older = this.#newest;
    if (this.#newest === null) this.#oldest = node;
    else this.#newest.newer = node;
    this.#newest = node;
  }
}
