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
 *
 * The code is in files of one idea each, re-exported here: record-names.ts (name
 * encoding), record-ids.ts (hex ids as raw bytes), version-keys.ts (version keys and
 * prefixes), record-keys.ts (change-feed, value and counter keys), record-text.ts (UTF-8
 * text in values), version-record-values.ts (version records), value-records.ts (value
 * records).
 */
export { encodeName } from './record-names.js';
export {
  decodeKeyPrefix,
  decodeVersionKey,
  decodeVersionKeySuffix,
  FILTER_KEY_PARTS,
  filterKey,
  keyPrefix,
  keyRangePrefix,
  namespaceOfVersionKey,
  namespacePrefix,
  prefixEnd,
  stampKey,
  TAG_VERSION,
  versionIdSuffix,
  versionKey,
  versionKeySuffix,
  type VersionKeyFields,
} from './version-keys.js';
export { decodeNamespaceCountKey, decodeSeqKey, decodeValueKey, namespaceCountKey, seqKey, TAG_NAMESPACE_COUNT, TAG_SEQ, TAG_VALUE, valueKey } from './record-keys.js';
export {
  decodeVersionRecord,
  encodedTextBytes,
  encodeVersionRecord,
  FLAG_BY_REFERENCE,
  FLAG_CURRENT_AT_COMMIT,
  FLAG_DELETED,
  FLAG_HORIZON,
  FLAG_INLINE,
  FLAG_PREVIOUS,
  FLAG_PURGED,
  versionRecordSeq,
  type VersionRecord,
} from './version-record-values.js';
export { decodeValueRecord, encodeValueRecord, VALUE_TEXT, type ValueRecord } from './value-records.js';
