/**
 * How the version store lays its records out on the log-structured engine's sorted
 * binary-string keys (see lsm/types.ts: one char code per byte, so `<` is byte order).
 *
 * ## Names
 * `encodeName(s)`: the UTF-8 bytes of `s`, each 0x00 byte written 0x00 0xFF, then the
 * terminator 0x00 0x01. Encoded names compare as the UTF-8 byte strings do, and no name's
 * encoding is a prefix of another's (0x00 0x01 occurs only as the terminator). Keys have no
 * NUL, but node ids come from peers: NUL is escaped anyway. A string with a lone surrogate
 * has no UTF-8 form and is refused.
 *
 * ## Version record (one per version)
 * key:   'V' | name(namespace) | name(key) | HLC_MAX_WALL − wall: u64 big-endian
 *        | HLC_MAX_LOGICAL − logical: u32 big-endian | ~name(node) | ~versionId: 32 raw bytes
 *        where `~` complements every byte (0xFF − b), the node's terminator included.
 * value: flags: u8 | seq: varint | [previous versionId: 32 raw bytes, if bit 2]
 *        | [valueId: 32 raw bytes, unless deleted] | [canonical JSON text, UTF-8, to the end, if bit 1]
 * flags: bit 0 deleted (a tombstone: neither bit 1 nor bit 3), bit 1 value inline,
 *        bit 2 has a previous version, bit 3 value by reference (see the value record),
 *        bit 4 current at commit (the version was its key's current one when committed:
 *        clear only for a version replicated after a later-clocked one of its key);
 *        a live version has exactly one of bits 1 and 3; bits 5–7 are zero (a record
 *        with bit 5 set is a horizon record instead: see horizon-records.ts).
 * seq:   unsigned LEB128 (7 bits a byte, least significant first, minimal), the change
 *        number on this node, below 2^53.
 * So one key's versions are contiguous and sort *newest first*: by clock stamp (wall,
 * logical) descending, then by node (UTF-8 bytes) descending, then by version id
 * descending (the complemented node name is still prefix-free, and its order is the
 * reverse); a namespace's keys ascend by UTF-8 bytes, and namespaces too. Hence:
 * - the current version (the last in clock order) is the first entry at `keyPrefix`;
 * - the version current at stamp t is the first entry at or after
 *   `keyPrefix + stampKey(t)`: the newest with clock ≤ t, and of those sharing t's clock,
 *   the greatest node's (the one that was current);
 * - a history is one range scan, newest first.
 * `keyPrefix(ns, key)` ('V' | name(ns) | name(key)) starts all of a key's versions and no
 * other key's; it is also the Bloom filter key: a version key through its
 * {@link FILTER_KEY_PARTS}-th (2nd) terminator. The tag 'V' (0x56) is not part of any
 * terminator, so the 1st terminator ends the namespace and the 2nd ends the key.
 *
 * ## Change-feed record (one per change on this node)
 * key:   'S' | seq: u64 big-endian          value: the version record's key (its bytes)
 *
 * ## Value record (one per distinct large value stored)
 * key:   'X' | valueId: 32 raw bytes | 0x00 0x01 0x00 0x01
 * value: tag: u8 = 0 | the canonical JSON text, UTF-8 (non-empty).
 * A value whose text is at most the store's inline limit is *always* inline in each
 * version holding it (flag bit 1), and has no value record: no version ever depends on
 * another for its value, so any version record may be dropped alone. A larger value is
 * stored once, in its value record, written with the first version holding it; every
 * version holding it has only its id (flag bit 3).
 * The two terminators at the end give value records a Bloom filter key (their prefix
 * through the 2nd terminator, which holds the whole id unless the id itself holds two
 * terminators), so "is this value stored?" mostly skips files without reading them.
 * (Tag 1 belonged to an earlier layout and is refused as corrupt.)
 *
 * Decoders check every length, flag, terminator, escape and UTF-8 sequence, and throw
 * CorruptionError on anything another encoder could not have written: they never return
 * a wrong answer. Encoders throw InvalidArgumentError on arguments outside the layout.
 */
import { HLC_MAX_LOGICAL, HLC_MAX_WALL, InvalidArgumentError, isWellFormedString } from '@koru/engine';
import { CorruptionError } from './errors.js';
import { bytesKey } from './lsm/types.js';
import { allocateRecord } from './record-slab.js';

