/**
 * The header area of an OPFS pool file (see opfs-directory.ts): which logical file a
 * slot holds. {@link POOL_HEADER_BYTES} (1024) bytes: two copies of the header, copy A
 * at byte 0 and copy B at byte 512, each in its own 512-byte sector, written one after
 * the other with a flush between, so a torn write spoils at most the copy being
 * written. A copy, little-endian:
 *
 *     0  u32  magic 'KPOL' (0x4c4f504b)
 *     4  u16  format version (2)
 *     6  u16  name length in bytes (UTF-8), 1..MAX_NAME_BYTES
 *     8  u32  generation, low 32 bits
 *    12  u32  generation, high 21 bits (a safe integer)
 *    16  …    the name
 *   508  u32  CRC-32 of bytes [0, 508)
 *
 * Both copies of a file's header are the same bytes. Each copy is *valid* (passes every
 * check), *empty* (all zeros, or past the end of the pool file) or *damaged* (anything
 * else). The slot ({@link classifyPoolHeaders}):
 * - a valid A: the file A names (B is rewritten from it at open if it differs);
 * - else a valid B: the file B names (A is rewritten);
 * - else one copy empty: free. A crash reaches only one such state, A damaged with B
 *   empty (a torn first claim write over an empty area, or a torn last clear write),
 *   and damage reaches the others only in a slot that held no file (a live file's
 *   copies are both valid, so one damaged copy leaves the other);
 * - else (both copies damaged): damage, CORRUPTION at open — never a free slot, which
 *   would make the file silently vanish with its bytes.
 * The file's content follows at {@link POOL_HEADER_BYTES}. Of two slots claiming one
 * name, the higher generation is the file (a replacement finished claiming it; the
 * lower one was about to be freed).
 */
import { crc32 } from '../lsm/checksum.js';

/** Bytes of one header copy (a sector). */
export const HEADER_COPY_BYTES = 512;
/** Bytes before a pool file's content: the two header copies. */
export const POOL_HEADER_BYTES = 2 * HEADER_COPY_BYTES;
/** Where each header copy starts: A, then B. */
export const HEADER_COPY_AT: readonly [number, number] = [0, HEADER_COPY_BYTES];
/** The longest logical file name, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 400;
const MAGIC = 0x4c4f504b;
const VERSION = 2;
const CRC_AT = HEADER_COPY_BYTES - 4;

/** What a valid header says. */
export interface PoolHeader {
  /** The logical file name. */
  readonly name: string;
  /** Higher wins between two claims of one name. */
  readonly generation: number;
}

/** What a pool file's header area says (see the module doc). */
export type PoolSlotState =
  /** A file: `from` is the copy read (0: A, 1: B); `intact` when the other copy is the same bytes. */
  | { readonly kind: 'file'; readonly header: PoolHeader; readonly from: 0 | 1; readonly intact: boolean }
  /** A free slot. */
  | { readonly kind: 'free' }
  /** Both copies damaged: what the slot held is unknown. */
  | { readonly kind: 'damaged' };

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** The name's bytes. @throws RangeError for an empty or too long name */
export function nameBytes(name: string): Uint8Array {
  const b = encoder.encode(name);
  if (b.length === 0 || b.length > MAX_NAME_BYTES) throw new RangeError(`a file name is 1 to ${MAX_NAME_BYTES} UTF-8 bytes, not ${b.length}`);
  return b;
}

/** One header copy ({@link HEADER_COPY_BYTES}) claiming `name` at `generation`: written at both {@link HEADER_COPY_AT}. */
export function encodePoolHeader(name: string, generation: number): Uint8Array {
  if (!Number.isSafeInteger(generation) || generation < 0) throw new RangeError(`generation must be a safe non-negative integer, not ${generation}`);
  const n = nameBytes(name);
  const h = new Uint8Array(HEADER_COPY_BYTES);
  const v = new DataView(h.buffer);
  v.setUint32(0, MAGIC, true);
  v.setUint16(4, VERSION, true);
  v.setUint16(6, n.length, true);
  v.setUint32(8, generation % 0x1_0000_0000, true);
  v.setUint32(12, Math.floor(generation / 0x1_0000_0000), true);
  h.set(n, 16);
  v.setUint32(CRC_AT, crc32(h, 0, 0, CRC_AT), true);
  return h;
}

/** One header copy's header, or undefined when it is not valid (empty, torn, damaged or foreign). */
export function decodePoolHeader(h: Uint8Array): PoolHeader | undefined {
  if (h.length < HEADER_COPY_BYTES) return undefined;
  const v = new DataView(h.buffer, h.byteOffset, HEADER_COPY_BYTES);
  if (v.getUint32(0, true) !== MAGIC || v.getUint16(4, true) !== VERSION) return undefined;
  if (v.getUint32(CRC_AT, true) !== crc32(h, 0, 0, CRC_AT)) return undefined;
  const length = v.getUint16(6, true);
  if (length === 0 || length > MAX_NAME_BYTES) return undefined;
  const generation = v.getUint32(12, true) * 0x1_0000_0000 + v.getUint32(8, true);
  try {
    return { name: decoder.decode(h.subarray(16, 16 + length)), generation };
  } catch {
    return undefined;
  }
}

function isZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * What the header area says (the rule of the module doc). `area` is the pool file's
 * first bytes, up to {@link POOL_HEADER_BYTES}: bytes past the end of the file are
 * missing, and a missing copy is empty.
 */
export function classifyPoolHeaders(area: Uint8Array): PoolSlotState {
  const a = area.subarray(0, Math.min(area.length, HEADER_COPY_BYTES));
  const b = area.subarray(HEADER_COPY_BYTES, Math.min(area.length, POOL_HEADER_BYTES));
  const ha = decodePoolHeader(a);
  if (ha !== undefined) return { kind: 'file', header: ha, from: 0, intact: sameBytes(a, b) };
  const hb = decodePoolHeader(b);
  if (hb !== undefined) return { kind: 'file', header: hb, from: 1, intact: false };
  if (isZero(a) || isZero(b)) return { kind: 'free' };
  return { kind: 'damaged' };
}
