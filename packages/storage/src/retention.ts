/**
 * Retention policies: how much of each namespace's history merges keep.
 *
 * A policy is stored durably in the tree as a record of its own, written through the
 * engine's normal write path (log, memtable, segments):
 *
 *   key:   'R' | name(namespace)        value: the policy as JSON (UTF-8)
 *
 * Opening reads them all (one range scan: one record per namespace with a policy). Each
 * merge whose output is the deepest level holding its range, and each full merge, is
 * given the retention filter (retention-filter.ts) with the policies and the time; the
 * filter's report (the greatest seq it removed) goes into the manifest with the merge's
 * outputs, as `prunedThroughSeq` (see horizon-records.ts), and so do the values it
 * removed (`valuesRemoved`, for the store's counters: store-counters.ts). Merges decide
 * when history is cut: a policy set now is applied by the merges that follow
 * (`compact()` applies it to everything at once).
 *
 * The full merge of `VersionStore.compact()` — and only it: the store's reclaim window
 * is open then (value-reclaim.ts) — gets the reclaim filter instead (reclaim-filter.ts),
 * which also drops the value records no kept version references.
 *
 * Browser-safe: no Node module is used.
 */
import { InvalidArgumentError } from '@koru/engine';
import { CorruptionError } from './errors.js';
import { PRUNED_THROUGH_SEQ } from './horizon-records.js';
import type { LsmTree, MergeFilterHook } from './lsm/lsm-tree.js';
import { registerMergeFilter } from './lsm/merge-runner.js';
import { KIND_PUT, keyBytes } from './lsm/types.js';
import { createReclaimFilter, RECLAIM_FILTER, type ReclaimFilterParams } from './reclaim-filter.js';
import { createRetentionFilter, RETENTION_FILTER, type RetentionFilterParams } from './retention-filter.js';
import { reclaimStateOf, VALUES_REMOVED, valuesRemoved } from './value-reclaim.js';
import { encodeName, namespacePrefix, prefixEnd } from './version-records.js';

/**
 * How much history a namespace keeps: everything (the default), the last N versions of
 * each key, or the versions younger than a duration (plus the one current at its start).
 */
export type RetentionPolicy = { readonly keep: 'all' } | { readonly lastVersions: number } | { readonly maxAgeMs: number };

/** First byte of a retention record's key. */
export const TAG_RETENTION = 'R';

/** The policy of a namespace without one. */
export const KEEP_ALL: RetentionPolicy = Object.freeze({ keep: 'all' });

/**
 * `p` as a policy (a fresh frozen object with exactly its fields).
 * @throws InvalidArgumentError unless exactly one of `{ keep: 'all' }`,
 *   `{ lastVersions: N }`, `{ maxAgeMs: D }` with N and D safe integers ≥ 1
 */
export function validatePolicy(p: unknown): RetentionPolicy {
  const bad = (): InvalidArgumentError =>
    new InvalidArgumentError(`a retention policy is { keep: 'all' }, { lastVersions: N } or { maxAgeMs: D } with N and D integers ≥ 1, not ${describe(p)}`);
  if (typeof p !== 'object' || p === null || Array.isArray(p)) throw bad();
  const keys = Object.keys(p);
  if (keys.length !== 1) throw bad();
  const [field] = keys as [string];
  const v = (p as Record<string, unknown>)[field];
  if (field === 'keep') {
    if (v !== 'all') throw bad();
    return KEEP_ALL;
  }
  if ((field !== 'lastVersions' && field !== 'maxAgeMs') || !Number.isSafeInteger(v) || (v as number) < 1) throw bad();
  return Object.freeze(field === 'lastVersions' ? { lastVersions: v as number } : { maxAgeMs: v as number });
}

function describe(p: unknown): string {
  try {
    return JSON.stringify(p) ?? String(p);
  } catch {
    return String(p);
  }
}