/** First byte of a version record's key. */
export const TAG_VERSION = 'V';
/** First byte of a change-feed record's key. */
export const TAG_SEQ = 'S';
/** First byte of a value record's key. */
export const TAG_VALUE = 'X';

/** Ends every encoded name; the escape of a 0x00 byte inside a name is 0x00 0xFF. */
const TERMINATOR = '\u0000\u0001';

/**
 * The Bloom filter key of a version record is its key through this many name
 * terminators: namespace and key, so a lookup of any version of a key (a scan from
 * {@link keyPrefix}) can consult the filter. See {@link filterKey}.
 */
export const FILTER_KEY_PARTS = 2;

/** Bit 0 of a version record's flags: a tombstone. */
export const FLAG_DELETED = 1;
/** Bit 1: the value's text follows, inline. */
export const FLAG_INLINE = 2;
/** Bit 2: the previous version's id is present. */
export const FLAG_PREVIOUS = 4;
/** Bit 3: the value is stored elsewhere (only its id is here; see the module doc). */
export const FLAG_BY_REFERENCE = 8;
/** Bit 4: the version was its key's current one when committed. */
export const FLAG_CURRENT_AT_COMMIT = 16;
/**
 * Bit 5, alone with bit 6 at most: not a version but a *horizon* record, left by retention
 * or purge under the key of the newest version they cut (see horizon-records.ts). Every
 * other flag of a version record is clear in it.
 */
export const FLAG_HORIZON = 32;
/** Bit 6 (only with bit 5): the horizon was left by a purge. */
export const FLAG_PURGED = 64;

/** Tag of a value record (it holds the text). */
export const VALUE_TEXT = 0;

/** What a version record's value holds (the rest of the version is in its key). */
export interface VersionRecord {
  /** The change number on this node (a safe integer ≥ 0). */
  readonly seq: number;
  readonly deleted: boolean;
  /** Hex id of the version this one superseded, `null` for the first. */
  readonly previousVersion: string | null;
  /** Hex SHA-256 of the value's canonical text; `null` for a tombstone. */
  readonly valueId: string | null;
  /** The canonical JSON text when stored inline; `null` when by reference or a tombstone. */
  readonly valueText: string | null;
  /** True when the version was its key's current one when committed (flag bit 4). */
  readonly currentAtCommit: boolean;
}

/** What a value record holds: its text (canonical JSON). */
export interface ValueRecord {
  readonly text: string;
}

/** The fields of a version record's key. */
export interface VersionKeyFields {
  readonly namespace: string;
  readonly key: string;
  readonly wall: number;
  readonly logical: number;
  readonly node: string;
  /** Lowercase hex, 64 digits. */
  readonly versionId: string;
}

// ---- Names ---------------------------------------------------------------------------

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
 * The order-preserving, prefix-free encoding of a name (see the module doc), as a binary string.
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

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function corrupt(what: string, offset: number): CorruptionError {
  return new CorruptionError(`malformed ${what}`, { offset });
}

/** Where the name {@link readName} read last ended (past its terminator). */
let nameEnd = 0;

