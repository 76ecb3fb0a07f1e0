/**
 * Admission of versions made elsewhere (an import of an export, a replication batch):
 * each item is checked (names, ids, clock, predecessor) and stamped for commit exactly as
 * it was made, or the whole batch is refused. See {@link CausalStorage.importVersions} and
 * {@link CausalStorage.applyReplicated} for what each mode accepts.
 */
import {
  canonicalize,
  ClockSkewError,
  compareHlc,
  InvalidArgumentError,
  InvalidNamespaceError,
  isId,
  parseHlc,
  type Canonical,
  type HlcStamp,
} from '@koru/engine';
import { HistoryPrunedError } from './errors.js';
import { SYSTEM_NAMESPACE, validateKey, validateNamespace } from './names.js';
import { markPending, stampedWrite, type StampedWrite } from './stamped-write.js';
import { DEFAULT_MAX_CLOCK_AHEAD_MS, type ImportedVersion } from './storage-options.js';
import type { StoreContext } from './store-context.js';
import { importedHorizon, type ImportedHorizon } from './horizon-records.js';
// Only for the {@link} links of the doc comments.
import type { CausalStorage } from './causal-storage.js';

/** What {@link Admission.admit} lets through. */
export interface Admitted {
  /** The versions to commit, stamped and marked pending, in commit order. */
  readonly writes: StampedWrite[];
  /** Items stored already (or twice in the batch): skipped. */
  readonly duplicates: number;
  /** Items whose predecessor is unknown here (merge only): not stored. */
  readonly orphans: ImportedVersion[];
  /**
   * The horizons of items with `previousCut` (restore only): each rides on its write
   * (`horizon`), so the commit that stores the version stores its horizon record with it.
   */
  readonly horizons: ImportedHorizon[];
}

/** The admission checks of one store. */
export class Admission {
  readonly #ctx: StoreContext;
  readonly #queuedForeign: Map<string, HlcStamp>;

  /**
   * @param queuedForeign versions made elsewhere that are queued but not committed yet,
   *   with their clocks: a second batch carrying one of them, or its successor, must see
   *   it. Admission adds to it; the commit queue forgets each once committed or failed.
   */
  constructor(ctx: StoreContext, queuedForeign: Map<string, HlcStamp>) {
    this.#ctx = ctx;
    this.#queuedForeign = queuedForeign;
  }

