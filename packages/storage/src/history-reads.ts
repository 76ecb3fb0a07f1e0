/**
 * Reads of one key's past: its history, a version by id, the version current at a time
 * or clock stamp (time travel), and the versions written in a time range. Stateless:
 * each read is a seek and a scan of the key's records in the version store.
 */
import { formatHlc, HLC_MAX_LOGICAL, InvalidArgumentError, isId, parseHlc, type HlcStamp } from '@koru/engine';
import { KeyNotFoundError, VersionNotFoundError } from './errors.js';
import { validateNamespace } from './names.js';
import type { HistoryOptions } from './storage-options.js';
import type { StoreContext } from './store-context.js';
import type { Version } from './types.js';
import { horizonBefore, horizonOf, prunedError } from './horizon-records.js';
import { keyPrefix } from './version-records.js';
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
  ctx.existingHead(namespace, key);
  const limit = options.limit;
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0)) {
    throw new InvalidArgumentError(`history limit must be a non-negative integer, got ${String(limit)}`);
  }
  return ctx.store.history(namespace, key, limit);
}

/** See {@link CausalStorage.getAt}. */
export function versionAt(ctx: StoreContext, namespace: string, key: string, at: number | HlcStamp): Version {
  ctx.existingHead(namespace, key);
  let found: Version | undefined;
  if (typeof at === 'number' && !Number.isNaN(at)) found = ctx.store.at(namespace, key, at);
  else if (isStamp(at)) found = ctx.store.at(namespace, key, at.wall, at.logical);
  else throw new InvalidArgumentError(`getAt expects a time in ms since the epoch or a clock stamp, got ${describeTime(at)}`);
  if (found === undefined || found.deleted) {
    const stamp = typeof at !== 'number';
    // ±Infinity and times beyond Date's range have no ISO form.
    const when = stamp ? formatHlc(at) : Math.abs(at) <= 8.64e15 ? new Date(at).toISOString() : String(at);
    throw new KeyNotFoundError(namespace, key, `${namespace}/${key} had no value at ${stamp ? 'hlc ' : ''}${when}`, { details: stamp ? { hlc: when } : { at: when } });
  }
  return found;
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
  if (key !== undefined) {
    ctx.existingHead(namespace, key);
    // One key's versions from a time its kept history does not reach: explicit, not a short answer.
    const prefix = keyPrefix(namespace, key);
    const h = fromMs === -Infinity ? undefined : horizonBefore(ctx.tree, prefix);
    if (h !== undefined && parseHlc(horizonOf(prefix, h.bytes).hlc).wall > fromMs) throw prunedError(prefix, h.bytes, 'that time range');
  }
  const keys = key === undefined ? [...ctx.store.keys(namespace)].map((k) => k.key) : [key];
  for (const k of keys) {
    // Histories are short next to a namespace: each is read whole, then cut to the range.
    for (const v of ctx.store.history(namespace, k)) {
      const t = parseHlc(v.hlc).wall;
      if (t >= fromMs && t <= toMs) yield v;
    }
  }
}

/** See {@link CausalStorage.getVersionById}. */
export function versionById(ctx: StoreContext, namespace: string, key: string, versionId: string): Version {
  ctx.existingHead(namespace, key);
  const v = typeof versionId === 'string' && isId(versionId) ? ctx.store.byId(namespace, key, versionId) : undefined;
  if (v === undefined) throw new VersionNotFoundError(namespace, key, versionId);
  return v;
}
