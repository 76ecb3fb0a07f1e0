/**
 * The deterministic workload every subject receives: keys, ~200-byte JSON documents
 * that differ in every version, and seeded random choices. The same seed gives the
 * same bytes on every machine, so figures from two runs compare like with like.
 */

/** Namespace all measured writes go to. */
export const NAMESPACE = 'bench';
/** Namespace warm-up writes go to, so they never mix with the measured keys. */
export const WARMUP_NAMESPACE = 'warmup';
/** Seed of every random choice in the bench (printed in the results). */
export const SEED = 0x6b6f7275;

/** One write as `putMany` takes it; the harness hands the same objects to every subject. */
export interface Entry {
  readonly namespace: string;
  readonly key: string;
  readonly value: Doc;
}

/** The document written; field `v` is the version index, so answers can be checked. */
export interface Doc {
  readonly id: string;
  readonly v: number;
  readonly name: string;
  readonly email: string;
  readonly active: boolean;
  readonly score: number;
  readonly tags: readonly string[];
  readonly address: { readonly city: string; readonly zip: string };
  readonly note: string;
}

/** mulberry32: a 32-bit PRNG, small and fast enough to sit beside timed loops. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Key name of key index `k`: `k000042`. */
export function keyName(k: number): string {
  return `k${String(k).padStart(6, '0')}`;
}

/** All key names of a workload, built once. */
export function keyNames(keys: number): string[] {
  const out = new Array<string>(keys);
  for (let k = 0; k < keys; k++) out[k] = keyName(k);
  return out;
}

const CITIES = ['Lisbon', 'Porto', 'Auckland', 'Wellington', 'Osaka', 'Nairobi', 'Quito', 'Tallinn'];
const TAGS = ['red', 'green', 'blue', 'amber', 'violet', 'teal', 'ochre', 'slate'];
const NOTE_LENGTH = 24;
/** A fixed random text; each note is a seeded window of it (cheap to build, differs per version). */
const NOTE_POOL = (() => {
  const chars = 'abcdefghijklmnopqrstuvwxyz0123456789 ';
  const rnd = prng(SEED);
  let s = '';
  for (let i = 0; i < 8192; i++) s += chars[Math.floor(rnd() * chars.length)];
  return s;
})();

interface KeyStrings {
  readonly id: string;
  readonly name: string;
  readonly email: string;
}
/** Per-key strings, built once: generating documents must stay cheap next to a Map push. */
const keyStrings: KeyStrings[] = [];

function stringsOf(k: number): KeyStrings {
  let s = keyStrings[k];
  if (s === undefined) {
    const id = keyName(k);
    s = { id, name: `User ${id.slice(1)}`, email: `user${id.slice(1)}@example.com` };
    keyStrings[k] = s;
  }
  return s;
}

/** Document of key `k` at version `v`: ~200 bytes of JSON, different in every version. */
export function makeDoc(k: number, v: number): Doc {
  // One round of a 32-bit mix of (seed, k, v) gives every field this version needs.
  let h = Math.imul(SEED ^ Math.imul(k + 1, 0x9e3779b1) ^ Math.imul(v + 1, 0x85ebca6b), 0x27d4eb2d);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  h = (h ^ (h >>> 13)) >>> 0;
  const h2 = (Math.imul(h ^ (h >>> 16), 0x297a2d39) ^ v) >>> 0;
  const s = stringsOf(k);
  const offset = h2 % (NOTE_POOL.length - NOTE_LENGTH);
  return {
    id: s.id,
    v,
    name: s.name,
    email: s.email,
    active: (h & 1) === 1,
    score: h >>> 15,
    tags: [TAGS[(h >>> 1) & 7]!, TAGS[(h >>> 4) & 7]!],
    address: { city: CITIES[(h >>> 7) & 7]!, zip: String(10_000 + ((h >>> 10) % 89_999)) },
    // Copied, so a document never pins the whole pool in memory.
    note: (' ' + NOTE_POOL.slice(offset, offset + NOTE_LENGTH)).slice(1),
  };
}

/**
 * Entries of versions `fromVersion ..< toVersion` for every key, version-major (all keys
 * at version v, then v + 1), the order in which the bench writes them.
 */
export function makeEntries(names: readonly string[], fromVersion: number, toVersion: number, namespace = NAMESPACE): Entry[] {
  const out: Entry[] = [];
  for (let v = fromVersion; v < toVersion; v++) {
    for (let k = 0; k < names.length; k++) out.push({ namespace, key: names[k]!, value: makeDoc(k, v) });
  }
  return out;
}

/** Splits `entries` into arrays of `size`. */
export function chunk<T>(entries: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < entries.length; i += size) out.push(entries.slice(i, i + size));
  return out;
}

/** `count` seeded random integers in `[0, bound)`; the bench cycles through them. */
export function randomInts(count: number, bound: number, seed: number): Uint32Array {
  const rnd = prng(seed);
  const out = new Uint32Array(count);
  for (let i = 0; i < count; i++) out[i] = Math.floor(rnd() * bound);
  return out;
}

/** UTF-8 bytes of `value` as JSON. */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value));
}

/** UTF-8 bytes of the JSON of every key's last version (what a store must at least hold to serve gets). */
export function currentJsonBytes(keys: number, versions: number): number {
  let total = 0;
  for (let k = 0; k < keys; k++) total += jsonBytes(makeDoc(k, versions - 1));
  return total;
}
