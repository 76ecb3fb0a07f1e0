// Typed documents are types only: this test compiles test/fixtures/typed-documents.ts
// with the TypeScript compiler and fails on any diagnostic (so it fails if the type
// parameters of get/put/getVersion/getAt/history/query went away or stopped flowing).
import { fileURLToPath } from 'node:url';
import { typeDiagnostics } from '@koru/vitest-preset/type-checks';
import { describe, expect, it } from 'vitest';

const fixture = fileURLToPath(new URL('./fixtures/typed-documents.ts', import.meta.url));
const tsconfig = fileURLToPath(new URL('../tsconfig.json', import.meta.url));

describe('typed documents', () => {
  it('get/put/getVersion/getAt/history/query take a document type; the default stays the JSON value type', () => {
    expect(typeDiagnostics(fixture, tsconfig)).toEqual([]);
  });
});
