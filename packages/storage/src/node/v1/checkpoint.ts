/**
 * The `SYNCED` checkpoint: `gen end crc`, padded to 64 bytes. It says that log
 * generation `gen` held `end` bytes of acknowledged records when an fdatasync of the
 * log returned, so recovery can tell a torn tail (damage past it, nothing valid after)
 * from lost acknowledged data (damage or a cut before it: CORRUPTION).
 *
 * Guarantee: the value is a lower bound of what is acknowledged and on disk. It is
 * written only after an fdatasync of the log covered `end`, under every policy (each
 * `always` commit, each `periodic` sync, close, and the start of a new generation), so
 * even if this write never reaches the disk the old value is still a lower bound, and
 * it needs no fsync of its own: `always` keeps one fdatasync per commit, plus one
 * 64-byte write to the page cache. The file is created whole (temp file, fsync,
 * rename) and then overwritten in place within one sector, so a damaged checkpoint
 * is damage, not a crash artefact.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { CorruptionError } from '../../errors.js';
import { fsyncDir, writeFully, type FileOps } from '../fs-ops.js';

const BYTES = 64;

/** What a checkpoint file says. */
export interface Checkpoint {
  readonly gen: number;
  readonly end: number;
}

function encode(gen: number, end: number): Buffer {
  const text = `${gen} ${end}`;
  return Buffer.from(`${text} ${crc32(Buffer.from(text))}\n`.padEnd(BYTES, ' '));
}

/**
 * The checkpoint of `dir`, or null when there is none (a new database, or one whose
 * sessions never synced under the previous version). A file that exists but does not
 * check out is CORRUPTION, unless `lenient` (repair), which reads it as absent.
 */
export function readCheckpoint(dir: string, lenient = false): Checkpoint | null {
  const path = join(dir, 'SYNCED');
  let text: string;
  try {
    text = fs.readFileSync(path, 'latin1');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  // The previous version created it in place: a crash could leave it empty.
  if (text.trim() === '') return null;
  const m = /^(\d+) (\d+) (\d+)\n? *$/.exec(text);
  if (m && String(crc32(Buffer.from(`${m[1]} ${m[2]}`))) === m[3]) return { gen: Number(m[1]), end: Number(m[2]) };
  if (lenient) return null;
  throw new CorruptionError(`checkpoint ${path} is damaged (it does not match its checksum); refusing to open`, { file: path, offset: 0 });
}

/** Writes the checkpoint in place; the open descriptor is kept between writes. */
export class CheckpointWriter {
  readonly #ops: FileOps;
  readonly #dir: string;
  #fd = -1;

  constructor(ops: FileOps, dir: string) {
    this.#ops = ops;
    this.#dir = dir;
  }

  /**
   * Records that log `gen` is synced through `end`. Call only after an fdatasync of the
   * log covered it. `durable` fsyncs it too: needed only when the checkpoint moves back
   * (repair cut the log below it).
   */
  write(gen: number, end: number, durable = false): void {
    const line = encode(gen, end);
    if (this.#fd < 0) {
      const path = join(this.#dir, 'SYNCED');
      const size = fs.statSync(path, { throwIfNoEntry: false })?.size;
      if (size !== BYTES) {
        // First checkpoint (or one left short by the previous version): created whole.
        const tmp = `${path}.tmp`;
        const fd = this.#ops.openSync(tmp, 'w');
        try {
          writeFully(this.#ops, fd, line, BYTES, 0);
          this.#ops.fsyncSync(fd);
        } finally {
          this.#ops.closeSync(fd);
        }
        this.#ops.renameSync(tmp, path);
        fsyncDir(this.#dir);
      }
      this.#fd = this.#ops.openSync(path, 'r+');
      if (size !== BYTES) return;
    }
    writeFully(this.#ops, this.#fd, line, BYTES, 0);
    if (durable) this.#ops.fsyncSync(this.#fd);
  }

  close(): void {
    if (this.#fd >= 0) this.#ops.closeSync(this.#fd);
    this.#fd = -1;
  }
}
