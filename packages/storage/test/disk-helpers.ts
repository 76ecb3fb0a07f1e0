// Readers of the database files (write-ahead log, synced-point sidecar, segment), written
// from their documentation (src/lsm/wal.ts, src/lsm/segment-format.ts, FORMAT.md) rather
// than imported from the source, plus the database-directory helpers the damage,
// recovery and fault tests share.
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { nodeFileOps, type FileOps } from '../src/node/fs-ops.js';


/** The error shape the tests look at. */
export type Failure = { code?: string; message: string; details?: Record<string, unknown> };

/** One WAL record (one committed batch): where it starts and ends, and its entries' keys. */
export interface WalRecord {
  readonly start: number;
  readonly end: number;
  readonly keys: string[];
}

const WAL_RECORD_MAGIC = 0x42574bfe;

function varint(buf: Buffer, at: number): [value: number, next: number] {
  let v = 0;
  for (let shift = 0; ; shift += 7) {
    const b = buf[at++]!;
    v += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return [v, at];
  }
}

/** Every record of a WAL file (16-byte header `KDWAL001` | number | CRC, then magic | length | CRC | body). */
export function parseWal(buf: Buffer): WalRecord[] {
  if (buf.toString('latin1', 0, 8) !== 'KDWAL001') throw new Error('not a WAL');
  const out: WalRecord[] = [];
  let at = 16;
  while (at < buf.length) {
    if (buf.readUInt32LE(at) !== WAL_RECORD_MAGIC) throw new Error(`no record magic at ${at}`);
    const end = at + 12 + buf.readUInt32LE(at + 4);
    let [count, p] = varint(buf, at + 12);
    const keys: string[] = [];
    for (; count > 0; count--) {
      const [kl, q] = varint(buf, p);
      keys.push(buf.toString('latin1', q, q + kl));
      const [vl, r] = varint(buf, q + kl + 1);
      p = r + vl;
    }
    if (p !== end) throw new Error(`record at ${at} does not end at ${end}`);
    out.push({ start: at, end, keys });
    at = end;
  }
  return out;
}

/** A synced-point sidecar holding one record: `end` bytes of its log were synced. */
export function syncedSidecar(end: number): Buffer {
  const r = Buffer.alloc(16);
  r.writeUInt32LE(0x4e5953fe, 0);
  r.writeUInt32LE(end >>> 0, 4);
  r.writeUInt32LE(Math.floor(end / 0x1_0000_0000), 8);
  r.writeUInt32LE(crc32(r.subarray(0, 12)), 12);
  return r;
}

/** The synced point a sidecar records: the largest end among its valid 16-byte records (0 for none). */
export function syncedPoint(sidecar: Buffer): number {
  let best = 0;
  for (let at = 0; at + 16 <= sidecar.length; at += 16) {
    if (sidecar.readUInt32LE(at) !== 0x4e5953fe || sidecar.readUInt32LE(at + 12) !== crc32(sidecar.subarray(at, at + 12))) continue;
    best = Math.max(best, sidecar.readUInt32LE(at + 4) + sidecar.readUInt32LE(at + 8) * 0x1_0000_0000);
  }
  return best;
}

/** The names of `dir`'s files ending in `suffix`, sorted. */
export function filesOf(dir: string, suffix: '.kwal' | '.kseg' | '.kwal.synced'): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(suffix) && /^\d{8}\./.test(f))
    .sort();
}

/** The newest WAL of `dir` (the one a running database appends to). */
export function currentWal(dir: string): string {
  const wals = filesOf(dir, '.kwal');
  if (wals.length === 0) throw new Error(`no WAL in ${dir}`);
  return join(dir, wals.at(-1)!);
}

/**
 * Copies every file of `from` but LOCK into `to`: what a kill leaves on disk (the page
 * cache survives it). A file unlinked meanwhile (a merge's input, removed off the main
 * thread once the manifest no longer names it) is left out, as a kill after its removal would.
 */
