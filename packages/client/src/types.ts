/**
 * The shapes of arguments and results that are defined by @koru/delta (which the client
 * must not depend on). They are the same types, written out: a type test checks that
 * `KoruClient` is assignable to the matching part of `KoruDelta`.
 */
import type { JsonValue } from '@koru/engine';
import type { PutItem, SeqVersion, Version } from '@koru/storage';

/**
 * A {@link Version} whose `value` has the document type `T` the caller names
 * (`client.getVersion<User>(...)`): types only. For `T` the JSON value type (the
 * default) or `unknown`, exactly `Version`.
 */
export type VersionOf<T> = [JsonValue] extends [T] ? Version : Omit<Version, 'value'> & { readonly value: T };

/** A point in time: a Date, an ISO-8601 string or epoch milliseconds. */
export type TimeInput = Date | string | number;

/** One side of a diff: a version id, a history index (0 first, -1 latest) or a time. */
export type VersionRef = string | number | Date;

/** Options of `diff`. */
export interface DiffOptions {
  /** Default: the version before `to`. */
  readonly from?: VersionRef;
  /** Default: the current version. */
  readonly to?: VersionRef;
}

/** One difference between two values. */
export interface DiffChange {
  readonly kind: 'added' | 'removed' | 'changed';
  /** JSON Pointer to the place (`""` is the whole value). */
  readonly path: string;
  readonly before?: JsonValue;
  readonly after?: JsonValue;
}

/** The structural difference between two versions of a key. */
export interface VersionDiff {
  readonly namespace: string;
  readonly key: string;
  /** null when `to` is the first version (everything is added). */
  readonly from: Version | null;
  readonly to: Version;
  readonly changes: readonly DiffChange[];
}

/** An item of `putMany`. */
export type PutManyItem = PutItem;

/** Options of the server's `syncPull` call. */
export interface SyncPullOptions {
  /** Only versions of these namespaces (default: all but the reserved `_koru`). */
  readonly namespaces?: readonly string[];
  /** Most versions in the answer (default and most: the server's limit, 1,000). */
  readonly limit?: number;
}

/** The server's answer to `syncPull(since, options)`. */
export interface SyncPullResult {
  /** Versions committed on the server after `since`, in its seq order, each with that `seq`. */
  readonly versions: readonly SeqVersion[];
  /** Pull from here next: the server looked at every change through it. */
  readonly next: number;
  /** The server's last seq when it answered: caught up once `next` reaches it. */
  readonly head: number;
  /** Set when versions retention or a purge removed were skipped: the greatest such seq. */
  readonly prunedThrough?: number;
}

/** The server's answer to `syncPush(versions)`. */
export interface SyncPushResult {
  /** How many of the versions were stored now. */
  readonly applied: number;
  /** How many were stored there already (skipped). */
  readonly duplicates: number;
  /** The ids of versions not stored because their predecessor is unknown to the server. */
  readonly orphans: readonly string[];
}