/** Reads the name encoded at `k[start…]`; sets {@link nameEnd}. */
function readName(k: string, start: number, what: string): string {
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

// ---- Hex ↔ raw bytes -----------------------------------------------------------------

// Digit values by char code; 0xFF marks a char that is not a lowercase hex digit.
const HEX_VALUE = new Uint8Array(128).fill(0xff);
for (let i = 0; i < 10; i++) HEX_VALUE[0x30 + i] = i;
for (let i = 0; i < 6; i++) HEX_VALUE[0x61 + i] = 10 + i;
const HEX_CODE = Array.from('0123456789abcdef', (c) => c.charCodeAt(0));
const idBytes: number[] = new Array<number>(32).fill(0);
const hexCodes: number[] = new Array<number>(64).fill(0);

/** Fills {@link idBytes} from a 64-digit lowercase hex id. */
function parseId(hex: string, what: string): void {
  if (typeof hex !== 'string' || hex.length !== 64) throw new InvalidArgumentError(`${what} must be 64 lowercase hex digits, got ${JSON.stringify(hex)}`);
  // No branch in the loop: bad chars are collected and judged once at the end.
  let codes = 0;
  let digits = 0;
  for (let i = 0; i < 32; i++) {
    const h = hex.charCodeAt(2 * i);
    const l = hex.charCodeAt(2 * i + 1);
    const hv = HEX_VALUE[h & 0x7f]!;
    const lv = HEX_VALUE[l & 0x7f]!;
    codes |= h | l;
    digits |= hv | lv;
    idBytes[i] = ((hv << 4) | lv) & 0xff;
  }
  if (codes > 0x7f || digits > 15) throw new InvalidArgumentError(`${what} must be 64 lowercase hex digits, got ${JSON.stringify(hex)}`);
}

/** The 32 raw bytes of a hex id, as a binary string. */
function idKey(hex: string, what: string): string {
  parseId(hex, what);
  return String.fromCharCode.apply(null, idBytes);
}

/** The 32 raw bytes of a hex id, each complemented (0xFF − b), as a binary string. */
function complementedIdKey(hex: string, what: string): string {
  parseId(hex, what);
  for (let i = 0; i < 32; i++) idBytes[i] = 0xff - idBytes[i]!;
  return String.fromCharCode.apply(null, idBytes);
}

/** The hex of 32 raw bytes at `k[at…]` (a binary string), each first XORed with `mask` (0 or 0xFF). */
function hexOfKey(k: string, at: number, what: string, mask = 0): string {
  for (let i = 0; i < 32; i++) {
    const c = k.charCodeAt(at + i);
    if (c > 0xff) throw corrupt(`${what}: not a binary string`, at + i);
    const b = c ^ mask;
    hexCodes[2 * i] = HEX_CODE[b >> 4]!;
    hexCodes[2 * i + 1] = HEX_CODE[b & 15]!;
  }
  return String.fromCharCode.apply(null, hexCodes);
}

/** The hex of 32 raw bytes at `b[at…]`. */
function hexOfBytes(b: Uint8Array, at: number): string {
  for (let i = 0; i < 32; i++) {
    const c = b[at + i]!;
    hexCodes[2 * i] = HEX_CODE[c >> 4]!;
    hexCodes[2 * i + 1] = HEX_CODE[c & 15]!;
  }
  return String.fromCharCode.apply(null, hexCodes);
}

// ---- Version keys ----------------------------------------------------------------------

const TWO_32 = 4294967296;

function checkName(s: string, what: string, nonEmpty: boolean): void {
  if (typeof s !== 'string' || (nonEmpty && s.length === 0)) throw new InvalidArgumentError(`${what} must be a ${nonEmpty ? 'non-empty ' : ''}string`);
}

/** The prefix of every version key of namespace `ns`. @throws InvalidArgumentError */
export function namespacePrefix(ns: string): string {
  checkName(ns, 'namespace', true);
  return TAG_VERSION + encodeName(ns);
}

/**
 * The prefix of every version key of (`ns`, `key`) and of no other key's; also their
 * Bloom filter key ({@link filterKey}). @throws InvalidArgumentError
 */
export function keyPrefix(ns: string, key: string): string {
  let keys = keyPrefixes.get(ns);
  if (keys !== undefined) {
    const known = keys.get(key);
    if (known !== undefined) return known;
  }
  let p = namespacePrefixes.get(ns);
  if (p === undefined) {
    checkName(ns, 'namespace', true);
    checkName(key, 'key', true);
    p = TAG_VERSION + encodeName(ns);
    if (namespacePrefixes.size >= NAMESPACE_PREFIXES_MAX) namespacePrefixes.clear();
    namespacePrefixes.set(ns, p);
  } else checkName(key, 'key', true);
  const prefix = p + encodeName(key);
  if (keyPrefixCount >= KEY_PREFIXES_MAX) {
    keyPrefixes.clear();
    keyPrefixCount = 0;
    keys = undefined;
  }
  if (keys === undefined) keyPrefixes.set(ns, (keys = new Map()));
  keys.set(key, prefix);
  keyPrefixCount++;
  return prefix;
}

// The prefixes of recently used keys, per namespace: a cached read or a commit then
// finds its key's prefix as a flat string whose hash V8 already keeps, instead of
// concatenating one (and hashing it afresh for the head cache). Bounded: cleared when
// full (≈2 MB at most for names of usual length). Only valid names get in.
const keyPrefixes = new Map<string, Map<string, string>>();
let keyPrefixCount = 0;
const KEY_PREFIXES_MAX = 16384;

// A store sees few namespaces, each on many keys: their prefixes are kept (bounded:
// cleared when full, as names come from callers). Only valid names get in.
const namespacePrefixes = new Map<string, string>();
const NAMESPACE_PREFIXES_MAX = 1024;

/**
 * The 12 bytes of clock stamp (wall, logical) in a version key (complemented, so later
 * stamps sort first): `keyPrefix(ns, key) + stampKey(t)` is where the versions with clock
 * ≤ t begin (see the module doc).
 * @throws InvalidArgumentError for a stamp outside the HLC format
 */
export function stampKey(wall: number, logical: number): string {
  if (!(Number.isInteger(wall) && wall >= 0 && wall <= HLC_MAX_WALL)) throw new InvalidArgumentError(`wall ${wall} is outside 0–${HLC_MAX_WALL}`);
  if (!(Number.isInteger(logical) && logical >= 0 && logical <= HLC_MAX_LOGICAL)) throw new InvalidArgumentError(`logical ${logical} is outside 0–${HLC_MAX_LOGICAL}`);
  const w = HLC_MAX_WALL - wall;
  const l = HLC_MAX_LOGICAL - logical;
  const hi = Math.floor(w / TWO_32);
  const lo = w >>> 0;
  return String.fromCharCode(
    hi >>> 24, (hi >>> 16) & 0xff, (hi >>> 8) & 0xff, hi & 0xff,
    lo >>> 24, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff,
    l >>> 24, (l >>> 16) & 0xff, (l >>> 8) & 0xff, l & 0xff,
  );
}

// A store sees few distinct node ids, each on many versions: their complemented
// encodings are kept (bounded: cleared when full, as ids come from peers).
const nodeKeys = new Map<string, string>();
const NODE_KEYS_MAX = 256;

/** `encodeName(node)` with every byte complemented (see the module doc). */
function nodeKey(node: string): string {
  let k = nodeKeys.get(node);
  if (k !== undefined) return k;
  checkName(node, 'node', false);
  const e = encodeName(node);
  const b = new Uint8Array(e.length);
  for (let i = 0; i < e.length; i++) b[i] = 0xff - e.charCodeAt(i);
  k = bytesKey(b);
  if (nodeKeys.size >= NODE_KEYS_MAX) nodeKeys.clear();
  nodeKeys.set(node, k);
  return k;
}

/**
 * The part of a version key after {@link keyPrefix}: stamp, node and version id.
 * @throws InvalidArgumentError as {@link versionKey}
 */
export function versionKeySuffix(wall: number, logical: number, node: string, versionId: string): string {
  return stampKey(wall, logical) + nodeKey(node) + complementedIdKey(versionId, 'versionId');
}

/**
 * The key of a version record (see the module doc).
 * @throws InvalidArgumentError for an empty namespace or key, a clock stamp outside the
 *   HLC format, a lone surrogate in a name, or an id that is not 64 lowercase hex digits
 */
export function versionKey(ns: string, key: string, wall: number, logical: number, node: string, versionId: string): string {
  return keyPrefix(ns, key) + versionKeySuffix(wall, logical, node, versionId);
}

/**
 * The last 32 bytes of the keys of version `versionId` (its complemented id), to find it
 * in a scan with `endsWith`. @throws InvalidArgumentError unless 64 lowercase hex digits
 */
export function versionIdSuffix(versionId: string): string {
  return complementedIdKey(versionId, 'versionId');
}

// The node name decoded last, by its raw (complemented) bytes: a scan meets the same few.
let lastNodeRaw = '';
let lastNode = '';
const nodeScratch = new Uint8Array(4096);

/** Reads the complemented node name at `k[start…]`; sets {@link nameEnd}. */
function readNodeName(k: string, start: number): string {
  // 0xFF starts only an escape (0xFF 0x00) or the terminator (0xFF 0xFE), so the first
  // 0xFF 0xFE is the terminator, and every 0xFF before it must start an escape.
  const end = k.indexOf('\u00ff\u00fe', start);
  if (end < 0) throw corrupt('version key: its node has no terminator', start);
  nameEnd = end + 2;
  const raw = k.slice(start, end);
  if (raw === lastNodeRaw) return lastNode;
  const bytes = raw.length <= nodeScratch.length ? nodeScratch : new Uint8Array(raw.length);
  let n = 0;
  let high = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c > 0xff) throw corrupt('version key: not a binary string', start + i);
    if (c === 0xff) {
      if (raw.charCodeAt(i + 1) !== 0) throw corrupt('version key: byte 0xFF in its node is neither an escape nor a terminator', start + i);
      bytes[n++] = 0;
      i++;
    } else {
      const b = 0xff - c;
      high |= b;
      bytes[n++] = b;
    }
  }
  let node: string;
  // A byte 0xFF (from 0x00) is never UTF-8: the decoder refuses it, as any other bad byte.
  if (high < 0x80) node = bytesKey(bytes, 0, n);
  else {
    try {
      node = utf8.decode(bytes.subarray(0, n));
    } catch (cause) {
      throw new CorruptionError('malformed version key: its node is not UTF-8', { offset: start }, cause);
    }
  }
  lastNodeRaw = raw;
  lastNode = node;
  return node;
}

