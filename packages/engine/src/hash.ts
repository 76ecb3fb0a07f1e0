/**
 * SHA-256, the one hash every content address in KoruDelta is made of.
 *
 * The default backend is @noble/hashes (pure JS, works everywhere). A platform with a
 * native SHA-256 installs it with {@link setHashBackend} (Node: `@koru/engine/node`);
 * both give identical digests, only speed differs (native is ~10x faster on small inputs).
 */
import { sha256 } from '@noble/hashes/sha2.js';

/** A SHA-256 implementation: lowercase hex digests of UTF-8 text and of bytes. */
export interface HashBackend {
  readonly name: string;
  hexOfText(text: string): string;
  hexOfBytes(bytes: Uint8Array): string;
}

const encoder = new TextEncoder();
// Hex digit pairs as character codes; ids are built in a scratch buffer and decoded as
// one string, which allocates once instead of once per byte.
const HEX_CODES = new Uint8Array(512);
for (let i = 0; i < 256; i++) {
  const pair = i.toString(16).padStart(2, '0');
  HEX_CODES[2 * i] = pair.charCodeAt(0);
  HEX_CODES[2 * i + 1] = pair.charCodeAt(1);
}
const latin1 = new TextDecoder('latin1');
const scratch = new Uint8Array(128);

/** Lowercase hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  const n = bytes.length;
  const out = n * 2 <= scratch.length ? scratch : new Uint8Array(n * 2);
  for (let i = 0; i < n; i++) {
    const b = bytes[i]! * 2;
    out[2 * i] = HEX_CODES[b]!;
    out[2 * i + 1] = HEX_CODES[b + 1]!;
  }
  return latin1.decode(out.subarray(0, n * 2));
}

/** The value of one hex digit's char code (0-9, a-f, A-F; validated by the caller). */
function hexDigit(c: number): number {
  return c <= 57 ? c - 48 : (c | 0x20) - 87;
}

/** Bytes of a lowercase or uppercase hex string (even length, validated by the caller). */
export function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length >>> 1);
  for (let i = 0; i < out.length; i++) out[i] = (hexDigit(hex.charCodeAt(2 * i)) << 4) | hexDigit(hex.charCodeAt(2 * i + 1));
  return out;
}

/** The portable backend: @noble/hashes. */
export const nobleHashBackend: HashBackend = {
  name: 'noble',
  hexOfText: (text) => toHex(sha256(encoder.encode(text))),
  hexOfBytes: (bytes) => toHex(sha256(bytes)),
};

// The backend lives in a global slot, not a module variable, so that the ESM and CJS
// builds (or two copies of this package) loaded in one process share it.
const SLOT = Symbol.for('@koru/engine.hashBackend');
type Slot = { [SLOT]?: HashBackend };
const registry = globalThis as Slot;

/** Installs a faster SHA-256 (it must give identical digests). Returns the previous one. */
export function setHashBackend(next: HashBackend): HashBackend {
  const prev = hashBackend();
  registry[SLOT] = next;
  return prev;
}

/** The backend in use. */
export function hashBackend(): HashBackend {
  return registry[SLOT] ?? nobleHashBackend;
}

/** Lowercase hex SHA-256 of the UTF-8 encoding of `text`. */
export function sha256HexOfText(text: string): string {
  return (registry[SLOT] ?? nobleHashBackend).hexOfText(text);
}

/** Lowercase hex SHA-256 of `bytes`. */
export function sha256HexOfBytes(bytes: Uint8Array): string {
  return (registry[SLOT] ?? nobleHashBackend).hexOfBytes(bytes);
}
