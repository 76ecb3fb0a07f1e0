// listKeys pages (prefix, after, limit) and countKeys, checked against a model: the live
// keys sorted by their UTF-8 bytes, filtered by `startsWith`, a byte comparison with
// `after`, and cut at `limit`. Run on a store whose keys sit in the memtable and on one
// whose keys were flushed to segments and read back after a reopen.
import { ErrorCodes } from '@koru/engine';
import { CausalStorage, DirectoryAdapter, MAX_LIST_KEYS_LIMIT, MemoryAdapter, MemoryDirectory, type ListKeysOptions } from '@koru/storage';
import { fcSeed } from '@koru/vitest-preset/helpers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { codeOf } from './conformance.js';

const utf8 = new TextEncoder();
const byBytes = (a: string, b: string): number => Buffer.compare(utf8.encode(a), utf8.encode(b));

/** What listKeys must answer, from the live keys alone. */
function model(live: Iterable<string>, o: ListKeysOptions = {}): string[] {
  const all = [...live].sort(byBytes).filter((k) => k.startsWith(o.prefix ?? '') && (o.after === undefined || byBytes(k, o.after) > 0));
  return o.limit === undefined ? all : all.slice(0, o.limit);
}

/** Every page of `o` chained by `after` = the previous page's last key, until a short page. */
function allPages(s: CausalStorage, ns: string, o: { prefix?: string; limit: number }): string[][] {
  const pages: string[][] = [];
  let after: string | undefined;
  for (;;) {
    const page = s.listKeys(ns, { ...o, ...(after !== undefined ? { after } : {}) });
    pages.push(page);
    if (page.length < o.limit) return pages;
    after = page.at(-1);
  }
}

// Keys around the prefixes the tests use: just below and above them in byte order, a
// key equal to a prefix, and multi-byte keys whose UTF-8 order differs from UTF-16's
// ('\uff61' is EF BD A1, below the 4-byte '😀' F0 9F 98 80, above it in UTF-16).
const KEYS = [
  'a', 'aa', 'ab', 'ab!', 'ab\u007f', 'aba', 'abz', 'ab\u00e9', 'ab\uff61', 'ab😀', 'ac', 'a\u00ff',
  'b', 'B', 'Z', '~', 'é', 'éa', 'e', 'f', '日', '日本', '日本語', '日x', '\uff61', '😀', '😀😀', 'z',
];
const PREFIXES = ['', 'a', 'ab', 'aba', 'ab\u00e9', 'ab\u00e8', 'é', '日', '日本', '😀', '\uff61', 'abc', 'zz', '\u0080', 'ab\ud83d\ude00'];
const AFTERS = [undefined, '', 'a', 'aa', 'ab', 'ab!', 'ab~', 'abzz', 'ab\u00ff', 'ac', 'A', 'é', '日本', '😀', '~~', '\uffff'];

async function filled(s: CausalStorage, deleted: readonly string[] = []): Promise<Set<string>> {
  for (const k of KEYS) await s.put('p', k, k);
  for (const k of deleted) await s.delete('p', k);
  const live = new Set(KEYS);
  for (const k of deleted) live.delete(k);
  return live;
}

/** Every prefix × after × limit against the model, and every prefix's pages chained. */
function expectModel(s: CausalStorage, live: ReadonlySet<string>): void {
  expect(s.listKeys('p')).toEqual(model(live));
  expect(s.countKeys('p')).toBe(live.size);
  for (const prefix of PREFIXES) {
    for (const after of AFTERS) {
      for (const limit of [undefined, 1, 2, 5, 100]) {
        const o = { prefix, ...(after !== undefined ? { after } : {}), ...(limit !== undefined ? { limit } : {}) };
        expect(s.listKeys('p', o), JSON.stringify(o)).toEqual(model(live, o));
      }
    }
    for (const limit of [1, 2, 3, 7]) {
      const pages = allPages(s, 'p', { prefix, limit });
      expect(pages.flat(), `${prefix} by ${limit}`).toEqual(model(live, { prefix }));
      // Only the last page is short: a tombstone never cuts one.
      for (const page of pages.slice(0, -1)) expect(page).toHaveLength(limit);
    }
  }
}