/**
 * The fields of a version record's key.
 * @throws CorruptionError (details: `offset` in the key) unless `k` is exactly what
 *   {@link versionKey} writes for some arguments
 */
export function decodeVersionKey(k: string): VersionKeyFields {
  if (k.charCodeAt(0) !== 0x56) throw corrupt('version key: it does not start with "V"', 0);
  const namespace = readName(k, 1, 'namespace');
  if (namespace === '') throw corrupt('version key: empty namespace', 1);
  const keyAt = nameEnd;
  const key = readName(k, keyAt, 'key');
  if (key === '') throw corrupt('version key: empty key', keyAt);
  const { wall, logical, node, versionId } = decodeVersionKeySuffix(k, nameEnd);
  return { namespace, key, wall, logical, node, versionId };
}

/**
 * The fields of a version key after its {@link keyPrefix} (which ends at `p`): for scans
 * of one key, whose names are known. Checks as {@link decodeVersionKey} does.
 * @throws CorruptionError (details: `offset` in the key)
 */
export function decodeVersionKeySuffix(k: string, p: number): Pick<VersionKeyFields, 'wall' | 'logical' | 'node' | 'versionId'> {
  if (p + 12 > k.length) throw corrupt('version key: truncated clock stamp', p);
  let hi = 0;
  let lo = 0;
  let logical = 0;
  let bytes = 0;
  for (let i = 0; i < 4; i++) {
    const h = k.charCodeAt(p + i);
    const l = k.charCodeAt(p + 4 + i);
    const g = k.charCodeAt(p + 8 + i);
    bytes |= h | l | g;
    hi = hi * 256 + h;
    lo = lo * 256 + l;
    logical = logical * 256 + g;
  }
  if (bytes > 0xff) throw corrupt('version key: not a binary string', p);
  const w = hi * TWO_32 + lo;
  if (w > HLC_MAX_WALL) throw corrupt(`version key: wall complement ${w} is past the clock's end`, p);
  if (logical > HLC_MAX_LOGICAL) throw corrupt(`version key: logical complement ${logical} is past the clock's end`, p + 8);
  const node = readNodeName(k, p + 12);
  if (k.length - nameEnd !== 32) throw corrupt(`version key: ${k.length - nameEnd} bytes of version id, not 32`, nameEnd);
  const versionId = hexOfKey(k, nameEnd, 'version key', 0xff);
  return { wall: HLC_MAX_WALL - w, logical: HLC_MAX_LOGICAL - logical, node, versionId };
}

