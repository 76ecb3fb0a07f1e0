/**
 * The option and result types of the KoruDelta handle, and the checks of its options:
 * kept apart from koru-delta.ts (the handle itself), which re-exports the types.
 */
import { InvalidArgumentError, type JsonValue } from '@koru/engine';
import type { PutItem, StorageAdapter, StorageStats, SyncPolicy, Version, WriteOptions } from '@koru/storage';
import type { FilterInput } from '@koru/query';
import type { DiffChange } from './diff.js';
import type { WorkerSource } from './platform.js';
import type { TimeInput } from './time.js';
import { checkSyncOptions, checkSyncUrl } from './sync/options.js';
import type { SyncStartOptions } from './sync/types.js';

/** Options of {@link KoruDelta.start}. All optional. */
export interface StartOptions {
  /** Directory of a durable database (Node). Omit for an in-memory database. */
  readonly path?: string;
  /**
   * A shared store instead of a directory (Node): `postgres://user:password@host/db`.
   * Any number of servers may open the same one (see @koru/storage-postgres). Not with
   * `path` or `adapter`.
   */
  readonly store?: string;
  /** With `store`: most connections this process opens to it (default 10). */
  readonly maxConnections?: number;
  /**
   * Durability of a durable database. `periodic` (default): a write is acknowledged
   * once it reached the OS (it survives the process being killed) and is fsynced
   * within `syncIntervalMs`; `always`: acknowledged only after fdatasync (survives
   * power loss); concurrent writes share one fdatasync.
   */
  readonly sync?: SyncPolicy;
  /** Loss window of the `periodic` policy on power failure, ms (default 100). */
  readonly syncIntervalMs?: number;
  /** Largest value, bytes of canonical JSON (default 16 MiB). */
  readonly maxValueBytes?: number;
  /** Deepest nesting of a value (default 512, at most 1,000). */
  readonly maxDepth?: number;
  /** Bytes of materialized versions (current ones first) and shared values cached in memory (default 32 MiB; 0 disables). */
  readonly valueCacheBytes?: number;
  /** Bytes of whole namespaces' current versions kept for repeated queries without an index, at 1 KiB a version (default 128 MiB; 0 disables). */
  readonly scanCacheBytes?: number;
  /** Durable database: bytes of recent writes held in memory before they are written to a segment file (default 8 MiB). */
  readonly memtableBytes?: number;
  /** Durable database: bytes of file blocks (data, index, filter) cached in memory (default 16 MiB). */
  readonly cacheBytes?: number;
  /** Open a damaged durable database anyway, dropping what is damaged; `recovery.repaired` says what (see @koru/storage). */
  readonly repair?: boolean;
  /** A storage adapter of your own (overrides `path`). */
  readonly adapter?: StorageAdapter;
  /**
   * Browser, with `path`: where the database worker comes from. By default the browser
   * build loads `browser-worker.js` next to itself
   * (`new Worker(new URL('./browser-worker.js', import.meta.url), { type: 'module' })`,
   * which Vite and webpack bundle as they are). With a bundler that does not (esbuild,
   * Rollup without a plugin), copy `node_modules/@koru/delta/dist/browser-worker.js`
   * (one self-contained file) to your site and pass its URL, or a function that creates
   * the Worker (`() => new Worker(url, { type: 'module' })`).
   */
  readonly worker?: WorkerSource;
  /** Wall clock, ms since the epoch (for tests). */
  readonly now?: () => number;
  /** Told about recoveries (a torn log tail cut off). Default: console.warn. */
  readonly onWarning?: (message: string) => void;
  /**
   * Keep this database in step with a server, both ways, from the start (see
   * {@link KoruDelta.sync}). (`sync` names the durability policy.)
   */
  readonly syncWith?: SyncStartOptions;
}

/** How many nodes must hold a write before it resolves: this one, a majority of the cluster, or every member. */
export type AckLevel = 'local' | 'quorum' | 'all';

