/**
 * The one interface every benchmarked store implements. Methods may answer
 * synchronously (better-sqlite3, Map) or with a promise (KoruDelta); the harness awaits
 * only promises, so a synchronous store is not charged for an await it would never need.
 */
import type { Entry } from './workload.js';

/** Durability class a store is opened with. */
export type Durability =
  /** nothing on disk */
  | 'memory'
  /** each subject's default durable policy (KoruDelta periodic, sqlite synchronous=NORMAL) */
  | 'default'
  /** acknowledged only after fsync (KoruDelta sync 'always', sqlite synchronous=FULL) */
  | 'always';

/** A value or a promise of it. */
export type MaybePromise<T> = T | Promise<T>;

/** An opened store. Items returned by `history`/`getAt` are store-specific; `itemValue` reads the document out of one. */
export interface VersionedStore {
  put(namespace: string, key: string, value: object): MaybePromise<unknown>;
  /** Writes all entries as one batch (one transaction / one log write). */
  putBatch(entries: readonly Entry[]): MaybePromise<unknown>;
  /** Current value of the key. */
  get(namespace: string, key: string): MaybePromise<unknown>;
  /** All versions of the key, oldest first. */
  history(namespace: string, key: string): MaybePromise<readonly unknown[]>;
  /** The version current at epoch ms `when`. */
  getAt(namespace: string, key: string, when: number): MaybePromise<unknown>;
  /** Document inside an item returned by `history` or `getAt` (used to check answers, never timed). */
  itemValue(item: unknown): unknown;
  /** Writes a snapshot so reopening is fast (stores that have one). */
  compact?(): Promise<void>;
  /** The store's own counters, recorded in the notes as a sanity check. */
  stats?(): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

/** A benchmarked system. */
export interface Subject {
  readonly id: SubjectId;
  /** Column title in the results. */
  readonly label: string;
  /** Library and engine versions, for the results header. */
  readonly version: string;
  supports(durability: Durability): boolean;
  /** How `durability` maps to this subject's settings, for the notes. */
  describe(durability: Durability): string;
  /** Opens (creating if needed) a store in `dir`; `dir` is ignored in memory. */
  open(dir: string, durability: Durability): Promise<VersionedStore>;
}

/** Subjects the runner knows, in column order. */
export const SUBJECT_IDS = ['koru', 'sqlite', 'map', 'loki'] as const;
export type SubjectId = (typeof SUBJECT_IDS)[number];

/** Column titles, known without loading a subject's module. */
export const SUBJECT_LABELS: Readonly<Record<SubjectId, string>> = { koru: 'KoruDelta', sqlite: 'better-sqlite3', map: 'Map', loki: 'LokiJS' };

const DURABILITIES: readonly Durability[] = ['memory', 'default', 'always'];

/** False for a subject that opens no versioned store in any durability (LokiJS: query rows only). */
export function hasVersionedStore(subject: Subject): boolean {
  return DURABILITIES.some((d) => subject.supports(d));
}
