// verifyVersions over a version store in a MemoryDirectory tree: a clean store (forks,
// tombstones, shared values, values by reference) verifies with the right counts; each
// kind of damage, forged straight into the tree or flipped into a segment's bits, is
// reported and named, never thrown; writes between slices cause no false problem; the
// work is cut into slices (counted through `yieldTo`).
import { formatHlc, valueIdOfCanonical, versionIdOf } from '@koru/engine';
import { fcSeed } from '@koru/vitest-preset/helpers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LsmTree } from '../src/lsm/lsm-tree.js';
import { MemoryDirectory } from '../src/lsm/memory-directory.js';
import { keyBytes } from '../src/lsm/types.js';
import type { VerifyReport } from '../src/types.js';
import { decodeVersionRecord, encodeValueRecord, encodeVersionRecord, seqKey, valueKey, versionKey } from '../src/version-records.js';
import { VERSION_TREE_WRITER, VersionStore, type NewVersion } from '../src/version-store.js';
import { verifyVersions, type VerifyVersionsOptions } from '../src/version-verify.js';
import { PrintSet } from '../src/version-verify-state.js';
import { openTinyVersionTree } from './lsm-helpers.js';
import { parseSegment } from './disk-helpers.js';

const openTree = openTinyVersionTree;

/** Makes versions as CausalStorage does (ids hashed from their fields) and commits them. */
class Writer {
  wall = 1_700_000_000_000;
  constructor(public store: VersionStore) {}

  make(ns: string, key: string, text: string | null, prev: string | null, wall: number, node = 'n1', logical = 0): NewVersion {
    const valueId = text === null ? null : valueIdOfCanonical(text);
    const hlc = formatHlc({ wall, logical });
    const versionId = versionIdOf({ namespace: ns, key, valueId, previousVersion: prev, hlc, node, deleted: text === null });
    return { namespace: ns, key, versionId, previousVersion: prev, valueId, valueText: text, wall, logical, node, deleted: text === null };
  }

  /** A local write: after the key's head, one ms later than anything before. */
  put(ns: string, key: string, text: string | null, node = 'n1'): NewVersion {
    const v = this.make(ns, key, text, this.store.head(ns, key)?.versionId ?? null, (this.wall += 1), node);
    this.store.commit([v]);
    return v;
  }

  /** A replicated version chaining on `prev`, stamped `wall` (maybe older than the key's head: a fork). */
  replicate(prev: NewVersion, text: string | null, wall: number, node: string): NewVersion {
    const v = this.make(prev.namespace, prev.key, text, prev.versionId, wall, node);
    this.store.commit([v]);
    // The clock observes it, as admission's does: a later local write chains on it with a later stamp.
    this.wall = Math.max(this.wall, wall);
    return v;
  }
}

const BIG = JSON.stringify({ big: 'x'.repeat(300) });
const BIG2 = JSON.stringify(['é'.repeat(200)]);

/** A store with forks, tombstones, shared values, large values by reference; returns its expected counts. */
function fill(w: Writer): { keys: number; versions: number; values: number; all: NewVersion[] } {
  const all: NewVersion[] = [];
  const texts = new Set<string>();
  const put = (ns: string, key: string, text: string | null, node?: string): NewVersion => {
    const v = w.put(ns, key, text, node);
    all.push(v);
    if (text !== null) texts.add(text);
    return v;
  };
  for (let i = 0; i < 40; i++) {
    put('users', `u${i % 10}`, JSON.stringify({ n: i % 7 }));
    if (i % 9 === 0) put('users', `u${i % 10}`, null);
    if (i % 5 === 0) put('docs', `d${i % 3}`, i % 2 === 0 ? BIG : BIG2, 'n2');
    put('shared', `s${i}`, '"same"');
  }
  // Forks: two replicated versions on one old version, older than the head.
  const base = put('forks', 'f', '1');
  put('forks', 'f', '2');
  put('forks', 'f', '3');
  for (const [text, node] of [['"fa"', 'nodeA'], ['"fb"', 'nodeB']] as const) {
    all.push(w.replicate(base, text, base.wall + 1, node));
    texts.add(text);
  }
  // Two independent roots of one key (made on two nodes, then merged).
  all.push(w.replicate({ ...base, versionId: base.versionId }, '"c"', base.wall + 2, 'nodeC'));
  texts.add('"c"');
  const root2 = w.make('forks', 'g', '"r1"', null, w.wall - 5, 'nodeA');
  const root1 = w.make('forks', 'g', '"r2"', null, w.wall - 4, 'nodeB');
  w.store.commit([root2, root1]);
  all.push(root2, root1);
  texts.add('"r1"').add('"r2"');
  const keys = new Set(all.map((v) => `${v.namespace}/${v.key}`)).size;
  // Only values over the inline limit (64 bytes here) have a value record.
  const values = [...texts].filter((t) => new TextEncoder().encode(t).length > 64).length;
  return { keys, versions: all.length, values, all };
}

