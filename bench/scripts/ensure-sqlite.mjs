// better-sqlite3 is a peer in the bench only, so the workspace install does not compile
// it (pnpm-workspace.yaml). The bench compiles it here on its first run, with the
// node-gyp that ships with npm and, where Node was installed with its headers (Debian's
// nodejs, nvm, the official tarballs), those headers, so nothing is downloaded.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bench = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(bench, 'package.json'));

function loads() {
  try {
    const Database = require('better-sqlite3');
    new Database(':memory:').close();
    return true;
  } catch (error) {
    if (/bindings|\.node|NODE_MODULE_VERSION/i.test(String(error?.message))) return false;
    throw error;
  }
}

if (!loads()) {
  const pkg = dirname(require.resolve('better-sqlite3/package.json'));
  const prefix = join(dirname(process.execPath), '..');
  const npmGyp = [
    join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    join(dirname(process.execPath), 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ].find(existsSync);
  const args = npmGyp ? [npmGyp] : [];
  const cmd = npmGyp ? process.execPath : 'node-gyp';
  args.push('rebuild', '--release');
  if (existsSync(join(prefix, 'include', 'node', 'common.gypi'))) args.push(`--nodedir=${prefix}`);
  process.stderr.write('bench: compiling better-sqlite3 once (a peer in the comparison)…\n');
  const run = spawnSync(cmd, args, { cwd: pkg, encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
  if (run.status !== 0 || !loads()) {
    process.stderr.write(`${run.stdout ?? ''}${run.stderr ?? ''}`);
    process.stderr.write('bench: could not compile better-sqlite3: it needs a C++ compiler, make, python3 and Node\'s headers\n');
    process.exit(1);
  }
}