/**
 * The namespace of a version key and the length of its {@link namespacePrefix} (to skip
 * to the next namespace). @throws CorruptionError unless a version key's start
 */
export function namespaceOfVersionKey(k: string): { readonly namespace: string; readonly prefixLength: number } {
  if (k.charCodeAt(0) !== 0x56) throw corrupt('version key: it does not start with "V"', 0);
  const namespace = readName(k, 1, 'namespace');
  if (namespace === '') throw corrupt('version key: empty namespace', 1);
  return { namespace, prefixLength: nameEnd };
}

/**
 * The names a {@link keyPrefix} encodes (its tag is not checked: head records share the
 * layout under their own tag). @throws CorruptionError unless exactly two names
 */
export function decodeKeyPrefix(prefix: string): { readonly namespace: string; readonly key: string } {
  const namespace = readName(prefix, 1, 'namespace');
  const key = readName(prefix, nameEnd, 'key');
  if (namespace === '' || key === '' || nameEnd !== prefix.length) throw corrupt('key prefix', 1);
  return { namespace, key };
}

/** Tag of a namespace's live-key counter record (see store-counters.ts). */
export const TAG_NAMESPACE_COUNT = 'N';

/** The key of a namespace's live-key counter: 'N' | name(namespace). */
export function namespaceCountKey(ns: string): string {
  checkName(ns, 'namespace', true);
  return TAG_NAMESPACE_COUNT + encodeName(ns);
}

