/**
 * The engine bench's rows and its printed table: one line per operation, a column per
 * store, and the ratios KoruDelta / peer.
 */
import { STORE_IDS, STORE_LABELS, type StoreId } from './engine-store.js';

/** Which way is better, so a reader knows what a ratio above 1 means. */
type Better = 'higher' | 'lower';

/** Rows in table order. */
export const ENGINE_OPERATIONS = [
  { id: 'load.rate', label: 'load, batches of 1,000 (writes only)', unit: 'entries/s', better: 'higher' },
  { id: 'load.time', label: 'load: time to write every entry', unit: 's', better: 'lower' },
  { id: 'load.settle', label: 'load: merges it left behind, run to the end (LsmTree)', unit: 's', better: 'lower' },
  { id: 'load.close', label: 'load: close after it (LsmTree: last flush)', unit: 'ms', better: 'lower' },
  { id: 'disk', label: 'on disk after close', unit: 'bytes', better: 'lower' },
  { id: 'disk.perEntry', label: 'on disk per entry (key 60 B + value 100 B)', unit: 'B/entry', better: 'lower' },
  { id: 'open.firstGet', label: 'open + first get, fresh process', unit: 'ms', better: 'lower' },
  { id: 'rss.delta', label: 'RSS over the bare process after open + random gets', unit: 'bytes', better: 'lower' },
  { id: 'get.cold', label: 'get, random keys, fresh process (cold)', unit: 'gets/s', better: 'higher' },
  { id: 'get.cached', label: 'get, the same keys again (cached)', unit: 'gets/s', better: 'higher' },
  { id: 'scan.cold', label: 'history scan (all versions of a name), fresh process', unit: 'entries/s', better: 'higher' },
  { id: 'scan.warm', label: 'history scan, the same names again', unit: 'entries/s', better: 'higher' },
  { id: 'put.durable.p50', label: 'single durable put, idle: p50', unit: 'ms', better: 'lower' },
  { id: 'put.durable.p99', label: 'single durable put, idle: p99', unit: 'ms', better: 'lower' },
  { id: 'put.durable.loopMax', label: 'single durable puts, idle: max event-loop delay', unit: 'ms', better: 'lower' },
  { id: 'putBatch.durable', label: 'durable batched put, 1,000 per batch', unit: 'entries/s', better: 'higher' },
  { id: 'put.merge.p50', label: 'single durable put during a full merge: p50', unit: 'ms', better: 'lower' },
  { id: 'put.merge.p99', label: 'single durable put during a full merge: p99', unit: 'ms', better: 'lower' },
  { id: 'put.merge.loopMax', label: 'durable puts during a full merge: max event-loop delay', unit: 'ms', better: 'lower' },
  { id: 'merge.time', label: 'full merge (compact()) with puts going on', unit: 's', better: 'lower' },
  { id: 'merge.quiet.loopMax', label: 'full merge alone: max event-loop delay', unit: 'ms', better: 'lower' },
  { id: 'merge.quiet.time', label: 'full merge alone', unit: 's', better: 'lower' },
  { id: 'disk.compacted', label: 'on disk after the merges and close', unit: 'bytes', better: 'lower' },
] as const satisfies readonly { id: string; label: string; unit: string; better: Better }[];

export type EngineOperation = (typeof ENGINE_OPERATIONS)[number]['id'];

/** One figure. */
export interface EngineRow {
  /** Entries loaded (the database size the row is about). */
  readonly entries: number;
  readonly subject: StoreId;
  readonly operation: EngineOperation;
  readonly value: number;
  readonly unit: string;
  readonly notes: string;
  /** Per-run values when the row is a median. */
  readonly runs?: readonly number[];
}

function figure(value: number, unit: string): string {
  if (unit === 'bytes') return value >= 1e9 ? `${(value / 1e9).toFixed(2)} GB` : `${(value / 1e6).toFixed(1)} MB`;
  if (unit === 'ms') return value < 10 ? `${value.toFixed(2)} ms` : `${value.toFixed(0)} ms`;
  if (unit === 's') return `${value.toFixed(1)} s`;
  if (unit === 'B/entry') return `${value.toFixed(0)} B`;
  return `${Math.round(value).toLocaleString('en-US')}/s`;
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

/** The table of one database size: a line per operation measured, ratios KoruDelta / peer. */
export function engineTable(rows: readonly EngineRow[], entries: number): string {
  const mine = rows.filter((r) => r.entries === entries);
  const stores = STORE_IDS.filter((s) => mine.some((r) => r.subject === s));
  const peers = stores.filter((s) => s !== 'koru');
  const header = ['operation', ...stores.map((s) => STORE_LABELS[s]), ...(stores.includes('koru') ? peers.map((p) => `koru/${p}`) : []), 'better'];
  const lines: string[][] = [];
  for (const op of ENGINE_OPERATIONS) {
    const of = (s: StoreId): EngineRow | undefined => mine.find((r) => r.subject === s && r.operation === op.id);
    if (!stores.some((s) => of(s) !== undefined)) continue;
    const cells = [op.label, ...stores.map((s) => (of(s) === undefined ? '—' : figure(of(s)!.value, op.unit)))];
    if (stores.includes('koru')) {
      for (const p of peers) {
        const k = of('koru');
        const v = of(p);
        cells.push(k === undefined || v === undefined || v.value === 0 ? '—' : `${(k.value / v.value).toFixed(2)}×`);
      }
    }
    cells.push(op.better);
    lines.push(cells);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: readonly string[]): string => cells.map((c, i) => pad(c, widths[i]!, i > 0)).join('  ');
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(fmt)].join('\n');
}
