/**
 * KoruClient: the embedded handle's API over a WebSocket to a KoruDelta server
 * (apps/server/PROTOCOL.md). Same method names, arguments, results and error codes as
 * `KoruDelta`; results are deep-frozen where the embedded handle's are.
 */
import { InvalidArgumentError, UnsupportedError, type JsonValue, type KoruError } from '@koru/engine';
import type {
  Aggregation,
  ChangeEvent,
  FilterInput,
  IndexInfo,
  LaggedEvent,
  PrunedEvent,
  QueryResult,
  Subscription,
  SubscriptionSpec,
  ViewDefinition,
  ViewInfo,
  ViewResult,
} from '@koru/query';
import type { HistoryOptions, ImportedVersion, ListKeysOptions, PurgeResult, RetentionPolicy, StorageStats, Version, VerifyReport, WriteOptions } from '@koru/storage';
import { Connection, type CallKind, type ConnectionState } from './connection.js';
import { closedError } from './errors.js';
import { exportStream, exportUrl, type ExportOptions, type ExportTarget } from './export-stream.js';
import { defaultWebSocket, type WebSocketConstructor } from './platform.js';
import type { ClusterPeers, ServerMetrics, ServerStatus } from './server-info.js';
import { changeIterator, Subscriptions } from './subscription.js';
import type { DiffOptions, PutManyItem, SyncPullOptions, SyncPullResult, SyncPushResult, TimeInput, VersionDiff, VersionOf } from './types.js';
import { filterArg, jsonValue, optionsArg, params, queryArg, shaped, timeArg, type Shape } from './wire.js';

/** Backoff between reconnect attempts. */
export interface ReconnectOptions {
  /** Delay before the first attempt after a drop, ms (default 200); doubles per failed attempt. */
  readonly initialDelayMs?: number;
  /** Longest delay between attempts, ms (default 10,000). Each delay is jittered to between half and all of it. */
  readonly maxDelayMs?: number;
}

/** Options of {@link KoruClient.connect}. All optional. */
export interface ConnectOptions {
  /** The server's token, sent in the hello message (browsers cannot set headers on a WebSocket). */
  readonly token?: string;
  /** Backoff of the automatic reconnect, or `false`: a lost connection closes the client. */
  readonly reconnect?: ReconnectOptions | false;
  /**
   * How long a call waits for a connection while the client is reconnecting before it
   * fails with IO_ERROR, and how long `connect` waits for the welcome, ms (default 30,000).
   * A call that was sent is not timed: the server answers or the socket drops.
   */
  readonly timeoutMs?: number;
  /** Largest message the client sends, bytes (default 16 MiB, the server's default): larger calls fail with BODY_TOO_LARGE. */
  readonly maxMessageBytes?: number;
  /** The WebSocket class (default: the `ws` package under Node, `globalThis.WebSocket` elsewhere). */
  readonly WebSocket?: WebSocketConstructor;
  /** Told when the connection goes `open`, `reconnecting` or `closed` (with the error, if it failed). */
  readonly onStateChange?: (state: ConnectionState, error?: KoruError) => void;
}

const DEFAULTS = { initialDelayMs: 200, maxDelayMs: 10_000, timeoutMs: 30_000, maxMessageBytes: 16 * 1024 * 1024 };

/** Safe to send again after a lost connection: reads, and writes that are idempotent. */
const READ: CallKind = { retry: true, bounded: true };
/** Not safe to repeat: fails with IO_ERROR if the connection is lost before the answer. */
const WRITE: CallKind = { retry: false, bounded: true };

function checkMs(name: string, v: unknown, min: number): void {
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw new InvalidArgumentError(`${name} must be a number of ms >= ${min}, not ${String(v)}`);
}

/** The server's base URL and its WebSocket endpoint. */
function endpoints(url: unknown): { base: string; ws: string } {
  if (typeof url !== 'string') throw new InvalidArgumentError('connect needs the server URL, such as http://127.0.0.1:7878');
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InvalidArgumentError(`not a URL: ${JSON.stringify(url)} (use the server's address, such as http://127.0.0.1:7878)`);
  }
  const scheme = ({ 'http:': 'ws:', 'https:': 'wss:', 'ws:': 'ws:', 'wss:': 'wss:' } as Record<string, string>)[u.protocol];
  if (scheme === undefined) throw new InvalidArgumentError(`unsupported URL scheme ${u.protocol} (use http: or https:)`);
  if (u.username !== '' || u.password !== '') throw new InvalidArgumentError('put the token in the token option, not in the URL');
  const path = u.pathname.replace(/\/+$/, '').replace(/\/v1\/ws$/, '');
  const http = scheme === 'wss:' ? 'https:' : 'http:';
  return { base: `${http}//${u.host}${path}`, ws: `${scheme}//${u.host}${path}/v1/ws` };
}

