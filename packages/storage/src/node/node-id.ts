/**
 * The `NODE` file on node:fs: this database's node id, `<16 hex digits> <CRC-32 of them>\n`
 * (the format is in ../node-id-format.ts, shared with the browser's DirectoryAdapter).
 * The checksum makes a damaged id CORRUPTION rather than a silently new identity
 * (which would split one node's history between two ids). A file of the previous
 * version (the id alone) is read and rewritten with its checksum.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { formatNodeId, parseNodeId, randomNodeId, type NodeIdFile } from '../node-id-format.js';
import { fsyncDir } from './fs-ops.js';

export { randomNodeId, type NodeIdFile };

/** Reads the NODE file of `dir`. */
export function readNodeId(dir: string): NodeIdFile {
  let text: string;
  try {
    text = fs.readFileSync(join(dir, 'NODE'), 'latin1');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'missing' };
    throw e;
  }
  return parseNodeId(text);
}

/** Writes `id` with its checksum, atomically (temp file, fsync, rename, directory fsync). */
export function writeNodeId(dir: string, id: string): void {
  const path = join(dir, 'NODE');
  const tmp = `${path}.tmp`;
  fs.writeFileSync(tmp, formatNodeId(id));
  const fd = fs.openSync(tmp, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, path);
  fsyncDir(dir);
}