describe('listKeys pages', () => {
  it('lists in UTF-8 byte order, seeks to a prefix (a whole key included) and stops past it', async () => {
    const s = await CausalStorage.open();
    await filled(s);
    await s.put('o', 'a', 1); // other namespaces are never reached
    await s.put('pp', 'a', 1);
    expect(s.listKeys('p', { prefix: 'ab' })).toEqual(['ab', 'ab!', 'aba', 'abz', 'ab\u007f', 'ab\u00e9', 'ab\uff61', 'ab😀']);
    expect(s.listKeys('p', { prefix: '日本' })).toEqual(['日本', '日本語']);
    expect(s.listKeys('p', { prefix: '\uff61' })).toEqual(['\uff61']);
    expect(s.listKeys('p', { prefix: 'ab\ud83d\ude00' })).toEqual(['ab😀']);
    expect(s.listKeys('p', { prefix: 'abc' })).toEqual([]);
    expect(s.listKeys('p')).toEqual([
      'B', 'Z', 'a', 'aa', 'ab', 'ab!', 'aba', 'abz', 'ab\u007f', 'ab\u00e9', 'ab\uff61', 'ab😀', 'ac', 'a\u00ff',
      'b', 'e', 'f', 'z', '~', 'é', 'éa', '日', '日x', '日本', '日本語', '\uff61', '😀', '😀😀',
    ]);
    // `after` is exclusive and need not be a key; one before the prefix starts at the prefix, one past it gives nothing.
    expect(s.listKeys('p', { prefix: 'ab', after: 'ab' })).toEqual(['ab!', 'aba', 'abz', 'ab\u007f', 'ab\u00e9', 'ab\uff61', 'ab😀']);
    expect(s.listKeys('p', { prefix: 'ab', after: 'abb', limit: 2 })).toEqual(['abz', 'ab\u007f']);
    expect(s.listKeys('p', { prefix: 'ab', after: 'A' })).toEqual(s.listKeys('p', { prefix: 'ab' }));
    expect(s.listKeys('p', { prefix: 'ab', after: 'ac' })).toEqual([]);
    expect(s.listKeys('p', { after: '😀😀' })).toEqual([]);
    expect(s.listKeys('p', { limit: 3 })).toEqual(['B', 'Z', 'a']);
    expect(s.listKeys('p', { limit: MAX_LIST_KEYS_LIMIT })).toEqual(s.listKeys('p'));
    expect(s.listKeys('none', { prefix: 'a', limit: 5 })).toEqual([]);
    // Options set to undefined are absent; null options are none.
    expect(s.listKeys('p', { prefix: undefined, after: undefined, limit: undefined } as unknown as ListKeysOptions)).toEqual(s.listKeys('p'));
    expect(s.listKeys('p', null as unknown as ListKeysOptions)).toEqual(s.listKeys('p'));
    expectModel(s, new Set(KEYS));
    await s.close();
  });

  it('steps over tombstoned keys without cutting a page short (a run longer than the page too)', async () => {
    const s = await CausalStorage.open();
    const deleted = ['a', 'aa', 'ab!', 'ab\u007f', 'aba', 'abz', 'ab\u00e9', 'B', 'é', '日本', '😀'];
    const live = await filled(s, deleted);
    expect(s.listKeys('p', { prefix: 'ab', limit: 2 })).toEqual(['ab', 'ab\uff61']);
    expect(s.listKeys('p', { limit: 2 })).toEqual(['Z', 'ab']);
    expectModel(s, live);
    // Written again after a delete: live again.
    await s.put('p', 'aba', 2);
    live.add('aba');
    expectModel(s, live);
    await s.close();
  });

  it('reads keys flushed to segments, after a reopen, with deletes in newer files than the puts', async () => {
    const dir = new MemoryDirectory('pages');
    const open = () => CausalStorage.open({ adapter: new DirectoryAdapter(dir, { memtableBytes: 4096 }) });
    let s = await open();
    const live = await filled(s);
    // Enough writes to flush several segments: these keys sort among the others.
    for (let i = 0; i < 400; i++) {
      const k = `ab${String(i).padStart(3, '0')}`;
      await s.put('p', k, { pad: 'x'.repeat(40), i });
      live.add(k);
    }
    for (const k of ['ab', 'ab001', 'ab002', 'ab003', 'ab004', 'ab005', 'ab399', 'é']) {
      await s.delete('p', k);
      live.delete(k);
    }
    await s.close();
    expect(dir.list().some((f) => f.endsWith('.kseg'))).toBe(true);
    s = await open();
    expect(s.listKeys('p', { prefix: 'ab', limit: 3 })).toEqual(['ab!', 'ab000', 'ab006']);
    expect(s.listKeys('p', { prefix: 'ab3', after: 'ab396' })).toEqual(['ab397', 'ab398']);
    expectModel(s, live);
    expect(allPages(s, 'p', { prefix: 'ab', limit: 50 }).flat()).toEqual(model(live, { prefix: 'ab' }));
    await s.close();
  });

  it('matches the model on random keys, deletes and pages', async () => {
    const alphabet = fc.constantFrom('a', 'b', 'é', '日', '😀', '\uff61', '~');
    const key = fc.array(alphabet, { minLength: 1, maxLength: 4 }).map((a) => a.join(''));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(key, fc.boolean()), { minLength: 1, maxLength: 60 }),
        fc.array(fc.record({ prefix: fc.array(alphabet, { maxLength: 3 }).map((a) => a.join('')), after: fc.option(key, { nil: undefined }), limit: fc.integer({ min: 1, max: 8 }) }), { minLength: 1, maxLength: 10 }),
        async (writes, pages) => {
          const s = await CausalStorage.open({ adapter: new MemoryAdapter({ memtableBytes: 4096 }) });
          const live = new Set<string>();
          for (const [k, del] of writes) {
            if (del && live.has(k)) {
              await s.delete('r', k);
              live.delete(k);
            } else {
              await s.put('r', k, k);
              live.add(k);
            }
          }
          expect(s.countKeys('r')).toBe(live.size);
          for (const o of pages) {
            const options = { prefix: o.prefix, limit: o.limit, ...(o.after !== undefined ? { after: o.after } : {}) };
            expect(s.listKeys('r', options)).toEqual(model(live, options));
          }
          await s.close();
        },
      ),
      { seed: fcSeed('key-pages: random pages'), numRuns: 60 },
    );
  });

  it('refuses bad options with INVALID_ARGUMENT, a bad namespace with INVALID_NAMESPACE', async () => {
    const s = await CausalStorage.open();
    await s.put('p', 'a', 1);
    const bad: unknown[] = [
      'a', 5, true, [], new Date(0), { foo: 1 }, { prefix: 'a', cursor: 'b' },
      { limit: 0 }, { limit: -1 }, { limit: MAX_LIST_KEYS_LIMIT + 1 }, { limit: 1.5 }, { limit: '5' }, { limit: Number.NaN }, { limit: Infinity }, { limit: null },
      { prefix: 5 }, { prefix: null }, { prefix: 'a\u0000' }, { prefix: 'a\ud800' }, { prefix: '\udc00' }, { prefix: 'x'.repeat(1025) }, { prefix: 'é'.repeat(513) },
      { after: 1 }, { after: null }, { after: 'a\u0000b' }, { after: '\ud83d' }, { after: 'x'.repeat(1025) },
    ];
    for (const o of bad) expect(codeOf(() => s.listKeys('p', o as ListKeysOptions)), JSON.stringify(o) ?? String(o)).toBe(ErrorCodes.INVALID_ARGUMENT);
    // The longest a key may be is accepted.
    expect(s.listKeys('p', { prefix: 'x'.repeat(1024), after: 'é'.repeat(512) })).toEqual([]);
    for (const ns of ['_koru', '_x', '', 'a/b', 5]) {
      expect(codeOf(() => s.listKeys(ns as string, { limit: 1 }))).toBe(ErrorCodes.INVALID_NAMESPACE);
      expect(codeOf(() => s.countKeys(ns as string))).toBe(ErrorCodes.INVALID_NAMESPACE);
    }
    await s.close();
    expect(codeOf(() => s.listKeys('p', { limit: 1 }))).toBe(ErrorCodes.CLOSED);
    expect(codeOf(() => s.countKeys('p'))).toBe(ErrorCodes.CLOSED);
  });
});

