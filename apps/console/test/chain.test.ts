// The console's in-page check of a key's history (src/app/chain.ts) against histories a
// real database wrote, and against each way a server could lie about them.
import { KoruDelta } from '@koru/delta';
import { describe, expect, it } from 'vitest';
import { checkChain, type ChainVersion } from '../src/app/chain.js';

async function historyOf(values: unknown[], deleteAtEnd = false): Promise<ChainVersion[]> {
  const db = await KoruDelta.start();
  try {
    for (const v of values) await db.put('ns', 'k', v);
    if (deleteAtEnd) await db.delete('ns', 'k');
    return (await db.history('ns', 'k')).map((v) => ({ ...v }));
  } finally {
    await db.close();
  }
}

const problems = (h: ChainVersion[], partial = false) => checkChain(h, partial).map((c) => c.problems);

describe('checkChain', () => {
  it('passes every version of a real history, tombstone included', async () => {
    const h = await historyOf([{ a: 1 }, { a: 2, nested: { x: [1, 2] } }, 'text', null], true);
    expect(h).toHaveLength(5);
    expect(problems(h)).toEqual([[], [], [], [], []]);
  });

  it('catches a value that does not hash to its valueId', async () => {
    const h = await historyOf([{ a: 1 }, { a: 2 }]);
    h[1] = { ...h[1]!, value: { a: 3 } };
    expect(problems(h)[1]).toEqual([expect.stringMatching(/value does not hash to its valueId/)]);
    expect(problems(h)[0]).toEqual([]);
  });

  it('catches a field changed under its versionId (clock, node, valueId)', async () => {
    const h = await historyOf([{ a: 1 }, { a: 2 }]);
    expect(problems([h[0]!, { ...h[1]!, hlc: h[0]!.hlc }])[1]).toEqual([expect.stringMatching(/fields do not hash to its versionId/)]);
    expect(problems([h[0]!, { ...h[1]!, node: 'f'.repeat(16) }])[1]).toEqual([expect.stringMatching(/versionId/)]);
  });

  it('catches a version left out or reordered, and a first version that names a parent', async () => {
    const h = await historyOf([{ a: 1 }, { a: 2 }, { a: 3 }]);
    expect(problems([h[0]!, h[2]!])[1]).toEqual(['previousVersion is not the version before it']);
    expect(problems([h[1]!, h[0]!, h[2]!]).flat()).toContain('the first version names a previous version');
    // The newest part of a longer history: the first shown has a parent that was not fetched.
    expect(problems([h[1]!, h[2]!], true)).toEqual([[], []]);
    expect(problems([h[1]!, h[2]!], false)[0]).toEqual(['the first version names a previous version']);
  });
});
