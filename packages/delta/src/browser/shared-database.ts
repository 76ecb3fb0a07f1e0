/**
 * The handle `KoruDelta.start({ path })` gives in a browser: a KoruDelta (`instanceof`
 * holds, the types are the same) whose every method runs in the database worker of
 * whichever tab owns the database (./session.ts). Arguments cross by structured clone
 * (a `Query` or `Filter` as its wire form, so it arrives whole); results come back
 * deep-frozen where the local handle's are, errors as their own KoruError classes.
 */
import { deepFreeze, UnsupportedError, type JsonValue } from '@koru/engine';
import { checkSubscription } from '@koru/query/subscription-check';
import type {
  Aggregation,
  DefinitionProblem,
  IndexInfo,
  Query,
  QueryResult,
  Subscription,
  SubscriptionSpec,
  ViewDefinition,
  ViewInfo,
  ViewResult,
  FilterInput,
} from '@koru/query';
import type {
  CausalStorage,
  HistoryOptions,
  ImportedVersion,
  ListKeysOptions,
  PurgeResult,
  RecoveryReport,
  RetentionPolicy,
  Version,
  VerifyReport,
} from '@koru/storage';
import {
  KoruDelta,
  type AggregateOptions,
  type DatabaseStats,
  type DiffOptions,
  type PutManyItem,
  type PutOptions,
  type QueryHistoryOptions,
  type QueryOptions,
  type Replicator,
  type VersionDiff,
  type VersionOf,
} from '../koru-delta.js';
import type { SharedOpenOptions } from '../platform.js';
import { checkSyncOptions, checkSyncUrl } from '../sync/options.js';
import type { SyncHandle, SyncOptions, SyncStatus } from '../sync/types.js';
import type { TimeInput } from '../time.js';
import type { MethodName } from './protocol.js';
import { changesOf } from './remote-changes.js';
import type { FeedEvent } from './remote-subscription.js';
import { Session } from './session.js';
import { storageEstimate } from './estimate.js';
import { SharedSync } from './shared-sync.js';

/** How a result is handed out, as the local handle hands it out. */
type Shape = 'frozen' | 'elements' | 'plain';

/**
 * An argument made ready to cross: a `Query` or `Filter` (anything with `toJSON`, bar a
 * `Date`, which crosses as it is) as its wire form, everywhere inside it. Values being
 * written never go through this: they cross as they are, for the worker to judge as the
 * local handle would.
 */
