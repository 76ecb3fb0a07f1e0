// A RandomAccessFile over node:fs for the segment tests and the speed script (the
// engine's real Node backend is written elsewhere; this one only needs to be correct).
import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import type { RandomAccessFile } from '../src/lsm/io.js';

/** A RandomAccessFile over node:fs, to run the format through a real file. */
export class NodeFile implements RandomAccessFile {
  #fd: number | undefined;
  #size: number;
  constructor(readonly path: string, create: boolean) {
    this.#fd = openSync(path, create ? 'wx+' : 'r');
    this.#size = fstatSync(this.#fd).size;
  }
  get name(): string {
    return this.path;
  }
  size(): number {
    return this.#size;
  }
  read(offset: number, length: number): Uint8Array {
    const out = new Uint8Array(Math.max(0, Math.min(length, this.#size - offset)));
    let done = 0;
    while (done < out.length) {
      const n = readSync(this.#fd!, out, done, out.length - done, offset + done);
      if (n === 0) break;
      done += n;
    }
    return out.subarray(0, done);
  }
  append(bytes: Uint8Array): number {
    const at = this.#size;
    let done = 0;
    while (done < bytes.length) done += writeSync(this.#fd!, bytes, done, bytes.length - done, at + done);
    this.#size += bytes.length;
    return at;
  }
  sync(): void {
    fsyncSync(this.#fd!);
  }
  truncate(length: number): void {
    ftruncateSync(this.#fd!, length);
    this.#size = Math.min(this.#size, length);
  }
  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }
}