async function verify(tree: LsmTree, options: VerifyVersionsOptions = {}): Promise<VerifyReport> {
  return verifyVersions(tree, { yieldTo: () => Promise.resolve(), ...options });
}

/** A store filled by {@link fill}, some of it flushed into segments. */
async function filledStore(): Promise<{ dir: MemoryDirectory; tree: LsmTree; store: VersionStore; w: Writer; expected: ReturnType<typeof fill> }> {
  const dir = new MemoryDirectory();
  const tree = openTree(dir);
  const store = new VersionStore(tree, { inlineMaxBytes: 64 });
  const w = new Writer(store);
  const expected = fill(w);
  await tree.flush();
  return { dir, tree, store, w, expected };
}

const problemsOf = (r: VerifyReport): string[] => r.problems.map((p) => `${p.namespace}/${p.key}@${p.versionId.slice(0, 8)}: ${p.problem}`);

describe('verifyVersions on a clean store', () => {
  it('is ok, with keys, versions and distinct values counted, across flushes and a compaction', async () => {
    const { tree, store, w, expected } = await filledStore();
    let r = await verify(tree);
    expect(problemsOf(r)).toEqual([]);
    expect(r).toMatchObject({ ok: true, keys: expected.keys, versions: expected.versions, values: expected.values });
    expect(r.versions).toBe(store.seq);
    // More writes (some only in the memtable), then everything merged into one run.
    w.put('users', 'u1', BIG);
    w.put('late', 'k', '"same"');
    r = await verify(tree);
    expect(r).toMatchObject({ ok: true, keys: expected.keys + 1, versions: expected.versions + 2, values: expected.values });
    await tree.compact();
    expect(await verify(tree)).toMatchObject({ ok: true, keys: expected.keys + 1, versions: expected.versions + 2, values: expected.values });
    await tree.close();
  });

  it('is ok on an empty tree', async () => {
    const tree = openTree(new MemoryDirectory());
    expect(await verify(tree)).toEqual({ ok: true, keys: 0, versions: 0, values: 0, problems: [] });
    await tree.close();
  });

  it('refuses a bad sliceMs', async () => {
    const tree = openTree(new MemoryDirectory());
    await expect(verifyVersions(tree, { sliceMs: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(verifyVersions(tree, { sliceMs: Number.NaN })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await tree.close();
  });
});

/** The one version of the fill's versions stored at (ns, key) with `text`. */
function find(all: readonly NewVersion[], ns: string, key: string, text: string | null): NewVersion {
  return all.find((v) => v.namespace === ns && v.key === key && v.valueText === text)!;
}

const vkeyOf = (v: NewVersion): string => versionKey(v.namespace, v.key, v.wall, v.logical, v.node, v.versionId);

describe('verifyVersions reports damage to version records', () => {
  it('an inline text that no longer hashes to its value id', async () => {
    const { tree, expected } = await filledStore();
    const v = find(expected.all, 'forks', 'f', '2');
    const r0 = decodeVersionRecord(tree.get(vkeyOf(v))!);
    tree.put(vkeyOf(v), encodeVersionRecord({ ...r0, valueText: '3' }));
    const r = await verify(tree);
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([{ namespace: 'forks', key: 'f', versionId: v.versionId, problem: `its inline value does not hash to its value id ${v.valueId}` }]);
    await tree.close();
  });

  it('a version id that does not match its fields, a record that does not decode, a malformed key', async () => {
    const { tree, expected } = await filledStore();
    const v = find(expected.all, 'users', 'u3', JSON.stringify({ n: 3 }));
    const r0 = decodeVersionRecord(tree.get(vkeyOf(v))!);
    // The same record under a key with another id (fields unchanged).
    const forgedId = 'ab'.repeat(32);
    tree.put(versionKey(v.namespace, v.key, v.wall, v.logical, v.node, forgedId), encodeVersionRecord({ ...r0, seq: expected.versions + 100 }));
    const u = find(expected.all, 'users', 'u5', JSON.stringify({ n: 5 }));
    tree.put(vkeyOf(u), new Uint8Array([0xff, 1]));
    tree.put(`V${'bad\u0000\u0001'}`, new Uint8Array([1, 1]));
    const r = await verify(tree);
    const ps = problemsOf(r);
    expect(r.problems).toContainEqual({ namespace: 'users', key: 'u3', versionId: forgedId, problem: 'its version id does not match its content' });
    expect(r.problems).toContainEqual({ namespace: 'users', key: 'u3', versionId: forgedId, problem: `its seq ${expected.versions + 100} is past the last change (${expected.versions})` });
    expect(ps.some((p) => p.startsWith(`users/u5@${u.versionId.slice(0, 8)}: its record does not decode: malformed version record: flags 0xff`))).toBe(true);
    expect(ps.some((p) => p.startsWith("/@: a version record's key is malformed"))).toBe(true);
    expect(r.versions).toBe(expected.versions + 2);
    await tree.close();
  });

  it('a previous version that is missing, not of this key, or not earlier; a wrong current-at-commit flag', async () => {
    const { tree, store, w, expected } = await filledStore();
    const other = find(expected.all, 'users', 'u2', JSON.stringify({ n: 2 }));
    const head = store.head('forks', 'f')!;
    const missing = w.make('chain', 'a', '1', 'cd'.repeat(32), w.wall + 10);
    const foreign = w.make('chain', 'b', '1', other.versionId, w.wall + 10);
    // A version older than the head it names as its predecessor, and one with the same stamp.
    const older = w.make('forks', 'f', '"o"', head.versionId, w.wall - 1000, 'nodeZ');
    const headV = find(expected.all, 'forks', 'f', '3');
    // Same stamp, a greater node: it sorts before its predecessor, which it names.
    const tie = w.make('forks', 'f', '"t"', headV.versionId, headV.wall, 'zz', headV.logical);
    store.commit([missing, foreign, older, tie]);
    const flagged = find(expected.all, 'users', 'u7', JSON.stringify({ n: 0 }));
    const rec = decodeVersionRecord(tree.get(vkeyOf(flagged))!);
    tree.put(vkeyOf(flagged), encodeVersionRecord({ ...rec, currentAtCommit: !rec.currentAtCommit }));
    const r = await verify(tree);
    expect(new Set(problemsOf(r))).toEqual(
      new Set([
        `chain/a@${missing.versionId.slice(0, 8)}: its previous version ${'cd'.repeat(32)} is not an earlier version of this key`,
        `chain/b@${foreign.versionId.slice(0, 8)}: its previous version ${other.versionId} is not an earlier version of this key`,
        `forks/f@${older.versionId.slice(0, 8)}: its previous version ${head.versionId} is not an earlier version of this key`,
        `forks/f@${tie.versionId.slice(0, 8)}: its previous version ${headV.versionId} has a clock stamp not earlier than its own`,
        `users/u7@${flagged.versionId.slice(0, 8)}: ${!rec.currentAtCommit ? 'it is flagged current at commit, but a version later in clock order was committed before it' : 'it is not flagged current at commit, but every version later in clock order was committed after it'}`,
      ]),
    );
    expect(r.versions).toBe(expected.versions + 4);
    await tree.close();
  });
});

describe('verifyVersions reports damage to value records', () => {
  it('a text that no longer hashes to its id: the record and each version sharing it', async () => {
    const { tree, expected } = await filledStore();
    const id = valueIdOfCanonical(BIG);
    tree.put(valueKey(id), encodeValueRecord(JSON.stringify({ big: 'y' })));
    const r = await verify(tree);
    const users = expected.all.filter((v) => v.valueId === id);
    expect(users.length).toBeGreaterThan(1);
    expect(r.problems).toContainEqual({ namespace: '', key: '', versionId: '', problem: `value record ${id}: its text does not hash to its id` });
    for (const v of users) expect(r.problems).toContainEqual({ namespace: v.namespace, key: v.key, versionId: v.versionId, problem: `its value ${id} is unusable: its text does not hash to its id` });
    expect(r.problems).toHaveLength(users.length + 1);
    expect(r.values).toBe(expected.values);
    await tree.close();
  });

  it('a value pointer of the earlier layout (now refused); a missing value record; an unreferenced forged one', async () => {
    const { tree, expected } = await filledStore();
    const same = valueIdOfCanonical('"same"');
    const holder = find(expected.all, 'shared', 's0', '"same"');
    tree.put(valueKey(same), Uint8Array.of(1, ...keyBytes(vkeyOf(holder))));
    const big2 = valueIdOfCanonical(BIG2);
    tree.delete(valueKey(big2));
    const forged = valueIdOfCanonical('"forged"');
    tree.put(valueKey(forged), encodeValueRecord('"not it"'));
    const r = await verify(tree);
    const ps = problemsOf(r);
    expect(ps).toContain(`/@: value record ${same}: it does not decode: malformed value record: tag 1`);
    expect(ps).toContain(`/@: value record ${forged}: its text does not hash to its id`);
    // The versions holding "same" inline do not depend on any value record.
    expect(ps.some((p) => p.startsWith('shared/'))).toBe(false);
    for (const v of expected.all.filter((x) => x.valueId === big2)) expect(ps).toContain(`${v.namespace}/${v.key}@${v.versionId.slice(0, 8)}: its value ${big2} is missing: no value record`);
    // Every value record is counted, good or bad: one added for "same", one forged, one deleted.
    expect(r.values).toBe(expected.values + 1);
    await tree.close();
  });
});

describe('verifyVersions reports damage to the change feed', () => {
  it('a missing change, one naming another version, one naming nothing, one past the end', async () => {
    const { tree, expected } = await filledStore();
    const byKey = (s: number): NewVersion => expected.all.find((v) => tree.get(seqKey(s)) !== undefined && String.fromCharCode(...tree.get(seqKey(s))!) === vkeyOf(v))!;
    const v5 = byKey(5);
    const v6 = byKey(6);
    const v7 = byKey(7);
    tree.delete(seqKey(5));
    tree.put(seqKey(6), keyBytes(vkeyOf(v7)));
    tree.put(seqKey(7), keyBytes(versionKey('x', 'y', 1, 0, 'n', '11'.repeat(32))));
    const n = expected.versions;
    tree.put(seqKey(n + 2), keyBytes(vkeyOf(v7)));
    const r = await verify(tree);
    const ps = problemsOf(r);
    expect(ps).toContain('/@: change 5 has no change-feed record');
    expect(ps).toContain(`${v5.namespace}/${v5.key}@${v5.versionId.slice(0, 8)}: its change 5 has no change-feed record`);
    expect(ps).toContain(`${v7.namespace}/${v7.key}@${v7.versionId.slice(0, 8)}: change 6 names a version committed as change 7`);
    expect(ps).toContain(`x/y@11111111: change 7 names a version record that does not exist`);
    expect(ps).toContain(`/@: change ${n + 1} has no change-feed record`);
    expect(ps).toContain(`${v7.namespace}/${v7.key}@${v7.versionId.slice(0, 8)}: change ${n + 2} names a version committed as change 7`);
    // The versions whose change-feed record names another one.
    expect(ps).toContain(`${v6.namespace}/${v6.key}@${v6.versionId.slice(0, 8)}: its change 6 names another version record`);
    expect(ps).toContain(`${v7.namespace}/${v7.key}@${v7.versionId.slice(0, 8)}: its change 7 names another version record`);
    expect(r.problems).toHaveLength(8);
    await tree.close();
  });
});

describe('verifyVersions reports damaged segment blocks', () => {
  // A compaction cuts the key space into files in key order (change feed, versions,
  // values): a bit flipped in the first, a middle and the last file hits each scan.
  it.each([0, 0.5, 1])('names the file and offset, goes on past the damaged block (file at %s of the list), throws nothing', async (at) => {
    const dir = new MemoryDirectory();
    let tree = openTree(dir, { autoMerge: false });
    // Inline limit 0: every value has its value record, so each of the three scans has as many records.
    const w = new Writer(new VersionStore(tree, { inlineMaxBytes: 0 }));
    for (let i = 0; i < 300; i++) w.put('ns', `k${String(i).padStart(4, '0')}`, JSON.stringify({ i }));
    await tree.compact();
    await tree.close();
    const segs = dir.list().filter((f) => f.endsWith('.kseg'));
    expect(segs.length).toBeGreaterThan(2);
    // The data blocks the three scans read (head records are read by gets), in key order:
    // `at` picks the second (change feed: the scan has read changes before it, so it can
    // say after which one it stopped), one in the middle, or the last (values).
    const scanned = segs.sort().flatMap((f) => parseSegment(Buffer.from(dir.readAll(f)!)).dataBlocks.filter((b) => !/[CHN]/.test(b.tags)).map((b) => ({ f, b })));
    const { f: seg, b: block } = scanned[Math.max(1, Math.round(at * (scanned.length - 1)))]!;
    dir.flipBit(seg, block.offset + Math.floor(block.size / 2), 3);
    tree = openTree(dir, { autoMerge: false });
    const r = await verify(tree);
    expect(r.ok).toBe(false);
    // One problem for the scan that met the damage; others (exact checks of records that
    // refer into the damaged block) name the same file and offset.
    const scans = r.problems.filter((p) => /^(change-feed|version|value) records (after|from) .* are unreadable: /.test(p.problem));
    expect(scans).toHaveLength(1);
    expect(scans[0]!.problem).toMatch(new RegExp(`segment ${seg} is damaged at offset \\d+: .*; those up to .* were not checked$`));
    const other = r.problems.filter((p) => p.problem.includes(`segment ${seg}`) && p !== scans[0]);
    expect(other.every((p) => p.problem.includes(`segment ${seg} is damaged at offset`))).toBe(true);
    // Change-feed records in a damaged block are unread, not missing.
    expect(r.problems.filter((p) => p.problem.endsWith('has no change-feed record'))).toEqual([]);
    // Only the damaged block's records (512-byte blocks: a few dozen at most) went unchecked.
    expect(r.versions + r.values).toBeGreaterThan(2 * 300 - 40);
    const seqs = /after change (\d+) .* up to change (\d+) included/.exec(scans[0]!.problem);
    if (seqs !== null) expect(Number(seqs[2]) - Number(seqs[1])).toBeLessThan(40);
    expect(seqs !== null).toBe(at === 0);
    await tree.close();
  });
});

describe('verifyVersions when nothing past the damage reads', () => {
  it('reports each scan stopped, and returns', async () => {
    const dir = new MemoryDirectory();
    let tree = openTree(dir, { autoMerge: false });
    // Inline limit 0: every value has its value record, so the value scan has records to meet.
    const w = new Writer(new VersionStore(tree, { inlineMaxBytes: 0 }));
    for (let i = 0; i < 100; i++) w.put('ns', `k${i}`, JSON.stringify({ i }));
    await tree.compact();
    await tree.close();
    // The footer of every segment: no reader opens, so no cursor over the tree can be made.
    for (const seg of dir.list().filter((f) => f.endsWith('.kseg'))) dir.flipBit(seg, dir.readAll(seg)!.length - 2);
    tree = openTree(dir, { autoMerge: false });
    const r = await verify(tree);
    expect(r.ok).toBe(false);
    // Each scan met the damage at its first seek, and went no further than past the damaged files.
    const met = r.problems.map((p) => p.problem).filter((p) => /^[a-z-]+ records from key 0x[0-9a-f]+ are unreadable: segment \d+\.kseg is damaged at offset \d+: /.test(p));
    expect(met.map((p) => p.split(' ')[0]).sort()).toEqual(['change-feed', 'value', 'version']);
    expect(r.problems.some((p) => p.problem.startsWith('the last change could not be found: segment'))).toBe(true);
    expect(r.versions).toBe(0);
    await tree.close();
  });
});

describe('verifyVersions while writes go on', () => {
  it('reports no false problem for versions, forks, shared and by-reference values committed between slices', async () => {
    const { tree, store, w, expected } = await filledStore();
    let slices = 0;
    let extra = 0;
    const yieldTo = async (): Promise<void> => {
      slices++;
      // Bounded: at one record a slice, endless writes ahead of the scan would never let it end.
      if (slices > 400) return;
      // New keys, new versions of old keys (newer and older than their heads), values already stored, big values.
      w.put('users', `u${slices % 10}`, JSON.stringify({ n: slices % 7 }));
      w.put('late', `l${slices}`, slices % 2 === 0 ? BIG : '"same"');
      const base = find(expected.all, 'forks', 'f', '1');
      w.replicate(base, `"r${slices}"`, base.wall + 1, `late${slices}`);
      w.put('aaa', `first${slices}`, JSON.stringify({ big: 'z'.repeat(100 + slices) }));
      extra += 4;
      if (slices % 3 === 0) await tree.flush();
    };
    const r = await verifyVersions(tree, { sliceMs: 0, yieldTo });
    expect(problemsOf(r)).toEqual([]);
    expect(slices).toBeGreaterThan(expected.versions);
    expect(r.versions).toBeGreaterThanOrEqual(expected.versions);
    expect(r.versions).toBeLessThanOrEqual(expected.versions + extra);
    // And once quiet, everything verifies with every write counted.
    const after = await verify(tree);
    expect(after).toMatchObject({ ok: true, versions: store.seq });
    await tree.close();
  });
});

type Op = { readonly t: 'put' | 'del' | 'replicate' | 'batch' | 'flush'; readonly key: number; readonly text: number; readonly back: number };
const opArb: fc.Arbitrary<Op> = fc.record({ t: fc.constantFrom('put', 'put', 'del', 'replicate', 'replicate', 'batch', 'flush'), key: fc.nat(5), text: fc.nat(4), back: fc.nat(10) });
// Small and shared (inline, then by reference), large (in value records), all repeated across keys.
const OP_TEXTS = ['1', '"s"', '{"a":[1,2]}', BIG, BIG2];

/** Applies one random operation: local writes, deletes, batches, replicated versions on an older one (forks, older clocks), flushes. */
async function apply(w: Writer, tree: LsmTree, mine: NewVersion[], op: Op, n: number): Promise<void> {
  const key = `k${op.key}`;
  const text = OP_TEXTS[op.text]!;
  if (op.t === 'flush') return tree.flush();
  if (op.t === 'put' || op.t === 'del') mine.push(w.put('p', key, op.t === 'del' ? null : text));
  else if (op.t === 'batch') {
    const batch = [0, 1, 2].map((i) => w.make('p', `b${op.key}-${n}-${i}`, OP_TEXTS[(op.text + i) % OP_TEXTS.length]!, null, (w.wall += 1)));
    w.store.commit(batch);
    mine.push(...batch);
  } else {
    const of = mine.filter((v) => v.key === key);
    if (of.length === 0) return;
    const base = of[Math.max(0, of.length - 1 - op.back)]!;
    mine.push(w.replicate(base, text, base.wall + 1 + (n % 3), `r${n}`));
  }
}

describe('verifyVersions while random writes go on', () => {
  it('never reports a problem, whatever lands between its slices', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 80 }), fc.array(opArb, { minLength: 1, maxLength: 80 }), async (before, during) => {
        const tree = openTree(new MemoryDirectory());
        const w = new Writer(new VersionStore(tree, { inlineMaxBytes: 64 }));
        const mine: NewVersion[] = [];
        let n = 0;
        for (const op of before) await apply(w, tree, mine, op, n++);
        const seqBefore = w.store.seq;
        let i = 0;
        const r = await verifyVersions(tree, { sliceMs: 0, yieldTo: async () => (i < during.length ? apply(w, tree, mine, during[i++]!, n++) : undefined) });
        expect(problemsOf(r)).toEqual([]);
        expect(r.versions).toBeGreaterThanOrEqual(seqBefore);
        expect(r.versions).toBeLessThanOrEqual(w.store.seq);
        expect(await verify(tree)).toMatchObject({ ok: true, versions: w.store.seq });
        await tree.close();
      }),
      { seed: fcSeed('version-verify: writes between slices'), numRuns: 60 },
    );
  }, 120_000);
});