function wire(x: unknown): unknown {
  if (x === null || typeof x !== 'object' || x instanceof Date) return x;
  if (typeof (x as { toJSON?: unknown }).toJSON === 'function') return wire((x as { toJSON(): unknown }).toJSON());
  if (Array.isArray(x)) return x.map(wire);
  const proto = Object.getPrototypeOf(x) as unknown;
  if (proto !== Object.prototype && proto !== null) return x;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(x)) {
    Object.defineProperty(out, k, { value: wire((x as Record<string, unknown>)[k]), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function noWebSocket(): UnsupportedError {
  return new UnsupportedError("a browser database's sync runs in its worker with the browser's WebSocket: omit the WebSocket option");
}

/** A browser database shared by every tab of the origin; see the module comment. */
export class SharedDatabase extends KoruDelta {
  readonly #session: Session;

  private constructor(session: Session) {
    super(undefined);
    this.#session = session;
  }

  /**
   * Joins the database at `path` (starting its worker if no tab runs it yet). Only the
   * options of the tab that opens the files count; a tab joining a running database
   * takes it as it is.
   */
  static async open(path: string, options: SharedOpenOptions): Promise<SharedDatabase> {
    if (options.now !== undefined) throw new UnsupportedError('now cannot be passed to a browser database: its clock runs in the database worker');
    if (options.syncWith?.WebSocket !== undefined) throw noWebSocket();
    const crossing: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(options)) if (k !== 'worker' && k !== 'onWarning' && v !== undefined) crossing[k] = v;
    const onWarning = options.onWarning;
    const session = await Session.join({
      path,
      options: crossing,
      ...(options.worker !== undefined ? { worker: options.worker } : {}),
      onWarning: (m) => {
        try {
          (onWarning ?? ((text: string) => console.warn(text)))(m);
        } catch {
          // As in KoruDelta.start: a throwing callback changes nothing.
        }
      },
      retryMs: 10_000,
    });
    const db = new SharedDatabase(session);
    // Joining a database another tab runs: its sync is the one asked for, or one starts.
    const asked = options.syncWith;
    const running = session.state.sync;
    if (asked !== undefined && running?.url !== asked.url) {
      try {
        const { url, ...rest } = asked;
        await db.sync(url, rest);
      } catch (e) {
        await db.close().catch(() => undefined);
        throw e;
      }
    }
    return db;
  }

  #call<T>(method: MethodName, args: readonly unknown[], shape: Shape): Promise<T> {
    // Trailing undefineds are dropped, so a default parameter over there applies.
    let n = args.length;
    while (n > 0 && args[n - 1] === undefined) n--;
    return this.#session.call(method, n === args.length ? args : args.slice(0, n)).then((r) => {
      if (shape === 'frozen') return deepFreeze(r) as T;
      if (shape === 'elements' && Array.isArray(r)) for (const item of r) deepFreeze(item);
      return r as T;
    });
  }

  /** True while this tab runs the database in its worker (the others forward to it). */
  get owning(): boolean {
    return this.#session.owning;
  }

  override get nodeId(): string {
    return this.#session.state.nodeId;
  }

  override get problems(): DefinitionProblem[] {
    return [...this.#session.state.problems];
  }

  override get recovery(): RecoveryReport {
    return this.#session.state.recovery;
  }

  /** The last committed change's seq as the owner last reported it (with every result and after every commit). */
  override get seq(): number {
    return this.#session.state.seq;
  }

  /** Unsupported: the store lives in the worker of whichever tab owns the database, not in this page. */
  override get storage(): CausalStorage {
    throw new UnsupportedError('a browser database has no storage in the page: it runs in a worker of the tab that owns it; use the methods of the handle');
  }

  /** Unsupported: a browser database is a cluster of one (`ack: 'quorum' | 'all'` resolve once stored). */
  override setReplicator(_replicator: Replicator | undefined): void {
    throw new UnsupportedError('a browser database cannot be part of a cluster: its store runs in a worker, out of reach of a replicator');
  }

  /**
   * As on the local handle, but the sync belongs to the database, not to this tab: it
   * runs in the owner's worker (with the browser's WebSocket), goes on when another tab
   * takes over, and every tab sees its status. A call with the URL and options of the
   * running sync (another tab's, or this tab's before a reload) joins it and gets a handle
   * to it; a second sync with other settings, from any tab, is INVALID_ARGUMENT.
   * @throws UNSUPPORTED for a `WebSocket` option
   */
  override async sync(url: string, options: SyncOptions = {}): Promise<SyncHandle> {
    checkSyncUrl(url);
    checkSyncOptions(options ?? {});
    if (options?.WebSocket !== undefined) throw noWebSocket();
    await this.#call('sync', [url, wire(options ?? {})], 'plain');
    // The owner reports the running sync with the call's answer's state, or just before.
    const info = this.#session.state.sync ?? { url, options: {}, status: { online: false, pending: 0, lastSyncedSeq: 0, lastPushedSeq: 0 } };
    return new SharedSync(this.#session, info);
  }

  /** The database's sync status as its owner last reported it; undefined without a sync. */
  override get syncStatus(): SyncStatus | undefined {
    return this.#session.state.sync?.status;
  }

  override put<T = unknown>(namespace: string, key: string, value: NoInfer<T>, options?: PutOptions): Promise<Version> {
    return this.#call('put', [namespace, key, value, wire(options)], 'frozen');
  }

  override putMany(items: readonly PutManyItem[]): Promise<Version[]> {
    return this.#call('putMany', [items], 'elements');
  }

  /** As on the local handle; answered in this tab while its read cache holds the key (./tab-cache.ts). */
  override get<T = JsonValue>(namespace: string, key: string): Promise<T> {
    return this.#session.read('get', namespace, key) as Promise<T>;
  }

  /** As on the local handle; answered in this tab while its read cache holds the key (./tab-cache.ts). */
  override getVersion<T = JsonValue>(namespace: string, key: string): Promise<VersionOf<T>> {
    return this.#session.read('getVersion', namespace, key) as Promise<VersionOf<T>>;
  }

  override getAt<T = JsonValue>(namespace: string, key: string, when: TimeInput): Promise<VersionOf<T>> {
    return this.#call('getAt', [namespace, key, when], 'frozen');
  }

  override history<T = JsonValue>(namespace: string, key: string, options?: HistoryOptions): Promise<Array<VersionOf<T | null>>> {
    return this.#call('history', [namespace, key, wire(options)], 'elements');
  }

  override diff(namespace: string, key: string, options?: DiffOptions): Promise<VersionDiff> {
    return this.#call('diff', [namespace, key, wire(options)], 'frozen');
  }

  override query<T = JsonValue>(namespace: string, query?: Query | FilterInput | unknown, options?: QueryOptions): Promise<QueryResult<T>> {
    return this.#call('query', [namespace, wire(query), wire(options)], 'frozen');
  }

  override createIndex(namespace: string, field: string): Promise<IndexInfo> {
    return this.#call('createIndex', [namespace, field], 'frozen');
  }

  override dropIndex(namespace: string, field: string): Promise<void> {
    return this.#call('dropIndex', [namespace, field], 'plain');
  }

  override listIndexes(namespace?: string): Promise<IndexInfo[]> {
    return this.#call('listIndexes', [namespace], 'elements');
  }

  override createView(definition: ViewDefinition): Promise<ViewInfo> {
    return this.#call('createView', [wire(definition)], 'frozen');
  }

  override listViews(): Promise<ViewInfo[]> {
    return this.#call('listViews', [], 'elements');
  }

  override refreshView(name: string): Promise<ViewResult> {
    return this.#call('refreshView', [name], 'frozen');
  }

  override queryView(name: string): Promise<ViewResult> {
    return this.#call('queryView', [name], 'frozen');
  }

  override deleteView(name: string): Promise<void> {
    return this.#call('deleteView', [name], 'plain');
  }

  override aggregate(namespace: string, aggregation: Aggregation, options?: AggregateOptions): Promise<JsonValue> {
    return this.#call('aggregate', [namespace, wire(aggregation), wire(options)], 'plain');
  }

  override queryHistory(namespace: string, options?: QueryHistoryOptions): Promise<Version[]> {
    return this.#call('queryHistory', [namespace, wire(options)], 'elements');
  }

  /**
   * As on the local handle; the feed runs in the owner's worker and its events come to
   * this tab. When the owner changes, it starts again after the last change it
   * delivered here: none skipped, none repeated. A bad spec throws here, at once (a bad
   * filter is refused by the worker: the subscription ends, `done` rejecting with INVALID_QUERY).
   */
  override subscribe(spec: SubscriptionSpec, handler: (event: FeedEvent) => void | Promise<void>): Subscription {
    // Checked here as the database checks it (its filter's contents, over there: the
    // page does not load the filter compiler; a bad one ends the feed with INVALID_QUERY).
    checkSubscription(spec, handler);
    const { since, ...rest } = spec;
    return this.#session.subscribe(wire(rest) as Record<string, unknown>, since, spec.bufferSize, handler);
  }

  override changes(spec: SubscriptionSpec = {}): AsyncIterableIterator<FeedEvent> {
    return changesOf((handler) => this.subscribe(spec, handler));
  }

  override delete(namespace: string, key: string, options?: PutOptions): Promise<Version> {
    return this.#call('delete', [namespace, key, wire(options)], 'frozen');
  }

  /** As on the local handle; answered in this tab while its read cache holds the key (./tab-cache.ts). */
  override contains(namespace: string, key: string): Promise<boolean> {
    return this.#session.read('contains', namespace, key) as Promise<boolean>;
  }

  override listNamespaces(): Promise<string[]> {
    return this.#call('listNamespaces', [], 'plain');
  }

  override listKeys(namespace: string, options?: ListKeysOptions): Promise<string[]> {
    return this.#call('listKeys', [namespace, wire(options)], 'plain');
  }

  override countKeys(namespace: string): Promise<number> {
    return this.#call('countKeys', [namespace], 'plain');
  }

  /** As on the local handle, with `estimate`: the origin's storage use, quota and persistence. */
  override async stats(): Promise<DatabaseStats> {
    const [stats, estimate] = await Promise.all([this.#call<DatabaseStats>('stats', [], 'plain'), storageEstimate()]);
    return estimate === undefined ? stats : { ...stats, estimate };
  }

  override stateRoot(): Promise<string> {
    return this.#call('stateRoot', [], 'plain');
  }

  override verify(): Promise<VerifyReport> {
    return this.#call('verify', [], 'plain');
  }

  override setRetention(namespace: string, policy: RetentionPolicy): Promise<RetentionPolicy> {
    return this.#call('setRetention', [namespace, wire(policy)], 'frozen');
  }

  override retention(namespace: string): Promise<RetentionPolicy> {
    return this.#call('retention', [namespace], 'frozen');
  }

  override retentionPolicies(): Promise<Array<readonly [namespace: string, policy: RetentionPolicy]>> {
    return this.#call('retentionPolicies', [], 'elements');
  }

  override purge(namespace: string, key: string): Promise<PurgeResult> {
    return this.#call('purge', [namespace, key], 'frozen');
  }

  override compact(): Promise<void> {
    return this.#call('compact', [], 'plain');
  }

  /** As on the local handle; the versions are read in the worker and cross in one message. */
  override async *exportVersions(options: { readonly namespace?: string } = {}): AsyncGenerator<Version> {
    const versions = await this.#call<Version[]>('exportVersions', [wire(options)], 'elements');
    yield* versions;
  }

  override importVersions(versions: readonly ImportedVersion[]): Promise<number> {
    return this.#call('importVersions', [versions], 'plain');
  }

  /**
   * This tab leaves: its calls finish, its subscriptions end. If it owns the database,
   * the worker flushes and lets go of the files, and another tab (if any) takes over.
   */
  override close(): Promise<void> {
    return this.#session.close();
  }
}
