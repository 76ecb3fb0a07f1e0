// Types for the shared test helpers (tooling/vitest/helpers.mjs ships none), so the
// tests typecheck under `strict`. Test-only: no entry point imports this module.
declare module '@koru/vitest-preset/helpers' {
  /** The fast-check seed for this run: KORU_SEED when set, else a fresh one (printed). */
  export function fcSeed(label?: string): number;
  /** A fresh temporary directory and a function that removes it. */
  export function tempDir(prefix?: string): { dir: string; cleanup: () => void };
}