/** The key of namespace `ns`'s retention record. */
export function retentionKey(ns: string): string {
  return TAG_RETENTION + encodeName(ns);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The policies of one store, kept in its tree, and the hook that gives them to merges. */
export class RetentionPolicies {
  readonly #tree: LsmTree;
  /** The policies other than keep-all: read from the tree at first use (see {@link #read}). */
  #policies: Map<string, RetentionPolicy> | undefined;
  /** The clock the age rule counts from. */
  readonly #now: () => number;

  /** Installs the merge hook; the stored policies are read when first needed. */
  constructor(tree: LsmTree, now: () => number = Date.now) {
    this.#tree = tree;
    this.#now = now;
    // The filters run in this thread for in-memory stores (InlineMergeRunner).
    registerMergeFilter(RETENTION_FILTER, createRetentionFilter);
    registerMergeFilter(RECLAIM_FILTER, createReclaimFilter);
    tree.setMergeFilter(this.#hook());
  }

  /**
   * The stored policies (one range scan, at first use: at open it seeked every level-0
   * file and one file of each deeper level, a third of opening a large database to read
   * one key). @throws CorruptionError for a record that is not a policy
   */
  #read(): Map<string, RetentionPolicy> {
    if (this.#policies !== undefined) return this.#policies;
    const policies = new Map<string, RetentionPolicy>();
    const c = this.#tree.cursor();
    const end = prefixEnd(TAG_RETENTION);
    for (c.seek(TAG_RETENTION); c.valid() && c.key() < end; c.next()) {
      const k = c.key();
      const ns = decodeName(k);
      let policy: RetentionPolicy;
      try {
        policy = validatePolicy(JSON.parse(utf8.decode(c.value())));
      } catch (cause) {
        throw new CorruptionError(`the retention record of ${JSON.stringify(ns)} is not a policy`, { record: ns }, cause);
      }
      if (!('keep' in policy)) policies.set(ns, policy);
    }
    this.#policies = policies;
    return policies;
  }

  /** The policy of `namespace` ({@link KEEP_ALL} when none was set). */
  get(namespace: string): RetentionPolicy {
    return this.#read().get(namespace) ?? KEEP_ALL;
  }

  /** Every namespace with a policy other than keep-all, and its policy. */
  entries(): ReadonlyMap<string, RetentionPolicy> {
    return this.#read();
  }

  /** Stores `policy` (validated) for `namespace`: one record, synced. @throws InvalidArgumentError; the tree's I/O errors */
  set(namespace: string, policy: unknown): RetentionPolicy {
    const p = validatePolicy(policy);
    const key = retentionKey(namespace);
    this.#tree.write([{ key, kind: KIND_PUT, value: new TextEncoder().encode(JSON.stringify(p)) }]);
    this.#tree.sync();
    const policies = this.#read();
    if ('keep' in p) policies.delete(namespace);
    else policies.set(namespace, p);
    return p;
  }

  #hook(): MergeFilterHook {
    const tree = this.#tree;
    const reclaim = reclaimStateOf(tree);
    const params = (): RetentionFilterParams => ({
      policies: [...this.#read()].map(([ns, p]) => [namespacePrefix(ns), p] as const),
      now: this.#now(),
    });
    return {
      forMerge: ({ bottommost, full }) => {
        // The store's compaction (its window open since before the memtable was frozen
        // for it): every value record no kept version references goes too.
        if (full && reclaim.isOpen) {
          const p: ReclaimFilterParams = { ...params(), full: true };
          return { module: RECLAIM_FILTER, params: p };
        }
        // Cut only where nothing older lies below (no gap under what is kept).
        if (!bottommost && !full) return undefined;
        // Without policies, only what lies below a horizon goes: there is none before a cut.
        if (this.#read().size === 0 && this.#prunedThroughSeq() === 0) return undefined;
        return { module: RETENTION_FILTER, params: params() };
      },
      propertiesAfter: (report, properties) => {
        let next = properties;
        const seq = report?.[PRUNED_THROUGH_SEQ];
        const was = properties[PRUNED_THROUGH_SEQ];
        if (typeof seq === 'number' && seq > (typeof was === 'number' ? was : 0)) next = { ...next, [PRUNED_THROUGH_SEQ]: seq };
        // What the merge takes off the counters: what its filter removed...
        let values = count(report?.['removedValues']) + count(report?.['reclaimedValues']);
        let bytes = count(report?.['removedBytes']) + count(report?.['reclaimedBytes']);
        const base = valuesRemoved(properties) ?? reclaim.counters?.removed ?? [0, 0];
        const ids = report?.['reclaimedIds'];
        if (typeof ids === 'string') {
          // Values the merge dropped that the window saw rewritten (still stored) or
          // purged (counted then): counted back.
          const excluded = reclaim.excluded(ids);
          // ...or, for the full merge, what its inputs' counters said less what its
          // outputs hold (so any drift of the counters goes too).
          const input = report?.['inputCounters'];
          if (Array.isArray(input) && input.length === 4 && input.every((n) => Number.isSafeInteger(n))) {
            const [v, b, av, ab] = input as [number, number, number, number];
            values = v - (base[0] - av) - count(report?.['keptValues']);
            bytes = b - (base[1] - ab) - count(report?.['keptBytes']);
          }
          values -= excluded.values;
          bytes -= excluded.bytes;
          // A rewritten record must be on disk before the manifest drops the old one.
          if (excluded.rewritten) tree.sync();
          // The install below ends the window, in this same synchronous step.
          reclaim.close();
        }
        if (values === 0 && bytes === 0) return next;
        // Once the outputs are installed, the counter record takes it off (a kill before
        // leaves the manifest's count to take off at the next open: store-counters.ts).
        queueMicrotask(() => {
          try {
            reclaim.counters?.settle();
          } catch {
            // Closed or broken: the next open (or commit) takes it off.
          }
        });
        return { ...next, [VALUES_REMOVED]: [base[0] + values, base[1] + bytes] };
      },
    };
  }

  #prunedThroughSeq(): number {
    const v = this.#tree.properties[PRUNED_THROUGH_SEQ];
    return typeof v === 'number' ? v : 0;
  }
}

/** A count from a filter's report (0 when absent). */
function count(v: unknown): number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : 0;
}

/** The namespace a retention record's key names. @throws CorruptionError */
function decodeName(k: string): string {
  const end = k.indexOf('\u0000\u0001', 1);
  if (end !== k.length - 2) throw new CorruptionError('malformed retention record key', { offset: 0 });
  const raw = keyBytes(k.slice(1, end));
  // Undo the 0x00 0xFF escapes, then UTF-8.
  const out: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    out.push(raw[i]!);
    if (raw[i] === 0) i++;
  }
  try {
    return utf8.decode(new Uint8Array(out));
  } catch (cause) {
    throw new CorruptionError('malformed retention record key', { offset: 0 }, cause);
  }
}
