/**
 * The `NODE` file's format, platform-neutral: this database's node id as
 * `<16 hex digits> <CRC-32 of them>\n`. The checksum makes a damaged id CORRUPTION
 * rather than a silently new identity (which would split one node's history between two
 * ids). A file of the previous version (the id alone) still reads, as `legacy`. Node's
 * FileAdapter (node/node-id.ts) and the browser's DirectoryAdapter both use it.
 */
import { CorruptionError } from './errors.js';
import { crc32 } from './lsm/checksum.js';
import type { RepairedDamage } from './types.js';

/** The name of the node-id file in a database directory. */
export const NODE_FILE = 'NODE';

/** What the NODE file holds. */
export type NodeIdFile =
  | { readonly state: 'ok'; readonly id: string; readonly legacy: boolean }
  | { readonly state: 'missing' }
  | { readonly state: 'damaged'; readonly why: string };

const ID = /^[0-9a-f]{16}$/;

/** Bytes of an ASCII string (the file is ASCII: hex digits, decimal digits, a space). */
function ascii(text: string): Uint8Array {
  const b = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) b[i] = text.charCodeAt(i) & 0xff;
  return b;
}

/**
 * The NODE file's text for `id` (written as given: a repair may write back an id that
 * stored versions name, whatever its shape).
 */
export function formatNodeId(id: string): string {
  return `${id} ${crc32(ascii(id))}\n`;
}

/** The NODE file's bytes for `id` (see {@link formatNodeId}). */
export function encodeNodeId(id: string): Uint8Array {
  return ascii(formatNodeId(id));
}

/** Reads a NODE file's text (`undefined`: the file does not exist). */
export function parseNodeId(text: string | undefined): NodeIdFile {
  if (text === undefined) return { state: 'missing' };
  const legacy = text.trim();
  if (ID.test(legacy)) return { state: 'ok', id: legacy, legacy: true };
  const m = /^([0-9a-f]{16}) (\d+)\n?$/.exec(text);
  if (m === null) return { state: 'damaged', why: 'it is not a node id and its checksum' };
  if (String(crc32(ascii(m[1]!))) !== m[2]) return { state: 'damaged', why: 'the id does not match its checksum' };
  return { state: 'ok', id: m[1]!, legacy: false };
}

/** Reads a NODE file's bytes (latin1, as the Node reader always did). */
export function decodeNodeId(bytes: Uint8Array | undefined): NodeIdFile {
  if (bytes === undefined) return { state: 'missing' };
  let text = '';
  // Small file (≈ 28 bytes); a larger one is damage anyway, and is cut to keep this cheap.
  const n = Math.min(bytes.length, 256);
  for (let i = 0; i < n; i++) text += String.fromCharCode(bytes[i]!);
  if (bytes.length > n) return { state: 'damaged', why: 'it is not a node id and its checksum' };
  return parseNodeId(text);
}

/** A fresh random node id (16 hex digits). */
export function randomNodeId(): string {
  const b = new Uint8Array(8);
  globalThis.crypto.getRandomValues(b);
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

/** How a store opens with its NODE file read: {@link settleNodeId}'s arguments. */
export interface NodeIdSettling {
  /** The NODE file's path, for messages. */
  readonly file: string;
  /** The directory holds data (a manifest, a log or a segment). */
  readonly hasData: boolean;
  readonly repair: boolean;
  /** Writes `id` as the NODE file (with its checksum). */
  readonly write: (id: string) => void;
  /** Say that the id can be written back by hand (a directory a person can reach). */
  readonly byHand: boolean;
}

/**
 * The id a store opens with: the NODE file's, rewritten with its checksum when it had
 * none; for a store without data, a new one. With data but no readable id: CORRUPTION (a
 * new id would split this node's history), or with `repair` a new id and what to report.
 * @throws CorruptionError
 */
export function settleNodeId(node: NodeIdFile, o: NodeIdSettling): { nodeId: string; repaired?: RepairedDamage } {
  if (node.state === 'ok') {
    // An id written without its checksum (an early version) gets one now.
    if (node.legacy) o.write(node.id);
    return { nodeId: node.id };
  }
  if (o.hasData && !o.repair) {
    const why = node.state === 'damaged' ? `is damaged (${node.why})` : 'is missing';
    throw new CorruptionError(
      `${o.file} ${why}: the database's node id is unknown, and a new one would split this node's history; refusing to ` +
        `open (${o.byHand ? 'write the id, 16 hex digits, into NODE, or ' : ''}open with repair, which starts a new node id)`,
      { file: o.file, offset: 0 },
    );
  }
  const nodeId = randomNodeId();
  o.write(nodeId);
  if (!o.hasData) return { nodeId };
  const message = `${node.state === 'damaged' ? `NODE was damaged (${node.why})` : 'NODE was missing'}: this node now writes as ${nodeId}`;
  return { nodeId, repaired: { file: o.file, offset: 0, message, bytes: 0, records: 0 } };
}
