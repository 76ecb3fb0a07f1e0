/**
 * The write-ahead log: batches of entries appended to a numbered file
 * ({@link walFileName}), replayed into a memtable at open. A batch is one record, so it
 * is replayed whole or not at all.
 *
 * File: header (`KDWAL001`, file number u32, CRC-32 u32 of the 12 bytes before), then records.
 * Record: magic u32 (bytes FE 4B 57 42) | body length u32 | CRC-32 u32 of the length
 * field and the body | body. Body: varint entry count, then per entry varint key length,
 * key bytes, u8 kind, varint value length, value bytes. The magic's first byte, FE, never
 * occurs in UTF-8, so a JSON value cannot hold a fake record (a binary key or value
 * could: after a crash that tore it, the fake would read as a record after the damage
 * and replay would refuse with CORRUPTION, a false alarm but never wrong data).
 *
 * The last synced point. Recovery must tell a *torn tail* (a write in flight when the
 * process or machine stopped: cut and reported) from *lost acknowledged data* (damage
 * or a cut inside what a sync covered: CORRUPTION naming file and offset). The log alone
 * cannot: a damaged last batch looks like a torn one. So each WAL has a sidecar,
 * `NNNNNNNN.kwal.synced` ({@link walSyncedFileName}), of 16-byte records (magic
 * `FE SYN`, end u64 as two u32, CRC-32 of the first 12 bytes), one appended after every
 * sync of the log with the length that sync covered; the largest valid one is the
 * synced point.
 *
 * Why it is sound without a sync of its own (as the old engine's SYNCED checkpoint): a
 * record is appended only after the log's sync returned, so any record that survives
 * names bytes that are on disk; if the newest records are lost in a crash, an older one
 * is still a lower bound. `always` thus keeps one sync per batch plus a 16-byte append to
 * the page cache. What a crash can leave in the sidecar is a short final record (ignored:
 * it was never complete) or, on some file systems, zeros (ignored: never written); a
 * complete non-zero record that fails its checksum is damage (CORRUPTION, or ignored and
 * reported under `repair`). The sidecar is rewritten whole (writeAtomic, durable) when it
 * reaches 64 KiB, when a writer reopens a log, at repair, and after a failed append to
 * it, which keeps it small and its records aligned. The sidecar is created empty and the
 * directory synced *before* its first record is appended, so a record never survives a
 * crash that lost the log file itself. `close` syncs the sidecar, so after a clean
 * shutdown the whole log counts as synced.
 *
 * Replay (as node/log-scan.ts): the scan stops at the first record that does not check
 * out. What follows is a torn tail when the scan stopped at or past the synced point and
 * no valid record follows the damage (a kill never leaves a hole, and `always` syncs
 * batch after batch); it is cut (the file truncated and synced) and reported. Otherwise
 * (damage or a cut before the synced point, a hole, a frame whose checksum holds but
 * whose body does not decode) it is CORRUPTION; `repair` saves the file aside
 * (`<name>.damaged-<time>`), keeps the batches before the damage, cuts the rest, moves
 * the synced point back to the cut and reports what it dropped.
 *
 * A failed append (STORAGE_FULL / IO_ERROR from the file) cuts the partial bytes back
 * off and leaves the writer usable; if that cut fails too, or a sync fails (after a
 * failed fsync the kernel's state of the pages is unknown), the writer refuses every
 * further call until the log is reopened ({@link WalWriter.reopen}). A batch whose append
 * threw was not acknowledged; after a failed *sync* its bytes may still reach the disk
 * and be replayed (an unknown outcome, as with any database whose fsync failed).
 */
import { CorruptionError, IoError } from '../errors.js';
import { crc32 } from './checksum.js';
import type { RandomAccessFile, StorageDirectory } from './io.js';
import { bytesKey, KIND_DELETE, KIND_PUT, walFileName, type Entry, type EntryKind } from './types.js';
import { getU32, putU32, putVarint } from './bytes.js';

/** When the log is synced. */
export interface WalOptions {
  /** `always`: every append is synced before it returns; `periodic`: the layer above calls {@link WalWriter.sync}. */
  readonly sync: 'always' | 'periodic';
}

