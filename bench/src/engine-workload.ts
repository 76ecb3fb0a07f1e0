/**
 * The engine bench's workload: version-like keys and ~100-byte values, the same bytes
 * for every store.
 *
 * A key is laid out as the version store lays out a version record
 * (packages/storage/src/version-records.ts), so the engine sees the prefixes it will see:
 *
 *   'V' | 'bench/history' 0x00 0x01 | name (34 bytes) 0x00 0x01 | clock: 8 bytes big-endian
 *
 * = 60 bytes. Every version of one name shares the prefix through the second terminator
 * (the LsmTree's Bloom filter key, `filterKeyParts: 2`), and a name's versions ascend by
 * clock. Round r writes version r of every name, names in order, the clock rising with
 * every write: the order KoruDelta's history workload writes in.
 *
 * A value holds its name index and round (bytes 0–7, so every answer is checked) and
 * 92 bytes of seeded noise (nothing here compresses, as real JSON would somewhat).
 */
import { prng } from './workload.js';

/** Bytes of every key and every value. */
export const KEY_BYTES = 60;
export const VALUE_BYTES = 100;
/** Entries per batch, as KoruDelta's history workload writes them. */
export const BATCH = 1000;

const NAMESPACE = 'Vbench/history\u0000\u0001';
const TERMINATOR = '\u0000\u0001';
/** Wall clock of the first write (ms); each write adds 1 ms, logical part 0. */
const T0 = 1_760_000_000_000;

/** The shape of a run: `names` names × `rounds` versions each. */
export interface Shape {
  readonly names: number;
  readonly rounds: number;
}

/** names = N / 100, 100 versions each (a name's history is ~100 entries). */
export function shapeOf(entries: number): Shape {
  return { names: Math.max(1, Math.round(entries / 100)), rounds: 100 };
}

/** The 34-byte name of name index `i`. */
function nameOf(i: number): string {
  return `customers/${String(i).padStart(8, '0')}/profile-v2.json`;
}

/** The prefix shared by every version of name `i` (through its terminator), as a binary string. */
export function prefixString(i: number): string {
  return NAMESPACE + nameOf(i) + TERMINATOR;
}

/** Wall clock of version `round` of name `name`: rising with every write of the load order. */
function wallOf(shape: Shape, name: number, round: number): number {
  return T0 + round * shape.names + name;
}

/** Key builder for stores that take binary strings (the LsmTree). */
export class StringKeys {
  readonly #prefixes: string[];
  readonly #shape: Shape;

  constructor(shape: Shape) {
    this.#shape = shape;
    this.#prefixes = Array.from({ length: shape.names }, (_, i) => prefixString(i));
  }

  key(name: number, round: number): string {
    const w = wallOf(this.#shape, name, round);
    const hi = Math.floor(w / 0x1000000); // top 3 of the 6 wall bytes
    const lo = w % 0x1000000;
    return this.#prefixes[name]! + String.fromCharCode((hi >>> 16) & 255, (hi >>> 8) & 255, hi & 255, (lo >>> 16) & 255, (lo >>> 8) & 255, lo & 255, 0, 0);
  }

  prefix(name: number): string {
    return this.#prefixes[name]!;
  }
}

/** Key builder for stores that take bytes (better-sqlite3, lmdb). */
export class BufferKeys {
  readonly #prefixes: Buffer[];
  readonly #shape: Shape;

  constructor(shape: Shape) {
    this.#shape = shape;
    this.#prefixes = Array.from({ length: shape.names }, (_, i) => Buffer.from(prefixString(i), 'latin1'));
  }

  key(name: number, round: number): Buffer {
    const p = this.#prefixes[name]!;
    const k = Buffer.allocUnsafe(KEY_BYTES);
    p.copy(k, 0);
    k.writeUIntBE(wallOf(this.#shape, name, round), p.length, 6);
    k.writeUInt16BE(0, p.length + 6);
    return k;
  }

  prefix(name: number): Buffer {
    return this.#prefixes[name]!;
  }

  /** The smallest key above every key of `prefix` (its terminator's last byte + 1). */
  prefixEnd(name: number): Buffer {
    const end = Buffer.from(this.#prefixes[name]!);
    end[end.length - 1]!++;
    return end;
  }
}

/** The value of version `round` of name `name`. */
export function makeValue(name: number, round: number): Buffer {
  const v = Buffer.allocUnsafe(VALUE_BYTES);
  v.writeUInt32BE(name, 0);
  v.writeUInt32BE(round, 4);
  // xorshift32 noise seeded by the entry: deterministic, 4 bytes a step.
  let x = (Math.imul(name, 0x9e3779b1) ^ Math.imul(round + 1, 0x85ebca6b)) >>> 0 || 1;
  for (let o = 8; o < VALUE_BYTES; o += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    v.writeUInt32LE(x >>> 0, o);
  }
  return v;
}

/** Name index of a value (bytes 0–3). */
export function valueName(v: Uint8Array): number {
  return ((v[0]! << 24) | (v[1]! << 16) | (v[2]! << 8) | v[3]!) >>> 0;
}

/** Round of a value (bytes 4–7). */
export function valueRound(v: Uint8Array): number {
  return ((v[4]! << 24) | (v[5]! << 16) | (v[6]! << 8) | v[7]!) >>> 0;
}

/** True when `v` is the value of version `round` of `name`. */
export function isValueOf(v: Uint8Array | undefined, name: number, round: number): boolean {
  return v !== undefined && v.length === VALUE_BYTES && valueName(v) === name && valueRound(v) === round;
}

/**
 * Checks one entry of a scan of `name`'s history: its value is of `name` and its round
 * follows `previous` (versions come in clock order). Returns its round.
 */
export function nextScanned(v: Uint8Array, name: number, previous: number): number {
  const round = v.length === VALUE_BYTES ? valueRound(v) : -1;
  if (round <= previous || valueName(v) !== name) {
    throw new Error(`scan of name ${name}: got ${v.length} bytes of name ${valueName(v)} round ${round} after round ${previous}`);
  }
  return round;
}

/** `count` seeded (name, round) picks among the loaded entries. */
export function randomPicks(shape: Shape, count: number, seed: number): { names: Uint32Array; rounds: Uint32Array } {
  const rand = prng(seed);
  const names = new Uint32Array(count);
  const rounds = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    names[i] = Math.floor(rand() * shape.names);
    rounds[i] = Math.floor(rand() * shape.rounds);
  }
  return { names, rounds };
}

/** `count` distinct seeded name indexes (all of them when there are fewer). */
export function randomNames(shape: Shape, count: number, seed: number): number[] {
  const rand = prng(seed);
  const all = Array.from({ length: shape.names }, (_, i) => i);
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return all.slice(0, Math.min(count, all.length));
}
