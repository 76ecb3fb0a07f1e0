// `pnpm demo`: the embedded quick-start example (examples/quickstart). The quick start's
// first command installs only what the server needs, so the example's own dependencies
// are installed here the first time, quietly.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureBuilt, ROOT } from './build.mjs';

const example = join(ROOT, 'examples', 'quickstart');
if (!existsSync(join(example, 'node_modules', '@koru', 'delta')) || !existsSync(join(example, 'node_modules', '@koru', 'client'))) {
  const pnpm = process.env.npm_execpath;
  const cmd = pnpm ? process.execPath : 'npx';
  const args = [...(pnpm ? [pnpm] : ['--yes', 'pnpm@12.4.2']), 'install', '--filter', '@koru/example-quickstart...', '--reporter=silent'];
  const run = spawnSync(cmd, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  if (run.status !== 0) {
    process.stderr.write('demo: could not install the example\'s dependencies (see above)\n');
    process.exit(run.status ?? 1);
  }
}
ensureBuilt('@koru/example-quickstart', 'demo');
await import(pathToFileURL(join(example, 'src', 'main.mjs')).href);
