/**
 * The manifest: the list of live segment files, the file-number sequence, the oldest
 * WAL still needed, and the upper layer's durable settings. It is never edited in place:
 * each change writes a whole new one with StorageDirectory.writeAtomic (temporary file,
 * sync, rename over, sync the directory), so after a crash it is the old manifest or the
 * new one, and a leftover temporary file is never read.
 *
 * Encoding: magic `KDMAN001` | u32 body length | u32 CRC-32 of the body | UTF-8 JSON body.
 * Keys (binary strings, char codes 0–255) go through JSON as they are: JSON escapes the
 * control characters and UTF-8 carries 0x80–0xFF in two bytes, so they round-trip.
 * Every single-bit flip is caught: in the magic by the magic, in the length by the file
 * size, in the checksum or the body by the checksum. A body that checks out but does not
 * have the exact shape below (a bug that wrote it, or a foreign file) is CORRUPTION too:
 * the engine never runs on a manifest it cannot trust.
 */
import { CorruptionError } from '../errors.js';
import { crc32 } from './checksum.js';
import type { StorageDirectory } from './io.js';
import { MANIFEST_FILE, type SegmentInfo } from './types.js';
import { getU32, putU32 } from './bytes.js';

/** A live segment and the level of the LSM tree it is in. */
export interface SegmentMeta extends SegmentInfo {
  readonly level: number;
}

/** What the manifest holds. */
export interface ManifestState {
  readonly formatVersion: 1;
  /** Next unused file number (WAL and segment files share one sequence). */
  readonly nextFileNumber: number;
  /** WAL files numbered below this are fully in segments (and deleted). */
  readonly logNumber: number;
  readonly segments: readonly SegmentMeta[];
  /** The upper layer's own durable settings (JSON-safe). */
  readonly properties: Readonly<Record<string, unknown>>;
}

const MAGIC = [0x4b, 0x44, 0x4d, 0x41, 0x4e, 0x30, 0x30, 0x31]; // "KDMAN001"
const HEADER_BYTES = 16;
const TOP_FIELDS = ['formatVersion', 'logNumber', 'nextFileNumber', 'properties', 'segments'];
const SEGMENT_FIELDS = ['bytes', 'count', 'fileNumber', 'firstKey', 'lastKey', 'level', 'properties'];

/** Why a value does not have the manifest's shape (a path and a reason), or undefined when it does. */
type Problem = string | undefined;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function nat(v: unknown, path: string, min = 0): Problem {
  return Number.isSafeInteger(v) && (v as number) >= min ? undefined : `${path} is not an integer ≥ ${min}`;
}

function binary(v: unknown, path: string): Problem {
  if (typeof v !== 'string') return `${path} is not a string`;
  for (let i = 0; i < v.length; i++) if (v.charCodeAt(i) > 0xff) return `${path} is not a binary string`;
  return undefined;
}

function exactFields(v: Record<string, unknown>, fields: readonly string[], path: string): Problem {
  const keys = Object.keys(v).sort();
  if (keys.length === fields.length && keys.every((k, i) => k === fields[i])) return undefined;
  return `${path} has fields [${keys.join(', ')}], not [${fields.join(', ')}]`;
}

/** True when {@link jsonSafe} finds no problem; builds no path strings (a manifest names every segment: this runs at each open). */
function isJsonSafe(v: unknown, depth = 0): boolean {
  if (depth > 64) return false;
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return true;
  if (typeof v === 'number') return Number.isFinite(v);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!isJsonSafe(v[i], depth + 1)) return false;
    return true;
  }
  if (!isPlainObject(v)) return false;
  for (const k in v) if (!isJsonSafe(v[k], depth + 1)) return false;
  return true;
}

/** JSON-safe: null, booleans, finite numbers, strings, arrays and plain objects of them. */
function jsonSafe(v: unknown, path: string, depth = 0): Problem {
  if (depth === 0 && isJsonSafe(v)) return undefined;
  if (depth > 64) return `${path} nests too deep`;
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return undefined;
  if (typeof v === 'number') return Number.isFinite(v) ? undefined : `${path} is not a finite number`;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const p = jsonSafe(v[i], `${path}[${i}]`, depth + 1);
      if (p !== undefined) return p;
    }
    return undefined;
  }
  if (!isPlainObject(v)) return `${path} is not JSON-safe`;
  for (const [k, x] of Object.entries(v)) {
    const p = jsonSafe(x, `${path}.${k}`, depth + 1);
    if (p !== undefined) return p;
  }
  return undefined;
}