/** What a replay found. */
export interface WalReplay {
  /** Every complete batch, in append order. */
  readonly batches: Entry[][];
  /** A torn tail that was cut off (`file` is the log's path, `offset` where it was cut). */
  readonly truncated?: { file: string; offset: number; bytes: number };
  /** Damage that `repair` dropped: where, what, bytes and records (batches) lost; `savedAs` names the copy of the damaged file. */
  readonly repaired?: ReadonlyArray<{ file: string; offset: number; message: string; bytes: number; records: number; savedAs?: string }>;
}

const HEADER_BYTES = 16;
const HEADER_MAGIC = [0x4b, 0x44, 0x57, 0x41, 0x4c, 0x30, 0x30, 0x31]; // "KDWAL001"
const RECORD_MAGIC = 0x42574bfe; // bytes FE 4B 57 42
const RECORD_HEADER_BYTES = 12;
const SYNC_MAGIC = 0x4e5953fe; // bytes FE 53 59 4E
const SYNC_RECORD_BYTES = 16;
/** Sidecar size at which it is rewritten as one record. */
const SYNC_FILE_LIMIT = 64 * 1024;
/**
 * Scratch buffers up to this are kept between appends: a batch of a thousand versions
 * (each with its version, change and head records) takes about 1 MiB, so a writer that
 * commits such batches reuses one buffer instead of zeroing a fresh one per append.
 */
const SCRATCH_KEEP = 4 << 20;
const EMPTY = new Uint8Array(0);

/** Name of the synced-point sidecar of WAL file number `n`. */
export function walSyncedFileName(n: number): string {
  return `${walFileName(n)}.synced`;
}

/** Removes WAL file number `n` and its sidecar (once it is fully in segments). */
export function removeWal(dir: StorageDirectory, fileNumber: number): void {
  // The sidecar first: a sidecar without its log then always means the log was lost
  // (recovery refuses), never a removal a crash cut short.
  dir.remove(walSyncedFileName(fileNumber));
  dir.remove(walFileName(fileNumber));
}

function pathOf(dir: StorageDirectory, name: string): string {
  return `${dir.location}/${name}`;
}




function header(fileNumber: number): Uint8Array {
  const h = new Uint8Array(HEADER_BYTES);
  h.set(HEADER_MAGIC, 0);
  putU32(h, 8, fileNumber);
  putU32(h, 12, crc32(h, 0, 0, 12));
  return h;
}

function syncRecord(end: number): Uint8Array {
  const r = new Uint8Array(SYNC_RECORD_BYTES);
  putU32(r, 0, SYNC_MAGIC);
  putU32(r, 4, end >>> 0);
  putU32(r, 8, Math.floor(end / 0x1_0000_0000));
  putU32(r, 12, crc32(r, 0, 0, 12));
  return r;
}

type Repaired = NonNullable<WalReplay['repaired']>[number];

/**
 * The synced point of WAL `n` (0 when it has no sidecar). Damage in the sidecar throws
 * CorruptionError, or under `repair` is skipped and added to `repaired`.
 */
function readSyncedPoint(dir: StorageDirectory, n: number, repair: boolean, repaired: Repaired[]): number {
  const name = walSyncedFileName(n);
  const data = dir.readAll(name);
  if (data === undefined) return 0;
  let best = 0;
  const whole = data.length - (data.length % SYNC_RECORD_BYTES);
  for (let at = 0; at < whole; at += SYNC_RECORD_BYTES) {
    let zero = true;
    for (let i = at; i < at + SYNC_RECORD_BYTES && zero; i++) zero = data[i] === 0;
    if (zero) continue;
    if (getU32(data, at) === SYNC_MAGIC && getU32(data, at + 12) === crc32(data, 0, at, at + 12)) {
      best = Math.max(best, getU32(data, at + 4) + getU32(data, at + 8) * 0x1_0000_0000);
      continue;
    }
    const file = pathOf(dir, name);
    const message = `synced-point file ${file} is damaged at offset ${at} (a record fails its checksum)`;
    if (!repair) throw new CorruptionError(`${message}; refusing to open (repair ignores the record)`, { file, offset: at });
    repaired.push({ file, offset: at, message: `${message}; ignored it (damage in the log can then read as a torn tail)`, bytes: SYNC_RECORD_BYTES, records: 0 });
  }
  return best;
}

/** A record's extent when the one at `at` checks out (frame and checksum), else why not. */
function checkRecord(data: Uint8Array, at: number): { end: number } | string {
  if (at + RECORD_HEADER_BYTES > data.length) return 'incomplete record header';
  if (getU32(data, at) !== RECORD_MAGIC) return 'bad record magic';
  const end = at + RECORD_HEADER_BYTES + getU32(data, at + 4);
  if (end > data.length) return 'record runs past the end of the file';
  const crc = crc32(data, crc32(data, 0, at + 4, at + 8), at + RECORD_HEADER_BYTES, end);
  return crc === getU32(data, at + 8) ? { end } : 'checksum mismatch';
}

