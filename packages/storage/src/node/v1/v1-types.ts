/**
 * The shapes the v1 format's files are written and read in, copied here from the v1
 * store (adapter.ts, version-table.ts, types.ts) so that the v1 reader stands alone once
 * the v1 store is gone: nothing under src/node/v1/ imports the store's modules.
 */
import type { JsonValue } from '@koru/engine';

/** Flag bit of the `flags` column: the row is a tombstone. */
export const FLAG_DELETED = 1;

/** Names of the version table's columns, in the order snapshots store them. */
export const COLUMN_NAMES = ['wall', 'logical', 'prev', 'loc', 'len', 'node', 'flags', 'ids', 'vids'] as const;

/** The version table's columns: one entry per row (32 bytes per row for `ids` and `vids`). */
export interface VersionColumns {
  wall: Float64Array;
  logical: Uint32Array;
  /** Row of the superseded version, -1 for none. */
  prev: Int32Array;
  /** Value location: -(snapshot offset + 1) in the snapshot, ≥ 0 in the log; -1 for tombstones. */
  loc: Float64Array;
  len: Uint32Array;
  /** Index into the snapshot's `nodes`. */
  node: Uint16Array;
  flags: Uint8Array;
  /** Version ids, 32 raw bytes a row. */
  ids: Uint8Array;
  /** Value ids, 32 raw bytes a row (zero for tombstones). */
  vids: Uint8Array;
}

/** What a log record says of one change: the version's identity and where its value is. */
export interface ChangeRecord {
  /** Change counter on this node: one more than the previous committed change. */
  readonly seq: number;
  readonly namespace: string;
  readonly key: string;
  readonly versionId: string;
  readonly previousVersion: string | null;
  /** null for a tombstone. */
  readonly valueId: string | null;
  /** Formatted HLC stamp (`WWWWWWWWWWWWWWW-LLLLLL`). */
  readonly hlc: string;
  readonly node: string;
  readonly deleted: boolean;
  /** Where the value lives (see {@link VersionColumns.loc}); -1 for tombstones. */
  readonly loc: number;
  readonly len: number;
}

/** One change as the v1 writer handed it to the log encoder (log-format.ts `encodeBatch`). */
export interface CommitEntry extends ChangeRecord {
  /** Canonical JSON of the value when it is stored for the first time, else null. */
  valueText: string | null;
  /** The value (null for tombstones); the encoder does not read it. */
  readonly value: JsonValue;
  /** When the value is already stored by an earlier entry of the same batch. */
  sameAs: CommitEntry | null;
  /** Set by the encoder for new values, by the writer for stored ones. */
  loc: number;
  len: number;
}

/** A change replayed from the log after the snapshot (value location already resolved). */
export type ReplayEntry = ChangeRecord;

/** A snapshot's metadata as loaded: every row's columns and every key's rows. */
export interface LoadedSnapshot {
  readonly count: number;
  readonly cols: VersionColumns;
  /** Node ids; the `node` column indexes this list. */
  readonly nodes: readonly string[];
  /** Each key with its rows, oldest first in clock order. */
  readonly keys: ReadonlyArray<{ readonly namespace: string; readonly key: string; readonly rows: number[] }>;
  readonly seq: number;
}

/** What the snapshot writer (snapshot-format.ts `writeSnapshot`) reads of a state. */
export interface SnapshotSource {
  readonly count: number;
  readonly cols: VersionColumns;
  readonly nodes: readonly string[];
  readonly keys: () => Iterable<{ readonly namespace: string; readonly key: string; readonly rows: readonly number[] }>;
  readonly keyCount: number;
  readonly seq: number;
}

/** Every row's value location in a snapshot just written. */
export interface Relocation {
  readonly loc: Float64Array;
  readonly len: Uint32Array;
}

/** What `repair` found damaged and dropped (the v1 store's `RepairedDamage`). */
export interface V1RepairedDamage {
  readonly file: string;
  /** Where the damage was found. */
  readonly offset: number;
  /** What was wrong and what repair did. */
  readonly message: string;
  /** Bytes dropped from the file (they remain in `savedAs`), plus synced bytes the file had already lost. */
  readonly bytes: number;
  /** Readable records (versions) dropped, and how many distinct keys they wrote. */
  readonly records: number;
  readonly keys: number;
  /** The damaged file's copy, kept for inspection. */
  readonly savedAs?: string;
}

/** What reading a v1 directory found (the v1 store's `RecoveryReport`). */
export interface V1RecoveryReport {
  /** Records replayed from the log. */
  readonly replayed: number;
  /** Versions loaded from the snapshot. */
  readonly fromSnapshot: number;
  /** Set when a torn tail (bytes past the last synced checkpoint, nothing valid after) was left unread. */
  readonly truncated?: { readonly file: string; readonly offset: number; readonly bytes: number };
  /** Set when `repair` dropped damaged data: what was dropped, one entry per damage. */
  readonly repaired?: readonly V1RepairedDamage[];
}
