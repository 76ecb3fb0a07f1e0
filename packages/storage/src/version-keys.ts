/**
 * Version record keys (see version-records.ts, "Version record"): their prefixes (a
 * namespace's, a key's: also the Bloom filter key), the clock stamp, node and id suffix,
 * and their decoding.
 */
import { HLC_MAX_LOGICAL, HLC_MAX_WALL, InvalidArgumentError } from '@koru/engine';
import { CorruptionError } from './errors.js';
import { bytesKey } from './lsm/types.js';
import { checkName, corrupt, encodeName, nameEnd, readName, TERMINATOR, utf8 } from './record-names.js';
import { complementedIdKey, hexOfKey } from './record-ids.js';

/** First byte of a version record's key. */
export const TAG_VERSION = 'V';

/**
 * The Bloom filter key of a version record is its key through this many name
 * terminators: namespace and key, so a lookup of any version of a key (a scan from
 * {@link keyPrefix}) can consult the filter. See {@link filterKey}.
 */
export const FILTER_KEY_PARTS = 2;

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

const TWO_32 = 4294967296;
/** The prefix of every version key of namespace `ns`. @throws InvalidArgumentError */
export function namespacePrefix(ns: string): string {
  checkName(ns, 'namespace', true);
  return TAG_VERSION + encodeName(ns);
}

/**
 * What the {@link keyPrefix} of every key of `ns` that starts with `start` starts with
 * (the namespace's prefix for an empty `start`): a name's encoding is its UTF-8 bytes
 * (NUL escaped) and then its terminator, and a string starting with a well-formed
 * `start` has UTF-8 bytes starting with `start`'s. @throws InvalidArgumentError
 */
export function keyRangePrefix(ns: string, start: string): string {
  const p = namespacePrefix(ns);
  if (start === '') return p;
  const name = encodeName(start);
  return p + name.slice(0, name.length - TERMINATOR.length);
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
 * ≤ t begin (see version-records.ts).
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

/** `encodeName(node)` with every byte complemented (see version-records.ts). */
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
 * The key of a version record (see version-records.ts).
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

/** Where the node name {@link readNodeName} read last ended (past its terminator). */
let nodeEnd = 0;

/** Reads the complemented node name at `k[start…]`; sets {@link nodeEnd}. */
function readNodeName(k: string, start: number): string {
  // 0xFF starts only an escape (0xFF 0x00) or the terminator (0xFF 0xFE), so the first
  // 0xFF 0xFE is the terminator, and every 0xFF before it must start an escape.
  const end = k.indexOf('\u00ff\u00fe', start);
  if (end < 0) throw corrupt('version key: its node has no terminator', start);
  nodeEnd = end + 2;
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
  if (k.length - nodeEnd !== 32) throw corrupt(`version key: ${k.length - nodeEnd} bytes of version id, not 32`, nodeEnd);
  const versionId = hexOfKey(k, nodeEnd, 'version key', 0xff);
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
