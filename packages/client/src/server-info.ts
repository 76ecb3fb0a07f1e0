/**
 * What a server says about itself: the answers of its `serverStatus`, `clusterPeers` and
 * `serverMetrics` calls (PROTOCOL.md). Defined by @koru/server, which the client must not
 * depend on: the same types, written out (a type test checks that they match).
 */
import type { StorageStats } from '@koru/storage';

/** The server's status, what `GET /v1/status` answers too. */
export interface ServerStatus extends StorageStats {
  /** The server's package version, such as `0.1.0`. */
  readonly version: string;
  /** Its node id. */
  readonly node: string;
  /** Whole seconds since the server started (rounded). */
  readonly uptimeSeconds: number;
  /**
   * The database's state root: the same on quiet members holding the same versions. Null
   * for a server on a PostgreSQL store, which has one copy and no replicas to compare.
   */
  readonly stateRoot: string | null;
  /** This member's address and how many members are not known to have left, itself included; null without a cluster. */
  readonly cluster: { readonly address: string; readonly members: number } | null;
}

/** How a member is doing, as another one sees it. */
export type PeerState = 'healthy' | 'suspect' | 'unreachable' | 'left';

/** One other member of the server's cluster. */
export interface PeerInfo {
  readonly id: string;
  /** `host:port` where members reach it. */
  readonly address: string;
  readonly state: PeerState;
  /** When the server last heard from it directly (ISO-8601), null if never. */
  readonly lastSeen: string | null;
  /**
   * How far behind the server's writes it is, ms: age of the oldest version written on
   * the server that it has not confirmed (0 when it has them all).
   */
  readonly replicationLagMs: number;
  /** Versions written on the server that it has not confirmed yet. */
  readonly unconfirmed: number;
  /**
   * Its state root when an anti-entropy round with it (started by either side) last
   * compared roots: the root, when (ISO-8601), and whether it equalled the server's then.
   * null before any round. Quiet members holding the same versions match.
   */
  readonly lastRoot: { readonly root: string; readonly at: string; readonly matched: boolean } | null;
}

/** The server's cluster peers, what `GET /v1/cluster/peers` answers too. */
export interface ClusterPeers {
  /** The server's node id. */
  readonly node: string;
  /** Where the other members reach the server; null without a cluster. */
  readonly address: string | null;
  /** The other members, sorted by id (empty without a cluster). */
  readonly peers: readonly PeerInfo[];
}

/**
 * A summary of the server's metrics for people, from the registry `GET /metrics` serves
 * (the metric each figure comes from is named). Counts are since the server started; a
 * call is counted once answered, so a `serverMetrics` call is not in its own answer.
 */
export interface ServerMetrics {
  /** Whole seconds since the server started (rounded), as in {@link ServerStatus}. */
  readonly uptimeSeconds: number;
  readonly http: {
    /** HTTP requests answered, every route and status (`koru_http_requests_total`). */
    readonly requests: number;
    /** Of them, answered with a 4xx status. */
    readonly clientErrors: number;
    /** Of them, answered with a 5xx status. */
    readonly serverErrors: number;
  };
  readonly ws: {
    /** WebSocket calls answered, subscribe included (`koru_ws_calls_total`). */
    readonly calls: number;
    /** Of them, answered with an error. */
    readonly failedCalls: number;
    /** Open WebSocket connections now (`koru_ws_connections`). */
    readonly connections: number;
    /** Live subscriptions now, all sockets together (`koru_subscribers`). */
    readonly subscriptions: number;
  };
  /**
   * Writes through the server (`koru_writes_total`): REST puts, deletes and purges,
   * WebSocket `put` and `delete` calls (not `putMany`, imports or replicated versions).
   */
  readonly writes: number;
  readonly connections: {
    /** Open connections now, HTTP and WebSocket (`koru_connections`). */
    readonly open: number;
    /** Of them, not authenticated yet (`koru_connections_pending`). */
    readonly pending: number;
    /** Unauthenticated connections closed to make room for newcomers (`koru_connections_evicted`). */
    readonly evicted: number;
  };
  /** The server process's (shared by every server in it). */
  readonly process: {
    /** Resident set size (as `process_resident_memory_bytes`). */
    readonly residentMemoryBytes: number;
    /** V8 heap in use (as `nodejs_heap_size_used_bytes`). */
    readonly heapUsedBytes: number;
    /** V8 heap reserved (as `nodejs_heap_size_total_bytes`). */
    readonly heapTotalBytes: number;
    /** User and system CPU time used since the process started (as `process_cpu_seconds_total`). */
    readonly cpuSeconds: number;
    /**
     * How late the event loop ran, ms to the µs, since the previous `serverMetrics` call
     * (of any client): mean, median, 99th percentile and the most, sampled every 20 ms
     * by a histogram of the call's own (a `/metrics` scrape keeps its own window). null
     * on the server's first such call, and when no sample was taken since the previous.
     */
    readonly eventLoopDelayMs: { readonly mean: number; readonly p50: number; readonly p99: number; readonly max: number } | null;
  };
}
