// Copying a store by its files (checkpoint.ts): a donor's pinned segments streamed in
// chunks into an empty store's directory, checked, installed in one manifest swap; the
// joiner then holds exactly the donor's versions and change feed, also after reopening.
// Damaged chunks, damaged segments whose transfer CRC matches, hostile lists and offsets,
// and a store that is not empty are refused; pinned files outlive the merges that replace them.
import * as fs from 'node:fs';
import { fcSeed, prng, tempDir } from '@koru/vitest-preset/helpers';
import { afterEach, describe, expect, it } from 'vitest';
// The built package: the file adapter's flushes and merges run in workers, which load dist.
import { CausalStorage, CheckpointReceiver, MemoryAdapter, StoreNotEmptyError, type StoreCheckpoint } from '@koru/storage';
import { FileAdapter } from '@koru/storage/node';
import { crc32 } from '../src/lsm/checksum.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

/** A fresh directory, removed after the test. */
function newDir(): string {
  const { dir, cleanup } = tempDir('koru-ckpt-');
  closers.unshift(async () => cleanup());
  return dir;
}

async function track(s: Promise<CausalStorage>): Promise<CausalStorage> {
  const store = await s;
  closers.push(() => store.close());
  return store;
}

/** Writes `n` versions over a few namespaces and keys (some keys several times, some deleted). */
async function fill(s: CausalStorage, n: number, seed: number): Promise<void> {
  const rand = prng(seed);
  for (let i = 0; i < n; i += 50) {
    const items = [];
    for (let j = i; j < Math.min(n, i + 50); j++) {
      const key = `k${Math.floor(rand() * n * 0.6)}`;
      items.push({ namespace: `ns${j % 3}`, key, value: { j, text: 'x'.repeat(Math.floor(rand() * 300)) } });
    }
    await s.putMany(items);
  }
  await s.put('ns0', 'gone', 1);
  await s.delete('ns0', 'gone');
}

/** Streams every file of `ckpt` into `r` in chunks of random sizes; returns the chunk count. */
function transfer(ckpt: StoreCheckpoint, r: CheckpointReceiver, rand: () => number): number {
  let chunks = 0;
  for (const f of ckpt.files) {
    while (r.received(f.name) < f.bytes) {
      const at = r.received(f.name);
      const bytes = ckpt.read(f.name, at, 1 + Math.floor(rand() * 40_000));
      r.write(f.name, at, bytes);
      chunks++;
    }
  }
  return chunks;
}

function feed(s: CausalStorage, to: number): string[] {
  return [...s.committedJson(1, to)];
}

