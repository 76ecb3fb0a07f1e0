// Type-level tests: compile a fixture with a package's tsconfig and return every
// diagnostic, so a test fails when a type stops flowing (e.g. a generic went away).
import ts from 'typescript';

/**
 * The TypeScript diagnostics of compiling `file` under the options of `tsconfig`, one
 * string each (`file:offset message`); empty when the file type-checks.
 * @param {string} file
 * @param {string} tsconfig
 * @returns {string[]}
 */
export function typeDiagnostics(file, tsconfig) {
  const config = ts.getParsedCommandLineOfConfigFile(tsconfig, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
  const program = ts.createProgram([file], { ...config.options, noEmit: true });
  return ts
    .getPreEmitDiagnostics(program)
    .map((d) => `${d.file?.fileName ?? ''}:${d.start ?? ''} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
}
