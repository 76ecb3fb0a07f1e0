/** What the bench reports: rows, the operations they measure, and child-process messages. */
import type { SubjectId } from './subject.js';

/** A column: a subject, `fs` for the file-system bound, `redis` for redis-server beside the KoruDelta server. */
export type Column = SubjectId | 'fs' | 'redis';

export type Unit = 'ops/s' | 'req/s' | 'versions/s' | 'queries/s' | 'docs/s' | 's' | 'ms' | 'µs' | 'bytes' | 'B/version' | '%' | '% of a core' | 'calls' | '×';

/** Rows in table order, with their labels and units. */
export const OPERATIONS = [
  { id: 'put.memory', label: 'put, in memory, 1 writer', unit: 'ops/s' },
  { id: 'put.default', label: 'put, durable default policy, 1 writer', unit: 'ops/s' },
  { id: 'put.always.1', label: 'put, fsync before ack, 1 writer', unit: 'ops/s' },
  { id: 'put.always.64', label: 'put, fsync before ack, 64 writers', unit: 'ops/s' },
  { id: 'putBatch', label: 'batched put, 1,000 per batch', unit: 'versions/s' },
  { id: 'get', label: 'get (current value, random key)', unit: 'ops/s' },
  { id: 'history', label: 'history (random key, all versions)', unit: 'versions/s' },
  { id: 'getAt', label: 'getAt (random key, random time)', unit: 'ops/s' },
  { id: 'query.top', label: 'query: age > 30, sort by name, limit 10 (scan)', unit: 'queries/s' },
  { id: 'query.scan', label: 'query: count of city == X (scan; documents tested)', unit: 'docs/s' },
  { id: 'query.email.scan', label: 'query: email == X on the large collection, no index', unit: 'queries/s' },
  { id: 'query.email.index', label: 'query: email == X on the large collection, indexed', unit: 'queries/s' },
  { id: 'subscribe.p50', label: 'put with 1,000 subscribers, until the last is notified: p50', unit: 'ms' },
  { id: 'subscribe.p99', label: 'put with 1,000 subscribers, until the last is notified: p99', unit: 'ms' },
  { id: 'view.putCost', label: 'auto-refresh filter view: cost added to a put', unit: 'µs' },
  { id: 'view.aggregate', label: 'aggregate view (count of a filter): queryView after a write', unit: 'ms' },
  { id: 'disk.base', label: 'on disk, base workload', unit: 'bytes' },
  { id: 'load.large', label: 'large DB build (batched put)', unit: 'versions/s' },
  { id: 'disk.large', label: 'on disk, large DB', unit: 'bytes' },
  { id: 'disk.large.compacted', label: 'on disk, large DB after compact()', unit: 'bytes' },
  { id: 'reopen.large.replay', label: 'reopen large DB, log replay (open + first get)', unit: 'ms' },
  { id: 'reopen.large', label: 'reopen large DB (open + first get)', unit: 'ms' },
  { id: 'cli.get', label: 'kdelta get, whole process, large DB', unit: 'ms' },
  { id: 'cli.import', label: 'kdelta import of the large DB export', unit: 's' },
  { id: 'rss.large', label: 'RSS after reopen + gc, large DB', unit: 'bytes' },
  { id: 'rss.large.delta', label: 'RSS over a bare process, large DB', unit: 'bytes' },
  { id: 'rss.large.peak', label: 'peak RSS while opening, large DB', unit: 'bytes' },
  { id: 'rss.large.perVersion', label: 'memory per historical version (beyond 2× current JSON)', unit: 'B/version' },
  { id: 'http.get', label: 'server: GET over loopback, 1 in flight per connection, max (HTTP keep-alive; redis 50 clients)', unit: 'req/s' },
  { id: 'http.get.p99', label: 'server: HTTP GET p99 at 80% of max', unit: 'ms' },
  { id: 'http.put', label: 'server: PUT over loopback, 1 in flight per connection, max (HTTP keep-alive, durable default; redis SET, no persistence)', unit: 'req/s' },
  { id: 'http.put.p99', label: 'server: HTTP PUT p99 at 80% of max', unit: 'ms' },
  { id: 'ws.get', label: 'server: GET, many in flight (WebSocket, 100 in flight; redis -P 16 × 50 clients)', unit: 'ops/s' },
  { id: 'ws.put', label: 'server: PUT, many in flight (WebSocket, 100 in flight, durable default; redis SET -P 16 × 50 clients)', unit: 'ops/s' },
  { id: 'server.rss.min', label: 'server RSS under mixed load after warm-up: min', unit: 'bytes' },
  { id: 'server.rss.max', label: 'server RSS under mixed load after warm-up: max', unit: 'bytes' },
  { id: 'server.rss.drift', label: 'server RSS drift under mixed load (last vs first samples after warm-up, medians)', unit: '%' },
  { id: 'attack.get.p99.baseline', label: 'server: authenticated WebSocket get, one at a time, p99 (no attack)', unit: 'ms' },
  { id: 'attack.get.p99', label: 'server under attack (unauthenticated sockets that never send hello + a regex storm): the same get, p99', unit: 'ms' },
  { id: 'attack.failures', label: 'server under attack: failed or timed-out gets and fresh sessions', unit: 'calls' },
  { id: 'cluster.lag.p50', label: 'cluster: replication lag at 5,000 writes/s, put sent to A → change event at B/C: p50', unit: 'ms' },
  { id: 'cluster.lag.p99', label: 'cluster: replication lag at 5,000 writes/s: p99', unit: 'ms' },
  { id: 'cluster.join', label: 'cluster: an empty member joins the large DB (spawn → same state root)', unit: 's' },
  { id: 'cluster.heal', label: 'cluster: partition {A} / {B, C} with writes on both sides, heal → same state root', unit: 's' },
  { id: 'cluster.idle.a', label: 'cluster: CPU of a quiet, synced member (anti-entropy), A', unit: '% of a core' },
  { id: 'cluster.idle.b', label: 'cluster: CPU of a quiet, synced member (anti-entropy), B', unit: '% of a core' },
  { id: 'cluster.idle.c', label: 'cluster: CPU of a quiet, synced member (anti-entropy), C', unit: '% of a core' },
  { id: 'postgres.put.ratio', label: 'PostgreSQL store: durable puts/s, floor (plain SQL, same driver) ÷ KoruDelta, worst of 1, 2, 4 servers', unit: '×' },
  { id: 'postgres.get.ratio', label: 'PostgreSQL store: gets/s, floor (SELECT by primary key) ÷ KoruDelta, worst of 1, 2, 4 servers', unit: '×' },
  { id: 'postgres.feed.p99', label: 'PostgreSQL store: change feed between two servers (put called → handler ran), p99', unit: 'ms' },
  { id: 'fdatasync', label: 'fdatasync bound: 4 KiB append + fdatasync', unit: 'ms' },
] as const satisfies readonly { id: string; label: string; unit: Unit }[];

export type OperationId = (typeof OPERATIONS)[number]['id'];

/** One measured figure. */
export interface Row {
  readonly subject: Column;
  readonly operation: OperationId;
  readonly value: number;
  readonly unit: Unit;
  readonly notes: string;
  /** per-run values when the row is a median */
  readonly runs?: readonly number[];
}

/** Messages a suite child sends to the runner. */
export type SuiteMessage =
  | { readonly type: 'meta'; readonly label: string; readonly version: string }
  | { readonly type: 'row'; readonly row: Row }
  | { readonly type: 'problem'; readonly message: string }
  | { readonly type: 'done' };

/** What the memory child reports. */
export interface MemoryReport {
  readonly baselineRss: number;
  readonly rss: number;
  readonly peakRss: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly openMs: number;
}
