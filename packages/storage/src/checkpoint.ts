/**
 * Copying a store by its files: a member of a cluster that joins empty receives the
 * donor's segment files as they are instead of every version re-encoded.
 *
 * Donor: {@link takeCheckpoint} flushes the memtable and pins the live segments (merges
 * leave their files until released), lists them with their size, level and CRC-32 of
 * the whole file, and reads them in chunks from any offset.
 *
 * Joiner: a {@link CheckpointReceiver} takes the list, writes each file's chunks in
 * order into the store's own directory under the donor's file numbers (a segment names
 * its number inside; the name is rebuilt from the number, never used as given), checks each file's CRC when its last byte arrives, and keeps what
 * arrived: a transfer cut short resumes from {@link CheckpointReceiver.received}. Its
 * files are installed by CausalStorage.installCheckpoint in one manifest swap, after
 * each segment's own checksums are checked (lsm/tree-checkpoint.ts). A kill before the
 * swap leaves the empty store (received files are deleted at the next open); after it,
 * the installed one.
 *
 * The segments are the donor's records unchanged, its change numbers (`S` records) and
 * counters included: the joiner, empty until then, takes the donor's change feed as its
 * own. Its own database records (index and view definitions in the reserved namespace)
 * come with them too.
 */
import { InvalidArgumentError } from '@koru/engine';
import { CorruptionError } from './errors.js';
import { crc32 } from './lsm/checksum.js';
import type { RandomAccessFile } from './lsm/io.js';
import type { LsmTree } from './lsm/lsm-tree.js';
import { segmentFileName } from './lsm/types.js';
import { PRUNED_THROUGH_SEQ, prunedThroughSeq } from './horizon-records.js';

/** One file of a checkpoint. */
export interface CheckpointFile {
  /** The donor's file name (`NNNNNNNN.kseg`): the joiner keeps its number (see {@link CheckpointReceiver}). */
  readonly name: string;
  /** Bytes of the whole file. */
  readonly bytes: number;
  /** CRC-32 of the whole file. */
  readonly crc: number;
  /** Its level in the donor's tree. */
  readonly level: number;
}

/** A donor's pinned checkpoint (see {@link takeCheckpoint}). */
export interface StoreCheckpoint {
  /** The donor's last change number when taken: every change up to it is in the files (later ones may be too). */
  readonly seq: number;
  readonly files: readonly CheckpointFile[];
  /**
   * The greatest change number retention or a purge removed from these files (0: none):
   * the joiner keeps it, so that its change feed answers a removed change as pruned,
   * not as damage.
   */
  readonly prunedThroughSeq: number;
  /**
   * Up to `length` bytes of file `name` from `offset` (fewer at its end).
   * @throws InvalidArgumentError for a file not in the checkpoint or a bad range; ClosedError once released
   */
  read(name: string, offset: number, length: number): Uint8Array;
  /** Unpins the files. Idempotent. */
  release(): void;
}

/** At most this many files in a checkpoint a receiver accepts. */
export const MAX_CHECKPOINT_FILES = 100_000;
/** The largest chunk {@link StoreCheckpoint.read} returns. */
export const MAX_CHECKPOINT_CHUNK = 16 * 1024 * 1024;
/** Chunk size the donor hashes its files with. */
const HASH_CHUNK = 1024 * 1024;
const SEGMENT_NAME = /^(\d{8})\.kseg$/;

/** Refused: only an empty store takes a checkpoint. */
export class StoreNotEmptyError extends InvalidArgumentError {
  constructor(why: string) {
    super(`a checkpoint can only be installed into an empty store (${why})`, { details: { reason: 'NOT_EMPTY' } });
  }
}

function checkRange(offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) throw new InvalidArgumentError(`offset must be an integer ≥ 0, not ${String(offset)}`);
  if (!Number.isSafeInteger(length) || length < 0 || length > MAX_CHECKPOINT_CHUNK) throw new InvalidArgumentError(`length must be an integer between 0 and ${MAX_CHECKPOINT_CHUNK}, not ${String(length)}`);
}

/**
 * Takes a checkpoint of `tree`, whose last change number is `seq()` (read as the
 * memtable is frozen, so the files hold at least every change up to it). Reads each
 * file once to hash it. Release it when done (or it pins the files until the tree closes).
 * @throws ClosedError; IoError
 */