describe('verifyVersions slices its work', () => {
  it('yields many times over 20k versions, telling progress at each slice', async () => {
    const dir = new MemoryDirectory();
    const tree = openTree(dir, { memtableBytes: 1 << 20, targetFileBytes: 1 << 20, writer: VERSION_TREE_WRITER });
    const store = new VersionStore(tree);
    const w = new Writer(store);
    for (let b = 0; b < 200; b++) {
      const batch: NewVersion[] = [];
      for (let i = 0; i < 100; i++) batch.push(w.make('ns', `k${b}-${i}`, JSON.stringify({ b, i }), null, (w.wall += 1)));
      store.commit(batch);
    }
    await tree.flush();
    let yields = 0;
    const progress: number[] = [];
    const r = await verifyVersions(tree, { yieldTo: async () => void yields++, onProgress: (p) => progress.push(p.versions) });
    // Small values are all inline: no value record.
    expect(r).toMatchObject({ ok: true, versions: 20_000, keys: 20_000, values: 0 });
    expect(yields).toBeGreaterThan(1);
    expect(progress.length).toBe(yields + 1);
    expect(progress.every((n, i) => i === 0 || n >= progress[i - 1]!)).toBe(true);
    expect(progress[progress.length - 1]).toBe(20_000);
    await tree.close();
  }, 60_000);

  it('with sliceMs 0, yields after every record', async () => {
    const { tree, expected } = await filledStore();
    let yields = 0;
    const r = await verifyVersions(tree, { sliceMs: 0, yieldTo: async () => void yields++ });
    expect(r.ok).toBe(true);
    // One slice a record: change feed, value records and version records (and a few after the last).
    const records = 2 * expected.versions + expected.values;
    expect(yields).toBeGreaterThanOrEqual(records);
    expect(yields).toBeLessThan(records + 10);
  });
});

