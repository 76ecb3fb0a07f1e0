// getAt with a version's hlc: exact even when several versions share a millisecond.
import { KoruDelta } from '@koru/delta';
import { describe, expect, it } from 'vitest';

describe('getAt by hlc', () => {
  it('returns exactly the version whose hlc it is given; a time gives the last of its millisecond', async () => {
    const t = Date.UTC(2026, 5, 1, 12, 0, 0, 250);
    const db = await KoruDelta.start({ now: () => t });
    const vs = [];
    for (let i = 0; i < 4; i++) vs.push(await db.put('cfg', 'mode', { i }));
    expect(new Set(vs.map((v) => v.timestamp)).size).toBe(1);
    for (const v of vs) {
      expect(await db.getAt('cfg', 'mode', v.hlc)).toEqual(v);
      expect(await db.getAt('cfg', 'mode', ` ${v.hlc} `)).toEqual(v);
    }
    expect(await db.getAt('cfg', 'mode', vs[0]!.timestamp)).toEqual(vs[3]);
    await expect(db.getAt('cfg', 'mode', '000000000000001-000000')).rejects.toMatchObject({ code: 'KEY_NOT_FOUND' });
    await expect(db.getAt('cfg', 'mode', '00000000000001-000000')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/or a version's hlc/) });
    await db.close();
  });
});