export async function takeCheckpoint(tree: LsmTree, seq: () => number): Promise<StoreCheckpoint> {
  // flush() freezes the memtable synchronously, before its first await: seq then is covered.
  const at = seq();
  const pinned = await tree.checkpoint();
  // Read after pinning: a merge since can only raise it, and a value too high is harmless.
  const pruned = prunedThroughSeq(tree);
  try {
    const byName = new Map<string, number>();
    const files: CheckpointFile[] = [];
    for (const s of [...pinned.segments].sort((a, b) => a.fileNumber - b.fileNumber)) {
      let crc = 0;
      for (let offset = 0; offset < s.bytes; offset += HASH_CHUNK) {
        const chunk = pinned.read(s.fileNumber, offset, Math.min(HASH_CHUNK, s.bytes - offset));
        if (chunk.length === 0) throw new CorruptionError(`${segmentFileName(s.fileNumber)} ends at ${offset}, before the ${s.bytes} bytes the manifest says`, { file: segmentFileName(s.fileNumber), offset });
        crc = crc32(chunk, crc);
      }
      const name = segmentFileName(s.fileNumber);
      byName.set(name, s.fileNumber);
      files.push({ name, bytes: s.bytes, crc, level: s.level });
    }
    return {
      seq: at,
      files,
      prunedThroughSeq: pruned,
      read(name, offset, length) {
        const n = byName.get(name);
        if (n === undefined) throw new InvalidArgumentError(`${JSON.stringify(name).slice(0, 80)} is not a file of this checkpoint`);
        checkRange(offset, length);
        return pinned.read(n, offset, length);
      },
      release: () => pinned.release(),
    };
  } catch (e) {
    pinned.release();
    throw e;
  }
}

/** A file being received. */
interface Incoming {
  readonly spec: CheckpointFile;
  readonly fileNumber: number;
  received: number;
  crc: number;
  file: RandomAccessFile | undefined;
  done: boolean;
}

/** Receives a checkpoint's files into a store's directory (see the module comment). */
export class CheckpointReceiver {
  readonly #tree: LsmTree;
  readonly #files = new Map<string, Incoming>();
  readonly #prunedThroughSeq: number;
  #closed = false;

  /**
   * Checks the list (names `NNNNNNNN.kseg`, each once; sizes, CRCs and levels integers in
   * range) and reserves each file's number in the store's tree. `prunedThroughSeq` is
   * the donor's (see {@link StoreCheckpoint.prunedThroughSeq}).
   * @throws InvalidArgumentError for a list that is not well formed
   */
  constructor(tree: LsmTree, files: readonly CheckpointFile[], prunedThroughSeq = 0) {
    if (!Number.isSafeInteger(prunedThroughSeq) || prunedThroughSeq < 0) throw new InvalidArgumentError(`prunedThroughSeq must be an integer ≥ 0, not ${String(prunedThroughSeq)}`);
    this.#prunedThroughSeq = prunedThroughSeq;
    if (!Array.isArray(files) || files.length > MAX_CHECKPOINT_FILES) throw new InvalidArgumentError(`a checkpoint lists at most ${MAX_CHECKPOINT_FILES} files`);
    const seen = new Set<string>();
    for (const f of files) {
      const name = typeof f?.name === 'string' ? f.name : '';
      if (!SEGMENT_NAME.test(name)) throw new InvalidArgumentError(`checkpoint file name ${JSON.stringify(f?.name).slice(0, 80)} is not NNNNNNNN.kseg`);
      if (seen.has(name)) throw new InvalidArgumentError(`checkpoint file ${name} is listed twice`);
      seen.add(name);
      if (!Number.isSafeInteger(f.bytes) || f.bytes < 0) throw new InvalidArgumentError(`checkpoint file ${name}: size ${String(f.bytes)} is not an integer ≥ 0`);
      if (!Number.isInteger(f.crc) || f.crc < 0 || f.crc > 0xffffffff) throw new InvalidArgumentError(`checkpoint file ${name}: CRC ${String(f.crc)} is not a 32-bit number`);
      if (!Number.isInteger(f.level) || f.level < 0 || f.level > 64) throw new InvalidArgumentError(`checkpoint file ${name}: level ${String(f.level)} is out of range`);
    }
    this.#tree = tree;
    for (const f of files) {
      // A segment names its own number inside (checked when opened): the copy keeps it.
      const fileNumber = Number(f.name.slice(0, 8));
      try {
        tree.reserveIncoming(fileNumber);
      } catch (e) {
        this.abort();
        throw e instanceof RangeError ? new InvalidArgumentError(`checkpoint file ${f.name}: ${e.message}`) : e;
      }
      this.#files.set(f.name, { spec: { name: f.name, bytes: f.bytes, crc: f.crc, level: f.level }, fileNumber, received: 0, crc: 0, file: undefined, done: false });
    }
  }

