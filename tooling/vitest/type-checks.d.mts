/** The TypeScript diagnostics of compiling `file` under `tsconfig`'s options; empty when it type-checks. */
export function typeDiagnostics(file: string, tsconfig: string): string[];
