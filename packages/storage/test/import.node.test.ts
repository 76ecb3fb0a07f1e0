// importVersions / committed: an export replayed elsewhere keeps every id, clock and seq.
import { ErrorCodes, versionIdOf } from '@koru/engine';
import { CausalStorage, type ImportedVersion, type Version } from '@koru/storage';
import { FileAdapter } from '@koru/storage/node';
import { tempDir } from '@koru/vitest-preset/helpers';
import { afterEach, describe, expect, it } from 'vitest';
import { manualClock } from './conformance.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function source(): Promise<CausalStorage> {
  const clock = manualClock(1_000);
  const s = await CausalStorage.open({ now: clock.now });
  await s.put('users', 'alice', { n: 1 });
  await s.put('users', 'bob', { n: 1 });
  clock.t = 2_000;
  await s.put('users', 'alice', { n: 2 });
  await s.putSystem('index:users:n', { namespace: 'users', field: 'n' });
  await s.delete('users', 'bob');
  await s.putMany([
    { namespace: 'docs', key: 'a/b:c', value: 'x' },
    { namespace: 'docs', key: 'ünï', value: 'x' },
  ]);
  await s.put('users', 'bob', { n: 3 });
  return s;
}

/** Admits every record of the reserved namespace (the layer above checks definitions). */
const admit = { checkSystemRecord: (): void => {} };

/** What an export line carries: the version without its derived timestamp. */
const plain = (v: Version): ImportedVersion => JSON.parse(JSON.stringify(v)) as ImportedVersion;