  /**
   * Checks versions made elsewhere and stamps them for commit (marked pending). See
   * {@link CausalStorage.importVersions} and {@link CausalStorage.applyReplicated} for what each mode accepts.
   */
  admit(
    items: readonly ImportedVersion[],
    mode: 'restore' | 'merge',
    maxAheadMs = DEFAULT_MAX_CLOCK_AHEAD_MS,
    checkSystemRecord?: (key: string, value: unknown, deleted: boolean) => void,
  ): Admitted {
    const ctx = this.#ctx;
    const store = ctx.store;
    const replicate = mode === 'merge';
    // Checked, stamped items with their position in `items` (error messages name it).
    const checked: Array<{ i: number; it: ImportedVersion; stamp: HlcStamp; canon: Canonical | null }> = [];
    const bad = (i: number, what: string): never => {
      const it = items[i] as Partial<ImportedVersion> | null;
      throw new InvalidArgumentError(`${replicate ? 'replicated item' : 'import item'} ${i} (${String(it?.namespace)}/${String(it?.key)}): ${what}`, { details: { index: i } });
    };
    if (typeof maxAheadMs !== 'number' || !(maxAheadMs >= 0)) throw new InvalidArgumentError('maxClockAheadMs must be a non-negative number of ms');
    const limit = ctx.now() + maxAheadMs;
    for (let i = 0; i < items.length; i++) {
      const it = items[i]!;
      if (it === null || typeof it !== 'object') bad(i, 'not an object');
      const system = it.namespace === SYSTEM_NAMESPACE;
      if (!system || checkSystemRecord === undefined) validateNamespace(it.namespace);
      validateKey(it.key);
      if (typeof it.deleted !== 'boolean') bad(i, 'deleted must be true or false');
      if (system) {
        try {
          checkSystemRecord!(it.key, it.value, it.deleted);
        } catch (e) {
          const why = e instanceof Error ? e.message : String(e);
          throw new InvalidNamespaceError(`${replicate ? 'replicated item' : 'import item'} ${i} (${SYSTEM_NAMESPACE}/${it.key}): a record of the reserved namespace ${SYSTEM_NAMESPACE} that is not a valid definition: ${why}`, { cause: e, details: { index: i } });
        }
      }
      if (typeof it.node !== 'string' || it.node.length === 0 || it.node.length > 128) bad(i, 'node must be a non-empty string of at most 128 characters');
      if (typeof it.versionId !== 'string' || !isId(it.versionId)) bad(i, 'versionId must be 64 lowercase hex digits');
      if (it.previousVersion !== null && !isId(it.previousVersion)) bad(i, 'previousVersion must be null or 64 lowercase hex digits');
      let stamp: HlcStamp;
      try {
        stamp = parseHlc(it.hlc);
      } catch {
        return bad(i, `hlc ${JSON.stringify(it.hlc)} is not a clock stamp`);
      }
      if (stamp.wall > limit) {
        throw new ClockSkewError(
          `version ${it.versionId} from node ${it.node} is stamped ${new Date(stamp.wall).toISOString()}, ${stamp.wall - limit + maxAheadMs} ms ahead of this node's clock (at most ${maxAheadMs} ms allowed)`,
          { details: { node: it.node, aheadMs: stamp.wall - limit + maxAheadMs, maxClockAheadMs: maxAheadMs } },
        );
      }
      checked.push({ i, it, stamp, canon: it.deleted ? null : canonicalize(it.value, ctx.limits) });
    }
    // A predecessor always has an earlier clock than its successor: in clock order,
    // predecessors come first whatever order the items arrived in.
    if (replicate) checked.sort((a, b) => compareHlc(a.stamp, b.stamp) || (a.it.node < b.it.node ? -1 : a.it.node > b.it.node ? 1 : 0));
    const writes: StampedWrite[] = [];
    const orphans: ImportedVersion[] = [];
    let duplicates = 0;
    const horizons: ImportedHorizon[] = [];
    const keysInBatch = new Set<string>();
    // Versions of this batch by id: their clocks, for their successors' checks.
    const batch = new Map<string, HlcStamp>();
    let newest: HlcStamp | undefined;
    for (const { i, it, stamp, canon } of checked) {
      const pk = ctx.pending.acquire(it.namespace, it.key);
      let w = stampedWrite(pk, canon, it.previousVersion, stamp, it.hlc, it.node);
      if (it.valueId !== undefined && it.valueId !== w.record.valueId) bad(i, `value does not hash to valueId ${String(it.valueId)}`);
      // The expected id is not told: it would hand anyone a forged version's id.
      if (w.record.versionId !== it.versionId) bad(i, `versionId ${it.versionId} does not match its content`);
      if (it.timestamp !== undefined && it.timestamp !== w.version.timestamp) bad(i, `timestamp ${JSON.stringify(it.timestamp)} is not the time of its hlc ${it.hlc} (${w.version.timestamp})`);
      // Same id, so the same fields (they were just hashed): stored already, skipped.
      if (batch.has(it.versionId) || this.#queuedForeign.has(it.versionId) || store.has(it.namespace, it.key, stamp.wall, stamp.logical, it.node, it.versionId)) {
        duplicates++;
        continue;
      }
      if (it.previousVersion !== null) {
        let prevStamp = batch.get(it.previousVersion) ?? this.#queuedForeign.get(it.previousVersion);
        let prevCut = false;
        if (prevStamp === undefined) {
          try {
            prevStamp = store.stampById(it.namespace, it.key, it.previousVersion);
          } catch (e) {
            // Retention or a purge cut this key's history here, the predecessor with it: a
            // peer keeping more history sends versions made on top of what was cut. They
            // are admitted (held back as orphans, they would wait forever); their order
            // against the cut predecessor cannot be checked here.
            if (!(replicate && e instanceof HistoryPrunedError)) throw e;
            prevCut = true;
          }
        }
        if (prevStamp === undefined && !replicate && it.previousCut !== undefined) {
          // An export of a cut history: it may start the key's history here, nothing before it.
          if (store.head(it.namespace, it.key) !== undefined || keysInBatch.has(pk.id) || pk.pending > 0) {
            bad(i, `previousVersion ${it.previousVersion} was cut by retention or a purge where it was exported, and this key has versions here already`);
          }
          try {
            const h = importedHorizon(it.namespace, it.key, it.previousVersion, it.previousCut, stamp, it.node, it.versionId);
            prevStamp = h.stamp;
            horizons.push(h);
            w = { ...w, horizon: h.entry };
          } catch (e) {
            bad(i, `previousCut: ${e instanceof Error ? e.message : String(e)}`);
          }
        }
        if (prevStamp === undefined && !prevCut) {
          if (!replicate) bad(i, `previousVersion ${it.previousVersion} is not a version of this key stored or imported before it (a history cut by retention or a purge imports from an export of the database itself, which says where it was cut: previousCut)`);
          orphans.push(it);
          continue;
        }
        // A cut predecessor leaves nothing to compare the clock with.
        if (prevStamp !== undefined && compareHlc(stamp, prevStamp) <= 0) bad(i, `hlc ${it.hlc} is not later than the previous version's`);
      }
      batch.set(it.versionId, stamp);
      keysInBatch.add(pk.id);
      if (newest === undefined || compareHlc(stamp, newest) > 0) newest = stamp;
      writes.push(w);
    }
    if (newest !== undefined) ctx.clock.observe(newest);
    for (const [id, stamp] of batch) this.#queuedForeign.set(id, stamp);
    for (const w of writes) {
      // Only a version that will be the key's newest is what the next local write follows.
      if (replicate) w.pk.pending++;
      else markPending(w);
    }
    // Items skipped (stored already, orphans) leave no entry behind.
    for (const { it } of checked) {
      const pk = ctx.pending.get(it.namespace, it.key);
      if (pk !== undefined) ctx.pending.release(pk);
    }
    return { writes, duplicates, orphans, horizons };
  }

  /** Keys a refused batch made entries for, and that have nothing queued, are forgotten. */
  forgetEmptyKeys(items: unknown): void {
    if (!Array.isArray(items)) return;
    const pending = this.#ctx.pending;
    for (const it of items as Array<Partial<ImportedVersion> | null>) {
      if (it === null || typeof it !== 'object' || typeof it.namespace !== 'string' || typeof it.key !== 'string') continue;
      const pk = pending.get(it.namespace, it.key);
      if (pk !== undefined) pending.release(pk);
    }
  }
}
