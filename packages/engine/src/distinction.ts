/**
 * The distinction calculus on SHA-256. A distinction is identified solely by its id
 * (64 lowercase hex chars). Two primordial distinctions exist; `synthesize` combines
 * two into a third, deterministically, symmetrically and irreflexively; any bytes map
 * canonically to one distinction (their SHA-256). Every content address in KoruDelta
 * (value ids, version ids, Merkle roots) is made here.
 */
import { sha256HexOfBytes, sha256HexOfText } from './hash.js';

/** A distinction: nothing but its content-derived id. */
export interface Distinction {
  readonly id: string;
}

const make = (id: string): Distinction => Object.freeze({ id });

/** The first primordial distinction: SHA-256 of the text "koru:d0". */
export const d0: Distinction = make(sha256HexOfText('koru:d0'));
/** The second primordial distinction: SHA-256 of the text "koru:d1". */
export const d1: Distinction = make(sha256HexOfText('koru:d1'));

/** The distinction of an id already known (64 lowercase hex chars, unchecked). */
export function distinctionOf(id: string): Distinction {
  return make(id);
}

/** The distinction of some bytes: their SHA-256. */
export function distinctionOfBytes(bytes: Uint8Array): Distinction {
  return make(sha256HexOfBytes(bytes));
}

/** The distinction of some text: the SHA-256 of its UTF-8 bytes. */
export function distinctionOfText(text: string): Distinction {
  return make(sha256HexOfText(text));
}

/**
 * Synthesis: deterministic; symmetric (`synthesize(a, b)` equals `synthesize(b, a)`,
 * because the ids are ordered first); irreflexive (`synthesize(a, a)` is `a`).
 * Otherwise the SHA-256 of "koru:syn:" + the smaller id + ":" + the larger id.
 */
export function synthesize(a: Distinction, b: Distinction): Distinction {
  if (a.id === b.id) return a;
  const [lo, hi] = a.id < b.id ? [a.id, b.id] : [b.id, a.id];
  return make(sha256HexOfText(`koru:syn:${lo}:${hi}`));
}

/** Folds distinctions left to right with {@link synthesize}; `d0` for none. */
export function synthesizeAll(items: Iterable<Distinction>): Distinction {
  let acc: Distinction | undefined;
  for (const d of items) acc = acc === undefined ? d : synthesize(acc, d);
  return acc ?? d0;
}