/** Options of `put` and `delete`: compare-and-set, and in a cluster how many members must hold the write. */
export interface PutOptions extends WriteOptions {
  /** `local` (default), `quorum` (a majority of the members) or `all`. */
  readonly ack?: 'local' | 'quorum' | 'all';
}

/**
 * A connection to a KoruDelta server with the API of the embedded `KoruDelta` handle.
 *
 * Reconnects by itself when the socket drops (see {@link ConnectOptions.reconnect}):
 * calls made meanwhile wait for the connection (at most `timeoutMs`); reads in flight
 * are sent again; writes in flight (put, putMany, delete, dropIndex, createView,
 * deleteView, importVersions, purge) fail with IO_ERROR "connection lost; the write may or may
 * not have been applied", since the client cannot know; subscriptions resume where they
 * left off, missing and repeating nothing.
 */
export class KoruClient {
  readonly #url: string;
  readonly #conn: Connection;
  readonly #subs: Subscriptions;
  readonly #export: ExportTarget;
  /** Exports being read: `close()` ends them. */
  readonly #exports = new Set<AbortController>();

  private constructor(url: string, conn: Connection, subs: Subscriptions, exportTarget: ExportTarget) {
    this.#url = url;
    this.#conn = conn;
    this.#subs = subs;
    this.#export = exportTarget;
  }

  /**
   * Connects to the server at `url` (its http(s) address; the client talks to
   * `ws(s)://…/v1/ws`) and resolves once the server welcomed it. Does not retry: fails
   * with UNAUTHORIZED (missing or wrong token), PROTOCOL_ERROR (not a KoruDelta server,
   * or another protocol version), IO_ERROR (cannot connect, no welcome within
   * `timeoutMs`), INVALID_ARGUMENT (bad URL or options), UNSUPPORTED (no WebSocket).
   */
  static async connect(url: string, options: ConnectOptions = {}): Promise<KoruClient> {
    options ??= {};
    if (typeof options !== 'object') throw new InvalidArgumentError('connect options must be an object');
    const { base, ws } = endpoints(url);
    if (options.token !== undefined && typeof options.token !== 'string') throw new InvalidArgumentError('token must be a string');
    checkMs('timeoutMs', options.timeoutMs, 1);
    if (options.maxMessageBytes !== undefined && (!Number.isInteger(options.maxMessageBytes) || options.maxMessageBytes < 1)) {
      throw new InvalidArgumentError('maxMessageBytes must be a positive integer');
    }
    const r = options.reconnect;
    if (r !== undefined && r !== false && (r === null || typeof r !== 'object')) throw new InvalidArgumentError('reconnect must be an object or false');
    if (r !== undefined && r !== false) {
      checkMs('reconnect.initialDelayMs', r.initialDelayMs, 0);
      checkMs('reconnect.maxDelayMs', r.maxDelayMs, 0);
    }
    const WebSocket = options.WebSocket ?? defaultWebSocket();
    if (typeof WebSocket !== 'function') {
      throw new UnsupportedError('no WebSocket available: under Node import @koru/client (its node entry uses the ws package), or pass options.WebSocket');
    }
    const subs = new Subscriptions();
    const conn = new Connection(
      {
        url: base,
        wsUrl: ws,
        token: options.token === '' ? undefined : options.token,
        WebSocket,
        reconnect:
          r === false
            ? false
            : {
                initialDelayMs: r?.initialDelayMs ?? DEFAULTS.initialDelayMs,
                maxDelayMs: Math.max(r?.maxDelayMs ?? DEFAULTS.maxDelayMs, r?.initialDelayMs ?? 0),
              },
        timeoutMs: options.timeoutMs ?? DEFAULTS.timeoutMs,
        maxMessageBytes: options.maxMessageBytes ?? DEFAULTS.maxMessageBytes,
        onStateChange: options.onStateChange,
      },
      {
        open: () => subs.open(),
        down: () => subs.down(),
        event: (sid, event) => subs.event(sid, event),
        ended: (sid, error) => subs.ended(sid, error),
        closed: (error) => subs.closed(error),
      },
    );
    subs.attach(conn);
    await conn.start();
    const token = options.token === '' ? undefined : options.token;
    return new KoruClient(base, conn, subs, { base, token, timeoutMs: options.timeoutMs ?? DEFAULTS.timeoutMs });
  }

