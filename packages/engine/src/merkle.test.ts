import { fcSeed } from '@koru/vitest-preset/helpers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { d0, distinctionOfText, synthesize } from './distinction.js';
import { ErrorCodes, InvalidArgumentError, isKoruError } from './errors.js';
import { isId } from './ids.js';
import { merkleLeaf, merkleRoot, type MerkleEntry } from './merkle.js';

const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);
const keyArb = fc.oneof(fc.string({ unit: 'binary', maxLength: 12 }), fc.string({ maxLength: 6 }));
/** A set of (key, head) pairs with unique keys. */
const entriesArb = (minLength = 0): fc.Arbitrary<MerkleEntry[]> =>
  fc.uniqueArray(fc.tuple(keyArb, hex64), { minLength, maxLength: 40, selector: (e) => e[0] });

describe('merkleRoot', () => {
  it('is d0 for the empty set', () => {
    expect(merkleRoot([])).toBe(d0);
    expect(merkleRoot(new Map())).toBe(d0);
  });

  it('is the leaf for one pair; the leaf covers key and head', () => {
    const h = 'a'.repeat(64);
    expect(merkleRoot([['users/alice', h]]).id).toBe(merkleLeaf('users/alice', h).id);
    expect(merkleLeaf('users/alice', h).id).toBe(distinctionOfText(`koru:leaf:"users/alice":${h}`).id);
    expect(merkleLeaf('users/alice', h).id).not.toBe(merkleLeaf('users/alicf', h).id);
    expect(merkleLeaf('users/alice', h).id).not.toBe(merkleLeaf('users/alice', 'b'.repeat(64)).id);
  });

  it('combines sorted leaves pairwise, carrying an odd one up', () => {
    const h = (c: string): string => c.repeat(64);
    const [a, b, c] = [merkleLeaf('a', h('1')), merkleLeaf('b', h('2')), merkleLeaf('c', h('3'))];
    const root = merkleRoot([
      ['c', h('3')],
      ['a', h('1')],
      ['b', h('2')],
    ]);
    expect(root.id).toBe(synthesize(synthesize(a, b), c).id);
    expect(isId(root.id)).toBe(true);
  });

  it('does not depend on the order the pairs are given in (property)', () => {
    fc.assert(
      fc.property(
        entriesArb(1).chain((entries) =>
          fc.tuple(fc.constant(entries), fc.shuffledSubarray(entries, { minLength: entries.length, maxLength: entries.length })),
        ),
        ([entries, shuffled]) => {
          const root = merkleRoot(entries).id;
          expect(merkleRoot(shuffled).id).toBe(root);
          expect(merkleRoot([...entries].reverse()).id).toBe(root);
          expect(merkleRoot(new Map(shuffled)).id).toBe(root);
        },
      ),
      { seed: fcSeed('merkle: order independence'), numRuns: 300 },
    );
  });

  it('changes when any head changes (property)', () => {
    fc.assert(
      fc.property(entriesArb(1), fc.nat(), hex64, (entries, at, head) => {
        const i = at % entries.length;
        fc.pre(entries[i]![1] !== head);
        const changed = entries.map((e, j): MerkleEntry => (j === i ? [e[0], head] : e));
        expect(merkleRoot(changed).id).not.toBe(merkleRoot(entries).id);
      }),
      { seed: fcSeed('merkle: head change'), numRuns: 300 },
    );
  });

  it('changes when a pair is added or removed, or a key renamed (property)', () => {
    fc.assert(
      fc.property(entriesArb(1), fc.nat(), keyArb, hex64, (entries, at, newKey, head) => {
        const root = merkleRoot(entries).id;
        const i = at % entries.length;
        const removed = entries.filter((_, j) => j !== i);
        expect(merkleRoot(removed).id).not.toBe(root);
        fc.pre(!entries.some((e) => e[0] === newKey));
        expect(merkleRoot([...entries, [newKey, head]]).id).not.toBe(root);
        const renamed = entries.map((e, j): MerkleEntry => (j === i ? [newKey, e[1]] : e));
        expect(merkleRoot(renamed).id).not.toBe(root);
      }),
      { seed: fcSeed('merkle: add/remove/rename'), numRuns: 300 },
    );
  });

  it('gives different roots to different sets (no collisions among random sets)', () => {
    fc.assert(
      fc.property(entriesArb(), entriesArb(), (a, b) => {
        const same = (x: MerkleEntry[], y: MerkleEntry[]): boolean => {
          const m = new Map(x);
          return x.length === y.length && y.every(([k, h]) => m.get(k) === h);
        };
        expect(merkleRoot(a).id === merkleRoot(b).id).toBe(same(a, b));
      }),
      { seed: fcSeed('merkle: distinct sets'), numRuns: 300 },
    );
  });

  it('rejects a duplicate key with a typed error, even with the same head', () => {
    const h = 'a'.repeat(64);
    for (const entries of [
      [
        ['k', h],
        ['k', 'b'.repeat(64)],
      ],
      [
        ['x', h],
        ['k', h],
        ['k', h],
      ],
    ] as MerkleEntry[][]) {
      let thrown: unknown;
      try {
        merkleRoot(entries);
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(InvalidArgumentError);
      expect(isKoruError(thrown, ErrorCodes.INVALID_ARGUMENT)).toBe(true);
      expect((thrown as Error).message).toMatch(/duplicate Merkle key "k"/);
    }
  });
});