/** The namespace of a counter key. @throws CorruptionError unless one */
export function decodeNamespaceCountKey(k: string): string {
  if (k.charCodeAt(0) !== 0x4e) throw corrupt('counter key: it does not start with "N"', 0);
  const ns = readName(k, 1, 'namespace');
  if (ns === '' || nameEnd !== k.length) throw corrupt('counter key', 1);
  return ns;
}

/**
 * The Bloom filter key of `k`: its prefix through its {@link FILTER_KEY_PARTS}-th
 * terminator (0x00 0x01), i.e. {@link keyPrefix} for a version key; `null` when it has
 * fewer (a namespace prefix, change-feed keys): no filter can answer for such a key.
 */
export function filterKey(k: string): string | null {
  let at = -2;
  for (let n = 0; n < FILTER_KEY_PARTS; n++) {
    at = k.indexOf(TERMINATOR, at + 2);
    if (at < 0) return null;
  }
  return k.slice(0, at + 2);
}

/**
 * The smallest binary string greater than every string that starts with `prefix`: the
 * exclusive end of a scan of that prefix.
 * @throws InvalidArgumentError when there is none (`prefix` is empty or all 0xFF) or
 *   `prefix` is not a binary string
 */
export function prefixEnd(prefix: string): string {
  let i = prefix.length - 1;
  while (i >= 0 && prefix.charCodeAt(i) === 0xff) i--;
  if (i < 0) throw new InvalidArgumentError('no binary string follows every string starting with an empty or all-0xFF prefix');
  const c = prefix.charCodeAt(i);
  if (c > 0xff) throw new InvalidArgumentError('prefix is not a binary string');
  return prefix.slice(0, i) + String.fromCharCode(c + 1);
}

// ---- Change-feed and value keys ------------------------------------------------------

/** The key of change `seq`'s change-feed record. @throws InvalidArgumentError unless a safe integer ≥ 0 */
export function seqKey(seq: number): string {
  if (!(Number.isSafeInteger(seq) && seq >= 0)) throw new InvalidArgumentError(`seq ${seq} is not a safe integer ≥ 0`);
  const hi = Math.floor(seq / TWO_32);
  const lo = seq >>> 0;
  return String.fromCharCode(0x53, hi >>> 24, (hi >>> 16) & 0xff, (hi >>> 8) & 0xff, hi & 0xff, lo >>> 24, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff);
}

/** The seq of a change-feed record's key. @throws CorruptionError unless {@link seqKey} could have written `k` */
export function decodeSeqKey(k: string): number {
  if (k.length !== 9 || k.charCodeAt(0) !== 0x53) throw corrupt('change-feed key', 0);
  let hi = 0;
  let lo = 0;
  for (let i = 1; i < 9; i++) {
    const c = k.charCodeAt(i);
    if (c > 0xff) throw corrupt('change-feed key: not a binary string', i);
    if (i < 5) hi = hi * 256 + c;
    else lo = lo * 256 + c;
  }
  if (hi > 0x1fffff) throw corrupt('change-feed key: seq past 2^53', 1);
  return hi * TWO_32 + lo;
}

/** The key of value `valueId`'s value record. @throws InvalidArgumentError unless 64 lowercase hex digits */
export function valueKey(valueId: string): string {
  return TAG_VALUE + idKey(valueId, 'valueId') + TERMINATOR + TERMINATOR;
}

