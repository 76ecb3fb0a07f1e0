// What the retention and purge tests share: a fixed start time, the error a call throws,
// and a memory adapter that hands the test its tree (to look at or damage records).
import { MemoryAdapter, type LsmTree, type OpenedStorage, type StorageAdapter } from '@koru/storage';

/** The tests' start time (their clocks are manual). */
export const T = Date.UTC(2026, 0, 2, 3, 4, 5, 678);

/** The KoruError `fn` throws (fails the test when it does not throw). */
export function errorOf(fn: () => unknown): { code: string; details: Record<string, unknown> } {
  try {
    fn();
  } catch (e) {
    return e as { code: string; details: Record<string, unknown> };
  }
  throw new Error('expected the call to throw');
}

/** A memory adapter that hands the test its tree. */
export class TreeCapture implements StorageAdapter {
  readonly name = 'memory';
  readonly synchronous = true;
  readonly #inner = new MemoryAdapter();
  tree: LsmTree | undefined;
  open(): OpenedStorage {
    const o = this.#inner.open();
    this.tree = o.tree;
    return o;
  }
  diskBytes(): number {
    return 0;
  }
  close(): Promise<void> {
    return this.#inner.close();
  }
}