/** Options of {@link KoruDelta.put} and {@link KoruDelta.delete}. */
export interface PutOptions extends WriteOptions {
  /**
   * `local` (default): resolve once stored here. `quorum` / `all`: also wait until a
   * majority of the cluster's members / every member stored it (needs a cluster; a
   * database on its own is a cluster of one). Fails with REPLICATION_TIMEOUT, naming
   * how many acknowledged, when they do not in time; the write stays stored here.
   */
  readonly ack?: AckLevel;
}

/**
 * What a cluster layer plugs in so `ack: 'quorum' | 'all'` can wait for replicas (see
 * {@link KoruDelta.setReplicator}).
 */
export interface Replicator {
  /** Resolves once enough members stored `version`; rejects with REPLICATION_TIMEOUT otherwise. */
  confirm(version: Version, ack: 'quorum' | 'all'): Promise<void>;
}

/** One side of a diff: a version id, a history index (0 first, -1 latest) or a time. */
export type VersionRef = string | number | Date;

/** Options of {@link KoruDelta.diff}. */
export interface DiffOptions {
  /** Default: the version before `to`. */
  readonly from?: VersionRef;
  /** Default: the current version. */
  readonly to?: VersionRef;
}

/** The structural difference between two versions of a key. */
export interface VersionDiff {
  readonly namespace: string;
  readonly key: string;
  /** null when `to` is the first version (everything is added). */
  readonly from: Version | null;
  readonly to: Version;
  readonly changes: readonly DiffChange[];
}

/** An item of {@link KoruDelta.putMany}. */
export type PutManyItem = PutItem;

/**
 * A {@link Version} whose `value` has the document type `T` the caller names
 * (`db.getVersion<User>(...)`): types only, nothing is checked at run time. For `T` the
 * JSON value type (the default) or `unknown`, exactly `Version`.
 */
export type VersionOf<T> = [JsonValue] extends [T] ? Version : Omit<Version, 'value'> & { readonly value: T };

/** Options of {@link KoruDelta.query}. */
export interface QueryOptions {
  /** Run over the namespace as it was at this time. */
  readonly at?: TimeInput;
}

/** Options of {@link KoruDelta.aggregate}. */
export interface AggregateOptions {
  /**
   * Only documents matching this (a `Filter`, a `Query` with only a filter, or the wire
   * form). Typed `unknown` as well: it is checked at run time (INVALID_QUERY), so parsed
   * JSON needs no cast.
   */
  readonly filter?: FilterInput | unknown;
  /** Over the namespace as it was at this time. */
  readonly at?: TimeInput;
}

/** Options of {@link KoruDelta.queryHistory}. */
export interface QueryHistoryOptions {
  /** Only this key's versions (default: every key of the namespace). */
  readonly key?: string;
  /** Written at or after this time. */
  readonly from?: TimeInput;
  /** Written at or before this time. */
  readonly to?: TimeInput;
  /** Only versions whose value matches (a `Filter`, a `Query` with only a filter, or the wire form); tombstones then never match. */
  readonly filter?: FilterInput | unknown;
}

/** The option names of an options type, listed once and checked against it by the compiler. */
function optionNames<T>(names: { readonly [K in keyof Required<T>]: true }): readonly string[] {
  return Object.keys(names);
}

export const QUERY_OPTIONS = optionNames<QueryOptions>({ at: true });
export const AGGREGATE_OPTIONS = optionNames<AggregateOptions>({ filter: true, at: true });
export const QUERY_HISTORY_OPTIONS = optionNames<QueryHistoryOptions>({ key: true, from: true, to: true, filter: true });

/**
 * `options` as an object with only the `allowed` keys: undefined and null are `{}`;
 * anything else, or an unknown key, is INVALID_ARGUMENT (never ignored).
 */
export function optionsOf<T extends object>(options: T | null | undefined, allowed: readonly string[], method: string): Partial<T> {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object' || Array.isArray(options) || options instanceof Date) {
    const got = typeof options === 'string' ? `the string ${JSON.stringify(options)}` : Array.isArray(options) ? 'an array' : typeof options;
    throw new InvalidArgumentError(`${method} options must be an object ({ ${allowed.join(', ')} }), not ${got}`);
  }
  for (const k of Object.keys(options)) {
    if (!allowed.includes(k)) throw new InvalidArgumentError(`unknown ${method} option ${JSON.stringify(k)} (known: ${allowed.join(', ')})`);
  }
  return options;
}

