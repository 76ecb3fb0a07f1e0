/**
 * versionIdOf writes plain-ASCII inputs as bytes instead of building the string: the
 * two ways must give the same id for every field value, at the edges of the plain range.
 */
import { describe, expect, it } from 'vitest';
import { sha256HexOfText } from './hash.js';
import { versionIdInput, versionIdOf, type VersionIdFields } from './ids.js';

const base: VersionIdFields = {
  namespace: 'users',
  key: 'alice',
  valueId: 'b'.repeat(64),
  previousVersion: 'a'.repeat(64),
  hlc: '001700000000000-000003',
  node: 'node-1',
  deleted: false,
};

// Characters at and around the edges of what is written as is: control characters,
// the printable range's ends, the two escaped ones, DEL, Latin-1, BMP, a surrogate pair.
const EDGES = ['\u0000', '\u001f', ' ', '~', '\u007f', '"', '\\', '/', '\u0080', 'é', '\u2028', '😀', '\ud800'];

describe('versionIdOf bytes path', () => {
  it('matches the hash of versionIdInput for names and stamps at every edge character', () => {
    const fields = ['namespace', 'key', 'node', 'hlc'] as const;
    for (const field of fields) {
      for (const c of EDGES) {
        for (const s of [c, `a${c}`, `${c}z`, `x${c}y`]) {
          const f = { ...base, [field]: s };
          expect(versionIdOf(f)).toBe(sha256HexOfText(versionIdInput(f)));
        }
      }
    }
  });

  it('matches for tombstones, first versions and names too long for its scratch', () => {
    const cases: VersionIdFields[] = [
      { ...base, valueId: null, deleted: true },
      { ...base, previousVersion: null },
      { ...base, valueId: null, previousVersion: null, deleted: true },
      { ...base, key: 'k'.repeat(700) },
      { ...base, key: 'k'.repeat(767), namespace: 'n' },
      { ...base, key: 'k'.repeat(5000), namespace: 'n'.repeat(3000) },
    ];
    for (const f of cases) expect(versionIdOf(f)).toBe(sha256HexOfText(versionIdInput(f)));
  });
});
