/**
 * The header of an OPFS pool file (see opfs-directory.ts): which logical file a slot
 * holds. 512 bytes, little-endian:
 *
 *     0  u32  magic 'KPOL' (0x4c4f504b)
 *     4  u16  format version (1)
 *     6  u16  name length in bytes (UTF-8), 1..MAX_NAME_BYTES
 *     8  u32  generation, low 32 bits
 *    12  u32  generation, high 21 bits (a safe integer)
 *    16  …    the name
 *   508  u32  CRC-32 of bytes [0, 508)
 *
 * The file's content follows at {@link POOL_HEADER_BYTES}. A header that is all zeros,
 * or fails any check (a torn write fails the CRC), marks a free slot. Of two slots
 * claiming one name, the higher generation is the file (a replacement finished
 * writing it; the lower one was about to be freed).
 */
import { crc32 } from '../lsm/checksum.js';

/** Bytes before a pool file's content. */
export const POOL_HEADER_BYTES = 512;
/** The longest logical file name, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 400;
const MAGIC = 0x4c4f504b;
const VERSION = 1;
const CRC_AT = POOL_HEADER_BYTES - 4;

/** What a valid header says. */
export interface PoolHeader {
  /** The logical file name. */
  readonly name: string;
  /** Higher wins between two claims of one name. */
  readonly generation: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** The name's bytes. @throws RangeError for an empty or too long name */
export function nameBytes(name: string): Uint8Array {
  const b = encoder.encode(name);
  if (b.length === 0 || b.length > MAX_NAME_BYTES) throw new RangeError(`a file name is 1 to ${MAX_NAME_BYTES} UTF-8 bytes, not ${b.length}`);
  return b;
}

/** The header bytes claiming `name` at `generation`. */
export function encodePoolHeader(name: string, generation: number): Uint8Array {
  if (!Number.isSafeInteger(generation) || generation < 0) throw new RangeError(`generation must be a safe non-negative integer, not ${generation}`);
  const n = nameBytes(name);
  const h = new Uint8Array(POOL_HEADER_BYTES);
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

/** The header of a pool file's first bytes, or undefined for a free slot (empty, torn or foreign). */
export function decodePoolHeader(h: Uint8Array): PoolHeader | undefined {
  if (h.length < POOL_HEADER_BYTES) return undefined;
  const v = new DataView(h.buffer, h.byteOffset, POOL_HEADER_BYTES);
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