describe('export and import', () => {
  it('replays an export into an empty durable store with the same ids, clocks, timestamps and seqs', async () => {
    const from = await source();
    const exported = [...from.committed()].map(plain);
    expect(exported).toHaveLength(from.seq);
    const { dir, cleanup } = tempDir('koru-import-');
    cleanups.push(cleanup);
    let to = await CausalStorage.open({ adapter: new FileAdapter(dir) });
    expect(await to.importVersions(exported.slice(0, 3), admit)).toBe(3);
    expect(await to.importVersions(exported.slice(3), admit)).toBe(exported.length - 3);
    await to.close();
    to = await CausalStorage.open({ adapter: new FileAdapter(dir) });
    expect([...to.committed()].map(plain)).toEqual(exported);
    expect(to.seq).toBe(from.seq);
    expect(to.history('users', 'bob')).toEqual(from.history('users', 'bob'));
    expect(to.getAt('users', 'alice', 1_500).value).toEqual({ n: 1 });
    expect(to.systemEntries().map((v) => v.key)).toEqual(['index:users:n']);
    expect((await to.verify()).ok).toBe(true);
    // The clock moved past the imported versions: a new write comes after them.
    const next = await to.put('users', 'alice', { n: 9 });
    expect(next.previousVersion).toBe(from.getVersion('users', 'alice').versionId);
    expect(next.hlc > from.getVersion('users', 'alice').hlc).toBe(true);
    await to.close();
  });

  it('refuses a tampered or out-of-order item and stores nothing of its batch', async () => {
    const from = await source();
    const exported = [...from.committed()].map(plain);
    const to = await CausalStorage.open();
    const refuse = async (items: ImportedVersion[], message: RegExp) => {
      await expect(to.importVersions(items, admit)).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT, message: expect.stringMatching(message) });
      expect(to.seq).toBe(0);
      expect(to.listNamespaces()).toEqual([]);
    };
    const tampered = exported.map((v, i) => (i === 2 ? { ...v, value: { n: 99 } } : v));
    await refuse(tampered, /item 2 \(users\/alice\): value does not hash to valueId/);
    const renamed = exported.map((v, i) => (i === 4 ? { ...v, key: 'carol' } : v));
    await refuse(renamed, /item 4 \(users\/carol\): versionId .* does not match its content/);
    // A repeated item is skipped; the batch still fails as a whole on a bad one after it.
    await refuse([exported[0]!, exported[0]!, { ...exported[2]!, value: { n: 99 } }], /item 2 .*value does not hash to valueId/);
    await refuse([exported[0]!, { ...exported[1]!, timestamp: '2020-01-01T00:00:00.000Z' }], /item 1 .*timestamp "2020-01-01T00:00:00.000Z" is not the time of its hlc/);
    await refuse([exported[2]!], /item 0 .*previousVersion [0-9a-f]{64} is not a version of this key/);
    // Well formed, but stamped before the version it follows.
    const early = { ...exported[2]!, hlc: '000000000000500-000000', timestamp: '1970-01-01T00:00:00.500Z' };
    const backdated = { ...early, versionId: versionIdOf({ ...early, valueId: early.valueId ?? null }) };
    await refuse([exported[1]!, exported[0]!, backdated], /item 2 .*hlc 000000000000500-000000 is not later than the previous version's/);
    const { valueId: _, ...noValueId } = exported[0]!;
    await refuse([{ ...noValueId, node: 'other' }], /versionId .* does not match its content/);
    await refuse([{ ...exported[0]!, hlc: 'yesterday' }], /hlc "yesterday" is not a clock stamp/);
    await refuse([{ ...exported[0]!, deleted: 'no' as unknown as boolean }], /deleted must be true or false/);
    await expect(to.importVersions([{ ...exported[0]!, namespace: 'bad ns' }], admit)).rejects.toMatchObject({ code: ErrorCodes.INVALID_NAMESPACE });
    await expect(to.importVersions('nope' as never)).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT });
    // The untampered export still goes in whole.
    expect(await to.importVersions(exported, admit)).toBe(exported.length);
  });

  it('skips versions already stored, so a dump imported twice changes nothing', async () => {
    const from = await source();
    const exported = [...from.committed()].map(plain);
    const { dir, cleanup } = tempDir('koru-reimport-');
    cleanups.push(cleanup);
    let to = await CausalStorage.open({ adapter: new FileAdapter(dir) });
    expect(await to.importVersions(exported.slice(0, 4), admit)).toBe(4);
    await to.close();
    to = await CausalStorage.open({ adapter: new FileAdapter(dir) });
    // The whole dump (its first part stored, one line repeated): only what is new is added.
    expect(await to.importVersions([...exported, exported[5]!], admit)).toBe(exported.length - 4);
    expect(await to.importVersions(exported, admit)).toBe(0);
    expect(to.seq).toBe(exported.length);
    expect([...to.committed()].map(plain)).toEqual(exported);
    // Same id, other content: damage, refused, nothing of the batch stored.
    const fresh = { ...exported[0]!, key: 'zed', versionId: '' };
    const zed = { ...fresh, versionId: versionIdOf({ ...fresh, valueId: fresh.valueId ?? null }) };
    for (const damaged of [{ ...exported[2]!, value: 'other' }, { ...exported[2]!, previousVersion: null }, { ...exported[2]!, timestamp: new Date(0).toISOString() }]) {
      await expect(to.importVersions([zed, damaged], admit)).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT, message: expect.stringMatching(/^import item 1 /) });
      expect(to.contains('users', 'zed')).toBe(false);
      expect(to.seq).toBe(exported.length);
    }
    expect(await to.importVersions([zed, exported[2]!], admit)).toBe(1);
    expect((await to.verify()).ok).toBe(true);
    await to.close();
  });

  it('lists committed versions by seq range', async () => {
    const s = await source();
    expect([...s.committed(2, 3)].map((v) => `${v.key}:${JSON.stringify(v.value)}`)).toEqual(['bob:{"n":1}', 'alice:{"n":2}']);
    expect([...s.committed(s.seq + 1)]).toEqual([]);
    expect(() => [...s.committed(-1)]).toThrow(/fromSeq/);
  });

  it('refuses the reserved namespace without a checker, or when the checker refuses; nothing stored', async () => {
    const from = await source();
    const exported = [...from.committed()].map(plain);
    const system = exported.findIndex((v) => v.namespace === '_koru');
    const to = await CausalStorage.open();
    await expect(to.importVersions(exported)).rejects.toMatchObject({ code: ErrorCodes.INVALID_NAMESPACE, message: expect.stringMatching(/_koru/) });
    const refuse = {
      checkSystemRecord: (key: string): void => {
        throw new Error(`no ${key}`);
      },
    };
    await expect(to.importVersions(exported, refuse)).rejects.toMatchObject({
      code: ErrorCodes.INVALID_NAMESPACE,
      message: expect.stringMatching(new RegExp(`^import item ${system} \\(_koru/index:users:n\\): a record of the reserved namespace _koru .*no index:users:n`)),
    });
    expect(to.seq).toBe(0);
    expect(to.listNamespaces()).toEqual([]);
  });

  it('refuses a version stamped beyond the allowed skew (CLOCK_SKEW), as replication does', async () => {
    const clock = manualClock(1_000_000);
    const to = await CausalStorage.open({ now: clock.now });
    const fields = { namespace: 'n', key: 'k', valueId: null, previousVersion: null, node: 'far', deleted: true };
    const at = (wall: number): ImportedVersion => {
      const hlc = `${String(wall).padStart(15, '0')}-000000`;
      return { ...fields, hlc, versionId: versionIdOf({ ...fields, hlc }) };
    };
    await expect(to.importVersions([at(1_000_000 + 60_001)], { maxClockAheadMs: 60_000 })).rejects.toMatchObject({ code: ErrorCodes.CLOCK_SKEW });
    await expect(to.importVersions([at(999_999_999_999_999)])).rejects.toMatchObject({ code: ErrorCodes.CLOCK_SKEW });
    expect(to.seq).toBe(0);
    expect(await to.importVersions([at(1_000_000 + 60_000)], { maxClockAheadMs: 60_000 })).toBe(1);
    // A wrong id is named, the right one never told.
    const wrong = { ...at(5), versionId: '0'.repeat(64) };
    const e = await to.importVersions([wrong]).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT, message: expect.stringMatching(/versionId 0{64} does not match its content$/) });
    expect(JSON.stringify(e)).not.toContain(at(5).versionId);
  });
});