describe('countKeys', () => {
  it('counts live keys through puts, overwrites, deletes, batches and a reopen', async () => {
    const dir = new MemoryDirectory('count');
    const open = () => CausalStorage.open({ adapter: new DirectoryAdapter(dir, { memtableBytes: 4096 }) });
    let s = await open();
    expect(s.countKeys('c')).toBe(0);
    for (let i = 0; i < 200; i++) await s.put('c', `k${i}`, { pad: 'x'.repeat(40), i });
    await s.put('c', 'k0', 'again'); // an overwrite adds no key
    await s.put('other', 'k', 1);
    expect(s.countKeys('c')).toBe(200);
    for (let i = 0; i < 50; i++) await s.delete('c', `k${i}`);
    expect(s.countKeys('c')).toBe(150);
    await s.putMany([
      { namespace: 'c', key: 'k0', value: 'back' },
      { namespace: 'c', key: 'new', value: 1 },
      { namespace: 'other', key: 'k2', value: 2 },
    ]);
    expect(s.countKeys('c')).toBe(152);
    expect(s.countKeys('other')).toBe(2);
    expect(s.countKeys('c')).toBe(s.listKeys('c').length);
    await s.close();
    s = await open();
    expect(s.countKeys('c')).toBe(152);
    expect(s.countKeys('other')).toBe(2);
    expect(s.countKeys('never')).toBe(0);
    await s.delete('c', 'new');
    expect(s.countKeys('c')).toBe(151);
    expect(s.countKeys('c')).toBe(s.listKeys('c').length);
    await s.close();
  });
});
