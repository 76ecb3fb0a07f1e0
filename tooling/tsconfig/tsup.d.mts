// Types for the shared tsup settings in tsup.mjs.
import type { Options } from 'tsup';

/** A package's tsup config: the shared defaults with `overrides` replacing options one by one. */
export function koruTsup(overrides?: Options): Options;
