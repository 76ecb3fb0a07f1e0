/** Rows of the schema (./schema.ts) as the store's Versions. */
import { deepFreeze, type JsonValue } from '@koru/engine';
import type { Version } from '@koru/storage';

/** A `koru_versions` row joined with its value's body. */
export interface VersionRow {
  readonly seq: string;
  readonly ns: string;
  readonly key: string;
  readonly version_id: string;
  readonly prev: string | null;
  readonly value_id: string | null;
  readonly hlc: string;
  readonly node: string;
  readonly wall: string;
  readonly deleted: boolean;
  readonly body: string | null;
}

/** The columns of a {@link VersionRow}, from `koru_versions v` left-joined with `koru_values b`. */
export const VERSION_COLUMNS = 'v.seq, v.ns, v.key, v.version_id, v.prev, v.value_id, v.hlc, v.node, v.wall, v.deleted, b.body';

/** The join that gives a version its value. */
export const VALUE_JOIN = 'LEFT JOIN koru_values b ON b.value_id = v.value_id';

/** A stored body (canonical JSON) as a deep-frozen value. */
export function valueOfBody(body: string): JsonValue {
  return deepFreeze(JSON.parse(body) as JsonValue);
}

/** The Version a row stands for. */
export function versionOfRow(r: VersionRow): Version {
  const wall = Number(r.wall);
  return Object.freeze({
    namespace: r.ns,
    key: r.key,
    value: r.deleted || r.body === null ? null : valueOfBody(r.body),
    valueId: r.value_id,
    versionId: r.version_id,
    previousVersion: r.prev,
    timestamp: new Date(wall).toISOString(),
    hlc: r.hlc,
    node: r.node,
    deleted: r.deleted,
  });
}
