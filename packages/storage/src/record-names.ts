/**
 * Names in record keys: the order-preserving, prefix-free encoding every record key
 * uses (see version-records.ts, "Names"), and the small helpers all record decoders share.
 */
import { InvalidArgumentError, isWellFormedString } from '@koru/engine';
import { CorruptionError } from './errors.js';
import { bytesKey } from './lsm/types.js';

/** Ends every encoded name; the escape of a 0x00 byte inside a name is 0x00 0xFF. */
export const TERMINATOR = '\u0000\u0001';

/**
 * True for ASCII without NUL (nearly all names): those encode as themselves, no byte
 * work at all. A charCode loop: measured cheaper than a regex test for names this short.
 */
function isPlainAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c > 0x7f) return false;
  }
  return true;
}
const NOT_ASCII = /[^\u0000-\u007f]/;
let scratch = new Uint8Array(1024);

/**
 * The order-preserving, prefix-free encoding of a name (see version-records.ts), as a binary string.
 * @throws InvalidArgumentError for a non-string, or a string with a lone surrogate (it has no UTF-8 form)
 */
export function encodeName(s: string): string {
  if (typeof s !== 'string') throw new InvalidArgumentError(`a name must be a string, got ${typeof s}`);
  if (isPlainAscii(s)) return s + TERMINATOR;
  if (!isWellFormedString(s)) throw new InvalidArgumentError(`name ${JSON.stringify(s)} has a lone surrogate: it has no UTF-8 form`);
  // Each UTF-16 unit gives at most 3 bytes (a NUL gives 2, a surrogate pair 4 for 2 units).
  if (scratch.length < s.length * 3 + 2) scratch = new Uint8Array(s.length * 3 + 2);
  const b = scratch;
  let p = 0;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      b[p++] = c;
      if (c === 0) b[p++] = 0xff;
    } else if (c < 0x800) {
      b[p++] = 0xc0 | (c >> 6);
      b[p++] = 0x80 | (c & 0x3f);
    } else if (c >= 0xd800 && c <= 0xdbff) {
      c = 0x10000 + ((c - 0xd800) << 10) + (s.charCodeAt(++i) - 0xdc00);
      b[p++] = 0xf0 | (c >> 18);
      b[p++] = 0x80 | ((c >> 12) & 0x3f);
      b[p++] = 0x80 | ((c >> 6) & 0x3f);
      b[p++] = 0x80 | (c & 0x3f);
    } else {
      b[p++] = 0xe0 | (c >> 12);
      b[p++] = 0x80 | ((c >> 6) & 0x3f);
      b[p++] = 0x80 | (c & 0x3f);
    }
  }
  b[p++] = 0;
  b[p++] = 1;
  return bytesKey(b, 0, p);
}

/** The strict UTF-8 decoder of every record's text. */
export const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A CorruptionError for malformed `what` at `offset`. */
export function corrupt(what: string, offset: number): CorruptionError {
  return new CorruptionError(`malformed ${what}`, { offset });
}

/** Where the name {@link readName} read last ended (past its terminator): read it right after the call. */
export let nameEnd = 0;

/** Reads the name encoded at `k[start…]`; sets {@link nameEnd}. */
export function readName(k: string, start: number, what: string): string {
  let pos = start;
  let escaped = false;
  let z: number;
  for (;;) {
    z = k.indexOf('\u0000', pos);
    if (z < 0 || z + 1 >= k.length) throw corrupt(`version key: its ${what} has no terminator`, start);
    const next = k.charCodeAt(z + 1);
    if (next === 1) break;
    if (next !== 0xff) throw corrupt(`version key: byte 0x00 in its ${what} is neither an escape nor a terminator`, z);
    escaped = true;
    pos = z + 2;
  }
  nameEnd = z + 2;
  const raw = k.slice(start, z);
  if (!escaped && !NOT_ASCII.test(raw)) return raw;
  const bytes = new Uint8Array(raw.length);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c > 0xff) throw corrupt(`version key: not a binary string`, start + i);
    bytes[n++] = c;
    if (c === 0) i++; // the 0xFF of the escape
  }
  try {
    return utf8.decode(bytes.subarray(0, n));
  } catch (cause) {
    throw new CorruptionError(`malformed version key: its ${what} is not UTF-8`, { offset: start }, cause);
  }
}

/** Throws unless `s` is a string (non-empty when `nonEmpty`): a name an encoder takes. */
export function checkName(s: string, what: string, nonEmpty: boolean): void {
  if (typeof s !== 'string' || (nonEmpty && s.length === 0)) throw new InvalidArgumentError(`${what} must be a ${nonEmpty ? 'non-empty ' : ''}string`);
}

