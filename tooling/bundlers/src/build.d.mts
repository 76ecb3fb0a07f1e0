/** The bundlers the tests build the app with. */
export type Bundler = 'vite' | 'esbuild' | 'webpack';
/** The app's directory (index.html + main.js). */
export const APP_DIR: string;
/** The bundlers tested. */
export const BUNDLERS: readonly Bundler[];
/** @koru/delta's dist/browser-worker.js, when its browser build runs the database in a worker. */
export function deltaWorkerFile(): string | undefined;
/** Builds `appDir` (default: the test app) with `bundler` into `outDir`; `entry` is the page's script, relative to outDir. */
export function buildApp(bundler: Bundler, outDir: string, options?: { readonly appDir?: string }): Promise<{ readonly entry: string }>;
/** Scripts of one part of a build: files, minified bytes, gzip -9 bytes. */
export interface BuildPart {
  readonly files: readonly string[];
  readonly bytes: number;
  readonly gzipBytes: number;
}
/** What a build emitted: the page's script, and every other script (the worker and its chunks). */
export function measureBuild(outDir: string, entry: string): { readonly page: BuildPart; readonly worker: BuildPart };
