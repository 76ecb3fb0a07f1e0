/**
 * A stored version's JSON (the fields of {@link Version}, the value in its canonical
 * form) built straight from its record key and record: the value's stored text is
 * spliced in unparsed, so streaming a whole store (exports, a joining replica) never
 * materializes values.
 */
import type { VersionRecord } from './version-records.js';
import { decodeVersionKey } from './version-records.js';
import { hlcOfStamp, isoOfWall, type VersionFetcher } from './version-store-reads.js';
// Only for the {@link} links of the doc comments.
import type { Version } from './types.js';

/** The JSON of the version stored under `vkey` with record `r`. @throws CorruptionError */
export function versionJson(f: VersionFetcher, vkey: string, r: VersionRecord): string {
  const k = decodeVersionKey(vkey);
  const text = f.text(vkey, r);
  return (
    '{"namespace":' +
    JSON.stringify(k.namespace) +
    ',"key":' +
    JSON.stringify(k.key) +
    ',"value":' +
    (text ?? 'null') +
    ',"valueId":' +
    (r.valueId === null ? 'null' : `"${r.valueId}"`) +
    `,"versionId":"${k.versionId}","previousVersion":` +
    (r.previousVersion === null ? 'null' : `"${r.previousVersion}"`) +
    `,"timestamp":"${isoOfWall(k.wall)}","hlc":"${hlcOfStamp(k.wall, k.logical)}","node":` +
    JSON.stringify(k.node) +
    `,"deleted":${r.deleted}}`
  );
}
