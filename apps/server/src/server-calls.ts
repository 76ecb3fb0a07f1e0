/**
 * What a server says about itself — its status, its cluster peers, a summary of its
 * metrics — as WebSocket calls (PROTOCOL.md). The database calls (calls.ts) see only the
 * database; these need the server around it. `GET /v1/status` and `GET /v1/cluster/peers`
 * answer with the same functions, so the REST and WebSocket answers cannot drift.
 */
import type { ClusterNode, PeerInfo } from '@koru/cluster';
import { InvalidArgumentError, type DatabaseStats, type KoruDelta } from '@koru/delta';
import { embeddedStorage } from './embedded.js';
import type { Metrics, MetricsSummary } from './metrics.js';

/** What the server-level answers are made from. */
export interface ServerContext {
  readonly db: KoruDelta;
  readonly metrics: Metrics;
  /** The server's package version. */
  readonly version: string;
  /** When the server started, epoch ms. */
  readonly started: number;
  /** The cluster membership: set once the port is bound (never with `cluster: false`). */
  readonly clusterRef: { readonly node: ClusterNode | undefined };
}

/** `GET /v1/status` and the `serverStatus` call. */
export interface ServerStatus extends DatabaseStats {
  /** The server's package version. */
  readonly version: string;
  readonly node: string;
  /** Whole seconds since the server started (rounded). */
  readonly uptimeSeconds: number;
  /**
   * The same on quiet members holding the same versions; null on a shared store
   * (PostgreSQL), which has one copy and no replicas to compare (`verify` checks it).
   */
  readonly stateRoot: string | null;
  /** This member's address and the members not known to have left, itself included; null without a cluster. */
  readonly cluster: { readonly address: string; readonly members: number } | null;
}

/** `GET /v1/cluster/peers` and the `clusterPeers` call. */
export interface ClusterPeers {
  readonly node: string;
  /** Where the other members reach this one; null without a cluster. */
  readonly address: string | null;
  /** The other members, sorted by id (empty without a cluster). */
  readonly peers: readonly PeerInfo[];
}

/** The `serverMetrics` call: {@link MetricsSummary} and the uptime. */
export interface ServerMetrics extends MetricsSummary {
  /** Whole seconds since the server started (rounded), as in {@link ServerStatus}. */
  readonly uptimeSeconds: number;
}

const uptimeSeconds = (ctx: ServerContext): number => Math.round((Date.now() - ctx.started) / 1000);

/** The server's status: version, node, uptime, storage figures, state root and cluster size. */
export async function serverStatus(ctx: ServerContext): Promise<ServerStatus> {
  const { db, clusterRef } = ctx;
  return {
    version: ctx.version,
    node: db.nodeId,
    uptimeSeconds: uptimeSeconds(ctx),
    ...(await db.stats()),
    stateRoot: embeddedStorage(db)?.stateRoot() ?? null,
    cluster: clusterRef.node === undefined ? null : { address: clusterRef.node.address, members: clusterRef.node.clusterSize() },
  };
}

/** The other cluster members and how they are doing. O(members). */
export function clusterPeers(ctx: ServerContext): ClusterPeers {
  const node = ctx.clusterRef.node;
  return { node: ctx.db.nodeId, address: node?.address ?? null, peers: node?.peers() ?? [] };
}

/** The server's metrics summary (see {@link MetricsSummary}). */
export async function serverMetrics(ctx: ServerContext): Promise<ServerMetrics> {
  return { uptimeSeconds: uptimeSeconds(ctx), ...(await ctx.metrics.summary()) };
}

type ServerCall = (ctx: ServerContext) => unknown;

/** The server-level WebSocket calls; none takes arguments. */
export const SERVER_CALLS: ReadonlyMap<string, ServerCall> = new Map<string, ServerCall>([
  ['serverStatus', serverStatus],
  ['clusterPeers', clusterPeers],
  ['serverMetrics', serverMetrics],
]);

/**
 * Runs `method` if it is a server-level call; undefined when it is not (a database call
 * then, calls.ts). Arguments are refused: INVALID_ARGUMENT.
 */
export function runServerCall(ctx: ServerContext, method: unknown, params: readonly unknown[]): Promise<unknown> | undefined {
  const call = typeof method === 'string' ? SERVER_CALLS.get(method) : undefined;
  if (call === undefined) return undefined;
  if (params.length > 0) return Promise.reject(new InvalidArgumentError(`${method as string} takes no arguments, not ${params.length}`));
  return (async () => call(ctx))();
}