  /** The server's base URL. */
  get url(): string {
    return this.#url;
  }

  /** The server's node id (from its welcome). */
  get nodeId(): string {
    return this.#conn.nodeId;
  }

  /** The server's name and version, such as `koru-delta/0.1.0` (from its welcome). */
  get server(): string {
    return this.#conn.server;
  }

  /**
   * The last seq this client knows: the server's at the last (re)connect, or a later
   * one seen since (an event, `stats()`, `serverStatus()`, `currentSeq()`). Unlike the embedded handle's,
   * it can be behind the server's while others write; `currentSeq()` asks the server.
   */
  get seq(): number {
    return this.#conn.seq;
  }

  /** `connecting`, `open`, `reconnecting` or `closed`. */
  get state(): ConnectionState {
    return this.#conn.state;
  }

  /** The server's current seq (and `seq` updated to it): a `since` to resume from. */
  currentSeq(): Promise<number> {
    return this.#call<number>('seq', [], 'plain', READ).then((s) => {
      this.#conn.noteSeq(s);
      return s;
    });
  }

  #call<T>(method: string, args: unknown[], shape: Shape, kind: CallKind): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#conn.request(method, args, kind, (error, result) => (error !== undefined ? reject(error) : resolve(shaped(result, shape) as T)));
    });
  }

  /** Builds the params (which may throw, as the embedded handle's validation does) and calls. */
  #invoke<T>(method: string, build: () => unknown[], shape: Shape, kind: CallKind): Promise<T> {
    let args: unknown[];
    try {
      args = build();
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#call<T>(method, args, shape, kind);
  }

  /**
   * Writes a new version; `ifVersion` makes it a compare-and-set (VERSION_CONFLICT
   * otherwise); `ack: 'quorum' | 'all'` waits until that many cluster members hold it
   * (REPLICATION_TIMEOUT otherwise). `put<User>(...)` checks the value against `User` (types only).
   */
  put<T = unknown>(namespace: string, key: string, value: NoInfer<T>, options?: PutOptions): Promise<Version> {
    return this.#invoke('put', () => params(namespace, key, jsonValue(value), options), 'frozen', WRITE);
  }

  /** Writes several versions as one atomic batch (all or none). */
  putMany(items: readonly PutManyItem[]): Promise<Version[]> {
    return this.#invoke(
      'putMany',
      () => [
        Array.isArray(items)
          ? items.map((item: unknown) =>
              item !== null && typeof item === 'object' && 'value' in item ? { ...item, value: jsonValue((item as PutManyItem).value) } : item,
            )
          : items,
      ],
      'elements',
      WRITE,
    );
  }

  /** The current value (deep-frozen), typed as `T` when named (`get<User>`: types only). @throws KEY_NOT_FOUND */
  get<T = JsonValue>(namespace: string, key: string): Promise<T> {
    return this.#invoke('get', () => params(namespace, key), 'frozen', READ);
  }

  /** The current version with its metadata (its value typed as `T` when named). @throws KEY_NOT_FOUND */
  getVersion<T = JsonValue>(namespace: string, key: string): Promise<VersionOf<T>> {
    return this.#invoke('getVersion', () => params(namespace, key), 'frozen', READ);
  }

  /** The version current at `when` (the last written at or before it). @throws KEY_NOT_FOUND */
  getAt<T = JsonValue>(namespace: string, key: string, when: TimeInput): Promise<VersionOf<T>> {
    return this.#invoke('getAt', () => [namespace, key, timeArg(when)], 'frozen', READ);
  }

  /** Every version, oldest first, tombstones (value `null`) included. @throws KEY_NOT_FOUND */
  history<T = JsonValue>(namespace: string, key: string, options?: HistoryOptions): Promise<Array<VersionOf<T | null>>> {
    return this.#invoke('history', () => params(namespace, key, options), 'elements', READ);
  }

  /** Structural diff between two versions of a key (default: the latest change). */
  diff(namespace: string, key: string, options: DiffOptions = {}): Promise<VersionDiff> {
    return this.#invoke('diff', () => params(namespace, key, optionsArg(options, { from: timeArg, to: timeArg })), 'frozen', READ);
  }

  /** Deletes the key by writing a tombstone; its history stays readable. @throws KEY_NOT_FOUND */
  delete(namespace: string, key: string, options?: PutOptions): Promise<Version> {
    return this.#invoke('delete', () => params(namespace, key, options), 'frozen', WRITE);
  }

  /** True when the key has a current value. */
  contains(namespace: string, key: string): Promise<boolean> {
    return this.#invoke('contains', () => params(namespace, key), 'plain', READ);
  }

  /** Namespaces with live keys, sorted. */
  listNamespaces(): Promise<string[]> {
    return this.#call('listNamespaces', [], 'plain', READ);
  }

  /**
   * Live keys of a namespace in key order (UTF-8 bytes): all of them, or one page with
   * `prefix`, `after` (the last key of the previous page) and `limit` (1 to 100,000).
   * @throws INVALID_NAMESPACE; INVALID_ARGUMENT for an unknown option or a bad value
   */
  listKeys(namespace: string, options?: ListKeysOptions): Promise<string[]> {
    return this.#invoke('listKeys', () => params(namespace, optionsArg(options, {})), 'plain', READ);
  }

  /** The number of live keys of a namespace (0 for an unknown one), from the server's counters. @throws INVALID_NAMESPACE */
  countKeys(namespace: string): Promise<number> {
    return this.#invoke('countKeys', () => params(namespace), 'plain', READ);
  }

  /** Keys, versions, namespaces, bytes (and the server's `seq`). */
  stats(): Promise<StorageStats> {
    return this.#call<StorageStats>('stats', [], 'plain', READ).then((s) => {
      this.#conn.noteSeq(s?.seq);
      return s;
    });
  }

  /** Re-hashes every chain and value on the server; reports anything that does not match. */
  verify(): Promise<VerifyReport> {
    return this.#call('verify', [], 'plain', READ);
  }

  /** The server database's state root: equal to a synced copy's once they hold the same versions (`KoruDelta.stateRoot`). */
  stateRoot(): Promise<string> {
    return this.#call('stateRoot', [], 'plain', READ);
  }

  /**
   * The server's status: its version, node id, uptime, storage figures (those of
   * `stats()`), state root and cluster size; what `GET /v1/status` answers. Updates `seq`.
   * A server older than this client fails it with INVALID_ARGUMENT (unknown method).
   */
  serverStatus(): Promise<ServerStatus> {
    return this.#call<ServerStatus>('serverStatus', [], 'plain', READ).then((s) => {
      this.#conn.noteSeq(s?.seq);
      return s;
    });
  }

  /**
   * The other members of the server's cluster, each with its state, when the server last
   * heard from it and how far behind the server's writes it is; what
   * `GET /v1/cluster/peers` answers (no peers and a null address without a cluster).
   */
  clusterPeers(): Promise<ClusterPeers> {
    return this.#call('clusterPeers', [], 'plain', READ);
  }

  /**
   * A summary for people of the server's metrics (those `GET /metrics` serves):
   * requests, calls, writes, connections, subscriptions, errors, the process's memory,
   * CPU and event-loop delay, uptime. See {@link ServerMetrics} for each figure.
   */
  serverMetrics(): Promise<ServerMetrics> {
    return this.#call('serverMetrics', [], 'plain', READ);
  }

  /**
   * Runs a query (a `Query` from the builder, a `Filter`, or the wire form) over a
   * namespace's live documents, or as it was at `options.at`; with an aggregation, the
   * result is `{ rows: [], total, aggregate }`. `query<User>` types the rows (types only).
   * @throws INVALID_QUERY naming the bad part, INVALID_NAMESPACE, INVALID_ARGUMENT
   */
  query<T = JsonValue>(namespace: string, query: unknown = {}, options: { readonly at?: TimeInput } = {}): Promise<QueryResult<T>> {
    return this.#invoke('query', () => params(namespace, queryArg(query), optionsArg(options, { at: timeArg })), 'frozen', READ);
  }

  /** Reduces the documents matching `filter` (a `Filter`, a `Query` with only a filter, or the wire form) with an aggregation from `Agg`. */
  aggregate(namespace: string, aggregation: Aggregation, options: { readonly filter?: FilterInput | unknown; readonly at?: TimeInput } = {}): Promise<JsonValue> {
    return this.#invoke('aggregate', () => params(namespace, aggregation, optionsArg(options, { filter: filterArg, at: timeArg })), 'plain', READ);
  }

  /**
   * Versions across history, of one key (`{ key }`) or of the namespace, between `from`
   * and `to`, matching `filter` (a `Filter`, a `Query` with only a filter, or the wire form).
   * @throws INVALID_ARGUMENT (options not an object, an unknown option), INVALID_QUERY
   */
  queryHistory(
    namespace: string,
    options: { readonly key?: string; readonly from?: TimeInput; readonly to?: TimeInput; readonly filter?: FilterInput | unknown } = {},
  ): Promise<Version[]> {
    return this.#invoke(
      'queryHistory',
      () => params(namespace, optionsArg(options, { from: timeArg, to: timeArg, filter: filterArg })),
      'elements',
      READ,
    );
  }

  /** Indexes `field` of `namespace` (creating an existing index returns it, so it is retried like a read). */
  createIndex(namespace: string, field: string): Promise<IndexInfo> {
    return this.#invoke('createIndex', () => params(namespace, field), 'frozen', READ);
  }

  /** Removes a secondary index. @throws INDEX_NOT_FOUND */
  dropIndex(namespace: string, field: string): Promise<void> {
    return this.#invoke('dropIndex', () => params(namespace, field), 'void', WRITE);
  }

  /** The secondary indexes of `namespace`, or of all namespaces. */
  listIndexes(namespace?: string): Promise<IndexInfo[]> {
    return this.#invoke('listIndexes', () => params(namespace), 'elements', READ);
  }

  /** Creates a materialized view. @throws VIEW_EXISTS, INVALID_ARGUMENT, INVALID_NAMESPACE, INVALID_QUERY, LIMIT_EXCEEDED */
  createView(definition: ViewDefinition): Promise<ViewInfo> {
    return this.#invoke('createView', () => [optionsArg(definition, { query: (q) => (q === undefined ? undefined : queryArg(q)) })], 'frozen', WRITE);
  }

  /** Every view's definition, sorted by name. */
  listViews(): Promise<ViewInfo[]> {
    return this.#call('listViews', [], 'elements', READ);
  }

  /** Recomputes a view from the current data and returns it (safe to repeat, so retried like a read). @throws VIEW_NOT_FOUND */
  refreshView(name: string): Promise<ViewResult> {
    return this.#invoke('refreshView', () => params(name), 'frozen', READ);
  }

  /** A view's rows (or aggregate) with `refreshedAt` and the `seq` it reflects. @throws VIEW_NOT_FOUND */
  queryView(name: string): Promise<ViewResult> {
    return this.#invoke('queryView', () => params(name), 'frozen', READ);
  }

  /** Deletes a view. @throws VIEW_NOT_FOUND */
  deleteView(name: string): Promise<void> {
    return this.#invoke('deleteView', () => params(name), 'void', WRITE);
  }

  /** Adds exported versions unchanged, as one atomic batch. Resolves to the number added. */
  importVersions(versions: readonly ImportedVersion[]): Promise<number> {
    return this.#invoke('importVersions', () => [versions], 'plain', WRITE);
  }

  /**
   * Every committed version on the server, history and tombstones included, in commit
   * order, as `KoruDelta.exportVersions` gives them: of one namespace, or of the whole
   * database (its index and view definitions too, under `_koru`); a key whose older
   * history retention or a purge cut starts with a version carrying `previousCut`, so
   * `importVersions` of the export records the same horizon. Streamed over HTTP
   * (`GET /v1/export`, JSON lines, not the WebSocket): versions are read as the loop
   * takes them, and leaving the loop early ends the transfer. Needs `fetch`.
   * @throws (from the first step) INVALID_NAMESPACE, INVALID_ARGUMENT, UNAUTHORIZED,
   *   CLOSED (client closed, before or during), IO_ERROR (cannot connect, no answer
   *   within `timeoutMs`, or the export was cut off: never a partial export taken for a
   *   whole one), PROTOCOL_ERROR, UNSUPPORTED (no `fetch`)
   */
  async *exportVersions(options: ExportOptions = {}): AsyncGenerator<Version> {
    if (this.#conn.state === 'closed') throw closedError();
    const url = exportUrl(this.#export.base, options ?? {});
    const abort = new AbortController();
    this.#exports.add(abort);
    try {
      yield* exportStream(this.#export, url, abort, closedError);
    } finally {
      this.#exports.delete(abort);
    }
  }

  /**
   * Sets how much history a namespace keeps on the server: `{ keep: 'all' }` (the
   * default), `{ lastVersions: N }` or `{ maxAgeMs: D }`; resolves to the policy stored.
   * Setting a policy twice stores the same thing, so it is retried like a read.
   * @throws INVALID_NAMESPACE, INVALID_ARGUMENT
   */
  setRetention(namespace: string, policy: RetentionPolicy): Promise<RetentionPolicy> {
    return this.#invoke('setRetention', () => params(namespace, policy), 'frozen', READ);
  }

  /** A namespace's retention policy (`{ keep: 'all' }` unless one was set). @throws INVALID_NAMESPACE */
  retention(namespace: string): Promise<RetentionPolicy> {
    return this.#invoke('retention', () => params(namespace), 'frozen', READ);
  }

  /** Every namespace with a policy other than keep-all, sorted, with its policy. */
  retentionPolicies(): Promise<Array<readonly [namespace: string, policy: RetentionPolicy]>> {
    return this.#call('retentionPolicies', [], 'elements', READ);
  }

  /**
   * Erases a key's history on the server (deletes it, removes every older version; see
   * `KoruDelta.purge`). Resolves to what it removed.
   * @throws KEY_NOT_FOUND for a key never written; INVALID_NAMESPACE, INVALID_KEY
   */
  purge(namespace: string, key: string): Promise<PurgeResult> {
    return this.#invoke('purge', () => params(namespace, key), 'frozen', WRITE);
  }

  /**
   * The versions the server committed after its seq `since`, in its commit order, each
   * with its `seq` and every field of a version (local-first sync: `KoruDelta.sync`
   * pulls with it). At most `options.limit` (≤ 1,000) and about 4 MiB of them; `next`
   * is where to continue, `head` the server's last seq (caught up once `next` reaches
   * it). Never the reserved namespace `_koru`. Versions retention or a purge removed
   * are skipped, and `prunedThrough` says so.
   * @throws INVALID_ARGUMENT (since not a non-negative integer, bad options), INVALID_NAMESPACE
   */
  syncPull(since: number, options: SyncPullOptions = {}): Promise<SyncPullResult> {
    return this.#invoke<SyncPullResult>('syncPull', () => [since, options], 'plain', READ).then((r) => {
      this.#conn.noteSeq(r?.head);
      return r;
    });
  }

  /**
   * Merges versions into the server as cluster replication does: a version stored there
   * already is skipped (so a push may be repeated, and is retried after a lost
   * connection), the clock order picks each key's head, and a version whose predecessor
   * the server lacks comes back by id in `orphans` (push the predecessor, then it again).
   * At most 1,000 versions a call. Nothing of the batch is stored when one is refused.
   * @throws INVALID_ARGUMENT (a version whose id does not match its fields, a bad item),
   *   INVALID_NAMESPACE (`_koru`, a bad name), LIMIT_EXCEEDED (too many), CLOCK_SKEW
   *   (stamped over 10 minutes ahead of the server's clock)
   */
  syncPush(versions: readonly ImportedVersion[]): Promise<SyncPushResult> {
    return this.#invoke('syncPush', () => [versions], 'plain', READ);
  }

  /**
   * Calls `handler` for every change `spec` selects, in commit order, awaiting it before
   * the next; with `since`, the changes after that seq are replayed first. Survives
   * reconnects: it subscribes again from the last event received, so the handler sees
   * every change once. A change that retention or a purge removed before it was sent
   * arrives as one `pruned` event (`{ type: 'pruned', seq, resyncFrom }`) and the feed
   * goes on after `resyncFrom`, as on the embedded handle. A spec the server refuses (bad namespace, filter...) rejects
   * `done` (the embedded handle throws at once). `done` settles when it ends:
   * unsubscribed, lagged, `until` passed, client closed (resolves), or the handler threw
   * or the client failed (rejects).
   * @throws INVALID_ARGUMENT for a handler that is not a function or a spec that is not an object
   */
  subscribe(spec: SubscriptionSpec, handler: (event: ChangeEvent | LaggedEvent | PrunedEvent) => void | Promise<void>): Subscription {
    return this.#subs.add(spec, handler);
  }

  /** The same feed as an async iterator: `for await (const e of client.changes(spec))`; `return()` releases it. */
  changes(spec: SubscriptionSpec = {}): AsyncIterableIterator<ChangeEvent | LaggedEvent | PrunedEvent> {
    return changeIterator(this.#subs, spec);
  }

  /**
   * Closes the connection: calls in flight are answered first (for at most `timeoutMs`),
   * calls still waiting for a connection fail with CLOSED (they were not sent),
   * subscriptions end, exports being read end with CLOSED. Later calls fail with CLOSED.
   */
  close(): Promise<void> {
    for (const abort of this.#exports) abort.abort();
    this.#exports.clear();
    return this.#conn.close();
  }
}


