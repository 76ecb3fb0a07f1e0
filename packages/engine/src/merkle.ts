/**
 * Merkle root over a set of (key, head) pairs, independent of the order the pairs
 * are given in: pairs are sorted by key, each becomes a leaf distinction, and levels
 * are combined pairwise with `synthesize` until one remains. Two replicas holding
 * the same heads for the same keys get the same root. O(n log n) for n pairs.
 */
import { d0, distinctionOfText, synthesize, type Distinction } from './distinction.js';
import { InvalidArgumentError } from './errors.js';

/** One leaf: a full key (any string) and the id of its head version. */
export type MerkleEntry = readonly [key: string, head: string];

/** The leaf distinction of one pair. */
export function merkleLeaf(key: string, head: string): Distinction {
  return distinctionOfText(`koru:leaf:${JSON.stringify(key)}:${head}`);
}

/**
 * The root distinction of a set of pairs; `d0` for the empty set.
 * @throws InvalidArgumentError when a key appears twice
 */
export function merkleRoot(entries: Iterable<MerkleEntry>): Distinction {
  const sorted = [...entries].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  if (sorted.length === 0) return d0;
  let level: Distinction[] = [];
  for (let i = 0; i < sorted.length; i++) {
    if (i > 0 && sorted[i]![0] === sorted[i - 1]![0]) {
      throw new InvalidArgumentError(`duplicate Merkle key ${JSON.stringify(sorted[i]![0])}`, {
        details: { key: sorted[i]![0] },
      });
    }
    level.push(merkleLeaf(sorted[i]![0], sorted[i]![1]));
  }
  while (level.length > 1) {
    const next: Distinction[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const right = level[i + 1];
      next.push(right === undefined ? level[i]! : synthesize(level[i]!, right));
    }
    level = next;
  }
  return level[0]!;
}
