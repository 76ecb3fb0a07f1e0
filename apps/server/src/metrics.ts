/**
 * Prometheus metrics of one server: requests and latencies by route, writes, storage,
 * subscribers, and Node's own process figures (heap, GC, event-loop lag, CPU, handles).
 */
import type { KoruDelta } from '@koru/delta';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Node's process metrics, one registry per process (they describe the process, whatever
 * the number of servers in it, and their event-loop sampler cannot be stopped: one per
 * server would pile up in a process that starts and stops servers). The event loop is
 * sampled every 100 ms (prom-client's default is 10 ms: ten times the wake-ups of an
 * idle server, for a finer lag histogram nobody needs). Created on first use.
 */
let processRegistry: Registry | undefined;

function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, eventLoopMonitoringPrecision: 100 });
  }
  return processRegistry;
}

/** The metrics of one server, with the process's, as `/metrics` serves them. */
export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({ name: 'koru_http_requests_total', help: 'HTTP requests by route, method and status', labelNames: ['route', 'method', 'status'], registers: [this.registry] });
  readonly latency = new Histogram({
    name: 'koru_http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['route', 'method'],
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly wsCalls = new Counter({ name: 'koru_ws_calls_total', help: 'WebSocket calls by method and outcome', labelNames: ['method', 'outcome'], registers: [this.registry] });
  readonly writes = new Counter({ name: 'koru_writes_total', help: 'Versions written through this server', registers: [this.registry] });
  readonly sockets = new Gauge({ name: 'koru_ws_connections', help: 'Open WebSocket connections', registers: [this.registry] });
  readonly subscribers = new Gauge({ name: 'koru_subscribers', help: 'Live subscriptions over WebSocket', registers: [this.registry] });

  constructor(db: KoruDelta) {
    processMetrics();
    // Storage figures are read when scraped.
    const stats = () => db.stats();
    new Gauge({ name: 'koru_versions', help: 'Versions stored', registers: [this.registry], async collect() { this.set((await stats()).versions); } });
    new Gauge({ name: 'koru_keys', help: 'Live keys', registers: [this.registry], async collect() { this.set((await stats()).keys); } });
    new Gauge({ name: 'koru_disk_bytes', help: 'Bytes of the database files on disk', registers: [this.registry], async collect() { this.set((await stats()).diskBytes); } });
    new Gauge({ name: 'koru_seq', help: 'Last committed change', registers: [this.registry], collect() { this.set(db.seq); } });
  }

  /** Connection figures, read when scraped: open, not yet authenticated, and closed to make room. */
  watchConnections(slots: { readonly size: number; readonly pending: number; readonly evicted: number }): void {
    new Gauge({ name: 'koru_connections', help: 'Open connections', registers: [this.registry], collect() { this.set(slots.size); } });
    new Gauge({ name: 'koru_connections_pending', help: 'Open connections that have not authenticated yet', registers: [this.registry], collect() { this.set(slots.pending); } });
    new Gauge({ name: 'koru_connections_evicted', help: 'Unauthenticated connections closed to make room for newcomers, since the start', registers: [this.registry], collect() { this.set(slots.evicted); } });
  }

  /** The Prometheus text of this server's metrics and the process's. */
  async text(): Promise<string> {
    const [own, proc] = await Promise.all([this.registry.metrics(), processMetrics().metrics()]);
    return `${own}\n${proc}`;
  }

  /** The content type of {@link text}. */
  get contentType(): string {
    return this.registry.contentType;
  }
}
