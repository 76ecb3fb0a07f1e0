/**
 * Horizon records: what retention and purge leave where they cut a key's history.
 *
 * When a merge's retention filter (retention-filter.ts) or a purge (purge.ts) removes a
 * key's older versions, the record of the *newest version removed* is not dropped but
 * rewritten in place, under the same `V` key, as a horizon record:
 *
 *   value: flags: u8 = 0x20 (FLAG_HORIZON), | 0x40 (FLAG_PURGED) when a purge left it
 *          | seq: varint (the removed version's change number, as its record had it)
 *          | the oldest kept version's key after its key prefix (clock stamp, node, id:
 *            see version-records.ts), to the end.
 *
 * Why a record in the removed version's place rather than a flag on the oldest kept one:
 * a merge writes in key order, newest first, and knows a version is the oldest kept only
 * once it meets the next one, already past it; the first removed version is where it
 * learns there is a cut. And its key keeps what the chain needs: the oldest kept
 * version's `previousVersion` is this record's version id (the horizon's hash), so
 * `verify` checks every kept chain down to it. Reads of the key stop at it: a history
 * is the versions before it, and a time or id that lands on or past it is
 * HISTORY_PRUNED naming the horizon. Versions that sort after it (replicated later with
 * older clocks) are below the horizon: hidden from reads, dropped by the next cut.
 *
 * Browser-safe: no Node module is used.
 */
import { compareHlc, formatHlc, InvalidArgumentError, parseHlc, type HlcStamp } from '@koru/engine';
import { CorruptionError, HistoryPrunedError, type Horizon } from './errors.js';
import type { LsmTree } from './lsm/lsm-tree.js';
import { bytesKey, KIND_PUT, type Entry } from './lsm/types.js';
import type { PreviousCut } from './storage-options.js';
import { decodeKeyPrefix, decodeVersionKeySuffix, FLAG_HORIZON, FLAG_PURGED, versionKey, versionKeySuffix } from './version-records.js';

/**
 * True when a `V` record's value is a horizon record, not a version: its flags are
 * exactly those of one (any other byte with bit 5 is a damaged version record, and is
 * reported as such by the version decoder).
 */
export function isHorizon(bytes: Uint8Array): boolean {
  const flags = bytes[0];
  return flags === FLAG_HORIZON || flags === (FLAG_HORIZON | FLAG_PURGED);
}

/** A decoded horizon record. */
export interface HorizonRecord {
  /** The removed version's change number. */
  readonly seq: number;
  /** True when a purge left it (else retention). */
  readonly purged: boolean;
  /** The oldest kept version's key suffix (after its key prefix). */
  readonly keptSuffix: string;
}

/**
 * Encodes a horizon record (see the module doc).
 * @param seq the removed version's seq (a safe integer ≥ 0)
 * @param keptSuffix the oldest kept version's key after its key prefix (a binary string)
 */
export function encodeHorizon(seq: number, keptSuffix: string, purged: boolean): Uint8Array {
  const varint: number[] = [];
  let v = seq;
  for (; v >= 0x80; v = Math.floor(v / 128)) varint.push((v % 128) | 0x80);
  varint.push(v);
  const out = new Uint8Array(1 + varint.length + keptSuffix.length);
  out[0] = FLAG_HORIZON | (purged ? FLAG_PURGED : 0);
  out.set(varint, 1);
  for (let i = 0; i < keptSuffix.length; i++) out[1 + varint.length + i] = keptSuffix.charCodeAt(i);
  return out;
}

/**
 * Decodes a horizon record. @throws CorruptionError unless {@link encodeHorizon} could
 * have written `bytes` (the kept key's suffix is checked by {@link horizonOf})
 */
export function decodeHorizon(bytes: Uint8Array): HorizonRecord {
  const flags = bytes[0];
  if (flags !== FLAG_HORIZON && flags !== (FLAG_HORIZON | FLAG_PURGED)) throw new CorruptionError(`malformed horizon record: flags 0x${(flags ?? 0).toString(16)}`, { offset: 0 });
  let p = 1;
  let seq = 0;
  let scale = 1;
  for (;;) {
    if (p >= bytes.length || p > 8) throw new CorruptionError('malformed horizon record: truncated seq', { offset: p });
    const b = bytes[p++]!;
    seq += (b & 0x7f) * scale;
    if (b < 0x80) break;
    scale *= 128;
  }
  if (p === bytes.length) throw new CorruptionError('malformed horizon record: no kept version', { offset: p });
  return { seq, purged: flags === (FLAG_HORIZON | FLAG_PURGED), keptSuffix: bytesKey(bytes, p) };
}

/** The horizon a horizon record names: the oldest kept version of the key `prefix`. @throws CorruptionError */
export function horizonOf(prefix: string, bytes: Uint8Array): Horizon & { readonly purged: boolean; readonly seq: number } {
  const h = decodeHorizon(bytes);
  const f = decodeVersionKeySuffix(prefix + h.keptSuffix, prefix.length);
  return { versionId: f.versionId, hlc: formatHlc({ wall: f.wall, logical: f.logical }), node: f.node, purged: h.purged, seq: h.seq };
}

/** The HISTORY_PRUNED error for key `prefix`, whose horizon record is `bytes`. */
export function prunedError(prefix: string, bytes: Uint8Array, what: string): HistoryPrunedError {
  const { namespace, key } = decodeKeyPrefix(prefix);
  const h = horizonOf(prefix, bytes);
  const horizon: Horizon = { versionId: h.versionId, hlc: h.hlc, node: h.node };
  return new HistoryPrunedError(`${namespace}/${key}: ${what} is before the horizon at version ${h.versionId} (hlc ${h.hlc}): ${h.purged ? 'the key was purged' : 'retention cut the history'} there`, {
    namespace,
    key,
    horizon,
    purged: h.purged,
  });
}

