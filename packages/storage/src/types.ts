/** Public data shapes of the storage layer. */
import type { JsonValue } from '@koru/engine';

/** One immutable version of a key: what `put` returns and `history` lists. Frozen. */
export interface Version {
  readonly namespace: string;
  readonly key: string;
  /** The value (deep-frozen); `null` for a tombstone. */
  readonly value: JsonValue;
  /** Hex SHA-256 of the value's RFC 8785 form; `null` for a tombstone. */
  readonly valueId: string | null;
  /** Content address of this version (see @koru/engine `versionIdOf`). */
  readonly versionId: string;
  /** The version this one superseded, `null` for the first. */
  readonly previousVersion: string | null;
  /** Wall-clock time of the write, ISO-8601 UTC with milliseconds (the HLC's wall part). */
  readonly timestamp: string;
  /** Hybrid logical clock stamp, `WWWWWWWWWWWWWWW-LLLLLL`; with `node` it orders all versions. */
  readonly hlc: string;
  /** Id of the node that wrote it. */
  readonly node: string;
  /** True for a tombstone written by `delete`. */
  readonly deleted: boolean;
}

/** Durability policy of a durable adapter. */
export type SyncPolicy = 'always' | 'periodic';

/** Counts and sizes. */
export interface StorageStats {
  /** Keys whose current version is not a tombstone. */
  readonly keys: number;
  /** Every version ever written, tombstones included. */
  readonly versions: number;
  /** Namespaces with at least one live key. */
  readonly namespaces: number;
  /**
   * Values stored: a value of at most the inline limit (1 KiB by default) is stored in
   * each version holding it and counts once per such version; a larger one is stored
   * once and counts once, however many versions hold it. (So it counts distinct values
   * only among the large ones.)
   */
  readonly distinctValues: number;
  /** UTF-8 bytes of the values counted by `distinctValues` (canonical JSON), summed. */
  readonly valueBytes: number;
  /** Bytes the adapter occupies on disk (0 in memory). */
  readonly diskBytes: number;
  /** Monotonic change counter: number of committed changes on this node. */
  readonly seq: number;
  /** Adapter name: `memory` or `file`. */
  readonly adapter: string;
}

/** One problem found by `verify()`. */
export interface VerifyProblem {
  readonly namespace: string;
  readonly key: string;
  readonly versionId: string;
  readonly problem: string;
}

/** Result of `verify()`: every chain re-hashed, every value re-read and re-hashed. */
export interface VerifyReport {
  readonly ok: boolean;
  readonly keys: number;
  readonly versions: number;
  /** Value records checked: the large values, each stored once (small ones are checked inline, in their versions). */
  readonly values: number;
  readonly problems: readonly VerifyProblem[];
}

/** What recovery did when the database was opened. */
export interface RecoveryReport {
  /** Write batches replayed from the write-ahead logs not yet in segments. */
  readonly replayed: number;
  /** Set when a torn tail (bytes past the last synced point, nothing valid after) was cut off a log. */
  readonly truncated?: { readonly file: string; readonly offset: number; readonly bytes: number };
  /** Set when an open with `repair` dropped damaged data: what was dropped, one entry per file. */
  readonly repaired?: readonly RepairedDamage[];
  /** Set when this open converted a database of an earlier format (see the node adapter). */
  readonly migrated?: { readonly from: string; readonly versions: number; readonly ms: number };
}

/** What `repair` found damaged and dropped to open a database. */
export interface RepairedDamage {
  readonly file: string;
  /** Where the damage was found. */
  readonly offset: number;
  /** What was wrong and what repair did. */
  readonly message: string;
  /** Bytes cut from the file (they remain in `savedAs`), plus synced bytes the file had already lost. */
  readonly bytes: number;
  /** Readable records (write batches) dropped with those bytes. */
  readonly records: number;
  /** How many distinct keys they wrote, when known. */
  readonly keys?: number;
  /** The damaged file's copy, kept for inspection. */
  readonly savedAs?: string;
}

/** What a committed change did to its key. */
export type ChangeType = 'insert' | 'update' | 'delete';

/** One committed change, as the change feed sees it. */
export interface Change {
  /** Its number: one more than the change before it on this node. */
  readonly seq: number;
  /** `insert`: the first version, or a write after a delete; `update`; `delete`: a tombstone. */
  readonly changeType: ChangeType;
  readonly version: Version;
  /** The value current before it (null after none or after a tombstone). */
  readonly previousValue: JsonValue;
  /**
   * Set when a version with a later clock was already current: this one (replicated from
   * a node that wrote it concurrently) joins the key's history, the current value stays.
   */
  readonly superseded?: true;
}