export function copyFiles(from: string, to: string): string {
  for (const f of readdirSync(from, { withFileTypes: true })) {
    if (!f.isFile() || f.name === 'LOCK') continue;
    try {
      copyFileSync(join(from, f.name), join(to, f.name));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  return to;
}

/** One block of a segment: where its bytes are (its CRC follows them). */
export interface SegmentBlock {
  readonly offset: number;
  readonly size: number;
}

/** A data block, and the user keys (namespace/key) of the version records in it. */
export interface DataBlock extends SegmentBlock {
  /** The tags of its records (`S` change feed, `V` versions, `X` values), in order. */
  readonly tags: string;
  /** `namespace/key` of each version record in it (deduplicated). */
  readonly userKeys: string[];
}

/** The parts of a segment file, as segment-format.ts documents them. */
export interface SegmentParts {
  readonly footer: SegmentBlock;
  readonly topIndex: SegmentBlock;
  readonly properties: SegmentBlock;
  readonly indexPartitions: SegmentBlock[];
  readonly filterPartitions: SegmentBlock[];
  readonly dataBlocks: DataBlock[];
}

/** The entries (key, value) of a block in the data-block layout (prefix-compressed, restart trailer). */
function blockEntries(buf: Buffer, b: SegmentBlock): Array<{ key: Buffer; value: Buffer }> {
  const restarts = buf.readUInt32LE(b.offset + b.size - 4);
  const end = b.offset + b.size - 4 - 4 * restarts;
  const out: Array<{ key: Buffer; value: Buffer }> = [];
  let prev = Buffer.alloc(0);
  for (let p = b.offset; p < end; ) {
    const [shared, p1] = varint(buf, p);
    const [unshared, p2] = varint(buf, p1);
    const [vlen, p3] = varint(buf, p2);
    const keyAt = p3 + 1; // after the kind byte
    const key = Buffer.concat([prev.subarray(0, shared), buf.subarray(keyAt, keyAt + unshared)]);
    out.push({ key, value: buf.subarray(keyAt + unshared, keyAt + unshared + vlen) });
    prev = key;
    p = keyAt + unshared + vlen;
  }
  return out;
}

/** Splits a segment into its parts (footer, top index, properties, index and filter partitions, data blocks). */
export function parseSegment(buf: Buffer): SegmentParts {
  const f = buf.length - 36;
  if (buf.toString('latin1', f, f + 8) !== 'KDSEG002') throw new Error('not a segment');
  const u64 = (at: number) => buf.readUInt32LE(at) + buf.readUInt32LE(at + 4) * 0x1_0000_0000;
  const topIndex = { offset: u64(f + 8), size: buf.readUInt32LE(f + 16) };
  const properties = { offset: u64(f + 20), size: buf.readUInt32LE(f + 28) };
  const indexPartitions: SegmentBlock[] = [];
  const filterPartitions: SegmentBlock[] = [];
  const parts = buf.readUInt32LE(topIndex.offset + topIndex.size - 4);
  let p = topIndex.offset;
  for (let i = 0; i < parts; i++) {
    const [kl, a] = varint(buf, p);
    const fields: number[] = [];
    let q = a + kl;
    for (let j = 0; j < 5; j++) {
      const [v, next] = varint(buf, q);
      fields.push(v);
      q = next;
    }
    indexPartitions.push({ offset: fields[1]!, size: fields[2]! });
    filterPartitions.push({ offset: fields[3]!, size: fields[4]! });
    p = q;
  }
  const dataBlocks: DataBlock[] = [];
  for (const ip of indexPartitions) {
    for (const { value } of blockEntries(buf, ip)) {
      const [offset, v1] = varint(value, 0);
      const [size] = varint(value, v1);
      const entries = blockEntries(buf, { offset, size });
      const userKeys = new Set<string>();
      for (const { key } of entries) {
        if (key[0] !== 0x56) continue; // 'V' ns 00 01 key 00 01 stamp…
        const [ns, k] = key.subarray(1).toString('latin1').split('\x00\x01');
        userKeys.add(`${ns}/${k}`);
      }
      dataBlocks.push({ offset, size, tags: entries.map((e) => String.fromCharCode(e.key[0]!)).join(''), userKeys: [...userKeys] });
    }
  }
  return { footer: { offset: f, size: 36 }, topIndex, properties, indexPartitions, filterPartitions, dataBlocks };
}

/** The segment files of `dir` once the merged-away ones are gone (they are unlinked off the main thread). */
export async function segmentsSettled(dir: string, count: number): Promise<string[]> {
  for (let waited = 0; filesOf(dir, '.kseg').length > count && waited < 2000; waited += 10) await new Promise((r) => setTimeout(r, 10));
  return filesOf(dir, '.kseg');
}

/** Flips one bit of a file in place. */
export function flipBit(file: string, offset: number, bit = 0): void {
  const buf = readFileSync(file);
  if (offset < 0 || offset >= buf.length) throw new Error(`offset ${offset} outside ${file} (${buf.length} bytes)`);
  buf[offset]! ^= 1 << bit;
  writeFileSync(file, buf);
}

/** The error a promise rejects with (fails when it resolves). */
export async function rejection(p: Promise<unknown>): Promise<{ code?: string; message: string; details?: Record<string, unknown> }> {
  try {
    await p;
  } catch (e) {
    return e as { code?: string; message: string; details?: Record<string, unknown> };
  }
  throw new Error('expected a rejection');
}

/** The files of a database directory, sorted. */
export function dataFiles(dir: string): string[] {
  return readdirSync(dir).sort();
}

function errno(code: string, syscall: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected failure, ${syscall}`), { code, syscall });
}

/** node:fs with switchable failures (`code` is the errno thrown), counting the calls some tests look at. */
export class FaultyOps implements FileOps {
  /**
   * When set, writes succeed for `budget` more bytes (short writes), then throw `code`;
   * with `path`, only writes to files whose path matches.
   */
  writeFault: { code: string; budget: number; path?: RegExp } | null = null;
  syncFault: string | null = null;
  readFault: string | null = null;
  truncateFault: string | null = null;
  fstatCalls = 0;
  writeCalls = 0;
  readonly #paths = new Map<number, string>();

  openSync(path: string, flags: string): number {
    const fd = nodeFileOps.openSync(path, flags);
    this.#paths.set(fd, path);
    return fd;
  }
  closeSync(fd: number): void {
    this.#paths.delete(fd);
    nodeFileOps.closeSync(fd);
  }
  writeSync(fd: number, buf: Uint8Array, offset: number, length: number, position: number): number {
    this.writeCalls++;
    const f = this.writeFault;
    if (f === null || (f.path !== undefined && !f.path.test(this.#paths.get(fd) ?? ''))) {
      return nodeFileOps.writeSync(fd, buf, offset, length, position);
    }
    if (f.budget <= 0) throw errno(f.code, 'write');
    const n = nodeFileOps.writeSync(fd, buf, offset, Math.min(length, f.budget), position);
    f.budget -= n;
    return n;
  }
  readSync(fd: number, buf: Uint8Array, offset: number, length: number, position: number): number {
    if (this.readFault !== null) throw errno(this.readFault, 'read');
    return nodeFileOps.readSync(fd, buf, offset, length, position);
  }
  fdatasyncSync(fd: number): void {
    if (this.syncFault !== null) throw errno(this.syncFault, 'fdatasync');
    nodeFileOps.fdatasyncSync(fd);
  }
  fsyncSync(fd: number): void {
    if (this.syncFault !== null) throw errno(this.syncFault, 'fsync');
    nodeFileOps.fsyncSync(fd);
  }
  ftruncateSync(fd: number, len: number): void {
    if (this.truncateFault !== null) throw errno(this.truncateFault, 'ftruncate');
    nodeFileOps.ftruncateSync(fd, len);
  }
  fstatSync(fd: number): { size: number } {
    this.fstatCalls++;
    return nodeFileOps.fstatSync(fd);
  }
  renameSync(from: string, to: string): void {
    nodeFileOps.renameSync(from, to);
  }
  unlinkSync(path: string): void {
    nodeFileOps.unlinkSync(path);
  }
}

/**
 * The files of `dir` holding `text`'s UTF-8 bytes. A file listed but gone by the time it
 * is read was one a merge retired (deleted off the event loop, a moment after compact()
 * returns): it holds nothing any more.
 */
export function filesHolding(dir: string, text: string): string[] {
  const needle = Buffer.from(text, 'utf8');
  return readdirSync(dir).filter((f) => {
    try {
      return readFileSync(join(dir, f)).includes(needle);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
  });
}
