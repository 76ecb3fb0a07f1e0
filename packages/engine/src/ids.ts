/**
 * The product's content addresses. Anyone can recompute them with standard tools:
 * - valueId   = hex SHA-256 of the value's RFC 8785 canonical JSON (UTF-8);
 * - versionId = hex SHA-256 of the RFC 8785 JSON of
 *   `{ deleted, hlc, key, namespace, node, previousVersion, valueId }`,
 *   so each key's history is a hash chain through `previousVersion`.
 */
import { sha256HexOfText } from './hash.js';

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
  return sha256HexOfText(versionIdInput(f));
}

const HEX64 = /^[0-9a-f]{64}$/;

/** True for a 64-char lowercase hex id. */
export function isId(s: unknown): s is string {
  return typeof s === 'string' && HEX64.test(s);
}