/** The hex value id of a value record's key. @throws CorruptionError */
export function decodeValueKey(k: string): string {
  if (k.length !== 37 || k.charCodeAt(0) !== 0x58 || !k.endsWith(TERMINATOR + TERMINATOR)) throw corrupt('value key', 0);
  return hexOfKey(k, 1, 'value key');
}

// ---- Record values --------------------------------------------------------------------

const encoder = new TextEncoder();
let textScratch = new Uint8Array(4096);

/**
 * Encodes well-formed `text` into a shared scratch buffer; returns its UTF-8 length.
 * Native encoding into spare room, then one native copy into the exact-size record:
 * measured faster than a JavaScript loop for texts over ~20 bytes (and no length pass).
 */
function encodeText(text: string): number {
  if (textScratch.length < text.length * 3) textScratch = new Uint8Array(text.length * 3);
  return encoder.encodeInto(text, textScratch).written;
}

/** `b[start…]` as text. @throws CorruptionError unless UTF-8 */
function readText(b: Uint8Array, start: number, what: string): string {
  try {
    return utf8.decode(start === 0 ? b : b.subarray(start));
  } catch (cause) {
    throw new CorruptionError(`malformed ${what}: its text is not UTF-8`, { offset: start }, cause);
  }
}

function checkText(text: string, what: string): void {
  if (typeof text !== 'string' || text.length === 0 || !isWellFormedString(text)) throw new InvalidArgumentError(`${what} must be non-empty well-formed text`);
}

/**
 * The value of a version record (see the module doc). The bytes may be a view into a
 * buffer shared with other records' bytes (never overlapping them): `slice()` one to keep
 * it long without pinning the rest, and never transfer its `.buffer`.
 * @throws InvalidArgumentError for fields that do not fit together (a tombstone with a
 *   value, a live version without a value id), a seq that is not a safe integer ≥ 0,
 *   ids that are not 64 lowercase hex digits, empty or ill-formed text
 */
export function encodeVersionRecord(r: VersionRecord): Uint8Array {
  const { seq, deleted, previousVersion, valueId, valueText, currentAtCommit } = r;
  if (!(Number.isSafeInteger(seq) && seq >= 0)) throw new InvalidArgumentError(`seq ${seq} is not a safe integer ≥ 0`);
  if (deleted ? valueId !== null || valueText !== null : valueId === null) {
    throw new InvalidArgumentError(deleted ? 'a tombstone has no value id or text' : 'a live version needs its value id');
  }
  if (valueText !== null) checkText(valueText, 'valueText');
  let seqBytes = 1;
  for (let v = seq; v >= 0x80; v = Math.floor(v / 128)) seqBytes++;
  const textBytes = valueText === null ? 0 : encodeText(valueText);
  lastTextBytes = textBytes;
  const out = allocateRecord(1 + seqBytes + (previousVersion === null ? 0 : 32) + (valueId === null ? 0 : 32) + textBytes);
  out[0] = (deleted ? FLAG_DELETED : valueText !== null ? FLAG_INLINE : FLAG_BY_REFERENCE) | (previousVersion === null ? 0 : FLAG_PREVIOUS) | (currentAtCommit ? FLAG_CURRENT_AT_COMMIT : 0);
  let p = 1;
  let v = seq;
  for (; v >= 0x80; v = Math.floor(v / 128)) out[p++] = (v % 128) | 0x80;
  out[p++] = v;
  if (previousVersion !== null) {
    parseId(previousVersion, 'previousVersion');
    out.set(idBytes, p);
    p += 32;
  }
  if (valueId !== null) {
    parseId(valueId, 'valueId');
    out.set(idBytes, p);
    p += 32;
  }
  if (textBytes > 0) out.set(textScratch.subarray(0, textBytes), p);
  return out;
}

/** UTF-8 bytes of the text inline in the record {@link encodeVersionRecord} returned last (0: none). */
let lastTextBytes = 0;

/**
 * UTF-8 bytes of the text the last {@link encodeVersionRecord} call wrote inline (0 for
 * a record without one): the encoder counted them anyway, so a commit adding up stored
 * text need not count again.
 */
