// Export and import of a database whose history retention or a purge cut: the export
// carries, on each key's oldest kept version, where its history was cut (`previousCut`),
// and the import starts the key there, records the same horizon, and verifies clean —
// through JSON, and again from the copy. A cut version cannot start a key that already
// has versions, and a malformed or later `previousCut` is refused.
import { ErrorCodes, parseHlc } from '@koru/engine';
import { CausalStorage, HISTORY_PRUNED, type ImportedVersion, type Version } from '@koru/storage';
import { describe, expect, it } from 'vitest';
import { manualClock } from './conformance.js';
import { T, errorOf } from './retention-helpers.js';

/** Every committed version as export lines give it back (through JSON). */
function exportOf(s: CausalStorage): ImportedVersion[] {
  return [...s.committed()].map((v) => JSON.parse(JSON.stringify(v)) as ImportedVersion);
}

/** A database with a key cut by retention (`kept/a`), a purged key (`p/ann`) and an uncut one. */
async function cutDatabase(): Promise<{ s: CausalStorage; a: Version[] }> {
  const clock = manualClock(T);
  const s = await CausalStorage.open({ now: clock.now });
  await s.setRetention('kept', { lastVersions: 2 });
  const a: Version[] = [];
  for (let i = 0; i < 5; i++) {
    clock.t += 1;
    a.push(await s.put('kept', 'a', { i }));
  }
  for (let i = 0; i < 3; i++) {
    clock.t += 1;
    await s.put('p', 'ann', { secret: i });
  }
  clock.t += 1;
  await s.put('all', 'x', { whole: true });
  await s.compact();
  await s.purge('p', 'ann');
  return { s, a };
}

describe('export and import of a cut history', () => {
  it('round-trips: same histories, the same horizons (HISTORY_PRUNED before them), a clean verify, again from the copy', async () => {
    const { s, a } = await cutDatabase();
    const dump = exportOf(s);
    const firstKept = dump.find((v) => v.namespace === 'kept' && v.key === 'a')!;
    expect(firstKept.previousCut).toEqual({ hlc: a[2]!.hlc, node: a[2]!.node, purged: false });
    expect(dump.find((v) => v.namespace === 'p')!.previousCut).toMatchObject({ purged: true });
    expect(dump.filter((v) => v.previousCut !== undefined)).toHaveLength(2);

    const copy = await CausalStorage.open();
    expect(await copy.importVersions(dump)).toBe(dump.length);
    for (const [ns, key] of [['kept', 'a'], ['p', 'ann'], ['all', 'x']] as const) expect(copy.history(ns, key)).toEqual(s.history(ns, key));
    expect((await copy.verify()).problems).toEqual([]);
    const e = errorOf(() => copy.getAt('kept', 'a', parseHlc(a[1]!.hlc)));
    expect(e.code).toBe(HISTORY_PRUNED);
    expect(e.details).toMatchObject({ namespace: 'kept', key: 'a', horizon: { versionId: a[3]!.versionId }, purged: false });
    expect(errorOf(() => copy.getVersionById('p', 'ann', s.history('p', 'ann')[0]!.previousVersion!)).code).toBe(HISTORY_PRUNED);
    // Importing it again adds nothing; the copy's own export carries the same cuts.
    expect(await copy.importVersions(dump)).toBe(0);
    const again = exportOf(copy);
    expect(again.map((v) => v.previousCut)).toEqual(dump.map((v) => v.previousCut));
    const third = await CausalStorage.open();
    await third.importVersions(again);
    expect((await third.verify()).problems).toEqual([]);
    // Writes go on from the imported head.
    const next = await copy.put('kept', 'a', { i: 99 });
    expect(next.previousVersion).toBe(a[4]!.versionId);
    for (const db of [s, copy, third]) await db.close();
  });

  it('refuses a cut version for a key that has versions here, and a malformed or later previousCut', async () => {
    const { s } = await cutDatabase();
    const dump = exportOf(s);
    const i = dump.findIndex((v) => v.namespace === 'kept');
    const cut = dump[i]!;
    const target = await CausalStorage.open();
    await target.put('kept', 'a', { here: true });
    const refused = await target.importVersions([cut]).catch((e: unknown) => e as { code: string; message: string });
    expect(refused).toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT });
    expect((refused as { message: string }).message).toMatch(/was cut by retention or a purge/);
    const empty = await CausalStorage.open();
    for (const bad of [{ hlc: 'nope', node: 'n', purged: false }, { hlc: cut.previousCut!.hlc, node: '', purged: false }, { hlc: cut.previousCut!.hlc, node: 'n' }, { hlc: cut.hlc, node: cut.node, purged: false }, null]) {
      await expect(empty.importVersions([{ ...cut, previousCut: bad as never }])).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT });
    }
    // Without previousCut the chain is incomplete, as before.
    const { previousCut: _drop, ...bare } = cut;
    await expect(empty.importVersions([bare])).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT });
    expect(empty.seq).toBe(0);
    expect((await empty.verify()).problems).toEqual([]);
    for (const db of [s, target, empty]) await db.close();
  });
});
