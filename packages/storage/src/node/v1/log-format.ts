/**
 * The write-ahead log's format.
 *
 * File: a 16-byte header (`KDLOG001`, generation u32, reserved u32), then records.
 * Record: magic u32 `KDR1` | body length u32 | CRC-32 of body u32 | body.
 * Body: one line of metadata JSON, then `\n`, then the value's canonical JSON when the
 * record is the first to store that value (else the metadata's `r` gives its location).
 * Metadata: { s: seq, ns, k, id: versionId, p: previousVersion, vid: valueId, h: hlc,
 *             n: node, d?: 1 (tombstone), b: records left in this batch after this one,
 *             r?: [loc, len] }.
 * A batch (one group commit) is only replayed whole: its last record has b = 0.
 */
import { crc32 } from 'node:zlib';
import type { CommitEntry, ReplayEntry } from './v1-types.js';

export const LOG_MAGIC = Buffer.from('KDLOG001', 'latin1');
export const LOG_HEADER_BYTES = 16;
export const RECORD_MAGIC = 0x4b445231; // "KDR1"
export const RECORD_HEADER_BYTES = 12;

/** The file header of log generation `gen`. */
export function logHeader(gen: number): Buffer {
  const b = Buffer.alloc(LOG_HEADER_BYTES);
  LOG_MAGIC.copy(b, 0);
  b.writeUInt32LE(gen, 8);
  return b;
}

function metaOf(e: CommitEntry, remaining: number): string {
  let m =
    `{"s":${e.seq},"ns":${JSON.stringify(e.namespace)},"k":${JSON.stringify(e.key)},"id":"${e.versionId}"` +
    `,"p":${e.previousVersion === null ? 'null' : `"${e.previousVersion}"`}` +
    `,"vid":${e.valueId === null ? 'null' : `"${e.valueId}"`},"h":"${e.hlc}","n":${JSON.stringify(e.node)},"b":${remaining}`;
  if (e.deleted) m += ',"d":1';
  else if (e.valueText === null) {
    const src = e.sameAs ?? e;
    m += `,"r":[${src.loc},${src.len}]`;
  }
  return m + '}';
}

/**
 * Encodes a batch into one buffer starting at file offset `base`; sets `loc`/`len`
 * of entries that store a new value to their record's offset and total length.
 * Returns the bytes used.
 */
export function encodeBatch(entries: readonly CommitEntry[], base: number, scratch: { buf: Buffer }): number {
  let at = 0;
  // One pass: an entry that reuses a value stored earlier in this same batch (`sameAs`)
  // names that record's location in its metadata, so the earlier record's `loc` must
  // be known before this one is encoded.
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    const meta = metaOf(e, entries.length - 1 - i);
    const body = e.valueText === null ? meta + '\n' : meta + '\n' + e.valueText;
    const need = at + RECORD_HEADER_BYTES + body.length * 3;
    if (scratch.buf.length < need) {
      const grown = Buffer.allocUnsafe(Math.max(need, scratch.buf.length * 2));
      scratch.buf.copy(grown, 0, 0, at);
      scratch.buf = grown;
    }
    const buf = scratch.buf;
    const n = buf.write(body, at + RECORD_HEADER_BYTES, 'utf8');
    buf.writeUInt32LE(RECORD_MAGIC, at);
    buf.writeUInt32LE(n, at + 4);
    buf.writeUInt32LE(crc32(buf.subarray(at + RECORD_HEADER_BYTES, at + RECORD_HEADER_BYTES + n)), at + 8);
    if (e.valueText !== null) {
      e.loc = base + at;
      e.len = RECORD_HEADER_BYTES + n;
    } else if (e.sameAs !== null) {
      e.loc = e.sameAs.loc;
      e.len = e.sameAs.len;
    }
    at += RECORD_HEADER_BYTES + n;
  }
  return at;
}

/** The result of checking one record in a buffer. */
export type RecordCheck = { ok: true; bodyStart: number; bodyLen: number; end: number } | { ok: false; why: string };

/** Checks the record at `at` of `buf` (which holds `size` valid bytes). */
export function checkRecord(buf: Uint8Array, at: number, size: number): RecordCheck {
  if (at + RECORD_HEADER_BYTES > size) return { ok: false, why: 'incomplete record header' };
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (view.getUint32(at, true) !== RECORD_MAGIC) return { ok: false, why: 'bad record magic' };
  const len = view.getUint32(at + 4, true);
  const end = at + RECORD_HEADER_BYTES + len;
  if (end > size) return { ok: false, why: 'record runs past the end of the file' };
  const crc = view.getUint32(at + 8, true);
  if (crc32(buf.subarray(at + RECORD_HEADER_BYTES, end)) !== crc) return { ok: false, why: 'checksum mismatch' };
  return { ok: true, bodyStart: at + RECORD_HEADER_BYTES, bodyLen: len, end };
}

/** True when any valid record starts after `from`: damage before it is corruption, not a torn tail. */
export function validRecordAfter(buf: Uint8Array, from: number, size: number): boolean {
  const b0 = RECORD_MAGIC & 0xff;
  for (let at = from + 1; at + RECORD_HEADER_BYTES <= size; at++) {
    if (buf[at] !== b0) continue;
    if (checkRecord(buf, at, size).ok) return true;
  }
  return false;
}

interface Meta {
  s: number;
  ns: string;
  k: string;
  id: string;
  p: string | null;
  vid: string | null;
  h: string;
  n: string;
  b: number;
  d?: 1;
  r?: [number, number];
}

/** Decodes a record body's metadata into a replay entry located at `at` (record length `len`). */
export function decodeMeta(body: string, at: number, len: number): { entry: ReplayEntry; remaining: number } {
  const nl = body.indexOf('\n');
  const m = JSON.parse(nl < 0 ? body : body.slice(0, nl)) as Meta;
  const hasValue = m.d !== 1 && m.r === undefined;
  return {
    entry: {
      seq: m.s,
      namespace: m.ns,
      key: m.k,
      versionId: m.id,
      previousVersion: m.p,
      valueId: m.vid,
      hlc: m.h,
      node: m.n,
      deleted: m.d === 1,
      loc: m.d === 1 ? -1 : hasValue ? at : m.r![0],
      len: m.d === 1 ? 0 : hasValue ? len : m.r![1],
    },
    remaining: m.b,
  };
}
