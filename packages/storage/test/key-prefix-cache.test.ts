// keyPrefix remembers recent prefixes (per namespace, bounded): the answers must be the
// same as computed afresh, across the cache filling and being cleared, and bad names must
// still be refused after good ones were remembered.
import { InvalidArgumentError } from '@koru/engine';
import { fcSeed } from '@koru/vitest-preset/helpers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeName, keyPrefix, TAG_VERSION } from '../src/version-records.js';

const fresh = (ns: string, key: string): string => TAG_VERSION + encodeName(ns) + encodeName(key);

describe('keyPrefix cache', () => {
  it('answers as computed afresh, for names seen again, new ones and past the bound (20,000 keys × 5 namespaces)', () => {
    const names = ['a', 'ns\u0000x', 'é', '日本', '\u{1F600}'];
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 20_000; i++) {
        // The same key in every namespace: a prefix remembered for one must not answer another.
        const key = `${names[(i >> 3) % names.length]}-${i}`;
        for (const ns of names) expect(keyPrefix(ns, key)).toBe(fresh(ns, key));
      }
    }
  });

  it('agrees with the fresh encoding for random names, asked twice', () => {
    const name = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 });
    fc.assert(
      fc.property(name, name, (ns, key) => {
        expect(keyPrefix(ns, key)).toBe(fresh(ns, key));
        expect(keyPrefix(ns, key)).toBe(fresh(ns, key));
      }),
      { seed: fcSeed('key-prefix-cache: random'), numRuns: 2000 },
    );
  });

  it('still refuses an empty key, a non-string or a lone surrogate in a namespace it remembers', () => {
    keyPrefix('users', 'alice');
    expect(() => keyPrefix('users', '')).toThrow(InvalidArgumentError);
    expect(() => keyPrefix('users', 7 as unknown as string)).toThrow(InvalidArgumentError);
    expect(() => keyPrefix('users', 'a\ud800')).toThrow(InvalidArgumentError);
    expect(() => keyPrefix('', 'alice')).toThrow(InvalidArgumentError);
    expect(() => keyPrefix('\udc00', 'alice')).toThrow(InvalidArgumentError);
    // Refusals leave nothing behind: the good name still answers, the bad one still throws.
    expect(keyPrefix('users', 'alice')).toBe(fresh('users', 'alice'));
    expect(() => keyPrefix('users', '')).toThrow(InvalidArgumentError);
  });
});
