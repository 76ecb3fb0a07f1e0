// LsmTree.scanKey (the per-key read path) against the general cursor and a sorted Map:
// random puts and deletes over a few key prefixes, spread over the memtable, level-0
// files and deeper levels (flushes and full merges at random points), read from random
// starting keys, with early stops.
import { ErrorCodes } from '@koru/engine';
import { fcSeed, prng } from '@koru/vitest-preset/helpers';
import { describe, expect, it } from 'vitest';
import { InlineMergeRunner } from '../src/lsm/merge-runner.js';
import { LsmTree, type LsmTreeOptions } from '../src/lsm/lsm-tree.js';
import { MemoryDirectory } from '../src/lsm/memory-directory.js';
import { codeOf } from './lsm-helpers.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Filter keys of 2 names (as the version store's): name, terminator, name, terminator. */
const PREFIXES = ['a\x00\x01x\x00\x01', 'a\x00\x01xy\x00\x01', 'a\x00\x01x\x00\xff\x00\x01', 'b\x00\x01x\x00\x01'];
/** Keys with fewer than 2 names: no filter key (every file is asked). */
const PLAIN = 'c';

function open(dir: MemoryDirectory, extra: Partial<LsmTreeOptions> = {}): LsmTree {
  return LsmTree.open({
    dir,
    flushRunner: new InlineMergeRunner(dir),
    sync: 'always',
    memtableBytes: 1 << 30,
    autoMerge: false,
    // Tiny blocks, partitions and files: a prefix's entries span blocks and index
    // partitions, and (without a filter key of their own) the files of a level.
    writer: { filterKeyParts: 2, blockBytes: 96, restartInterval: 3 },
    targetFileBytes: 600,
    cache: 16 * 1024,
    ...extra,
  });
}

/** What a cursor with the prefix as filter key sees from `from` to the end of the prefix. */
function byCursor(tree: LsmTree, prefix: string, from: string): Array<[string, string]> {
  const c = tree.cursor({ filterKey: prefix });
  const out: Array<[string, string]> = [];
  for (c.seek(from); c.valid() && c.key().startsWith(prefix); c.next()) out.push([c.key(), dec.decode(c.value())]);
  c.close();
  return out;
}

function byScan(tree: LsmTree, prefix: string, from: string, limit = Infinity): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  tree.scanKey(prefix, (k, v) => out.push([k, dec.decode(v)]) < limit, from);
  return out;
}

