/**
 * Prometheus metrics of one server: requests and latencies by route, writes, storage,
 * subscribers, and Node's own process figures (heap, GC, event-loop lag, CPU, handles).
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { KoruDelta } from '@koru/delta';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type MetricObjectWithValues, type MetricValue } from 'prom-client';

/**
 * Node's process metrics, one registry per process (they describe the process, whatever
 * the number of servers in it, and their event-loop sampler cannot be stopped: one per
 * server would pile up in a process that starts and stops servers). The event loop is
 * sampled every 100 ms (prom-client's default is 10 ms: ten times the wake-ups of an
 * idle server, for a finer lag histogram nobody needs). Created on first use.
 */
let processRegistry: Registry | undefined;

/** How often the event loop is sampled, ms (see {@link processRegistry}). */
const EVENT_LOOP_SAMPLE_MS = 100;

function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  }
  return processRegistry;
}

/**
 * The event-loop delay histogram of {@link Metrics.summary}, one per process, made on
 * first use: its own, because reading prom-client's resets it, and a console reading the
 * summary every few seconds would then leave a Prometheus scrape only the last seconds.
 */
let summaryLoop: IntervalHistogram | undefined;

/** How often the summary's histogram samples the event loop, ms. */
const SUMMARY_LOOP_SAMPLE_MS = 20;

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
  /** The connection gauges, once {@link watchConnections} made them. */
  #connections: { readonly open: Gauge; readonly pending: Gauge; readonly evicted: Gauge } | undefined;

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
    this.#connections = {
      open: new Gauge({ name: 'koru_connections', help: 'Open connections', registers: [this.registry], collect() { this.set(slots.size); } }),
      pending: new Gauge({ name: 'koru_connections_pending', help: 'Open connections that have not authenticated yet', registers: [this.registry], collect() { this.set(slots.pending); } }),
      evicted: new Gauge({ name: 'koru_connections_evicted', help: 'Unauthenticated connections closed to make room for newcomers, since the start', registers: [this.registry], collect() { this.set(slots.evicted); } }),
    };
  }

  /**
   * A few figures of this server and its process for people (the `serverMetrics` call),
   * from the same counters and gauges as {@link text}: see {@link MetricsSummary} for
   * each. It leaves `/metrics` as it was: the process figures are read from Node
   * directly, and the event-loop delay from a histogram of its own.
   */
  async summary(): Promise<MetricsSummary> {
    const [requests, calls, writes, sockets, subscribers] = await Promise.all([this.requests.get(), this.wsCalls.get(), this.writes.get(), this.sockets.get(), this.subscribers.get()]);
    const slots = this.#connections;
    const [open, pending, evicted] = slots === undefined ? [] : await Promise.all([slots.open.get(), slots.pending.get(), slots.evicted.get()]);
    const status = (v: MetricValue<string>): number => Number(v.labels.status);
    const memory = process.memoryUsage();
    const cpu = process.cpuUsage();
    return {
      http: {
        requests: total(requests),
        clientErrors: total(requests, (v) => status(v) >= 400 && status(v) < 500),
        serverErrors: total(requests, (v) => status(v) >= 500),
      },
      ws: {
        calls: total(calls),
        failedCalls: total(calls, (v) => v.labels.outcome === 'error'),
        connections: total(sockets),
        subscriptions: total(subscribers),
      },
      writes: total(writes),
      connections: {
        open: open === undefined ? 0 : total(open),
        pending: pending === undefined ? 0 : total(pending),
        evicted: evicted === undefined ? 0 : total(evicted),
      },
      process: {
        residentMemoryBytes: memory.rss,
        heapUsedBytes: memory.heapUsed,
        heapTotalBytes: memory.heapTotal,
        cpuSeconds: (cpu.user + cpu.system) / 1e6,
        eventLoopDelayMs: readLoopDelay(),
      },
    };
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

/**
 * The figures of {@link Metrics.summary}, each from the metric named. Counts are since the
 * server started; a call is counted once answered, so a `serverMetrics` call is not in
 * its own answer.
 */
export interface MetricsSummary {
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
   * Writes through this server (`koru_writes_total`): REST puts, deletes and purges,
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
  /** The process's (every server in it shares them). */
  readonly process: {
    /** Resident set size, as `process_resident_memory_bytes` reports it (`process.memoryUsage().rss`). */
    readonly residentMemoryBytes: number;
    /** V8 heap in use, as `nodejs_heap_size_used_bytes`. */
    readonly heapUsedBytes: number;
    /** V8 heap reserved, as `nodejs_heap_size_total_bytes`. */
    readonly heapTotalBytes: number;
    /** User and system CPU time used since the process started, as `process_cpu_seconds_total`. */
    readonly cpuSeconds: number;
    /**
     * How late the event loop ran, ms to the µs, since the previous summary (of any
     * server in the process): mean, median, 99th percentile and the most, sampled every
     * 20 ms by a histogram of the summary's own (`/metrics` keeps its own window). null
     * on the first summary, and when no sample was taken since the previous one.
     */
    readonly eventLoopDelayMs: { readonly mean: number; readonly p50: number; readonly p99: number; readonly max: number } | null;
  };
}

/**
 * The event-loop delay since the previous call, then a new window (see {@link summaryLoop}).
 * Node's histogram records the whole time between two samples, the sampling interval
 * included: an idle loop reads as the interval itself, so it is taken off.
 */
function readLoopDelay(): MetricsSummary['process']['eventLoopDelayMs'] {
  if (summaryLoop === undefined) {
    summaryLoop = monitorEventLoopDelay({ resolution: SUMMARY_LOOP_SAMPLE_MS });
    summaryLoop.enable();
    return null;
  }
  const h = summaryLoop;
  const ms = (ns: number): number => Math.max(0, Math.round((ns / 1e6 - SUMMARY_LOOP_SAMPLE_MS) * 1000) / 1000);
  const figures = h.count === 0 ? null : { mean: ms(h.mean), p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) };
  h.reset();
  return figures;
}

/** The sum of a metric's values (those `which` keeps). */
function total(metric: MetricObjectWithValues<MetricValue<string>>, which: (v: MetricValue<string>) => boolean = () => true): number {
  let sum = 0;
  for (const v of metric.values) if (which(v)) sum += v.value;
  return sum;
}

