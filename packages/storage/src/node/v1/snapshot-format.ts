/**
 * Snapshot files: the whole state (every version, so no history is ever dropped) in
 * a form that opens at disk speed.
 *
 * Layout: `KDSNAP01` | values | columns | keys | footer JSON | footer length u32 |
 * footer CRC-32 u32 | `KDSNAPND`.
 * - values: each distinct value once, as length u32 | CRC-32 u32 | canonical JSON.
 *   A value's location is -(offset + 1) so it cannot be confused with a log offset.
 * - columns: the version table's typed arrays, raw little-endian, each with its CRC.
 * - keys: JSON `[[namespace, key, versionCount], ...]` then the rows of every key as
 *   u32s, in the same order; CRC over both.
 * Values are checked against their CRC when read; the rest is checked when opened.
 */
import { crc32 } from 'node:zlib';
import { CorruptionError } from '../../errors.js';
import { COLUMN_NAMES, FLAG_DELETED, type LoadedSnapshot, type Relocation, type SnapshotSource, type VersionColumns } from './v1-types.js';
import { readFully, writeFully, type FileOps } from '../fs-ops.js';

export const SNAP_MAGIC = Buffer.from('KDSNAP01', 'latin1');
export const SNAP_END = Buffer.from('KDSNAPND', 'latin1');
const TRAILER = 16;

interface ColumnInfo {
  readonly name: string;
  readonly offset: number;
  readonly bytes: number;
  readonly crc: number;
}

interface Footer {
  readonly format: 1;
  readonly gen: number;
  readonly count: number;
  readonly seq: number;
  readonly nodes: readonly string[];
  readonly columns: readonly ColumnInfo[];
  readonly keys: { readonly offset: number; readonly jsonBytes: number; readonly rowBytes: number; readonly crc: number };
  readonly values: { readonly offset: number; readonly bytes: number };
}

/** Buffers small writes into large ones. */
class Writer {
  #buf = Buffer.allocUnsafe(1 << 20);
  #used = 0;
  offset = 0;
  constructor(
    private readonly ops: FileOps,
    private readonly fd: number,
  ) {}