describe('PrintSet (the fingerprints one scan leaves for another)', () => {
  it('sorts in slices (runs, then merges) and finds and meets every print added', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 2 ** 52 - 1 }), { maxLength: 60_000, size: 'max' }), fc.nat(), async (prints, seed) => {
        // Many duplicates too: prints drawn from a small pool half the time.
        const all = seed % 2 === 0 ? prints : prints.map((p) => p % 97);
        const set = new PrintSet();
        for (const p of all) set.add(p);
        let pauses = 0;
        await set.seal({ due: () => true, pause: async () => void pauses++ });
        if (all.length > 16384) expect(pauses).toBeGreaterThan(1);
        for (const p of all) expect(set.has(p)).toBe(true);
        expect(set.has(2 ** 52 + 1)).toBe(false);
        // Meeting all but the first occurrence of each distinct print leaves exactly those unmet.
        const seen = new Set<number>();
        const firsts = new Set<number>();
        for (const p of all) {
          if (seen.has(p)) set.meet(p);
          else {
            seen.add(p);
            firsts.add(p);
          }
        }
        expect(await set.unmet({ due: () => false, pause: async () => undefined })).toEqual(firsts);
        for (const p of firsts) set.meet(p);
        expect((await set.unmet({ due: () => false, pause: async () => undefined })).size).toBe(0);
      }),
      { seed: fcSeed('version-verify: print set'), numRuns: 10, endOnFailure: true },
    );
  }, 120_000);
});
