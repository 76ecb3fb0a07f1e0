// Binary frames (checkpoint chunks without base64): sealed like text frames, with a MAC
// over every byte that is checked before anything of the frame is read; the header must
// be a checkpoint chunk and the payload at most a chunk's size. A frame that fails any of
// this closes the link it came on, and its request fails: nothing of it is handed on.
import { createHmac } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { sealBinary, sessionKeyOf, unsealBinary } from '../src/auth.js';
import { CheckpointError, checkChunk } from '../src/checkpoint-fetch.js';
import { Link, type LinkOwner } from '../src/link.js';
import { MAX_CHUNK_BYTES, type ClusterMessage, type MessageOf } from '../src/messages.js';
import { systemClock, type LinkHandlers, type RawLink } from '../src/transport.js';

const key = sessionKeyOf('k', 'a'.repeat(64), 'b'.repeat(64));

describe('sealed binary frames', () => {
  it('open to their header and payload, and to nothing once any byte changed or went missing', () => {
    const payload = Buffer.from('segment bytes, raw');
    const frame = sealBinary(key, '{"t":"ckpt-chunk"}', payload);
    const opened = unsealBinary(key, frame);
    expect(opened?.header).toBe('{"t":"ckpt-chunk"}');
    expect(Buffer.from(opened!.payload).toString()).toBe('segment bytes, raw');
    for (let i = 0; i < frame.length; i++) {
      const bad = Buffer.from(frame);
      bad[i]! ^= 0x40;
      expect(unsealBinary(key, bad), `byte ${i} flipped`).toBeUndefined();
    }
    expect(unsealBinary(key, frame.subarray(0, frame.length - 1))).toBeUndefined();
    expect(unsealBinary(key, frame.subarray(0, 19))).toBeUndefined();
    expect(unsealBinary(sessionKeyOf('k', 'c'.repeat(64), 'b'.repeat(64)), frame)).toBeUndefined();
  });

  it('refuse a header length past the frame even under a good MAC', () => {
    const body = Buffer.alloc(4 + 10);
    body.writeUInt32BE(1_000, 0);
    const mac = createHmac('sha256', key).update(body).digest().subarray(0, 16);
    expect(unsealBinary(key, Buffer.concat([body, mac]))).toBeUndefined();
  });

  it('carry a chunk checkChunk takes; a chunk with both or neither of raw bytes and base64 is refused', () => {
    const bytes = Buffer.from('segment bytes');
    const asked = { name: '00000007.kseg', offset: 0, length: 64 };
    const base = { t: 'ckpt-chunk' as const, id: 1, name: asked.name, offset: 0, crc: crc32(bytes) };
    expect(Buffer.from(checkChunk(asked, { ...base, bytes: new Uint8Array(bytes) })).toString()).toBe('segment bytes');
    expect(() => checkChunk(asked, { ...base, bytes: new Uint8Array(bytes), data: bytes.toString('base64') })).toThrow(CheckpointError);
    expect(() => checkChunk(asked, base)).toThrow(/either raw or as base64/);
    const flipped = new Uint8Array(bytes);
    flipped[2]! ^= 1;
    expect(() => checkChunk(asked, { ...base, bytes: flipped })).toThrow(/CRC-32/);
  });
});

/** Two in-process raw links joined back to back (text and binary frames), with a hook to alter frames in transit. */
function pipe(): { dial: (h: LinkHandlers) => RawLink; accept: (take: (raw: RawLink) => LinkHandlers) => void; alter: { binary?: (f: Buffer) => Buffer } } {
  const alter: { binary?: (f: Buffer) => Buffer } = {};
  let client: LinkHandlers | undefined;
  let server: LinkHandlers | undefined;
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    queueMicrotask(() => {
      client?.onClose('closed');
      server?.onClose('closed');
    });
  };
  const side = (to: () => LinkHandlers | undefined): RawLink => ({
    send: (f) => void queueMicrotask(() => !closed && to()?.onFrame(f)),
    sendBinary: (f) => void queueMicrotask(() => !closed && to()?.onBinary?.(alter.binary !== undefined ? alter.binary(Buffer.from(f)) : f)),
    close,
    buffered: 0,
  });
  let accepting: ((raw: RawLink) => LinkHandlers) | undefined;
  return {
    dial: (h) => {
      client = h;
      queueMicrotask(() => (server = accepting!(side(() => client))));
      return side(() => server);
    },
    accept: (take) => (accepting = take),
    alter,
  };
}

