/**
 * Reads of one key's past: its history, a version by id, the version current at a time
 * or clock stamp (time travel), and the versions written in a time range. Stateless:
 * each read walks the key's rows in the index and materializes through the reader.
 */
import { formatHlc, HLC_MAX_LOGICAL, InvalidArgumentError, type HlcStamp } from '@koru/engine';
import { KeyNotFoundError, VersionNotFoundError } from './errors.js';
import { validateNamespace } from './names.js';
import type { HistoryOptions } from './storage-options.js';
import type { StoreContext } from './store-context.js';
import type { Version } from './types.js';
// Only for the {@link} links of the doc comments.
import type { CausalStorage } from './causal-storage.js';

/** True for a well-formed clock stamp (integer wall ms and counter, as `parseHlc` gives). */
function isStamp(t: unknown): t is HlcStamp {
  if (t === null || typeof t !== 'object') return false;
  const { wall, logical } = t as Partial<HlcStamp>;
  return Number.isSafeInteger(wall) && wall! >= 0 && Number.isSafeInteger(logical) && logical! >= 0 && logical! <= HLC_MAX_LOGICAL;
}

function describeTime(t: unknown): string {
  try {
    return typeof t === 'object' && t !== null ? JSON.stringify(t) : String(t);
  } catch {
    return typeof t;
  }
}

/** See {@link CausalStorage.history}. */
export function historyOf(ctx: StoreContext, namespace: string, key: string, options: HistoryOptions): Version[] {
  const ks = ctx.existingKey(namespace, key);
  const limit = options.limit;
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0)) {
    throw new InvalidArgumentError(`history limit must be a non-negative integer, got ${String(limit)}`);
  }
  const reader = ctx.reader;
  const n = ks.rows.length;
  const from = limit !== undefined ? Math.max(0, n - limit) : 0;
  const out = new Array<Version>(n - from);
  let prev: Version | undefined;
  for (let i = from; i < n; i++) {
    // Each version's predecessor id is the one just materialized: no second hex encoding.
    const v = i === n - 1 ? reader.head(ks)! : reader.at(ks, i, prev?.versionId);
    out[i - from] = v;
    prev = v;
  }
  return out;
}

/** See {@link CausalStorage.getAt}. */
export function versionAt(ctx: StoreContext, namespace: string, key: string, at: number | HlcStamp): Version {
  const ks = ctx.existingKey(namespace, key);
  const index = ctx.index;
  let found: number;
  if (typeof at === 'number' && !Number.isNaN(at)) found = index.indexAt(ks, at);
  else if (isStamp(at)) found = index.indexAtStamp(ks, at.wall, at.logical);
  else throw new InvalidArgumentError(`getAt expects a time in ms since the epoch or a clock stamp, got ${describeTime(at)}`);
  const rows = ks.rows;
  if (found < 0 || index.isDeleted(rows[found]!)) {
    const stamp = typeof at !== 'number';
    // ±Infinity and times beyond Date's range have no ISO form.
    const when = stamp ? formatHlc(at) : Math.abs(at) <= 8.64e15 ? new Date(at).toISOString() : String(at);
    throw new KeyNotFoundError(namespace, key, `${namespace}/${key} had no value at ${stamp ? 'hlc ' : ''}${when}`, { details: stamp ? { hlc: when } : { at: when } });
  }
  return ctx.reader.at(ks, found);
}

/** See {@link CausalStorage.versions}. */
export function* versionsIn(
  ctx: StoreContext,
  namespace: string,
  options: { readonly key?: string; readonly fromMs?: number; readonly toMs?: number },
): Generator<Version> {
  ctx.checkOpen();
  validateNamespace(namespace);
  const { key, fromMs = -Infinity, toMs = Infinity } = options;
  for (const t of [fromMs, toMs]) {
    if (typeof t !== 'number' || Number.isNaN(t)) throw new InvalidArgumentError(`a time range bound must be ms since the epoch, got ${String(t)}`);
  }
  const { index, reader } = ctx;
  const keys = key === undefined ? index.namespaceKeys(namespace) : [ctx.existingKey(namespace, key)];
  const wall = index.table.cols.wall;
  for (const ks of keys) {
    const rows = ks.rows;
    let i = index.firstAtOrAfter(ks, fromMs);
    let prev: Version | undefined;
    for (; i < rows.length && wall[rows[i]!]! <= toMs; i++) {
      const v = i === rows.length - 1 ? reader.head(ks)! : reader.at(ks, i, prev?.versionId);
      prev = v;
      yield v;
    }
  }
}

/** See {@link CausalStorage.getVersionById}. */
export function versionById(ctx: StoreContext, namespace: string, key: string, versionId: string): Version {
  const ks = ctx.existingKey(namespace, key);
  const table = ctx.index.table;
  for (let i = ks.rows.length - 1; i >= 0; i--) {
    if (table.versionId(ks.rows[i]!) === versionId) return ctx.reader.at(ks, i);
  }
  throw new VersionNotFoundError(namespace, key, versionId);
}
