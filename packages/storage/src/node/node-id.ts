/**
 * The `NODE` file: this database's node id, `<16 hex digits> <CRC-32 of them>\n`.
 * The checksum makes a damaged id CORRUPTION rather than a silently new identity
 * (which would split one node's history between two ids). A file of the previous
 * version (the id alone) is read and rewritten with its checksum.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { fsyncDir } from './fs-ops.js';

/** What the NODE file holds. */
export type NodeIdFile =
  | { readonly state: 'ok'; readonly id: string; readonly legacy: boolean }
  | { readonly state: 'missing' }
  | { readonly state: 'damaged'; readonly why: string };

const ID = /^[0-9a-f]{16}$/;

/** Reads the NODE file of `dir`. */
export function readNodeId(dir: string): NodeIdFile {
  let text: string;
  try {
    text = fs.readFileSync(join(dir, 'NODE'), 'latin1');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'missing' };
    throw e;
  }
  const legacy = text.trim();
  if (ID.test(legacy)) return { state: 'ok', id: legacy, legacy: true };
  const m = /^([0-9a-f]{16}) (\d+)\n?$/.exec(text);
  if (m === null) return { state: 'damaged', why: 'it is not a node id and its checksum' };
  if (String(crc32(Buffer.from(m[1]!))) !== m[2]) return { state: 'damaged', why: 'the id does not match its checksum' };
  return { state: 'ok', id: m[1]!, legacy: false };
}

/** Writes `id` with its checksum, atomically (temp file, fsync, rename, directory fsync). */
export function writeNodeId(dir: string, id: string): void {
  const path = join(dir, 'NODE');
  const tmp = `${path}.tmp`;
  fs.writeFileSync(tmp, `${id} ${crc32(Buffer.from(id))}\n`);
  const fd = fs.openSync(tmp, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, path);
  fsyncDir(dir);
}

/** A fresh random node id. */
export function randomNodeId(): string {
  const b = new Uint8Array(8);
  globalThis.crypto.getRandomValues(b);
  return Buffer.from(b).toString('hex');
}