/** Where the last {@link readVarint} stopped (module state: no result object per number). */
let varintEnd = 0;

/** The varint (up to 5 bytes) at `p` of `data` before `end`, or -1 when malformed; sets {@link varintEnd}. */
function readVarint(data: Uint8Array, p: number, end: number): number {
  let v = 0;
  for (let shift = 0; shift < 35 && p < end; shift += 7) {
    const b = data[p++]!;
    v += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) {
      varintEnd = p;
      return v;
    }
  }
  return -1;
}

/** Decodes the body in [start, end), or undefined when it is malformed. Values are subarrays of `data`. */
function decodeBatch(data: Uint8Array, start: number, end: number): Entry[] | undefined {
  const count = readVarint(data, start, end);
  if (count <= 0) return undefined;
  let p = varintEnd;
  const batch: Entry[] = [];
  for (let i = 0; i < count; i++) {
    const kl = readVarint(data, p, end);
    p = varintEnd;
    if (kl < 0 || p + kl + 1 > end) return undefined;
    const key = bytesKey(data, p, p + kl);
    p += kl;
    const kind = data[p++]!;
    const vl = readVarint(data, p, end);
    p = varintEnd;
    if ((kind !== KIND_PUT && kind !== KIND_DELETE) || vl < 0 || p + vl > end || (kind === KIND_DELETE && vl !== 0)) return undefined;
    batch.push({ key, kind: kind as EntryKind, value: vl === 0 ? EMPTY : data.subarray(p, p + vl) });
    p += vl;
  }
  return p === end ? batch : undefined;
}

/** Valid records from `from` on, skipping over damage (for the report of what repair drops). */
function readableRecords(data: Uint8Array, from: number): number {
  let records = 0;
  for (let at = from; at < data.length; ) {
    const rec = checkRecord(data, at);
    if (typeof rec === 'string') at++;
    else {
      records++;
      at = rec.end;
    }
  }
  return records;
}

/** True when a valid record starts after `from`: damage before it is not a torn tail. */
function validRecordAfter(data: Uint8Array, from: number): boolean {
  for (let at = from + 1; at + RECORD_HEADER_BYTES <= data.length; at++) {
    if (data[at] === 0xfe && typeof checkRecord(data, at) !== 'string') return true;
  }
  return false;
}

/** Cuts WAL `name` to `length` bytes and syncs the cut. */
function cut(dir: StorageDirectory, name: string, length: number): void {
  const f = dir.open(name, 'append');
  try {
    f.truncate(length);
    f.sync();
  } finally {
    f.close();
  }
}

/**
 * Reads WAL file `fileNumber`: every complete batch in order (values are views of one
 * buffer holding the file). A torn tail (after the last synced point, nothing valid after
 * it) is cut and reported; other damage throws CorruptionError { file, offset } unless
 * `repair`, which keeps the batches before it (see the module doc). An absent file is an
 * empty log, unless its sidecar says bytes of it were synced.
 */
