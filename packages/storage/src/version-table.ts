/**
 * Columnar, growable table of version metadata: ~95 bytes per version whatever the
 * value size, so a long history does not need RAM for its values (those stay with
 * the adapter and are read on demand). Row numbers are global and never reused.
 */
import { toHex } from '@koru/engine';

/** Flag bit: the row is a tombstone. */
export const FLAG_DELETED = 1;

/** Names of the table's columns, in the order snapshots store them. */
export const COLUMN_NAMES = ['wall', 'logical', 'prev', 'loc', 'len', 'node', 'flags', 'ids', 'vids'] as const;

function grow<T extends Float64Array | Uint32Array | Int32Array | Uint16Array | Uint8Array>(a: T, n: number): T {
  const b = new (a.constructor as new (n: number) => T)(n);
  b.set(a);
  return b;
}

/** The columns: one entry per row (32 bytes per row for `ids` and `vids`). */
export interface VersionColumns {
  wall: Float64Array;
  logical: Uint32Array;
  /** Row of the superseded version, -1 for none. */
  prev: Int32Array;
  /** Adapter-defined value location; -1 for tombstones. */
  loc: Float64Array;
  len: Uint32Array;
  node: Uint16Array;
  flags: Uint8Array;
  ids: Uint8Array;
  vids: Uint8Array;
}

const HEXVAL = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEXVAL[48 + i] = i;
for (let i = 0; i < 6; i++) HEXVAL[97 + i] = 10 + i;

function writeHex(dst: Uint8Array, at: number, hex: string): void {
  for (let i = 0; i < 32; i++) dst[at + i] = (HEXVAL[hex.charCodeAt(2 * i)]! << 4) | HEXVAL[hex.charCodeAt(2 * i + 1)]!;
}

/** True when the 32 bytes of `src` at `base` are the id `hex` (64 lowercase hex digits). */
function bytesEqualHex(src: Uint8Array, base: number, hex: string): boolean {
  if (hex.length !== 64) return false;
  for (let i = 0; i < 32; i++) {
    if (src[base + i] !== ((HEXVAL[hex.charCodeAt(2 * i)]! << 4) | HEXVAL[hex.charCodeAt(2 * i + 1)]!)) return false;
  }
  return true;
}

/** The version metadata of every row. */
export class VersionTable {
  count = 0;
  cols: VersionColumns;

  constructor(capacity = 1024, cols?: VersionColumns, count = 0) {
    this.cols = cols ?? {
      wall: new Float64Array(capacity),
      logical: new Uint32Array(capacity),
      prev: new Int32Array(capacity),
      loc: new Float64Array(capacity),
      len: new Uint32Array(capacity),
      node: new Uint16Array(capacity),
      flags: new Uint8Array(capacity),
      ids: new Uint8Array(capacity * 32),
      vids: new Uint8Array(capacity * 32),
    };
    this.count = count;
  }

  get capacity(): number {
    return this.cols.wall.length;
  }

  /** Appends a row; returns its number. Amortized O(1). */
  push(
    wall: number,
    logical: number,
    prev: number,
    versionId: string,
    valueId: string | null,
    loc: number,
    len: number,
    node: number,
    flags: number,
  ): number {
    // A table loaded from a snapshot of zero versions has capacity 0: grow it anyway.
    if (this.count === this.capacity) this.#resize(Math.max(16, this.capacity * 2));
    const r = this.count++;
    const c = this.cols;
    c.wall[r] = wall;
    c.logical[r] = logical;
    c.prev[r] = prev;
    c.loc[r] = loc;
    c.len[r] = len;
    c.node[r] = node;
    c.flags[r] = flags;
    writeHex(c.ids, r * 32, versionId);
    if (valueId !== null) writeHex(c.vids, r * 32, valueId);
    return r;
  }

  /** Drops rows from `count` on (used when a commit must be undone). */
  truncate(count: number): void {
    this.count = count;
  }

  versionId(r: number): string {
    return toHex(this.cols.ids.subarray(r * 32, r * 32 + 32));
  }

  valueId(r: number): string | null {
    return this.cols.flags[r]! & FLAG_DELETED ? null : toHex(this.cols.vids.subarray(r * 32, r * 32 + 32));
  }

  /** True when row `r`'s version id equals `hex`. */
  versionIdEquals(r: number, hex: string): boolean {
    return bytesEqualHex(this.cols.ids, r * 32, hex);
  }

  /** True when row `r`'s value id equals `hex`. */
  valueIdEquals(r: number, hex: string): boolean {
    return bytesEqualHex(this.cols.vids, r * 32, hex);
  }

  /** A 32-bit hash of row `r`'s value id (its first four bytes). */
  valueHash(r: number): number {
    const v = this.cols.vids;
    const b = r * 32;
    return ((v[b]! << 24) | (v[b + 1]! << 16) | (v[b + 2]! << 8) | v[b + 3]!) >>> 0;
  }

  /** Shrinks the columns to the rows in use (for snapshots). */
  trimmed(): VersionColumns {
    const n = this.count;
    const c = this.cols;
    return {
      wall: c.wall.subarray(0, n),
      logical: c.logical.subarray(0, n),
      prev: c.prev.subarray(0, n),
      loc: c.loc.subarray(0, n),
      len: c.len.subarray(0, n),
      node: c.node.subarray(0, n),
      flags: c.flags.subarray(0, n),
      ids: c.ids.subarray(0, n * 32),
      vids: c.vids.subarray(0, n * 32),
    };
  }

  #resize(n: number): void {
    const c = this.cols;
    this.cols = {
      wall: grow(c.wall, n),
      logical: grow(c.logical, n),
      prev: grow(c.prev, n),
      loc: grow(c.loc, n),
      len: grow(c.len, n),
      node: grow(c.node, n),
      flags: grow(c.flags, n),
      ids: grow(c.ids, n * 32),
      vids: grow(c.vids, n * 32),
    };
  }
}

/** A 32-bit hash of a hex value id (its first four bytes), matching {@link VersionTable.valueHash}. */
export function hexHash(hex: string): number {
  return parseInt(hex.slice(0, 8), 16) >>> 0;
}


