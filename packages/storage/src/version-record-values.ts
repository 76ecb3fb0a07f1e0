/**
 * The value of a version record (see version-records.ts, "Version record"): flags, seq,
 * ids and the inline text, encoded and checked.
 */
import { InvalidArgumentError } from '@koru/engine';
import { allocateRecord } from './record-slab.js';
import { corrupt } from './record-names.js';
import { hexOfBytes, idBytes, parseId } from './record-ids.js';
import { checkText, encodeText, readText, textScratch } from './record-text.js';

/** Bit 0 of a version record's flags: a tombstone. */
export const FLAG_DELETED = 1;
/** Bit 1: the value's text follows, inline. */
export const FLAG_INLINE = 2;
/** Bit 2: the previous version's id is present. */
export const FLAG_PREVIOUS = 4;
/** Bit 3: the value is stored elsewhere (only its id is here; see version-records.ts). */
export const FLAG_BY_REFERENCE = 8;
/** Bit 4: the version was its key's current one when committed. */
export const FLAG_CURRENT_AT_COMMIT = 16;
/**
 * Bit 5, alone with bit 6 at most: not a version but a *horizon* record, left by retention
 * or purge under the key of the newest version they cut (see horizon-records.ts). Every
 * other flag of a version record is clear in it.
 */
export const FLAG_HORIZON = 32;
/** Bit 6 (only with bit 5): the horizon was left by a purge. */
export const FLAG_PURGED = 64;

/** What a version record's value holds (the rest of the version is in its key). */
export interface VersionRecord {
  /** The change number on this node (a safe integer ≥ 0). */
  readonly seq: number;
  readonly deleted: boolean;
  /** Hex id of the version this one superseded, `null` for the first. */
  readonly previousVersion: string | null;
  /** Hex SHA-256 of the value's canonical text; `null` for a tombstone. */
  readonly valueId: string | null;
  /** The canonical JSON text when stored inline; `null` when by reference or a tombstone. */
  readonly valueText: string | null;
  /** True when the version was its key's current one when committed (flag bit 4). */
  readonly currentAtCommit: boolean;
}

/**
 * The value of a version record (see version-records.ts). The bytes may be a view into a
 * buffer shared with other records' bytes (never overlapping them): `slice()` one to keep
 * it long without pinning the rest, and never transfer its `.buffer`.
 * @throws InvalidArgumentError for fields that do not fit together (a tombstone with a
 *   value, a live version without a value id), a seq that is not a safe integer ≥ 0,
 *   ids that are not 64 lowercase hex digits, empty or ill-formed text
 */
export function encodeVersionRecord(r: VersionRecord): Uint8Array {
  const { seq, deleted, previousVersion, valueId, valueText, currentAtCommit } = r;
  if (!(Number.isSafeInteger(seq) && seq >= 0)) throw new InvalidArgumentError(`seq ${seq} is not a safe integer ≥ 0`);
  if (deleted ? valueId !== null || valueText !== null : valueId === null) {
    throw new InvalidArgumentError(deleted ? 'a tombstone has no value id or text' : 'a live version needs its value id');
  }
  if (valueText !== null) checkText(valueText, 'valueText');
  let seqBytes = 1;
  for (let v = seq; v >= 0x80; v = Math.floor(v / 128)) seqBytes++;
  const textBytes = valueText === null ? 0 : encodeText(valueText);
  lastTextBytes = textBytes;
  const out = allocateRecord(1 + seqBytes + (previousVersion === null ? 0 : 32) + (valueId === null ? 0 : 32) + textBytes);
  out[0] = (deleted ? FLAG_DELETED : valueText !== null ? FLAG_INLINE : FLAG_BY_REFERENCE) | (previousVersion === null ? 0 : FLAG_PREVIOUS) | (currentAtCommit ? FLAG_CURRENT_AT_COMMIT : 0);
  let p = 1;
  let v = seq;
  for (; v >= 0x80; v = Math.floor(v / 128)) out[p++] = (v % 128) | 0x80;
  out[p++] = v;
  if (previousVersion !== null) {
    parseId(previousVersion, 'previousVersion');
    out.set(idBytes, p);
    p += 32;
  }
  if (valueId !== null) {
    parseId(valueId, 'valueId');
    out.set(idBytes, p);
    p += 32;
  }
  if (textBytes > 0) out.set(textScratch.subarray(0, textBytes), p);
  return out;
}

