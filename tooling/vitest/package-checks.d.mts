// Types for the package-shape test helpers in package-checks.mjs.
import type { SpawnSyncReturns } from 'node:child_process';

/** The package directory of a test file one level below it (`<pkg>/test/x.test.ts`, `<pkg>/src/x.test.ts`). */
export function packageDirOf(testFileUrl: string | URL): string;
/** The package.json fields the package tests read. */
export interface PackageJson {
  name: string;
  type: string;
  sideEffects: boolean | string[];
  files: string[];
  main: string;
  module: string;
  types: string;
  engines: Record<string, string>;
  dependencies: Record<string, string>;
  exports: Record<string, unknown>;
}
/** The package's package.json, parsed. */
export function readPackageJson(pkgDir: string): PackageJson;
/** Throws unless `dist/` is built and newer than its sources, tsup.config.ts and the shared tsup settings. */
export function requireFreshBuild(pkgDir: string): void;
/** Runs Node with `args` in `cwd` and returns its trimmed stdout; throws when it fails. */
export function runNode(cwd: string, args: readonly string[]): string;
/** Runs Node with `args` in `cwd` and returns its exit status, stdout and stderr (never throws). */
export function spawnNode(cwd: string, args: readonly string[], options?: { timeout?: number }): SpawnSyncReturns<string>;
/** Import/require specifiers in built code. */
export function specifiers(code: string): string[];
/** Node's built-in modules, bare and `node:`-prefixed. */
export const nodeBuiltins: ReadonlySet<string>;
/** The specifiers in `code` that name Node built-ins. */
export function nodeImports(code: string): string[];
/** The code without its comments. */
export function codeOnly(source: string): string;
/**
 * A built file and every file it imports, transitively (path → code). Bare imports are
 * followed to the file `options.bare` returns, recorded as `bare:<specifier>` when it
 * returns undefined, and left out without it.
 */
export function moduleGraph(entry: string, options?: { bare?: (specifier: string) => string | undefined }): Map<string, string>;
/** The target an exports-map entry picks for the active conditions (`default` always active). */
export function pickExport(target: unknown, conditions: Iterable<string>): string | undefined;
/** Problems with the `types` entries of an exports map (not first, or the wrong declaration format); empty when right. */
export function typesProblems(entry: unknown, where?: string): string[];
/** Every file path an exports map points at. */
export function exportTargets(entry: unknown): string[];
/** The file a package specifier resolves to under `conditions` through its exports map, found from `fromDir`. */
export function resolveExport(fromDir: string, specifier: string, conditions: Iterable<string>): string | undefined;
