/**
 * Reads an immutable file (a snapshot) through a small cache of fixed-size blocks,
 * first in first out. Values written next to each other (one key's versions) are then
 * served by one read instead of one each.
 */
import { readFully, type FileOps } from '../fs-ops.js';

/** Block size: large enough for a key's recent history, small enough for one value. */
export const BLOCK_BYTES = 16 * 1024;

export class BlockReader {
  readonly #ops: FileOps;
  readonly #fd: number;
  readonly #maxBlocks: number;
  readonly #blocks = new Map<number, Buffer>();

  constructor(ops: FileOps, fd: number, maxBlocks = 1024) {
    this.#ops = ops;
    this.#fd = fd;
    this.#maxBlocks = maxBlocks;
  }

  /**
   * Bytes [at, at + length) as a view into a cached block, or null when they cross a
   * block boundary (the caller then reads them directly). The view is valid until the
   * next call.
   */
  view(at: number, length: number): Buffer | null {
    const index = Math.floor(at / BLOCK_BYTES);
    const start = index * BLOCK_BYTES;
    if (at + length > start + BLOCK_BYTES) return null;
    let block = this.#blocks.get(index);
    if (block === undefined) {
      const buf = Buffer.allocUnsafe(BLOCK_BYTES);
      const got = readFully(this.#ops, this.#fd, buf, BLOCK_BYTES, start);
      block = got === BLOCK_BYTES ? buf : buf.subarray(0, got);
      if (this.#blocks.size >= this.#maxBlocks) this.#blocks.delete(this.#blocks.keys().next().value!);
      this.#blocks.set(index, block);
    }
    const from = at - start;
    return from + length <= block.length ? block.subarray(from, from + length) : null;
  }
}