  /** The files, as listed. */
  get files(): CheckpointFile[] {
    return [...this.#files.values()].map((f) => f.spec);
  }

  /** Bytes of `name` received and kept so far: where its transfer resumes. @throws InvalidArgumentError for a file not listed */
  received(name: string): number {
    return this.#file(name).received;
  }

  /** True once every file arrived whole with its CRC. */
  get complete(): boolean {
    for (const f of this.#files.values()) if (!f.done) return false;
    return true;
  }

  /**
   * Appends a chunk of `name` at `offset`, which must be where its bytes end so far
   * ({@link received}). When its last byte arrives the file is synced and its CRC
   * checked: on a mismatch its bytes are dropped (its transfer starts again from 0).
   * Returns true when the file is complete.
   * @throws InvalidArgumentError for a file not listed, an offset not at its end or
   *   bytes past its size; CorruptionError when the whole file does not match its CRC
   */
  write(name: string, offset: number, bytes: Uint8Array): boolean {
    if (this.#closed) throw new InvalidArgumentError('this checkpoint transfer is over');
    const f = this.#file(name);
    if (!(bytes instanceof Uint8Array)) throw new InvalidArgumentError('a chunk is bytes');
    if (f.done) {
      if (bytes.length === 0 || offset >= f.spec.bytes) return true;
      throw new InvalidArgumentError(`${name} is complete already`);
    }
    if (offset !== f.received) throw new InvalidArgumentError(`${name}: a chunk at offset ${String(offset)}, expected one at ${f.received}`);
    if (bytes.length > f.spec.bytes - offset) throw new InvalidArgumentError(`${name}: a chunk of ${bytes.length} bytes at ${offset} runs past its ${f.spec.bytes} bytes`);
    if (bytes.length > 0) {
      f.file ??= this.#tree.openIncoming(f.fileNumber, f.received === 0 ? 'create' : 'append');
      f.file.append(bytes);
      f.crc = crc32(bytes, f.crc);
      f.received += bytes.length;
    }
    if (f.received < f.spec.bytes) return false;
    const file = f.file ?? (f.file = this.#tree.openIncoming(f.fileNumber, 'create'));
    if (f.crc !== f.spec.crc) {
      const got = f.crc;
      file.truncate(0);
      f.received = 0;
      f.crc = 0;
      throw new CorruptionError(`${name} arrived with CRC-32 ${got.toString(16)}, not ${f.spec.crc.toString(16)}: dropped, to be sent again`, { file: name, offset: 0 });
    }
    file.sync();
    file.close();
    f.file = undefined;
    f.done = true;
    return true;
  }

  /** The received files' numbers and levels, for the install. @throws InvalidArgumentError unless complete */
  installable(): Array<{ fileNumber: number; level: number }> {
    if (this.#closed) throw new InvalidArgumentError('this checkpoint transfer is over');
    if (!this.complete) throw new InvalidArgumentError('the checkpoint has not arrived whole');
    return [...this.#files.values()].map((f) => ({ fileNumber: f.fileNumber, level: f.spec.level }));
  }

  /** The manifest properties to install with the files: the donor's pruned horizon, when there is one. */
  properties(): Record<string, unknown> {
    return this.#prunedThroughSeq > 0 ? { [PRUNED_THROUGH_SEQ]: this.#prunedThroughSeq } : {};
  }

  /** Marks the transfer over once its files were installed (they are the tree's now). */
  installed(): void {
    this.#closed = true;
  }

  /** Gives up: closes and deletes every received file. Idempotent. */
  abort(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const f of this.#files.values()) f.file?.close();
    this.#tree.dropIncoming([...this.#files.values()].map((f) => f.fileNumber));
  }

  #file(name: string): Incoming {
    const f = typeof name === 'string' ? this.#files.get(name) : undefined;
    if (f === undefined) throw new InvalidArgumentError(`${JSON.stringify(name)?.slice(0, 80)} is not a file of this checkpoint`);
    return f;
  }
}
