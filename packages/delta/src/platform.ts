/**
 * What the platform provides beyond the browser-safe core: on Node, the entry
 * `node.ts` registers an opener for durable directories. Kept in a global slot so
 * the ESM and CJS builds loaded in one process agree.
 */
import type { StorageAdapter, SyncPolicy } from '@koru/storage';

/** Options a durable adapter understands. */
export interface DurableOptions {
  readonly sync?: SyncPolicy;
  readonly syncIntervalMs?: number;
  readonly memtableBytes?: number;
  readonly cacheBytes?: number;
  readonly repair?: boolean;
}

/** Opens a durable adapter for a directory. */
export type PathAdapterFactory = (path: string, options: DurableOptions) => StorageAdapter;

const SLOT = Symbol.for('@koru/delta.pathAdapterFactory');
const registry = globalThis as { [SLOT]?: PathAdapterFactory };

/** Registers the platform's durable adapter (called by the Node entry). */
export function registerPathAdapter(factory: PathAdapterFactory): void {
  registry[SLOT] = factory;
}

/** The registered durable adapter factory, if any. */
export function pathAdapterFactory(): PathAdapterFactory | undefined {
  return registry[SLOT];
}
