// Typed documents are types only (KoruClient, as KoruDelta): this test compiles test/fixtures/typed-documents.ts
// with the TypeScript compiler and fails on any diagnostic (so it fails if the type
// parameters of get/put/getVersion/getAt/history/query went away or stopped flowing).
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const fixture = fileURLToPath(new URL('./fixtures/typed-documents.ts', import.meta.url));
const tsconfig = fileURLToPath(new URL('../tsconfig.json', import.meta.url));

function diagnosticsOf(file: string): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(tsconfig, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} })!;
  const program = ts.createProgram([file], { ...config.options, noEmit: true });
  return ts
    .getPreEmitDiagnostics(program)
    .map((d) => `${d.file?.fileName ?? ''}:${d.start ?? ''} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
}

describe('typed documents', () => {
  it('get/put/getVersion/getAt/history/query take a document type; the default stays the JSON value type', () => {
    expect(diagnosticsOf(fixture)).toEqual([]);
  });
});
