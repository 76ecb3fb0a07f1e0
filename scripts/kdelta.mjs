// `pnpm kdelta …` and `pnpm start`: runs the kdelta of this checkout, building it first
// only when its sources changed, with no build output unless the build fails.
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { ensureBuilt, ROOT } from './build.mjs';

ensureBuilt('kdelta', 'kdelta');
await import(pathToFileURL(join(ROOT, 'apps', 'cli', 'dist', 'kdelta.js')).href);