function segmentProblem(s: unknown, path: string, nextFileNumber: number): Problem {
  if (!isPlainObject(s)) return `${path} is not an object`;
  const p =
    exactFields(s, SEGMENT_FIELDS, path) ??
    nat(s.fileNumber, `${path}.fileNumber`) ??
    nat(s.level, `${path}.level`) ??
    nat(s.bytes, `${path}.bytes`) ??
    nat(s.count, `${path}.count`) ??
    binary(s.firstKey, `${path}.firstKey`) ??
    binary(s.lastKey, `${path}.lastKey`) ??
    (isPlainObject(s.properties) ? jsonSafe(s.properties, `${path}.properties`) : `${path}.properties is not an object`);
  if (p !== undefined) return p;
  if ((s.fileNumber as number) >= nextFileNumber) return `${path}.fileNumber ${String(s.fileNumber)} is not below nextFileNumber ${nextFileNumber}`;
  if ((s.firstKey as string) > (s.lastKey as string)) return `${path}.firstKey is after its lastKey`;
  if (s.count === 0 && (s.firstKey !== '' || s.lastKey !== '')) return `${path} is empty but names keys`;
  return undefined;
}

/** Why `v` is not a manifest state, or undefined when it is one. */
function stateProblem(v: unknown): Problem {
  if (!isPlainObject(v)) return 'the manifest is not an object';
  const p =
    exactFields(v, TOP_FIELDS, 'the manifest') ??
    (v.formatVersion === 1 ? undefined : `formatVersion ${JSON.stringify(v.formatVersion)} is not 1`) ??
    nat(v.nextFileNumber, 'nextFileNumber', 1) ??
    nat(v.logNumber, 'logNumber') ??
    (isPlainObject(v.properties) ? jsonSafe(v.properties, 'properties') : 'properties is not an object') ??
    (Array.isArray(v.segments) ? undefined : 'segments is not an array');
  if (p !== undefined) return p;
  const next = v.nextFileNumber as number;
  if ((v.logNumber as number) > next) return `logNumber ${String(v.logNumber)} is above nextFileNumber ${next}`;
  const seen = new Set<number>();
  const segments = v.segments as unknown[];
  for (let i = 0; i < segments.length; i++) {
    const sp = segmentProblem(segments[i], `segments[${i}]`, next);
    if (sp !== undefined) return sp;
    const n = (segments[i] as SegmentMeta).fileNumber;
    if (seen.has(n)) return `segments[${i}].fileNumber ${n} is listed twice`;
    seen.add(n);
  }
  return undefined;
}



/**
 * The manifest, or undefined when there is none (a new directory).
 * @throws CorruptionError { file, offset } when it is damaged or not a well-formed manifest
 */
export function readManifest(dir: StorageDirectory): ManifestState | undefined {
  const data = dir.readAll(MANIFEST_FILE);
  if (data === undefined) return undefined;
  const file = `${dir.location}/${MANIFEST_FILE}`;
  const damaged = (offset: number, why: string): CorruptionError =>
    new CorruptionError(`manifest ${file} is damaged at offset ${offset} (${why}); refusing to open`, { file, offset });
  if (data.length < HEADER_BYTES) throw damaged(data.length, `it is ${data.length} bytes long, shorter than its header`);
  if (!MAGIC.every((b, i) => data[i] === b)) throw damaged(0, 'bad magic');
  const length = getU32(data, 8);
  if (length !== data.length - HEADER_BYTES) throw damaged(8, `its header gives a body of ${length} bytes, the file holds ${data.length - HEADER_BYTES}`);
  if (crc32(data, 0, HEADER_BYTES) !== getU32(data, 12)) throw damaged(HEADER_BYTES, 'checksum mismatch');
  let state: unknown;
  try {
    state = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data.subarray(HEADER_BYTES)));
  } catch (e) {
    throw damaged(HEADER_BYTES, `its body is not JSON: ${(e as Error).message}`);
  }
  const problem = stateProblem(state);
  if (problem !== undefined) throw damaged(HEADER_BYTES, problem);
  return state as ManifestState;
}

/**
 * Replaces the manifest atomically and durably (StorageDirectory.writeAtomic). Only the
 * fields of {@link ManifestState} and {@link SegmentMeta} are written.
 * @throws RangeError when `state` is not well formed (nothing written); STORAGE_FULL / IO_ERROR
 */
export function writeManifest(dir: StorageDirectory, state: ManifestState): void {
  // Copied field by field: a richer object (a segment's reader state, say) is not persisted.
  const plain = {
    formatVersion: state.formatVersion,
    nextFileNumber: state.nextFileNumber,
    logNumber: state.logNumber,
    segments: state.segments.map((s) => ({
      fileNumber: s.fileNumber,
      level: s.level,
      bytes: s.bytes,
      count: s.count,
      firstKey: s.firstKey,
      lastKey: s.lastKey,
      properties: s.properties,
    })),
    properties: state.properties,
  };
  const problem = stateProblem(plain);
  if (problem !== undefined) throw new RangeError(`not a valid manifest: ${problem}`);
  const body = new TextEncoder().encode(JSON.stringify(plain));
  const bytes = new Uint8Array(HEADER_BYTES + body.length);
  bytes.set(MAGIC, 0);
  putU32(bytes, 8, body.length);
  putU32(bytes, 12, crc32(body));
  bytes.set(body, HEADER_BYTES);
  dir.writeAtomic(MANIFEST_FILE, bytes);
}
