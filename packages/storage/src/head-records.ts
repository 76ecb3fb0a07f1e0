/**
 * Head records: for each key, a copy of its current version's record under a key of its
 * own, rewritten by every commit that changes the head. A version's key sorts a key's
 * history newest first, but a key written over a long time has versions in every level
 * of the tree, so finding the head from the version records means a seek in every level;
 * the head record is one point lookup that stops at the newest level holding it (older
 * copies are shadowed, and dropped by merges). A namespace's head records are also
 * contiguous, so listing its keys is one range scan.
 *
 * Layout: key 'H' | name(namespace) | name(key) (a {@link keyPrefix} under its own tag,
 * so its Bloom filter key is the whole key); value: varint length of the version's record
 * key | that key | the version record, byte for byte as stored under it.
 */
import { CorruptionError } from './errors.js';
import { putVarint, varintSize } from './lsm/bytes.js';
import { bytesKey } from './lsm/types.js';
import { allocateRecord } from './record-slab.js';
import { TAG_VERSION } from './version-records.js';

/** Tag of head records. */
export const TAG_HEAD = 'H';

/** The head record key of the key whose version records start with `prefix` (a keyPrefix). */
export function headKeyOf(prefix: string): string {
  return TAG_HEAD + prefix.slice(1);
}

/** The version-record prefix of a head record key. */
export function prefixOfHeadKey(hkey: string): string {
  return TAG_VERSION + hkey.slice(1);
}

/**
 * A head record's value: the head's record key (a binary string) and its record. The
 * bytes are a view into a shared slab, as a version record's (see record-slab.ts).
 */
export function encodeHead(vkey: string, record: Uint8Array): Uint8Array {
  const n = vkey.length;
  const out = allocateRecord(varintSize(n) + n + record.length);
  let at = putVarint(out, 0, n);
  for (let i = 0; i < n; i++) out[at + i] = vkey.charCodeAt(i);
  out.set(record, at + n);
  return out;
}

/** Decodes a head record's value. @throws CorruptionError when malformed */
export function decodeHead(bytes: Uint8Array): { readonly vkey: string; readonly record: Uint8Array } {
  let n = 0;
  let scale = 1;
  let p = 0;
  for (;;) {
    if (p >= bytes.length || p >= 4) throw new CorruptionError('malformed head record: bad key length', { offset: p });
    const b = bytes[p++]!;
    n += (b & 0x7f) * scale;
    if (b < 0x80) break;
    scale *= 128;
  }
  if (n === 0 || p + n >= bytes.length) throw new CorruptionError('malformed head record: key length past its end', { offset: 0 });
  return { vkey: bytesKey(bytes.subarray(p, p + n)), record: bytes.subarray(p + n) };
}
