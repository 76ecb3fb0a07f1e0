/**
 * The engine bench's stores behind one small interface: KoruDelta's LsmTree and its two
 * peers, each taking the same keys and values in its own native form. Each store lives
 * in a module of its own, loaded on demand, so a child process loads one library only
 * (its RSS baseline then holds that library and nothing else).
 */
import type { Shape } from './engine-workload.js';

/** The stores compared. */
export const STORE_IDS = ['koru', 'sqlite', 'lmdb'] as const;
export type StoreId = (typeof STORE_IDS)[number];

/** Column labels. */
export const STORE_LABELS: Record<StoreId, string> = {
  koru: 'KoruDelta LsmTree',
  sqlite: 'better-sqlite3',
  lmdb: 'lmdb',
};

/**
 * How a store is opened: `load` is each store's ordinary, not-synced-per-write setting
 * (LsmTree sync 'periodic', sqlite synchronous=NORMAL, lmdb default); `durable` makes
 * every write durable before it returns (LsmTree sync 'always', sqlite synchronous=FULL,
 * lmdb: the write awaited, then `db.flushed`).
 */
export type OpenMode = 'load' | 'durable';

/** One store, keyed by `K` (a binary string or a Buffer). */
export interface EngineStore<K = unknown> {
  /** Library and settings, for the notes. */
  readonly description: string;
  /** The key of version `round` of name `name`, built the store's way. */
  key(name: number, round: number): K;
  /** Writes version `round` of names [from, to) as one batch (one transaction). */
  writeBatch(round: number, from: number, to: number): void | Promise<void>;
  /** Writes one entry; with `durable`, resolves once it is. */
  putOne(name: number, round: number): void | Promise<void>;
  /** The value of `key`, or undefined. */
  get(key: K): Uint8Array | undefined;
  /** Reads every version of name `name` in key order; returns how many, checking each value. */
  scan(name: number): number;
  /** Releases it (LsmTree: flushes and waits for background work). */
  close(): Promise<void>;
}

/** Builds a store's keys; made before a store opens, so the RSS baseline holds it. */
export interface KeyBuilder<K = unknown> {
  key(name: number, round: number): K;
}

/** What a store module exports. */
export interface StoreModule {
  /** The key builder `openStore` takes (every name's prefix, built once). */
  makeKeys(shape: Shape): KeyBuilder;
  openStore(dir: string, mode: OpenMode, keys: KeyBuilder): Promise<EngineStore>;
  /** Library name and version. */
  libraryVersion(): string;
}

/** Loads the module of store `id`. */
export async function loadStore(id: StoreId): Promise<StoreModule> {
  switch (id) {
    case 'koru':
      return (await import('./engine-store-koru.js')) as StoreModule;
    case 'sqlite':
      return (await import('./engine-store-sqlite.js')) as StoreModule;
    case 'lmdb':
      return (await import('./engine-store-lmdb.js')) as StoreModule;
  }
}
