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
import { formatHlc } from '@koru/engine';
import { CorruptionError, HistoryPrunedError, type Horizon } from './errors.js';
import type { LsmTree } from './lsm/lsm-tree.js';
import { bytesKey } from './lsm/types.js';
import { decodeKeyPrefix, decodeVersionKeySuffix, FLAG_HORIZON, FLAG_PURGED } from './version-records.js';

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
