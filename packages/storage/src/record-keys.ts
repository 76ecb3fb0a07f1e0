/**
 * The keys of the store's other records (see version-records.ts): change-feed records
 * (`S`), value records (`X`) and namespace live-key counters (`N`).
 */
import { InvalidArgumentError } from '@koru/engine';
import { checkName, corrupt, encodeName, nameEnd, readName, TERMINATOR } from './record-names.js';
import { hexOfKey, idKey } from './record-ids.js';

/** First byte of a change-feed record's key. */
export const TAG_SEQ = 'S';
/** First byte of a value record's key. */
export const TAG_VALUE = 'X';

const TWO_32 = 4294967296;

/** Tag of a namespace's live-key counter record (see store-counters.ts). */
export const TAG_NAMESPACE_COUNT = 'N';

/** The key of a namespace's live-key counter: 'N' | name(namespace). */
export function namespaceCountKey(ns: string): string {
  checkName(ns, 'namespace', true);
  return TAG_NAMESPACE_COUNT + encodeName(ns);
}

/** The namespace of a counter key. @throws CorruptionError unless one */
export function decodeNamespaceCountKey(k: string): string {
  if (k.charCodeAt(0) !== 0x4e) throw corrupt('counter key: it does not start with "N"', 0);
  const ns = readName(k, 1, 'namespace');
  if (ns === '' || nameEnd !== k.length) throw corrupt('counter key', 1);
  return ns;
}

/** The key of change `seq`'s change-feed record. @throws InvalidArgumentError unless a safe integer ≥ 0 */
export function seqKey(seq: number): string {
  if (!(Number.isSafeInteger(seq) && seq >= 0)) throw new InvalidArgumentError(`seq ${seq} is not a safe integer ≥ 0`);
  const hi = Math.floor(seq / TWO_32);
  const lo = seq >>> 0;
  return String.fromCharCode(0x53, hi >>> 24, (hi >>> 16) & 0xff, (hi >>> 8) & 0xff, hi & 0xff, lo >>> 24, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff);
}

/** The seq of a change-feed record's key. @throws CorruptionError unless {@link seqKey} could have written `k` */
export function decodeSeqKey(k: string): number {
  if (k.length !== 9 || k.charCodeAt(0) !== 0x53) throw corrupt('change-feed key', 0);
  let hi = 0;
  let lo = 0;
  for (let i = 1; i < 9; i++) {
    const c = k.charCodeAt(i);
    if (c > 0xff) throw corrupt('change-feed key: not a binary string', i);
    if (i < 5) hi = hi * 256 + c;
    else lo = lo * 256 + c;
  }
  if (hi > 0x1fffff) throw corrupt('change-feed key: seq past 2^53', 1);
  return hi * TWO_32 + lo;
}

/** The key of value `valueId`'s value record. @throws InvalidArgumentError unless 64 lowercase hex digits */
export function valueKey(valueId: string): string {
  return TAG_VALUE + idKey(valueId, 'valueId') + TERMINATOR + TERMINATOR;
}

/** The hex value id of a value record's key. @throws CorruptionError */
export function decodeValueKey(k: string): string {
  if (k.length !== 37 || k.charCodeAt(0) !== 0x58 || !k.endsWith(TERMINATOR + TERMINATOR)) throw corrupt('value key', 0);
  return hexOfKey(k, 1, 'value key');
}