export function encodedTextBytes(): number {
  return lastTextBytes;
}

/**
 * A version record's value.
 * @throws CorruptionError (details: `offset` in the bytes) unless
 *   {@link encodeVersionRecord} could have written `bytes`
 */
export function decodeVersionRecord(bytes: Uint8Array): VersionRecord {
  const end = bytes.length;
  if (end < 2) throw corrupt('version record: truncated', 0);
  const flags = bytes[0]!;
  const deleted = (flags & FLAG_DELETED) !== 0;
  const inline = (flags & FLAG_INLINE) !== 0;
  const byRef = (flags & FLAG_BY_REFERENCE) !== 0;
  if (flags > 0x1f || (deleted ? inline || byRef : inline === byRef)) throw corrupt(`version record: flags 0x${flags.toString(16)}`, 0);
  const seq = readSeq(bytes);
  let p = seqEnd;
  const need = p + ((flags & FLAG_PREVIOUS) !== 0 ? 32 : 0) + (deleted ? 0 : 32);
  if (end < need || (!inline && end !== need) || (inline && end === need)) {
    throw corrupt(`version record: ${end} bytes, ${inline ? 'more than' : 'expected'} ${need}`, Math.min(end, need));
  }
  let previousVersion: string | null = null;
  if ((flags & FLAG_PREVIOUS) !== 0) {
    previousVersion = hexOfBytes(bytes, p);
    p += 32;
  }
  const valueId = deleted ? null : hexOfBytes(bytes, p);
  const valueText = inline ? readText(bytes, p + 32, 'version record') : null;
  return { seq, deleted, previousVersion, valueId, valueText, currentAtCommit: (flags & FLAG_CURRENT_AT_COMMIT) !== 0 };
}

/** Where the seq {@link readSeq} read last ended. */
let seqEnd = 0;

/** The seq of a version record's value (from byte 1); sets {@link seqEnd}. */
function readSeq(bytes: Uint8Array): number {
  const end = bytes.length;
  let p = 1;
  let seq = 0;
  let scale = 1;
  for (;;) {
    if (p >= end) throw corrupt('version record: truncated seq', p);
    const b = bytes[p++]!;
    seq += (b & 0x7f) * scale;
    if (b < 0x80) {
      if (b === 0 && p > 2) throw corrupt('version record: seq not in its shortest form', p - 1);
      break;
    }
    if (p > 8) throw corrupt('version record: seq longer than 8 bytes', p);
    scale *= 128;
  }
  if (seq > Number.MAX_SAFE_INTEGER) throw corrupt('version record: seq past 2^53', 1);
  seqEnd = p;
  return seq;
}

/**
 * The seq and flags of a version record's value, without decoding the rest (for scans
 * that pick one version by seq and then decode only that one with
 * {@link decodeVersionRecord}, which checks everything).
 * @throws CorruptionError when the flags or the seq are malformed
 */
export function versionRecordSeq(bytes: Uint8Array): { readonly seq: number; readonly flags: number } {
  const flags = bytes.length > 0 ? bytes[0]! : 0xff;
  if (flags > 0x1f) throw corrupt(`version record: flags 0x${flags.toString(16)}`, 0);
  return { seq: readSeq(bytes), flags };
}

/** The value of a text value record (tag 0): `text` (canonical JSON) as UTF-8 (shared buffer, as {@link encodeVersionRecord}'s). @throws InvalidArgumentError for empty or ill-formed text */
export function encodeValueRecord(text: string): Uint8Array {
  checkText(text, 'value text');
  const n = encodeText(text);
  const out = allocateRecord(1 + n);
  out[0] = VALUE_TEXT;
  out.set(textScratch.subarray(0, n), 1);
  return out;
}

/**
 * A value record's value: its text.
 * @throws CorruptionError for a tag other than 0 (tag 1 of an earlier layout
 *   included), empty or non-UTF-8 text
 */
export function decodeValueRecord(bytes: Uint8Array): ValueRecord {
  if (bytes.length < 2) throw corrupt('value record: truncated', 0);
  const tag = bytes[0]!;
  if (tag !== VALUE_TEXT) throw corrupt(`value record: tag ${tag}`, 0);
  return { text: readText(bytes, 1, 'value record') };
}
