/**
 * @koru/engine — the bottom layer of KoruDelta: content addressing on SHA-256
 * (the distinction calculus), RFC 8785 canonical JSON, a hybrid logical clock,
 * Merkle roots and the typed errors every layer throws. Browser-safe.
 */
export * from './errors.js';
export * from './wire-errors.js';
export {
  type HashBackend,
  nobleHashBackend,
  setHashBackend,
  hashBackend,
  sha256HexOfText,
  sha256HexOfBytes,
  toHex,
  fromHex,
} from './hash.js';
export {
  type JsonValue,
  type Canonical,
  type CanonicalLimits,
  DEFAULT_MAX_VALUE_BYTES,
  DEFAULT_MAX_DEPTH,
  canonicalize,
  canonicalJson,
  deepFreeze,
  isWellFormedString,
  utf8Length,
} from './canonical-json.js';
export {
  type Distinction,
  d0,
  d1,
  distinctionOf,
  distinctionOfBytes,
  distinctionOfText,
  synthesize,
  synthesizeAll,
} from './distinction.js';
export { type VersionIdFields, valueIdOfCanonical, versionIdInput, versionIdOf, isId } from './ids.js';
export {
  type HlcStamp,
  type WallClock,
  HLC_MAX_LOGICAL,
  HLC_MAX_WALL,
  HybridClock,
  compareHlc,
  formatHlc,
  parseHlc,
} from './hlc.js';
export { type MerkleEntry, merkleLeaf, merkleRoot } from './merkle.js';
