// A key's digest chain step is SHA-256 of the 32 bytes of the digest then the 32 bytes of
// the next id (merkle-state.ts): checked against node:crypto on random ids, so members
// running other code (or an older build) agree on every digest.
import { fcSeed } from '@koru/vitest-preset/helpers';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EMPTY_DIGEST, extendKeyDigest } from '../src/merkle-state.js';

const hex64 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));

describe('extendKeyDigest', () => {
  it('is SHA-256 of the digest bytes then the id bytes', () => {
    fc.assert(
      fc.property(hex64, hex64, (digest, id) => {
        const expected = createHash('sha256').update(Buffer.from(digest + id, 'hex')).digest('hex');
        expect(extendKeyDigest(digest, id)).toBe(expected);
      }),
      { seed: fcSeed(), numRuns: 500 },
    );
    const id = 'f'.repeat(64);
    expect(extendKeyDigest(EMPTY_DIGEST, id)).toBe(createHash('sha256').update(Buffer.concat([Buffer.alloc(32), Buffer.alloc(32, 0xff)])).digest('hex'));
  });
});
