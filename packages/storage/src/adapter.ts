/**
 * The storage-adapter contract. CausalStorage keeps the indexes and the version
 * metadata in memory; an adapter persists committed changes and serves value bytes.
 * Every adapter must pass `runStorageConformance` (test/conformance.ts).
 */
import type { JsonValue } from '@koru/engine';
import type { RecoveryReport } from './types.js';
import type { VersionColumns } from './version-table.js';

/** What the log records of every change: the version's identity and where its value is. */
export interface ChangeRecord {
  /** Change counter on this node: one more than the previous committed change. */
  readonly seq: number;
  readonly namespace: string;
  readonly key: string;
  readonly versionId: string;
  readonly previousVersion: string | null;
  /** null for a tombstone. */
  readonly valueId: string | null;
  /** Formatted HLC stamp. */
  readonly hlc: string;
  readonly node: string;
  readonly deleted: boolean;
  /** Where the value lives (adapter-defined); -1 for tombstones. */
  readonly loc: number;
  readonly len: number;
}

/** One committed change, handed to the adapter in commit order. */
export interface CommitEntry extends ChangeRecord {
  /** Canonical JSON of the value when it is stored for the first time, else null. */
  valueText: string | null;
  /** The frozen value (null for tombstones). */
  readonly value: JsonValue;
  /** When the value is already stored by an earlier entry of the same batch. */
  sameAs: CommitEntry | null;
  /** Set by the adapter for new values, by storage for stored ones. */
  loc: number;
  len: number;
}

/** A snapshot of the whole state, as loaded by an adapter. */
export interface LoadedSnapshot {
  readonly count: number;
  readonly cols: VersionColumns;
  readonly nodes: readonly string[];
  /** Each key with its rows, oldest first (the store takes the arrays over). */
  readonly keys: ReadonlyArray<{ readonly namespace: string; readonly key: string; readonly rows: number[] }>;
  readonly seq: number;
}

/** A change replayed from the log after the snapshot (value location already resolved). */
export type ReplayEntry = ChangeRecord;

/** What an adapter found when it opened. */
export interface LoadedState {
  /** This node's persistent id. */
  readonly nodeId: string;
  readonly snapshot: LoadedSnapshot | null;
  readonly log: Iterable<ReplayEntry>;
  /** Filled in by the adapter while `log` is iterated. */
  readonly report: () => RecoveryReport;
}

/** What an adapter sees of the state when it writes a snapshot. */
export interface SnapshotSource {
  readonly count: number;
  readonly cols: VersionColumns;
  readonly nodes: readonly string[];
  readonly keys: () => Iterable<{ readonly namespace: string; readonly key: string; readonly rows: readonly number[] }>;
  readonly keyCount: number;
  readonly seq: number;
}

/** New value locations for every row after a snapshot was written. */
export interface Relocation {
  readonly loc: Float64Array;
  readonly len: Uint32Array;
}

/** A place committed changes are persisted to. */
export interface StorageAdapter {
  /** `memory` or `file`. */
  readonly name: string;
  /** True when `append` is synchronous and costs no I/O, so batching gains nothing (memory). */
  readonly synchronous: boolean;
  /** Loads what is persisted (called once, first). */
  open(): LoadedState | Promise<LoadedState>;
  /**
   * Persists a batch: all of it or nothing survives a crash. Assigns `loc`/`len` to
   * entries with `valueText`. Returns (or resolves) once durable per its policy; if it
   * throws, nothing of the batch is persisted or will be replayed.
   */
  append(entries: readonly CommitEntry[]): void | Promise<void>;
  /** The value stored at a location (deep-frozen). @throws CorruptionError if damaged */
  readValue(loc: number, len: number): JsonValue;
  /** The canonical JSON text stored at a location. @throws CorruptionError if damaged */
  readValueText(loc: number, len: number): string;
  /** Bytes used on disk. */
  diskBytes(): number;
  /** True when the adapter would like a snapshot written now. */
  wantsSnapshot(): boolean;
  /** Writes a snapshot of everything (history kept) and returns every row's new location. */
  snapshot(source: SnapshotSource): Relocation | null;
  /** Flushes and releases everything. */
  close(): void | Promise<void>;
}