/** UTF-8 bytes of the text inline in the record {@link encodeVersionRecord} returned last (0: none). */
let lastTextBytes = 0;

/**
 * UTF-8 bytes of the text the last {@link encodeVersionRecord} call wrote inline (0 for
 * a record without one): the encoder counted them anyway, so a commit adding up stored
 * text need not count again.
 */
export function encodedTextBytes(): number {
  return lastTextBytes;
}

/**
 * A version record's value.
 * @throws CorruptionError (details: `offset` in the bytes) unless
 *   {@link encodeVersionRecord} could have written `bytes`
 */
export function decodeVersionRecord(bytes: Uint8Array): VersionRecord {
  const end = bytes.length;
  if (end < 2) throw corrupt('version record: truncated', 0);
  const flags = bytes[0]!;
  const deleted = (flags & FLAG_DELETED) !== 0;
  const inline = (flags & FLAG_INLINE) !== 0;
  const byRef = (flags & FLAG_BY_REFERENCE) !== 0;
  if (flags > 0x1f || (deleted ? inline || byRef : inline === byRef)) throw corrupt(`version record: flags 0x${flags.toString(16)}`, 0);
  const seq = readSeq(bytes);
  let p = seqEnd;
  const need = p + ((flags & FLAG_PREVIOUS) !== 0 ? 32 : 0) + (deleted ? 0 : 32);
  if (end < need || (!inline && end !== need) || (inline && end === need)) {
    throw corrupt(`version record: ${end} bytes, ${inline ? 'more than' : 'expected'} ${need}`, Math.min(end, need));
  }
  let previousVersion: string | null = null;
  if ((flags & FLAG_PREVIOUS) !== 0) {
    previousVersion = hexOfBytes(bytes, p);
    p += 32;
  }
  const valueId = deleted ? null : hexOfBytes(bytes, p);
  const valueText = inline ? readText(bytes, p + 32, 'version record') : null;
  return { seq, deleted, previousVersion, valueId, valueText, currentAtCommit: (flags & FLAG_CURRENT_AT_COMMIT) !== 0 };
}

/** Where the seq {@link readSeq} read last ended. */
let seqEnd = 0;

/** The seq of a version record's value (from byte 1); sets {@link seqEnd}. */
function readSeq(bytes: Uint8Array): number {
  const end = bytes.length;
  let p = 1;
  let seq = 0;
  let scale = 1;
  for (;;) {
    if (p >= end) throw corrupt('version record: truncated seq', p);
    const b = bytes[p++]!;
    seq += (b & 0x7f) * scale;
    if (b < 0x80) {
      if (b === 0 && p > 2) throw corrupt('version record: seq not in its shortest form', p - 1);
      break;
    }
    if (p > 8) throw corrupt('version record: seq longer than 8 bytes', p);
    scale *= 128;
  }
  if (seq > Number.MAX_SAFE_INTEGER) throw corrupt('version record: seq past 2^53', 1);
  seqEnd = p;
  return seq;
}

/**
 * The seq and flags of a version record's value, without decoding the rest (for scans
 * that pick one version by seq and then decode only that one with
 * {@link decodeVersionRecord}, which checks everything).
 * @throws CorruptionError when the flags or the seq are malformed
 */
export function versionRecordSeq(bytes: Uint8Array): { readonly seq: number; readonly flags: number } {
  const flags = bytes.length > 0 ? bytes[0]! : 0xff;
  if (flags > 0x1f) throw corrupt(`version record: flags 0x${flags.toString(16)}`, 0);
  return { seq: readSeq(bytes), flags };
}

