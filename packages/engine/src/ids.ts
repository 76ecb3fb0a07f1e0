/**
 * The product's content addresses. Anyone can recompute them with standard tools:
 * - valueId   = hex SHA-256 of the value's RFC 8785 canonical JSON (UTF-8);
 * - versionId = hex SHA-256 of the RFC 8785 JSON of
 *   `{ deleted, hlc, key, namespace, node, previousVersion, valueId }`,
 *   so each key's history is a hash chain through `previousVersion`.
 */
import { sha256HexOfBytes, sha256HexOfText } from './hash.js';

/** The value id of an already canonical JSON text. */
export function valueIdOfCanonical(canonicalText: string): string {
  return sha256HexOfText(canonicalText);
}

/** The fields a version id covers. */
export interface VersionIdFields {
  readonly namespace: string;
  readonly key: string;
  /** null for a tombstone. */
  readonly valueId: string | null;
  readonly previousVersion: string | null;
  readonly hlc: string;
  readonly node: string;
  readonly deleted: boolean;
}

/** The canonical JSON that a version id hashes (keys already in RFC 8785 order). */
export function versionIdInput(f: VersionIdFields): string {
  // Every field is escaped: an unescaped id containing `"` could forge the input of a
  // different set of fields (the same version id for different versions).
  return (
    '{"deleted":' +
    (f.deleted ? 'true' : 'false') +
    ',"hlc":' +
    quote(f.hlc) +
    ',"key":' +
    quote(f.key) +
    ',"namespace":' +
    quote(f.namespace) +
    ',"node":' +
    quote(f.node) +
    ',"previousVersion":' +
    (f.previousVersion === null ? 'null' : quote(f.previousVersion)) +
    ',"valueId":' +
    (f.valueId === null ? 'null' : quote(f.valueId)) +
    '}'
  );
}

// Characters JSON.stringify would escape (surrogates included, to stay on its path for
// anything unusual); strings without them are quoted as they are, which is faster.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** JSON string literal of `s`, identical to JSON.stringify(s). */
function quote(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : '"' + s + '"';
}

/** The version id: content address of a version. */
export function versionIdOf(f: VersionIdFields): string {
  const n = versionIdInputBytes(f);
  // The bytes of {@link versionIdInput}, written without building the string (a dozen
  // strings concatenated and then encoded again, per write); fields that JSON would
  // escape, or that are not ASCII, take the string's way.
  return n < 0 ? sha256HexOfText(versionIdInput(f)) : sha256HexOfBytes(inputScratch.subarray(0, n));
}

/** Scratch for {@link versionIdInputBytes}: larger inputs (long names) take the string's way. */
const inputScratch = new Uint8Array(1024);

/** ASCII codes of `s`. */
function asciiCodes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

const PART_DELETED = asciiCodes('{"deleted":');
const PART_HLC = asciiCodes(',"hlc":"');
const PART_KEY = asciiCodes('","key":"');
const PART_NAMESPACE = asciiCodes('","namespace":"');
const PART_NODE = asciiCodes('","node":"');
const PART_PREVIOUS = asciiCodes('","previousVersion":');
const PART_VALUE_ID = asciiCodes(',"valueId":');
const TRUE = asciiCodes('true');
const FALSE = asciiCodes('false');
const NULL = asciiCodes('null');

/** Writes `part` at `p` of the scratch; returns the end. */
function putPart(part: Uint8Array, p: number): number {
  inputScratch.set(part, p);
  return p + part.length;
}

/**
 * Writes `s` at `p` of the scratch, as it stands inside a JSON string; returns the end,
 * or -1 when a character of it is not printable ASCII or would be escaped (`"`, `\`).
 */
function putPlain(s: string, p: number): number {
  const b = inputScratch;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return -1;
    b[p++] = c;
  }
  return p;
}

/** Writes `s` quoted (or null) at `p` of the scratch; returns the end or -1 (see {@link putPlain}). */
function putQuotedOrNull(s: string | null, p: number): number {
  if (s === null) return putPart(NULL, p);
  inputScratch[p++] = 0x22;
  p = putPlain(s, p);
  if (p < 0) return -1;
  inputScratch[p++] = 0x22;
  return p;
}

/**
 * The UTF-8 bytes of {@link versionIdInput} written into the scratch: their length, or
 * -1 when a field must be escaped or is not ASCII (then nothing useful was written).
 */
function versionIdInputBytes(f: VersionIdFields): number {
  // The fixed parts and two quoted ids take under 256 bytes; longer names take the string's way.
  if (f.hlc.length + f.key.length + f.namespace.length + f.node.length + 256 > inputScratch.length) return -1;
  let p = putPart(PART_DELETED, 0);
  p = putPart(f.deleted ? TRUE : FALSE, p);
  p = putPart(PART_HLC, p);
  if ((p = putPlain(f.hlc, p)) < 0) return -1;
  p = putPart(PART_KEY, p);
  if ((p = putPlain(f.key, p)) < 0) return -1;
  p = putPart(PART_NAMESPACE, p);
  if ((p = putPlain(f.namespace, p)) < 0) return -1;
  p = putPart(PART_NODE, p);
  if ((p = putPlain(f.node, p)) < 0) return -1;
  p = putPart(PART_PREVIOUS, p);
  if ((p = putQuotedOrNull(f.previousVersion, p)) < 0) return -1;
  p = putPart(PART_VALUE_ID, p);
  if ((p = putQuotedOrNull(f.valueId, p)) < 0) return -1;
  inputScratch[p++] = 0x7d;
  return p;
}

const HEX64 = /^[0-9a-f]{64}$/;

/** True for a 64-char lowercase hex id. */
export function isId(s: unknown): s is string {
  return typeof s === 'string' && HEX64.test(s);
}