export function replayWal(dir: StorageDirectory, fileNumber: number, options: { readonly repair?: boolean } = {}): WalReplay {
  const repair = options.repair === true;
  const name = walFileName(fileNumber);
  const file = pathOf(dir, name);
  const repaired: Repaired[] = [];
  const synced = readSyncedPoint(dir, fileNumber, repair, repaired);
  const data = dir.readAll(name);
  if (data === undefined) {
    // A sidecar that vouches for the header only held no batch: nothing is lost.
    if (synced > HEADER_BYTES) {
      const message = `log ${file} is missing, but ${synced} bytes of it were synced`;
      if (!repair) throw new CorruptionError(`${message}; refusing to open (repair starts it empty)`, { file, offset: 0, missingBytes: synced });
      repaired.push({ file, offset: 0, message: `${message}; dropped them`, bytes: synced, records: 0 });
    }
    if (repaired.length === 0) return { batches: [] };
    // Nothing of the log is left to vouch for: the sidecar goes (damaged or ahead).
    dir.remove(walSyncedFileName(fileNumber));
    return { batches: [], repaired };
  }
  const batches: Entry[][] = [];
  let at = 0;
  let validEnd = 0;
  let why = '';
  let hole = false;
  if (data.length < HEADER_BYTES) why = 'incomplete file header';
  else if (!HEADER_MAGIC.every((b, i) => data[i] === b) || getU32(data, 8) !== fileNumber || getU32(data, 12) !== crc32(data, 0, 0, 12)) {
    why = `bad file header (not the header of WAL number ${fileNumber})`;
    hole = validRecordAfter(data, 0);
  } else {
    at = validEnd = HEADER_BYTES;
    while (at < data.length) {
      const rec = checkRecord(data, at);
      if (typeof rec === 'string') {
        why = rec;
        hole = validRecordAfter(data, at);
        break;
      }
      const batch = decodeBatch(data, at + RECORD_HEADER_BYTES, rec.end);
      if (batch === undefined) {
        // Its checksum holds, so it was written so: damage, never a torn write.
        why = 'a record whose checksum holds but whose batch does not decode';
        hole = true;
        break;
      }
      batches.push(batch);
      at = validEnd = rec.end;
    }
  }
  if (validEnd === data.length && synced <= validEnd) return repaired.length > 0 ? finishRepair(dir, fileNumber, batches, repaired) : { batches };
  if (validEnd >= synced && !hole) {
    cut(dir, name, validEnd);
    const truncated = { file, offset: validEnd, bytes: data.length - validEnd };
    return repaired.length > 0 ? { ...finishRepair(dir, fileNumber, batches, repaired), truncated } : { batches, truncated };
  }
  const missing = Math.max(0, synced - data.length);
  const records = readableRecords(data, validEnd);
  const parts = [`log ${file} is damaged at offset ${at} (${why || 'the file ends there'})`];
  if (missing > 0) parts.push(`it ends at ${data.length} but ${synced} bytes of it were synced: ${missing} bytes are gone`);
  if (data.length > validEnd) parts.push(`${data.length - validEnd} bytes from offset ${validEnd} on hold ${records} readable batches that cannot be replayed`);
  const what = parts.join('; ');
  if (!repair) {
    throw new CorruptionError(`${what}; acknowledged data is lost, refusing to open (repair keeps the ${batches.length} batches before offset ${validEnd})`, {
      file,
      offset: at,
      validEnd,
      bytes: data.length - validEnd,
      missingBytes: missing,
      records,
    });
  }
  const savedAs = `${name}.damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  dir.writeAtomic(savedAs, data);
  cut(dir, name, validEnd);
  repaired.push({
    file,
    offset: at,
    message: `${what}; kept the ${batches.length} batches before offset ${validEnd} and saved the damaged file as ${savedAs}`,
    bytes: data.length - validEnd + missing,
    records,
    savedAs: pathOf(dir, savedAs),
  });
  return finishRepair(dir, fileNumber, batches, repaired);
}

/** After a repair: the log (cut and synced) is all synced now, so its sidecar is rewritten to say so. */
function finishRepair(dir: StorageDirectory, fileNumber: number, batches: Entry[][], repaired: Repaired[]): WalReplay {
  const f = dir.open(walFileName(fileNumber), 'append');
  let size: number;
  try {
    size = f.size();
    f.sync();
  } finally {
    f.close();
  }
  dir.writeAtomic(walSyncedFileName(fileNumber), syncRecord(size));
  return { batches, repaired };
}

function checkOptions(options: WalOptions): void {
  if (options.sync !== 'always' && options.sync !== 'periodic') throw new RangeError(`unknown sync policy ${String(options.sync)}`);
}

/** Appends batches to one WAL file. Not shared between threads. */
export class WalWriter {
  readonly #dir: StorageDirectory;
  readonly #file: RandomAccessFile;
  #syncFile: RandomAccessFile | undefined;
  readonly #always: boolean;
  #size: number;
  /** What the sidecar says (the end the last sync covered). */
  #synced: number;
  /** The sync running off this thread, if any (see syncInBackground). */
  #background: Promise<void> | undefined;
  /** The sidecar must be rewritten whole (an append to it failed, or it is full). */
  #rewriteSidecar = false;
  #broken: Error | undefined;
  #closed = false;
  #scratch = new Uint8Array(4096);

  private constructor(
    dir: StorageDirectory,
    /** The WAL file number (its name is walFileName(fileNumber)). */
    readonly fileNumber: number,
    file: RandomAccessFile,
    options: WalOptions,
  ) {
    this.#dir = dir;
    this.#file = file;
    this.#always = options.sync === 'always';
    this.#size = this.#synced = file.size();
  }

  /** Creates WAL file number `fileNumber` with a header (synced, and the directory entry too). */
  static create(dir: StorageDirectory, fileNumber: number, options: WalOptions): WalWriter {
    checkOptions(options);
    const name = walFileName(fileNumber);
    const file = dir.open(name, 'create');
    let w: WalWriter;
    try {
      w = new WalWriter(dir, fileNumber, file, options);
      file.append(header(fileNumber));
      file.sync();
      // A sidecar left by an earlier attempt belongs to a log that no longer exists.
      dir.remove(walSyncedFileName(fileNumber));
      w.#syncFile = dir.open(walSyncedFileName(fileNumber), 'create');
      dir.syncDirectory();
    } catch (e) {
      file.close();
      dir.remove(name);
      throw e;
    }
    w.#size = HEADER_BYTES;
    w.#recordSynced();
    return w;
  }

  /**
   * Replays WAL `fileNumber` ({@link replayWal}: a torn tail is cut, damage throws unless
   * `repair`) and opens it for appending after its last batch; an absent log is created.
   */
  static reopen(dir: StorageDirectory, fileNumber: number, options: WalOptions, replayOptions: { readonly repair?: boolean } = {}): { writer: WalWriter; replay: WalReplay } {
    checkOptions(options);
    const replay = replayWal(dir, fileNumber, replayOptions);
    const name = walFileName(fileNumber);
    if (!dir.exists(name)) return { writer: WalWriter.create(dir, fileNumber, options), replay };
    const file = dir.open(name, 'append');
    try {
      // Cut to nothing by replay (a torn header): it starts again with a header.
      if (file.size() < HEADER_BYTES) {
        file.truncate(0);
        file.append(header(fileNumber));
      }
      file.sync();
      const w = new WalWriter(dir, fileNumber, file, options);
      // Rewritten whole: replay may have ignored a damaged record in it, or a crash left
      // a short one that would misalign the records appended after (a failure here is
      // retried at the next sync).
      w.#rewriteSidecar = true;
      w.#recordSynced();
      return { writer: w, replay };
    } catch (e) {
      file.close();
      throw e;
    }
  }

  /** Bytes in the file (header included). */
  get bytes(): number {
    return this.#size;
  }

  /**
   * Appends one batch as one record (written to the OS before it returns; with `always`
   * also synced). @throws STORAGE_FULL / IO_ERROR with nothing of the batch acknowledged
   * (see the module doc); RangeError for an empty batch, a key that is not a binary
   * string, an unknown kind or a deletion marker with a value (nothing written).
   */
  append(entries: readonly Entry[]): void {
    this.#usable();
    if (entries.length === 0) throw new RangeError('a WAL batch holds at least one entry');
    let need = RECORD_HEADER_BYTES + 5;
    for (const e of entries) need += 11 + e.key.length + e.value.byteLength;
    let buf = this.#scratch;
    if (buf.length < need) {
      // Doubling (capped at what is kept) spares regrowth as batches grow; a batch past
      // the cap gets a buffer of its own size, dropped after the append.
      const grown = Math.min(buf.length * 2, SCRATCH_KEEP);
      buf = new Uint8Array(Math.max(need, grown));
      if (buf.length <= SCRATCH_KEEP) this.#scratch = buf;
    }
    let p = putVarint(buf, RECORD_HEADER_BYTES, entries.length);
    for (const e of entries) {
      const { key, kind, value } = e;
      if (kind !== KIND_PUT && kind !== KIND_DELETE) throw new RangeError(`unknown entry kind ${String(kind)}`);
      if (kind === KIND_DELETE && value.byteLength !== 0) throw new RangeError('a deletion marker has no value');
      p = putVarint(buf, p, key.length);
      for (let i = 0; i < key.length; i++) {
        const c = key.charCodeAt(i);
        if (c > 0xff) throw new RangeError(`key is not a binary string (char code ${c} at ${i})`);
        buf[p++] = c;
      }
      buf[p++] = kind;
      p = putVarint(buf, p, value.byteLength);
      buf.set(value, p);
      p += value.byteLength;
    }
    putU32(buf, 0, RECORD_MAGIC);
    putU32(buf, 4, p - RECORD_HEADER_BYTES);
    putU32(buf, 8, crc32(buf, crc32(buf, 0, 4, 8), RECORD_HEADER_BYTES, p));
    const start = this.#size;
    try {
      this.#file.append(buf.subarray(0, p));
    } catch (e) {
      // Cut the partial bytes so they are never replayed; if even that fails, stop.
      try {
        this.#file.truncate(start);
      } catch (e2) {
        this.#broken = new IoError(`${pathOf(this.#dir, this.#file.name)} could not be cut back after a failed append; reopen the log`, e2);
      }
      throw e;
    }
    this.#size = start + p;
    if (!this.#always) return;
    try {
      this.sync();
    } catch (e) {
      // The caller is told the batch failed: cut it back, so the next open does not
      // replay a write reported as not done (the writer stays broken either way).
      try {
        this.#file.truncate(start);
        this.#size = start;
      } catch {
        // The next open may then replay it: an outcome the failed sync left unknown anyway.
      }
      throw e;
    }
  }

  /** Syncs what was appended and records the synced point. A failed sync breaks the writer. */
  sync(): void {
    this.#usable();
    if (this.#size === this.#synced) return;
    try {
      this.#file.sync();
    } catch (e) {
      this.#broken = new IoError(`sync of ${pathOf(this.#dir, this.#file.name)} failed; appended batches may not survive a power loss, reopen the log`, e);
      throw e;
    }
    this.#recordSynced();
  }

  /** True while appended bytes are not covered by a sync yet. */
  get unsynced(): boolean {
    return this.#size !== this.#synced;
  }

  /**
   * Syncs what was appended so far off this thread where the file can (else as
   * {@link sync}), then records the synced point — unless a later sync already covered it.
   * Appends may go on meanwhile. At most one runs at a time: another call while one is in
   * flight returns that one (the caller calls again once it settles, for what followed).
   * A failure breaks the writer (as {@link sync}) and rejects.
   */
  syncInBackground(): Promise<void> {
    this.#usable();
    if (this.#background !== undefined) return this.#background;
    if (this.#size === this.#synced) return Promise.resolve();
    if (this.#file.syncInBackground === undefined) {
      this.sync();
      return Promise.resolve();
    }
    const end = this.#size;
    const done = this.#file.syncInBackground().then(
      () => {
        this.#background = undefined;
        // Closed or broken meanwhile: its sync and sidecar are closed's business (or void).
        if (!this.#closed && this.#broken === undefined && end > this.#synced) this.#recordSynced(end);
      },
      (e: unknown) => {
        this.#background = undefined;
        this.#broken ??= new IoError(`sync of ${pathOf(this.#dir, this.#file.name)} failed; appended batches may not survive a power loss, reopen the log`, e);
        throw e;
      },
    );
    this.#background = done;
    return done;
  }

  /** Appends the synced point (default: the end now) to the sidecar (or rewrites it); a failure keeps the old, lower, point. */
  #recordSynced(end = this.#size): void {
    const rec = syncRecord(end);
    try {
      if (!this.#rewriteSidecar && this.#syncFile !== undefined) {
        this.#syncFile.append(rec);
        this.#synced = end;
        if (this.#syncFile.size() < SYNC_FILE_LIMIT) return;
      }
      // Replaced under the open handle: the handle must be reopened to see the new file.
      this.#syncFile?.close();
      this.#syncFile = undefined;
      this.#dir.writeAtomic(walSyncedFileName(this.fileNumber), rec);
      this.#syncFile = this.#dir.open(walSyncedFileName(this.fileNumber), 'append');
      this.#synced = end;
      this.#rewriteSidecar = false;
    } catch {
      // The log itself is synced: the sidecar only lags (still a lower bound). A partial
      // append would misalign its records, so it is rewritten whole next time.
      this.#rewriteSidecar = true;
      this.#synced = end;
    }
  }

  #usable(): void {
    if (this.#closed) throw new IoError(`${pathOf(this.#dir, this.#file.name)} is closed`);
    if (this.#broken !== undefined) throw this.#broken;
  }

  /** Syncs (unless broken) and releases the files. Idempotent. */
  close(): void {
    if (this.#closed) return;
    try {
      if (this.#broken === undefined) {
        this.sync();
        try {
          // Makes the final synced point survive a power loss too; failing, it only lags.
          this.#syncFile?.sync();
        } catch {
          // The log is synced; the sidecar stays a lower bound.
        }
      }
    } finally {
      this.#closed = true;
      this.#file.close();
      this.#syncFile?.close();
    }
  }
}
