/**
 * What the platform provides beyond the browser-safe core: on Node, the entry
 * `node.ts` registers an opener for durable directories; in browsers, `browser.ts`
 * registers an opener of databases shared by every tab. Kept in a global slot so
 * the ESM and CJS builds loaded in one process agree.
 */
import type { StorageAdapter, SyncPolicy } from '@koru/storage';
import type { KoruDelta, StartOptions } from './koru-delta.js';

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

/**
 * Where the browser's database worker comes from (see `StartOptions.worker`): its URL,
 * or a function that creates it.
 */
export type WorkerSource = URL | string | (() => Worker);

/**
 * Opens the database at `path` shared by every tab of the origin (the browser entry
 * registers it): resolves to a handle that is a KoruDelta. `options` are the
 * `start` options as given (already checked).
 */
export type SharedDatabaseOpener = (path: string, options: SharedOpenOptions) => Promise<KoruDelta>;

/** The start options a shared database takes (the functions among them stay in the tab). */
export type SharedOpenOptions = Omit<StartOptions, 'adapter' | 'path'>;

const SHARED_SLOT = Symbol.for('@koru/delta.sharedDatabaseOpener');
const sharedRegistry = globalThis as { [SHARED_SLOT]?: SharedDatabaseOpener };

/** Registers the opener of shared browser databases (called by the browser entry). */
export function registerSharedDatabaseOpener(opener: SharedDatabaseOpener): void {
  sharedRegistry[SHARED_SLOT] = opener;
}

/** The registered opener of shared browser databases, if any. */
export function sharedDatabaseOpener(): SharedDatabaseOpener | undefined {
  return sharedRegistry[SHARED_SLOT];
}

/**
 * Opens a database on a store named by URL (`start({ store })`): the Node entry
 * registers the PostgreSQL one. `options` are the `start` options as given (checked).
 */
export type StoreOpener = (url: string, options: StartOptions) => Promise<KoruDelta>;

const STORE_SLOT = Symbol.for('@koru/delta.storeOpener');
const storeRegistry = globalThis as { [STORE_SLOT]?: StoreOpener };

/** Registers the opener of stores named by URL (called by the Node entry). */
export function registerStoreOpener(opener: StoreOpener): void {
  storeRegistry[STORE_SLOT] = opener;
}

/** The registered opener of stores named by URL, if any. */
export function storeOpener(): StoreOpener | undefined {
  return storeRegistry[STORE_SLOT];
}
