// A hostile peer around a join by files, on the simulated network. As a joiner: file names
// that are paths, offsets past a file's end, checkpoints that are not its own, are refused
// (an error answer, or the link closed for a malformed message), and nothing of the
// donor's directory leaks. As a donor: a chunk with the wrong name, offset, size or CRC is
// refused before anything is written.
import { ClusterNode } from '@koru/cluster';
import { KoruDelta } from '@koru/delta';
import { MemoryAdapter } from '@koru/storage';
import { crc32 } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { CheckpointError, checkChunk } from '../src/checkpoint-fetch.js';
import { Link, type LinkOwner } from '../src/link.js';
import { messageSchema, type MessageOf } from '../src/messages.js';
import { World } from './sim.js';

const stops: Array<() => unknown> = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

async function donor(world: World) {
  const address = '10.0.0.1:7000';
  const db = await KoruDelta.start({ adapter: new MemoryAdapter({ nodeId: 'donor', memtableBytes: 16 * 1024 }), now: () => world.now });
  for (let i = 0; i < 500; i += 100) await db.putMany(Array.from({ length: 100 }, (_, j) => ({ namespace: 'n', key: `k${i + j}`, value: { pad: 'x'.repeat(100) } })));
  const cluster = ClusterNode.start({ db, transport: world.transport(address), address, join: [], clock: world.clock(), random: world.random, clusterKey: 'k' });
  stops.push(() => cluster.kill(), () => db.close());
  return { address, db };
}

/** A raw client link speaking the protocol itself. */
function rawLink(world: World, to: string): { link: Link; closed: string[] } {
  const closed: string[] = [];
  const owner: LinkOwner = {
    clock: world.clock(),
    clusterKey: 'k',
    self: { node: 'intruder', address: '10.0.0.9:7000', inc: 1 },
    nonce: () => 'ab'.repeat(32),
    members: () => [],
    admit: () => undefined,
    ready: () => {},
    message: () => {},
    closed: (_l, r) => closed.push(r),
    log: () => {},
  };
  return { link: Link.dial(owner, (h) => world.transport('10.0.0.9:7000').dial(to, h)), closed };
}

/** Runs the world (and real time: the donor's flush runs on a real timer) until `p` settles. */
async function settle<T>(world: World, p: Promise<T>): Promise<T | Error> {
  let done = false;
  const out = p.then(
    (v) => ((done = true), v),
    (e: Error) => ((done = true), e),
  );
  for (let i = 0; i < 400 && !done; i++) {
    await world.run(10);
    await new Promise((r) => setTimeout(r, 2));
  }
  return out;
}

describe('a hostile peer in a join by files', () => {
  it('as a joiner: paths, offsets past the end and foreign checkpoints are refused', async () => {
    const world = new World(11);
    const a = await donor(world);
    await world.run(100);
    const x = rawLink(world, a.address);
    await world.run(100);
    expect(x.link.ready).toBe(true);
    const r = await settle(world, x.link.request<MessageOf<'ckpt-r'>>({ t: 'ckpt', id: x.link.nextId() }, 5_000));
    if (r instanceof Error) throw r;
    expect(r.files.length).toBeGreaterThan(0);
    const f = r.files[0]!;
    const get = (over: Partial<MessageOf<'ckpt-get'>>) =>
      settle(world, x.link.request<MessageOf<'ckpt-chunk'>>({ t: 'ckpt-get', id: x.link.nextId(), ckpt: r.ckpt, name: f.name, offset: 0, length: 1024, ...over } as never, 5_000));
    // A good chunk, for contrast.
    const ok = await get({});
    if (ok instanceof Error) throw ok;
    expect(checkChunk({ name: f.name, offset: 0, length: 1024 }, ok).length).toBe(1024);
    expect(String(await get({ offset: f.bytes }))).toMatch(/nothing at offset/);
    expect(String(await get({ name: '99999999.kseg' }))).toMatch(/not a file of checkpoint/);
    expect(String(await get({ ckpt: 'f'.repeat(32) }))).toMatch(/NOT_FOUND: no checkpoint/);
    expect(x.link.ready).toBe(true);
    // A name that is a path is not even a message: the link closes, nothing is read.
    x.link.send({ t: 'ckpt-get', id: x.link.nextId(), ckpt: r.ckpt, name: '../MANIFEST', offset: 0, length: 10 } as never);
    await world.run(100);
    expect(x.closed).toHaveLength(1);
    for (const bad of [
      { t: 'ckpt-get', id: 1, ckpt: r.ckpt, name: f.name, offset: -1, length: 10 },
      { t: 'ckpt-get', id: 1, ckpt: r.ckpt, name: f.name, offset: 0, length: 64 * 1024 * 1024 },
      { t: 'ckpt-r', id: 1, ckpt: r.ckpt, seq: 1, pruned: 0, files: [{ name: '/etc/passwd', bytes: 1, crc: 0, level: 0 }] },
      { t: 'ckpt-r', id: 1, ckpt: r.ckpt, seq: 1, pruned: 0, files: [{ name: f.name, bytes: 1.5, crc: 0, level: 0 }] },
      { t: 'ckpt-chunk', id: 1, name: 'a/../00000001.kseg', offset: 0, crc: 0, data: '' },
      { t: 'ckpt-r', id: 1, ckpt: r.ckpt, seq: 1, pruned: -1, files: [{ name: f.name, bytes: 1, crc: 0, level: 0 }] },
      { t: 'ckpt-r', id: 1, ckpt: r.ckpt, seq: 1, pruned: 0.5, files: [{ name: f.name, bytes: 1, crc: 0, level: 0 }] },
      { t: 'ckpt-r', id: 1, ckpt: r.ckpt, seq: 1, files: [{ name: f.name, bytes: 1, crc: 0, level: 0 }] },
    ]) {
      expect(messageSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
    // The same answer, well formed, passes: the refusals above are for what each changed.
    expect(messageSchema.safeParse({ t: 'ckpt-r', id: 1, ckpt: r.ckpt, seq: 1, pruned: 0, files: [{ name: f.name, bytes: 1, crc: 0, level: 0 }] }).success).toBe(true);
  });

  it('as a donor: a chunk with the wrong name, offset, size or CRC is refused before it is written', () => {
    const bytes = Buffer.from('segment bytes');
    const asked = { name: '00000007.kseg', offset: 4096, length: 64 };
    const chunk = (over: Partial<MessageOf<'ckpt-chunk'>> = {}): MessageOf<'ckpt-chunk'> => ({ t: 'ckpt-chunk', id: 1, name: asked.name, offset: asked.offset, crc: crc32(bytes), data: bytes.toString('base64'), ...over });
    expect(Buffer.from(checkChunk(asked, chunk())).toString()).toBe('segment bytes');
    expect(() => checkChunk(asked, chunk({ name: '00000008.kseg' }))).toThrow(CheckpointError);
    expect(() => checkChunk(asked, chunk({ offset: 0 }))).toThrow(/asked for 00000007.kseg at 4096/);
    expect(() => checkChunk(asked, chunk({ crc: crc32(bytes) ^ 1 }))).toThrow(/does not match its CRC-32/);
    expect(() => checkChunk({ ...asked, length: 4 }, chunk())).toThrow(/bytes for a request of 4/);
    expect(() => checkChunk(asked, chunk({ data: '', crc: 0 }))).toThrow(/0 bytes/);
    const flipped = Buffer.from(bytes);
    flipped[3]! ^= 1;
    expect(() => checkChunk(asked, chunk({ data: flipped.toString('base64') }))).toThrow(/CRC-32/);
  });
});