/**
 * The horizon record of key `prefix` that sorts before `before` (exclusive; default: the
 * key's end), with its key, or undefined. A scan of the key's records: O(h).
 */
export function horizonBefore(tree: LsmTree, prefix: string, before?: string): { readonly vkey: string; readonly bytes: Uint8Array } | undefined {
  const c = tree.cursor({ filterKey: prefix });
  for (c.seek(prefix); c.valid() && c.key().startsWith(prefix) && (before === undefined || c.key() < before); c.next()) {
    if (isHorizon(c.value())) return { vkey: c.key(), bytes: c.value() };
  }
  return undefined;
}

/** The greatest seq whose version a merge or a purge removed (0: none), as the manifest records it. */
export function prunedThroughSeq(tree: LsmTree): number {
  const v = tree.properties[PRUNED_THROUGH_SEQ];
  return typeof v === 'number' ? v : 0;
}

/** The manifest property holding {@link prunedThroughSeq}. */
export const PRUNED_THROUGH_SEQ = 'prunedThroughSeq';

// ---- Horizons across export and import ------------------------------------------------
//
// An export of a cut history carries, on each key's oldest kept version, the removed
// predecessor's stamp and node (`previousCut`); with the predecessor's id (the version's
// `previousVersion`) that is the horizon record's key. An import that starts the key
// there writes the horizon record in the version's own commit (the same log batch), with
// seq 0 (the removed version was never a change of the importing database, so no feed
// reader can be owed it).

/**
 * The `previousCut` of version `versionId` (key `prefix`, record key `vkey`) whose
 * predecessor is `previousVersion`: set when the record right after it (the next older)
 * is the horizon record of that predecessor naming it. One seek.
 */
export function previousCutOf(tree: LsmTree, prefix: string, vkey: string, previousVersion: string): PreviousCut | undefined {
  const c = tree.cursor({ filterKey: prefix });
  c.seek(vkey + '\u0000');
  if (!c.valid() || !c.key().startsWith(prefix)) return undefined;
  const bytes = c.value();
  if (!isHorizon(bytes)) return undefined;
  const h = decodeHorizon(bytes);
  if (prefix + h.keptSuffix !== vkey) return undefined;
  const cut = decodeVersionKeySuffix(c.key(), prefix.length);
  if (cut.versionId !== previousVersion) return undefined;
  return { hlc: formatHlc({ wall: cut.wall, logical: cut.logical }), node: cut.node, purged: h.purged };
}

/** A horizon an import records with its version (in the version's commit). */
export interface ImportedHorizon {
  /** The removed predecessor's stamp (its successor's must be later). */
  readonly stamp: HlcStamp;
  /** The horizon record's key (the removed predecessor's version key) and value. */
  readonly entry: Entry;
}

/**
 * The horizon record for an imported version whose predecessor `previousVersion` was
 * cut (`cut`, from the export).
 * @throws InvalidArgumentError for a malformed `cut`, or one not earlier than the version
 */
export function importedHorizon(namespace: string, key: string, previousVersion: string, cut: unknown, stamp: HlcStamp, node: string, versionId: string): ImportedHorizon {
  if (cut === null || typeof cut !== 'object') throw new InvalidArgumentError('must be { hlc, node, purged }');
  const { hlc, node: cutNode, purged } = cut as Record<string, unknown>;
  if (typeof cutNode !== 'string' || cutNode.length === 0 || cutNode.length > 128) throw new InvalidArgumentError('node must be a non-empty string of at most 128 characters');
  if (typeof purged !== 'boolean') throw new InvalidArgumentError('purged must be true or false');
  let cutStamp: HlcStamp;
  try {
    cutStamp = parseHlc(hlc as string);
  } catch {
    throw new InvalidArgumentError(`hlc ${JSON.stringify(hlc)} is not a clock stamp`);
  }
  if (compareHlc(stamp, cutStamp) <= 0) throw new InvalidArgumentError(`hlc ${String(hlc)} is not earlier than the version's`);
  const value = encodeHorizon(0, versionKeySuffix(stamp.wall, stamp.logical, node, versionId), purged);
  return { stamp: cutStamp, entry: { key: versionKey(namespace, key, cutStamp.wall, cutStamp.logical, cutNode, previousVersion), kind: KIND_PUT, value } };
}

/**
 * The manifest property set once an import recorded a horizon: with a nonzero
 * {@link prunedThroughSeq}, it tells an export that some key may start at a horizon
 * (otherwise none does, and the export skips looking).
 */
export const IMPORTED_HORIZONS = 'importedHorizons';

/** True when some key's history may start at a horizon (retention, a purge or an import cut it). */
export function mayHaveHorizons(tree: LsmTree): boolean {
  return prunedThroughSeq(tree) > 0 || tree.properties[IMPORTED_HORIZONS] === true;
}

/**
 * Sets {@link IMPORTED_HORIZONS} (once: a manifest write) before an import commits its
 * first horizon records, which its versions' commit carries (commit-queue.ts).
 */
export function markImportedHorizons(tree: LsmTree): void {
  if (tree.properties[IMPORTED_HORIZONS] !== true) tree.setProperties({ ...tree.properties, [IMPORTED_HORIZONS]: true });
}
