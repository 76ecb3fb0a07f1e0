/**
 * Reading a log at open: the whole batches it holds, and, when it stops early, whether
 * what is cut off is a torn tail or acknowledged data.
 *
 * - Torn tail: the scan stops at or past the `SYNCED` checkpoint and no valid record
 *   follows the damage. Those bytes belong to a write that was in flight when the
 *   process or machine stopped (or, under `periodic`, to the documented loss window of a
 *   power loss); they are cut off and reported.
 * - Lost acknowledged data: the valid prefix ends before the checkpoint (the file was
 *   cut, or a synced record is damaged), or a valid record follows the damage (a kill
 *   never leaves a hole, and `always` syncs batch after batch). That is CORRUPTION;
 *   `repair` keeps the whole batches before the damage.
 */
import type { ReplayEntry } from './v1-types.js';
import { checkRecord, decodeMeta, LOG_HEADER_BYTES, validRecordAfter } from './log-format.js';

/** Where and how a log lost acknowledged data. */
export interface LogDamage {
  /** Where the scan stopped: the damaged record, or the end of a cut file. */
  readonly offset: number;
  /** Where the valid prefix ends (the start of the batch the damage is in): what repair keeps. */
  readonly validEnd: number;
  readonly why: string;
  /** The file's size. */
  readonly size: number;
  /** Bytes in the file from `validEnd` on, which repair drops. */
  readonly bytes: number;
  /** Bytes the checkpoint says were synced but the file no longer holds. */
  readonly missingBytes: number;
  /** Records still readable from `validEnd` on (dropped by repair), and their distinct keys. */
  readonly records: number;
  readonly keys: number;
}

/** The result of scanning a log. */
export interface LogScan {
  readonly entries: ReplayEntry[];
  readonly validEnd: number;
  /** Set when acknowledged data is lost (never for a torn tail). */
  readonly damage?: LogDamage;
  /** Every node id the replayed records name. */
  readonly nodes: ReadonlySet<string>;
}

function metaText(data: Buffer, bodyStart: number, end: number): string {
  // Only the metadata line is decoded: values stay on disk until read.
  const nl = data.indexOf(10, bodyStart);
  return data.toString('utf8', bodyStart, nl < 0 || nl > end ? end : nl);
}

/** Counts the readable records (and their keys) in [from, end), skipping over damage. */
function readable(data: Buffer, from: number): { records: number; keys: number } {
  const keys = new Set<string>();
  let records = 0;
  let at = from;
  while (at < data.length) {
    const rec = checkRecord(data, at, data.length);
    if (!rec.ok) {
      at++;
      continue;
    }
    try {
      const { entry } = decodeMeta(metaText(data, rec.bodyStart, rec.end), at, rec.end - at);
      keys.add(JSON.stringify([entry.namespace, entry.key]));
      records++;
    } catch {
      // A valid frame with unreadable metadata: counted as bytes only.
    }
    at = rec.end;
  }
  return { records, keys: keys.size };
}

/**
 * Scans log bytes `data` whose checkpoint says `syncedEnd` bytes were acknowledged and
 * synced (LOG_HEADER_BYTES when unknown).
 */
export function scanLog(data: Buffer, syncedEnd: number): LogScan {
  const entries: ReplayEntry[] = [];
  const nodes = new Set<string>();
  let batch: ReplayEntry[] = [];
  let batchStart = LOG_HEADER_BYTES;
  let at = LOG_HEADER_BYTES;
  let why = '';
  let hole = false;
  while (at < data.length) {
    const rec = checkRecord(data, at, data.length);
    let decoded;
    if (rec.ok) {
      try {
        decoded = decodeMeta(metaText(data, rec.bodyStart, rec.end), at, rec.end - at);
      } catch {
        // A frame whose checksum holds but whose metadata does not parse was written so.
        why = 'unreadable record metadata';
        hole = true;
        break;
      }
    } else {
      why = rec.why;
      hole = validRecordAfter(data, at, data.length);
      break;
    }
    batch.push(decoded.entry);
    at = rec.end;
    if (decoded.remaining === 0) {
      for (const e of batch) {
        entries.push(e);
        nodes.add(e.node);
      }
      batch = [];
      batchStart = at;
    }
  }
  if (why === '' && batch.length > 0) why = 'the file ends inside a batch';
  const validEnd = batchStart;
  if (validEnd >= syncedEnd && !hole) return { entries, validEnd, nodes };
  if (why === '') why = 'the file ends there';
  const missingBytes = Math.max(0, syncedEnd - data.length);
  return {
    entries,
    validEnd,
    nodes,
    damage: { offset: at, validEnd, why, size: data.length, bytes: data.length - validEnd, missingBytes, ...readable(data, validEnd) },
  };
}

/** One line on what a damaged log lost, for errors and reports. */
export function describeDamage(file: string, d: LogDamage, syncedEnd: number): string {
  const parts = [`log ${file} is damaged at offset ${d.offset} (${d.why})`];
  if (d.missingBytes > 0) parts.push(`it ends at ${d.size} but ${syncedEnd} bytes of it were acknowledged and synced: ${d.missingBytes} bytes are gone`);
  if (d.bytes > 0) parts.push(`${d.bytes} bytes from offset ${d.validEnd} on hold ${d.records} readable records of ${d.keys} keys that cannot be replayed`);
  return parts.join('; ');
}
