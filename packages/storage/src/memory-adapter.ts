/**
 * The in-memory adapter: the same engine as on disk, over a {@link MemoryDirectory}, so a
 * memory store behaves exactly as a durable one (same records, same merges) and nothing
 * survives the process. Browser-safe. The default adapter of `CausalStorage.open()`.
 */
import { recoveryOf, type OpenedStorage, type StorageAdapter } from './adapter.js';
import { InlineMergeRunner } from './lsm/merge-runner.js';
import { LsmTree } from './lsm/lsm-tree.js';
import { MemoryDirectory } from './lsm/memory-directory.js';
import { VERSION_TREE_WRITER } from './version-store.js';

/** A random 16-hex-digit node id. */
function randomNodeId(): string {
  const b = new Uint8Array(8);
  globalThis.crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** Options of {@link MemoryAdapter}. */
export interface MemoryAdapterOptions {
  /** The node id (default: a random one). */
  readonly nodeId?: string;
  /** Block cache budget in bytes (default 8 MiB: the files are in memory already). */
  readonly cacheBytes?: number;
  /** Memtable size that triggers a flush into an in-memory segment (default 8 MiB). */
  readonly memtableBytes?: number;
}

/** Keeps everything in RAM. */
export class MemoryAdapter implements StorageAdapter {
  readonly name = 'memory';
  readonly synchronous = true;
  readonly #nodeId: string;
  readonly #options: MemoryAdapterOptions;
  readonly #dir = new MemoryDirectory();
  #tree: LsmTree | undefined;

  /** @param options the node id, or the adapter's options */
  constructor(options: string | MemoryAdapterOptions = {}) {
    this.#options = typeof options === 'string' ? { nodeId: options } : options;
    this.#nodeId = this.#options.nodeId ?? randomNodeId();
  }

  open(): OpenedStorage {
    const runner = new InlineMergeRunner(this.#dir);
    this.#tree = LsmTree.open({
      dir: this.#dir,
      flushRunner: runner,
      writer: VERSION_TREE_WRITER,
      cache: this.#options.cacheBytes ?? 8 * 1024 * 1024,
      ...(this.#options.memtableBytes !== undefined ? { memtableBytes: this.#options.memtableBytes } : {}),
    });
    return { nodeId: this.#nodeId, tree: this.#tree, recovery: recoveryOf(this.#tree) };
  }

  diskBytes(): number {
    return 0;
  }

  async close(): Promise<void> {
    await this.#tree?.close();
  }
}
