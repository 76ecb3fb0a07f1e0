// A file adapter that hands the test its tree (to wait for background merges, or look at
// records), shared by the node tests that need one.
import type { LsmTree, OpenedStorage, StorageAdapter } from '@koru/storage';
import { FileAdapter, type FileAdapterOptions } from '@koru/storage/node';

/** {@link FileAdapter} on `dir` with `options`; `tree` is the engine once opened. */
export class FileCapture implements StorageAdapter {
  readonly name = 'file';
  readonly synchronous = false;
  readonly #inner: FileAdapter;
  tree: LsmTree | undefined;
  constructor(dir: string, options: FileAdapterOptions = {}) {
    this.#inner = new FileAdapter(dir, options);
  }
  async open(): Promise<OpenedStorage> {
    const o = await this.#inner.open();
    this.tree = o.tree;
    return o;
  }
  diskBytes(): number {
    return this.#inner.diskBytes();
  }
  close(): Promise<void> {
    return this.#inner.close();
  }
}