/**
 * The storage estimate a browser gives for the origin (`navigator.storage`): bytes used,
 * bytes allowed, and whether the origin's data is persistent (see
 * {@link KoruDelta.requestPersistence}).
 */
export interface StorageEstimateInfo {
  readonly usage: number;
  readonly quota: number;
  readonly persisted: boolean;
}

/** What {@link KoruDelta.stats} reports: the store's counters, plus the browser's storage estimate where there is one. */
export interface DatabaseStats extends StorageStats {
  /** Browser databases (`start({ path })` in a browser): the origin's storage estimate. */
  readonly estimate?: StorageEstimateInfo;
}

/** Largest accepted `maxDepth`: values are walked recursively, deeper would overflow the stack. */
const MAX_DEPTH_LIMIT = 1000;

function checkNumber(name: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
    throw new InvalidArgumentError(`${name} must be ${range}, not ${typeof v === 'number' ? v : typeof v}`);
  }
}

/** Checks `start`'s options. @throws INVALID_ARGUMENT */
export function checkOptions(o: StartOptions): void {
  if (o.sync !== undefined && o.sync !== 'always' && o.sync !== 'periodic') {
    throw new InvalidArgumentError(`sync must be 'always' or 'periodic', not ${JSON.stringify(o.sync)}`);
  }
  checkNumber('maxValueBytes', o.maxValueBytes, 1);
  checkNumber('maxDepth', o.maxDepth, 0, MAX_DEPTH_LIMIT);
  checkNumber('syncIntervalMs', o.syncIntervalMs, 0);
  checkNumber('valueCacheBytes', o.valueCacheBytes, 0);
  checkNumber('scanCacheBytes', o.scanCacheBytes, 0);
  checkNumber('memtableBytes', o.memtableBytes, 1024);
  checkNumber('cacheBytes', o.cacheBytes, 0);
  checkNumber('maxConnections', o.maxConnections, 1, 1_000);
  if (o.store !== undefined) {
    if (typeof o.store !== 'string' || !/^postgres(?:ql)?:\/\//i.test(o.store)) {
      throw new InvalidArgumentError('store must be a postgres:// or postgresql:// URL');
    }
    if (o.path !== undefined || o.adapter !== undefined) throw new InvalidArgumentError('store names where the data lives: give it without path or adapter');
  } else if (o.maxConnections !== undefined) {
    throw new InvalidArgumentError('maxConnections is an option of a store (postgres://): give store too');
  }
  if (o.repair !== undefined && typeof o.repair !== 'boolean') throw new InvalidArgumentError(`repair must be true or false, not ${JSON.stringify(o.repair)}`);
  if (o.now !== undefined && typeof o.now !== 'function') throw new InvalidArgumentError('now must be a function returning epoch ms');
  if (o.worker !== undefined && typeof o.worker !== 'string' && typeof o.worker !== 'function' && !(o.worker instanceof URL)) {
    throw new InvalidArgumentError('worker must be a URL, a URL string or a function creating the Worker');
  }
  if (o.syncWith !== undefined) {
    checkSyncOptions(o.syncWith, ['url']);
    checkSyncUrl((o.syncWith as { url?: unknown }).url);
  }
}

/** Checks a write's `ack`. @throws INVALID_ARGUMENT */
export function checkAck(ack: unknown): void {
  if (ack !== undefined && ack !== 'local' && ack !== 'quorum' && ack !== 'all') {
    throw new InvalidArgumentError(`ack must be 'local', 'quorum' or 'all', not ${JSON.stringify(ack)}`);
  }
}

/** Checks a write's `ifVersion`. @throws INVALID_ARGUMENT */
export function checkIfVersion(v: unknown): void {
  if (v !== undefined && v !== null && typeof v !== 'string') {
    throw new InvalidArgumentError(`ifVersion must be a version id (string) or null, not ${typeof v}`);
  }
}
