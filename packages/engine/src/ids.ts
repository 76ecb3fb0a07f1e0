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
  return (
    `{"deleted":${f.deleted ? 'true' : 'false'},"hlc":${JSON.stringify(f.hlc)},"key":${JSON.stringify(f.key)}` +
    `,"namespace":${JSON.stringify(f.namespace)},"node":${JSON.stringify(f.node)}` +
    // Escaped like every other field: an unescaped id containing `"` could forge the
    // input of a different set of fields (same version id for different versions).
    `,"previousVersion":${f.previousVersion === null ? 'null' : JSON.stringify(f.previousVersion)}` +
    `,"valueId":${f.valueId === null ? 'null' : JSON.stringify(f.valueId)}}`
  );
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