  write(data: Uint8Array): void {
    if (this.#used + data.length > this.#buf.length) this.flush();
    if (data.length > this.#buf.length) {
      writeFully(this.ops, this.fd, data, data.length, this.offset);
    } else {
      this.#buf.set(data, this.#used);
      this.#used += data.length;
    }
    this.offset += data.length;
  }

  flush(): void {
    if (this.#used === 0) return;
    writeFully(this.ops, this.fd, this.#buf, this.#used, this.offset - this.#used);
    this.#used = 0;
  }

  pad8(): void {
    const pad = (8 - (this.offset % 8)) % 8;
    if (pad > 0) this.write(new Uint8Array(pad));
  }
}

/** The previous snapshot, whose values section is carried over as it is. */
export interface CarriedValues {
  readonly fd: number;
  /** Where its values section ends (it starts right after the magic). */
  readonly valuesEnd: number;
}

/** Copies bytes [from, to) of one file to the same offsets of another, in large chunks. */
function copyRange(ops: FileOps, src: number, dst: number, from: number, to: number): void {
  const chunk = Buffer.allocUnsafe(Math.min(8 << 20, Math.max(1, to - from)));
  for (let at = from; at < to; ) {
    const n = readFully(ops, src, chunk, Math.min(chunk.length, to - at), at);
    if (n === 0) throw new CorruptionError(`snapshot ended before its values section did (offset ${at})`, { offset: at });
    writeFully(ops, dst, chunk, n, at);
    at += n;
  }
}

/**
 * Writes a snapshot of `src` to the open file `fd`. `readText(loc, len)` returns a
 * stored value's canonical JSON. Returns every row's new value location.
 */
export function writeSnapshot(
  ops: FileOps,
  fd: number,
  gen: number,
  src: SnapshotSource,
  readText: (loc: number, len: number) => string,
  carry?: CarriedValues,
): Relocation & { valuesEnd: number } {
  const w = new Writer(ops, fd);
  w.write(SNAP_MAGIC);
  if (carry !== undefined) {
    // The previous snapshot's values are copied byte for byte to the same offsets, so
    // their locations stay valid: compaction rewrites old values with sequential I/O
    // only, never decoding them.
    w.flush();
    copyRange(ops, carry.fd, fd, SNAP_MAGIC.length, carry.valuesEnd);
    w.offset = carry.valuesEnd;
  }
  const n = src.count;
  const cols = src.cols;
  const loc = new Float64Array(n);
  const len = new Uint32Array(n);
  // Old location -> the first row moved from it: each distinct value is written once.
  const moved = new Map<number, number>();
  const valuesStart = w.offset;
  const head = Buffer.allocUnsafe(8);
  // New values are written key by key, so one key's versions sit together on disk
  // and a history read touches few blocks.
  for (const k of src.keys()) for (const r of k.rows) {
    const old = cols.loc[r]!;
    if (cols.flags[r]! & FLAG_DELETED) {
      loc[r] = -1;
      continue;
    }
    if (old < 0 && carry !== undefined) {
      loc[r] = old;
      len[r] = cols.len[r]!;
      continue;
    }
    const seen = moved.get(old);
    if (seen !== undefined) {
      loc[r] = loc[seen]!;
      len[r] = len[seen]!;
      continue;
    }
    const bytes = Buffer.from(readText(old, cols.len[r]!), 'utf8');
    head.writeUInt32LE(bytes.length, 0);
    head.writeUInt32LE(crc32(bytes), 4);
    loc[r] = -(w.offset + 1);
    len[r] = bytes.length;
    moved.set(old, r);
    w.write(head);
    w.write(bytes);
  }
  const valuesEnd = w.offset;
  const valuesBytes = valuesEnd - valuesStart;
  w.pad8();
  const relocated: VersionColumns = { ...cols, loc, len };
  const columns: ColumnInfo[] = [];
  for (const name of COLUMN_NAMES) {
    const a = relocated[name];
    const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    columns.push({ name, offset: w.offset, bytes: bytes.length, crc: crc32(bytes) });
    w.write(bytes);
    w.pad8();
  }
  const keyList: Array<[string, string, number]> = [];
  const rowParts: number[] = [];
  for (const k of src.keys()) {
    keyList.push([k.namespace, k.key, k.rows.length]);
    for (const r of k.rows) rowParts.push(r);
  }
  const keysJson = Buffer.from(JSON.stringify(keyList), 'utf8');
  const rows = new Uint32Array(rowParts);
  const rowBytes = new Uint8Array(rows.buffer);
  const keysOffset = w.offset;
  w.write(keysJson);
  w.write(rowBytes);
  // Node's zlib.crc32 returns 0, not the running value, for a view of a zero-length
  // ArrayBuffer (no keys): continue the CRC only over bytes that exist.
  const keysCrc = rowBytes.length > 0 ? crc32(rowBytes, crc32(keysJson)) : crc32(keysJson);
  const footer: Footer = {
    format: 1,
    gen,
    count: n,
    seq: src.seq,
    nodes: src.nodes,
    columns,
    keys: { offset: keysOffset, jsonBytes: keysJson.length, rowBytes: rowBytes.length, crc: keysCrc },
    values: { offset: valuesStart, bytes: valuesBytes },
  };
  const footerBytes = Buffer.from(JSON.stringify(footer), 'utf8');
  w.write(footerBytes);
  const trailer = Buffer.allocUnsafe(TRAILER);
  trailer.writeUInt32LE(footerBytes.length, 0);
  trailer.writeUInt32LE(crc32(footerBytes), 4);
  SNAP_END.copy(trailer, 8);
  w.write(trailer);
  w.flush();
  return { loc, len, valuesEnd };
}

function corrupt(file: string, offset: number, what: string): CorruptionError {
  return new CorruptionError(`snapshot ${file} is damaged at offset ${offset}: ${what}`, { file, offset });
}

const ARRAY_TYPES = {
  wall: Float64Array,
  logical: Uint32Array,
  prev: Int32Array,
  loc: Float64Array,
  len: Uint32Array,
  node: Uint16Array,
  flags: Uint8Array,
  ids: Uint8Array,
  vids: Uint8Array,
} as const;

/** Reads and checks a snapshot's metadata (not its values, which are checked when read). */
export function readSnapshot(ops: FileOps, fd: number, file: string): LoadedSnapshot & { gen: number; valuesEnd: number } {
  const size = ops.fstatSync(fd).size;
  if (size < SNAP_MAGIC.length + TRAILER) throw corrupt(file, 0, 'file too short');
  const magic = Buffer.alloc(8);
  readFully(ops, fd, magic, 8, 0);
  if (!magic.equals(SNAP_MAGIC)) throw corrupt(file, 0, 'bad magic');
  const trailer = Buffer.alloc(TRAILER);
  readFully(ops, fd, trailer, TRAILER, size - TRAILER);
  if (!trailer.subarray(8).equals(SNAP_END)) throw corrupt(file, size - 8, 'bad end marker');
  const footerLen = trailer.readUInt32LE(0);
  const footerAt = size - TRAILER - footerLen;
  if (footerAt < 8) throw corrupt(file, size - TRAILER, 'bad footer length');
  const footerBytes = Buffer.alloc(footerLen);
  readFully(ops, fd, footerBytes, footerLen, footerAt);
  if (crc32(footerBytes) !== trailer.readUInt32LE(4)) throw corrupt(file, footerAt, 'footer checksum mismatch');
  const footer = JSON.parse(footerBytes.toString('utf8')) as Footer;
  const cols = {} as Record<string, unknown>;
  for (const c of footer.columns) {
    const Type = ARRAY_TYPES[c.name as keyof typeof ARRAY_TYPES];
    if (Type === undefined) throw corrupt(file, c.offset, `unknown column ${c.name}`);
    const arr = new Type(c.bytes / Type.BYTES_PER_ELEMENT);
    const bytes = new Uint8Array(arr.buffer);
    if (readFully(ops, fd, bytes, c.bytes, c.offset) !== c.bytes) throw corrupt(file, c.offset, `column ${c.name} truncated`);
    if (crc32(bytes) !== c.crc) throw corrupt(file, c.offset, `column ${c.name} checksum mismatch`);
    cols[c.name] = arr;
  }
  const k = footer.keys;
  const keyBytes = Buffer.alloc(k.jsonBytes + k.rowBytes);
  readFully(ops, fd, keyBytes, keyBytes.length, k.offset);
  if (crc32(keyBytes) !== k.crc) throw corrupt(file, k.offset, 'key index checksum mismatch');
  const list = JSON.parse(keyBytes.subarray(0, k.jsonBytes).toString('utf8')) as Array<[string, string, number]>;
  const rowsCopy = new Uint8Array(k.rowBytes);
  rowsCopy.set(keyBytes.subarray(k.jsonBytes));
  const rows = new Uint32Array(rowsCopy.buffer);
  let at = 0;
  const keys = list.map(([namespace, key, count]) => {
    // A plain loop: Array.from over a typed subarray goes through the iterator protocol.
    const r = new Array<number>(count);
    for (let i = 0; i < count; i++) r[i] = rows[at + i]!;
    at += count;
    return { namespace, key, rows: r };
  });
  return {
    gen: footer.gen,
    valuesEnd: footer.values.offset + footer.values.bytes,
    count: footer.count,
    seq: footer.seq,
    nodes: footer.nodes,
    cols: cols as unknown as VersionColumns,
    keys,
  };
}