function owner(node: string, onMessage: (l: Link, m: ClusterMessage) => void, closed: string[]): LinkOwner {
  return {
    clock: systemClock,
    clusterKey: 'k',
    self: { node, address: `${node}:1`, inc: 1 },
    nonce: () => (node === 'joiner' ? 'ab' : 'cd').repeat(32),
    members: () => [],
    admit: () => undefined,
    ready: () => {},
    message: (l, m) => onMessage(l, m),
    closed: (_l, r) => closed.push(r),
    log: () => {},
  };
}

/** A joiner's link to a donor that answers every `ckpt-get` through `answer`. */
async function linked(answer: (l: Link, m: MessageOf<'ckpt-get'>) => void) {
  const p = pipe();
  const closed: string[] = [];
  p.accept((raw) => Link.accept(owner('donor', (l, m) => m.t === 'ckpt-get' && answer(l, m), []), raw));
  const link = Link.dial(owner('joiner', () => {}, closed), p.dial);
  for (let i = 0; i < 50 && !link.ready; i++) await new Promise((r) => setTimeout(r, 1));
  expect(link.ready).toBe(true);
  const get = (): Promise<MessageOf<'ckpt-chunk'>> => link.request<MessageOf<'ckpt-chunk'>>({ t: 'ckpt-get', id: link.nextId(), ckpt: 'f'.repeat(32), name: '00000001.kseg', offset: 0, length: 1024 }, 2_000);
  return { link, closed, get, alter: p.alter };
}

const header = (id: number, crc: number): string => `{"t":"ckpt-chunk","id":${id},"name":"00000001.kseg","offset":0,"crc":${crc}}`;

describe('binary frames on a link', () => {
  it('bring a chunk as raw bytes', async () => {
    const bytes = Buffer.from('raw segment bytes');
    const x = await linked((l, m) => {
      expect(l.binary).toBe(true);
      l.sendBinary(header(m.id, crc32(bytes)), bytes);
    });
    const m = await x.get();
    expect(m.data).toBeUndefined();
    expect(Buffer.from(checkChunk({ name: '00000001.kseg', offset: 0, length: 1024 }, m)).toString()).toBe('raw segment bytes');
    expect(x.closed).toEqual([]);
  });

  it('close the link, failing the request, when a byte changed in transit', async () => {
    const bytes = Buffer.from('raw segment bytes');
    const x = await linked((l, m) => l.sendBinary(header(m.id, crc32(bytes)), bytes));
    x.alter.binary = (f) => {
      f[f.length - 20]! ^= 1;
      return f;
    };
    await expect(x.get()).rejects.toThrow(/closed/);
    expect(x.closed.join()).toMatch(/integrity check/);
  });

  it('close the link when a peer holding the key seals a header that is not a chunk, or a payload over a chunk', async () => {
    const cases: Array<[string, (l: Link, m: MessageOf<'ckpt-get'>) => void, RegExp]> = [
      ['a push', (l, m) => l.sendBinary(`{"t":"push","id":${m.id},"versions":[]}`, new Uint8Array(1)), /malformed binary frame header/],
      ['an extra field', (l, m) => l.sendBinary(`{"t":"ckpt-chunk","id":${m.id},"name":"00000001.kseg","offset":0,"crc":0,"data":"AA=="}`, new Uint8Array(1)), /malformed binary frame header/],
      ['a path', (l, m) => l.sendBinary(`{"t":"ckpt-chunk","id":${m.id},"name":"../MANIFEST","offset":0,"crc":0}`, new Uint8Array(1)), /malformed binary frame header/],
      ['not JSON', (l) => l.sendBinary('{"t":', new Uint8Array(1)), /not JSON/],
      ['too many bytes', (l, m) => l.sendBinary(header(m.id, 0), new Uint8Array(MAX_CHUNK_BYTES + 1)), /at most/],
    ];
    for (const [what, answer, why] of cases) {
      const x = await linked(answer);
      await expect(x.get(), what).rejects.toThrow(/closed/);
      expect(x.closed.join(), what).toMatch(why);
    }
  });
});
