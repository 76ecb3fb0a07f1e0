/**
 * The joiner's side of a join by files: fetches a donor's checkpoint (its pinned segment
 * files) chunk by chunk into the store's receiver, resuming after a dropped link from
 * the last byte kept. Nothing a donor sends is trusted before it is checked: the file
 * list by its schema and the store's receiver (names are `NNNNNNNN.kseg`, never paths),
 * each chunk (a binary frame's raw bytes under the link's MAC, or base64 in a text frame)
 * by its name, offset, length and CRC-32 before it is written, each whole file by its
 * CRC-32, each segment by its own checksums before it is installed.
 */
import { crc32 } from 'node:zlib';
import type { CausalStorage, CheckpointReceiver } from '@koru/delta';
import type { Link } from './link.js';
import type { MessageOf } from './messages.js';

/** Bytes asked for per chunk request. */
export const CHUNK_BYTES = 1024 * 1024;
/** Deadline of one chunk request (a 1 MiB chunk on a slow, shared link; a dropped link fails it sooner). */
const CHUNK_MS = 10_000;
/** Chunk requests kept in flight, so a round trip does not idle the link. */
const IN_FLIGHT = 4;

/** A checkpoint a donor sent that is damaged or not well formed: the link it came on is closed. */
export class CheckpointError extends Error {}

/** One checkpoint being fetched from one donor: kept across dropped links to resume. */
export interface Transfer {
  /** The donor's node id. */
  readonly peer: string;
  /** The donor's name for the checkpoint. */
  readonly token: string;
  readonly receiver: CheckpointReceiver;
  /** Bytes fetched over every link so far (resent ones counted again). */
  fetched: number;
  /** Links dropped mid-transfer and resumed. */
  resumed: number;
}

/** Asks `link`'s peer for a checkpoint and starts receiving it into `storage`. @throws StoreNotEmptyError, LinkError */
export async function startTransfer(link: Link, storage: CausalStorage, timeoutMs: number): Promise<Transfer> {
  const r = await link.request<MessageOf<'ckpt-r'>>({ t: 'ckpt', id: link.nextId() }, timeoutMs);
  if (r.t !== 'ckpt-r') throw new CheckpointError(`a ${r.t} answered a checkpoint request`);
  let receiver: CheckpointReceiver;
  try {
    receiver = storage.receiveCheckpoint(r.files, r.pruned);
  } catch (e) {
    link.send({ t: 'ckpt-done', id: link.nextId(), ckpt: r.ckpt });
    throw e;
  }
  return { peer: link.peer!.node, token: r.ckpt, receiver, fetched: 0, resumed: 0 };
}

/**
 * Checks a chunk against the request it answers and returns its bytes.
 * @throws CheckpointError naming what does not match
 */
export function checkChunk(asked: { readonly name: string; readonly offset: number; readonly length: number }, m: MessageOf<'ckpt-chunk'>): Uint8Array {
  if (m.name !== asked.name || m.offset !== asked.offset) throw new CheckpointError(`asked for ${asked.name} at ${asked.offset}, got ${m.name} at ${m.offset}`);
  // Raw from a binary frame, or base64 in a text frame (a transport without binary frames); never both, never neither.
  if ((m.bytes === undefined) === (m.data === undefined)) throw new CheckpointError(`${m.name} at ${m.offset}: a chunk must carry its bytes either raw or as base64`);
  const bytes = m.bytes !== undefined ? Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.length) : Buffer.from(m.data!, 'base64');
  if (bytes.length === 0 || bytes.length > asked.length) throw new CheckpointError(`${m.name} at ${m.offset}: ${bytes.length} bytes for a request of ${asked.length}`);
  if (crc32(bytes) !== m.crc) throw new CheckpointError(`${m.name} at ${m.offset}: the chunk does not match its CRC-32`);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

/**
 * Fetches what `t` still lacks over `link` (the donor's), from each file's last byte
 * kept, with up to {@link IN_FLIGHT} requests in flight. Resolves once every file
 * arrived whole; rejects on a dropped link (resume with a new one) or a bad chunk.
 */
export async function fetchFiles(link: Link, t: Transfer): Promise<void> {
  const { receiver } = t;
  if (t.fetched > 0) t.resumed++;
  for (const f of receiver.files) {
    let next = receiver.received(f.name);
    if (f.bytes === 0) receiver.write(f.name, 0, new Uint8Array(0)); // (refused at install: no segment is empty)
    const pending: Array<Promise<MessageOf<'ckpt-chunk'>>> = [];
    const asked: Array<{ name: string; offset: number; length: number }> = [];
    const ask = (): void => {
      const length = Math.min(CHUNK_BYTES, f.bytes - next);
      const req = { name: f.name, offset: next, length };
      asked.push(req);
      const p = link.request<MessageOf<'ckpt-chunk'>>({ t: 'ckpt-get', id: link.nextId(), ckpt: t.token, ...req }, CHUNK_MS);
      // Handled here too: one behind the awaited one may fail first (it is awaited in turn).
      p.catch(() => {});
      pending.push(p);
      next += length;
    };
    while (next < f.bytes && pending.length < IN_FLIGHT) ask();
    while (pending.length > 0) {
      const m = await pending[0]!;
      const req = asked[0]!;
      if (m.t !== 'ckpt-chunk') throw new CheckpointError(`a ${m.t} answered a chunk request`);
      const bytes = checkChunk(req, m);
      pending.shift();
      asked.shift();
      // The donor's pinned file cannot end before the size it listed.
      if (bytes.length < req.length) throw new CheckpointError(`${f.name} at ${req.offset}: ${bytes.length} bytes, ${req.length} expected`);
      receiver.write(f.name, req.offset, bytes);
      t.fetched += bytes.length;
      while (next < f.bytes && pending.length < IN_FLIGHT) ask();
    }
  }
}