function byModel(model: Map<string, string>, prefix: string, from: string): Array<[string, string]> {
  return [...model].filter(([k]) => k.startsWith(prefix) && k >= from).sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

describe('LsmTree.scanKey', () => {
  it.each([2, 0])('sees what the general cursor and a sorted map see, across the memtable, level 0 and deeper levels, with deletes (filterKeyParts %i)', async (parts) => {
    const seed = fcSeed(`lsm key scan, filterKeyParts ${parts}`);
    const rand = prng(seed);
    const dir = new MemoryDirectory();
    const options: Partial<LsmTreeOptions> = { writer: { filterKeyParts: parts, blockBytes: 96, restartInterval: 3 } };
    let tree = open(dir, options);
    const model = new Map<string, string>();
    const prefixOf = (): string => (rand() < 0.15 ? PLAIN : PREFIXES[Math.floor(rand() * PREFIXES.length)]!);
    const suffix = (): string => {
      let s = '';
      const n = Math.floor(rand() * 5);
      // Bytes that collide with terminators and escapes, and the extremes.
      for (let i = 0; i < n; i++) s += String.fromCharCode([0, 1, 2, 0x61, 0xfe, 0xff][Math.floor(rand() * 6)]!);
      return s;
    };
    let writes = 0;
    let maxDeepFiles = 0;
    for (let round = 0; round < 60; round++) {
      const ops = 1 + Math.floor(rand() * 40);
      for (let i = 0; i < ops; i++) {
        const key = prefixOf() + suffix();
        if (rand() < 0.3) {
          tree.delete(key);
          model.delete(key);
        } else {
          const value = `v${writes++}`;
          tree.put(key, enc.encode(value));
          model.set(key, value);
        }
      }
      const r = rand();
      maxDeepFiles = Math.max(maxDeepFiles, ...tree.stats().levels.slice(1).map((l) => l.files));
      if (r < 0.35) await tree.flush();
      else if (r < 0.45) await tree.compact();
      else if (r < 0.5) {
        await tree.close();
        tree = open(dir, options);
      }
      for (const prefix of [...PREFIXES, PLAIN]) {
        for (const from of [prefix, prefix + suffix(), prefix + suffix()]) {
          const want = byModel(model, prefix, from);
          // The cursor's filter key is trusted only for keys of that filter key.
          if (parts === 2 && prefix !== PLAIN) expect(byCursor(tree, prefix, from)).toEqual(want);
          expect(byScan(tree, prefix, from)).toEqual(want);
          const limit = 1 + Math.floor(rand() * 3);
          expect(byScan(tree, prefix, from, limit)).toEqual(want.slice(0, limit));
        }
      }
    }
    // The reads went through deeper levels of several files.
    expect(maxDeepFiles).toBeGreaterThan(1);
    await tree.close();
  });

  it('reads the levels a merge left (level 0 over deeper files) and a key split between memtable and files', async () => {
    const dir = new MemoryDirectory();
    const tree = open(dir);
    const p = PREFIXES[0]!;
    for (let i = 0; i < 50; i++) tree.put(`${p}${String.fromCharCode(100 + i)}`, enc.encode(`old${i}`));
    await tree.compact();
    for (let i = 0; i < 50; i += 2) tree.put(`${p}${String.fromCharCode(100 + i)}`, enc.encode(`mid${i}`));
    await tree.flush();
    for (let i = 0; i < 50; i += 5) tree.delete(`${p}${String.fromCharCode(100 + i)}`);
    tree.put(`${p}${String.fromCharCode(100 + 3)}`, enc.encode('new3'));
    const levels = tree.stats().levels;
    expect(levels[0]!.files).toBe(1);
    expect(levels.slice(1).reduce((n, l) => n + l.files, 0)).toBeGreaterThan(0);
    const want: Array<[string, string]> = [];
    for (let i = 0; i < 50; i++) {
      if (i % 5 === 0) continue;
      want.push([`${p}${String.fromCharCode(100 + i)}`, i === 3 ? 'new3' : i % 2 === 0 ? `mid${i}` : `old${i}`]);
    }
    expect(byScan(tree, p, p)).toEqual(want);
    expect(byScan(tree, PREFIXES[1]!, PREFIXES[1]!)).toEqual([]);
    await tree.close();
  });

  it('reads files written under another filter rule without asking their filters (and so do cursors and gets)', async () => {
    const dir = new MemoryDirectory();
    const p = PREFIXES[0]!;
    let tree = open(dir, { writer: { filterKeyParts: 0, blockBytes: 96 } });
    for (let i = 0; i < 20; i++) tree.put(`${p}${String.fromCharCode(65 + i)}`, enc.encode(`whole${i}`));
    await tree.compact();
    await tree.close();
    tree = open(dir);
    for (let i = 0; i < 20; i += 4) tree.put(`${p}${String.fromCharCode(65 + i)}`, enc.encode(`parts${i}`));
    await tree.flush();
    const want = Array.from({ length: 20 }, (_, i): [string, string] => [`${p}${String.fromCharCode(65 + i)}`, i % 4 === 0 ? `parts${i}` : `whole${i}`]);
    expect(byScan(tree, p, p)).toEqual(want);
    // So do the general cursor and get.
    expect(byCursor(tree, p, p)).toEqual(want);
    for (const [k, v] of want) expect(dec.decode(tree.get(k))).toBe(v);
    await tree.close();
  });

  it('lets a visitor read (a nested scan, a get), and refuses a visitor that writes or a start outside the prefix', async () => {
    const dir = new MemoryDirectory();
    const tree = open(dir);
    const [p, q] = [PREFIXES[0]!, PREFIXES[3]!];
    for (const k of ['1', '2', '3']) {
      tree.put(p + k, enc.encode(k));
      tree.put(q + k, enc.encode(`q${k}`));
    }
    await tree.flush();
    const seen: string[] = [];
    tree.scanKey(p, (k) => {
      seen.push(k.slice(p.length));
      tree.scanKey(q, (k2, v2) => {
        seen.push(dec.decode(v2) + String(tree.get(k2) !== undefined));
        return false;
      });
      return true;
    });
    expect(seen).toEqual(['1', 'q1true', '2', 'q1true', '3', 'q1true']);
    expect(codeOf(() => tree.scanKey(p, () => true, q))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(
      codeOf(() =>
        tree.scanKey(p, () => {
          tree.put(`${p}9`, enc.encode('x'));
          return true;
        }),
      ),
    ).toBe(ErrorCodes.INVALID_ARGUMENT);
    // The kept scan is usable again after a refusal.
    expect(byScan(tree, p, p).map(([k]) => k.slice(p.length))).toEqual(['1', '2', '3', '9']);
    await tree.close();
  });
});