describe('checkpoint and install', () => {
  for (const kind of ['file', 'memory'] as const) {
    it(`${kind}: the joiner gets the donor's versions and feed, also after reopening; pinned files outlive merges`, async () => {
      const seed = fcSeed();
      const rand = prng(seed);
      const donorDir = newDir();
      const joinDir = newDir();
      const memJoin = new MemoryAdapter({ memtableBytes: 64 * 1024 });
      const open = (dir: string, mem?: MemoryAdapter) =>
        CausalStorage.open({ adapter: kind === 'file' ? new FileAdapter(dir, { memtableBytes: 64 * 1024, keepLogBytes: 0 }) : (mem ?? new MemoryAdapter({ memtableBytes: 64 * 1024 })) });
      const donor = await track(open(donorDir));
      await fill(donor, 3_000, seed);
      const ckpt = await donor.checkpoint();
      expect(ckpt.seq).toBe(donor.seq);
      expect(ckpt.files.length).toBeGreaterThan(1);
      // Writes and a full merge after the checkpoint: its files must still be readable.
      await fill(donor, 500, seed + 1);
      await donor.compact();
      if (kind === 'file') for (const f of ckpt.files) expect(fs.existsSync(`${donorDir}/${f.name}`)).toBe(true);

      let joiner = await CausalStorage.open({ adapter: kind === 'file' ? new FileAdapter(joinDir) : memJoin });
      const r = joiner.receiveCheckpoint(ckpt.files);
      transfer(ckpt, r, rand);
      expect(r.complete).toBe(true);
      await joiner.installCheckpoint(r);
      ckpt.release();
      const expected = feed(donor, ckpt.seq);
      expect(joiner.seq).toBe(ckpt.seq);
      expect(feed(joiner, joiner.seq)).toEqual(expected);
      expect((await joiner.verify()).ok).toBe(true);
      expect([...joiner.entries('ns1')].length).toBeGreaterThan(0);
      // New writes go on from the donor's change numbers.
      await joiner.put('ns1', 'after', 1);
      expect(joiner.seq).toBe(ckpt.seq + 1);
      if (kind === 'file') {
        await joiner.close();
        joiner = await track(open(joinDir));
        expect(feed(joiner, ckpt.seq)).toEqual(expected);
        expect(joiner.get('ns1', 'after')).toBe(1);
        // Released: the merged-away files are gone.
        const live = new Set(fs.readdirSync(donorDir).filter((n) => n.endsWith('.kseg')));
        for (const f of ckpt.files) expect(live.has(f.name)).toBe(false);
      } else closers.push(() => joiner.close());
    });
  }

  it('a damaged chunk is refused when its file ends and that file is sent again; a damaged segment with a matching CRC is not installed', async () => {
    const donor = await track(CausalStorage.open({ adapter: new MemoryAdapter({ memtableBytes: 32 * 1024 }) }));
    await fill(donor, 1_000, 3);
    const ckpt = await donor.checkpoint();
    closers.push(async () => ckpt.release());
    const joiner = await track(CausalStorage.open({ adapter: new MemoryAdapter() }));
    const r = joiner.receiveCheckpoint(ckpt.files);
    const f = ckpt.files[0]!;
    const bytes = ckpt.read(f.name, 0, f.bytes);
    const bad = bytes.slice();
    bad[Math.floor(bad.length / 2)]! ^= 0x10;
    r.write(f.name, 0, bad.subarray(0, 1000));
    expect(() => r.write(f.name, 1000, bad.subarray(1000))).toThrow(/CRC-32/);
    expect(r.received(f.name)).toBe(0);
    r.write(f.name, 0, bytes);
    transfer(ckpt, r, prng(1));
    await joiner.installCheckpoint(r);
    expect(feed(joiner, joiner.seq)).toEqual(feed(donor, ckpt.seq));

    // A donor whose own copy is damaged (the CRC it sends matches the damage): the segment's checksums catch it.
    const j2 = await track(CausalStorage.open({ adapter: new MemoryAdapter() }));
    const files = ckpt.files.map((x) => (x.name === f.name ? { ...x, crc: crc32(bad) } : x));
    const r2 = j2.receiveCheckpoint(files);
    for (const x of files) r2.write(x.name, 0, x.name === f.name ? bad : ckpt.read(x.name, 0, x.bytes));
    await expect(j2.installCheckpoint(r2)).rejects.toMatchObject({ code: 'CORRUPTION' });
    expect(j2.seq).toBe(0);
    await j2.put('n', 'k', 1);
    expect(j2.get('n', 'k')).toBe(1);
  });

  it('hostile lists, offsets and sizes are refused; a store that is not empty takes no checkpoint', async () => {
    const donor = await track(CausalStorage.open({ adapter: new MemoryAdapter() }));
    await fill(donor, 200, 5);
    const ckpt = await donor.checkpoint();
    closers.push(async () => ckpt.release());
    const joiner = await track(CausalStorage.open({ adapter: new MemoryAdapter() }));
    const f = ckpt.files[0]!;
    for (const name of ['../MANIFEST', 'MANIFEST', '00000001.kwal', '/etc/passwd', '1.kseg']) {
      expect(() => joiner.receiveCheckpoint([{ ...f, name }])).toThrow(/is not NNNNNNNN.kseg/);
    }
    expect(() => joiner.receiveCheckpoint([f, f])).toThrow(/listed twice/);
    expect(() => joiner.receiveCheckpoint([{ ...f, bytes: -1 }])).toThrow(/size/);
    expect(() => joiner.receiveCheckpoint([{ ...f, level: 99 }])).toThrow(/level/);
    const r = joiner.receiveCheckpoint(ckpt.files);
    expect(() => r.write(f.name, 10, new Uint8Array(5))).toThrow(/expected one at 0/);
    expect(() => r.write(f.name, 0, new Uint8Array(f.bytes + 1))).toThrow(/runs past/);
    expect(() => r.write('00000999.kseg', 0, new Uint8Array(1))).toThrow(/not a file of this checkpoint/);
    expect(() => ckpt.read('../MANIFEST', 0, 10)).toThrow(/not a file of this checkpoint/);
    expect(() => ckpt.read(f.name, -1, 10)).toThrow(/offset/);
    await expect(joiner.installCheckpoint(r)).rejects.toThrow(/not arrived whole/);
    // A write after the transfer began: the install is refused, the write kept.
    transfer(ckpt, r, prng(2));
    await joiner.put('mine', 'k', 1);
    await expect(joiner.installCheckpoint(r)).rejects.toBeInstanceOf(StoreNotEmptyError);
    expect(() => joiner.receiveCheckpoint(ckpt.files)).toThrow(StoreNotEmptyError);
    expect(joiner.get('mine', 'k')).toBe(1);
    r.abort();
  });

  it('a donor whose history retention cut passes its pruned horizon on: the joiner answers a removed change as pruned, not damage', async () => {
    const donor = await track(CausalStorage.open({ adapter: new FileAdapter(newDir(), { keepLogBytes: 0 }) }));
    await donor.setRetention('ns', { lastVersions: 2 });
    for (let v = 0; v < 5; v++) await donor.putMany(['a', 'b', 'c'].map((key) => ({ namespace: 'ns', key, value: { v } })));
    await donor.compact();
    const pruned = donor.prunedThroughSeq;
    expect(pruned).toBeGreaterThan(0);
    const ckpt = await donor.checkpoint();
    expect(ckpt.prunedThroughSeq).toBe(pruned);

    const joiner = await track(CausalStorage.open({ adapter: new FileAdapter(newDir()) }));
    const r = joiner.receiveCheckpoint(ckpt.files, ckpt.prunedThroughSeq);
    transfer(ckpt, r, prng(fcSeed()));
    await joiner.installCheckpoint(r);
    ckpt.release();
    expect(joiner.prunedThroughSeq).toBe(pruned);
    expect(joiner.retention('ns')).toEqual({ lastVersions: 2 });
    expect(joiner.history('ns', 'a').map((v) => v.value)).toEqual([{ v: 3 }, { v: 4 }]);
    expect(() => joiner.changeAt(1)).toThrow(expect.objectContaining({ code: 'HISTORY_PRUNED' }));
    expect((await joiner.verify()).ok).toBe(true);
    // A negative or fractional horizon is refused before anything is reserved.
    const other = await track(CausalStorage.open({ adapter: new MemoryAdapter() }));
    for (const bad of [-1, 0.5, Number.NaN]) expect(() => other.receiveCheckpoint([], bad)).toThrow(/prunedThroughSeq must be an integer/);
  });
});
