// Types for the shared test helpers in helpers.mjs.

/** The fast-check seed for this run: KORU_SEED when set, else a fresh one (printed). */
export function fcSeed(label?: string): number;
/** A fresh temporary directory and a function that removes it. */
export function tempDir(prefix?: string): { dir: string; cleanup: () => void };
/** A small deterministic PRNG (mulberry32): numbers in [0, 1), the same sequence for the same seed. */
export function prng(seed: number): () => number;
/**
 * A system program a test needs: installed with apt-get when missing and allowed (root);
 * under CI=true still missing throws, else `reason` says in one line why to skip.
 */
export function systemTool(tool: { name: string; present: () => boolean; apt: string }): { available: true } | { available: false; reason: string };
