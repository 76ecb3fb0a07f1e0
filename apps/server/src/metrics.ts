/**
 * Prometheus metrics of one server: requests and latencies by route, writes, storage,
 * subscribers, and Node's own process figures (heap, GC, event-loop lag, CPU, handles).
 */
import type { KoruDelta } from '@koru/delta';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The server's metrics registry (served at `/metrics`). Node's default process metrics
 * sample the event loop every 100 ms (prom-client's default is 10 ms: ten times the
 * wake-ups of an idle server for a finer lag histogram nobody needs).
 */
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
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 100 });
    // Storage figures are read when scraped.
    const stats = () => db.stats();
    new Gauge({ name: 'koru_versions', help: 'Versions stored', registers: [this.registry], async collect() { this.set((await stats()).versions); } });
    new Gauge({ name: 'koru_keys', help: 'Live keys', registers: [this.registry], async collect() { this.set((await stats()).keys); } });
    new Gauge({ name: 'koru_disk_bytes', help: 'Bytes of the log and snapshots on disk', registers: [this.registry], async collect() { this.set((await stats()).diskBytes); } });
    new Gauge({ name: 'koru_seq', help: 'Last committed change', registers: [this.registry], collect() { this.set(db.seq); } });
  }
}
