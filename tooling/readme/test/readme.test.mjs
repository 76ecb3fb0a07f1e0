// The README is a tested artifact: a new user copies its commands, so each one runs here
// as printed.
// - The TypeScript snippet runs against the built @koru/delta, and every commented result
//   (`// { name: 'Alice', visits: 2 }`) is compared with what the line returns.
// - The quick start's two set-up commands are checked against what CI runs and what the
//   workspace defines (running them here would install and test from inside the tests:
//   CI runs the second as it is, and a fresh-machine run proves the first).
// - Every other shell block runs in order in one bash, as a user following the README
//   would, with a fresh HOME, `npm install -g` going to a scratch prefix on the PATH, and
//   the quick-start server (`pnpm start`'s command) serving the default directory.
//   Ports are moved to free ones, and the PostgreSQL URL to a private server's; a line ending in `&` runs in the background (a `start`
//   is waited for until it says it is serving, as the README tells the reader to); a line
//   may be retried for a few seconds, as a person retypes a command a member was not
//   ready for. A trailing comment that is JSON is the output the line must print.
// - The development block (`pnpm build`, `pnpm test`, ...) runs the test suite itself
//   and rebuilds what other suites are loading, so it is checked to name scripts and
//   packages that exist rather than run.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemTool, tempDir } from '@koru/vitest-preset/helpers';
import { postgresAvailable, startPostgres } from '@koru/vitest-preset/postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { expectedJson, expectedLiteral, fencedBlocks, splitShellLine } from './markdown.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..', '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const blocks = fencedBlocks(README);
const shellBlocks = blocks.filter((b) => ['sh', 'bash', 'shell'].includes(b.lang));
const isSetup = (b) => b.lines.some((l) => /pnpm@[\d.]+ install\b/.test(splitShellLine(l).command) && /\b(start|test)\b/.test(l));
const isDevelopment = (b) => b.lines.some((l) => /^corepack enable\b/.test(splitShellLine(l).command));
const runnable = shellBlocks.filter((b) => !isSetup(b) && !isDevelopment(b));

const rootManifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
/** Workspace package name → its scripts. */
const workspaceScripts = new Map();
for (const group of ['packages', 'apps', 'tooling', 'examples', '.']) {
  const base = join(ROOT, group);
  const dirs = group === '.' ? ['bench'] : existsSync(base) ? readdirSync(base) : [];
  for (const d of dirs) {
    const file = join(base, d, 'package.json');
    if (!existsSync(file)) continue;
    const m = JSON.parse(readFileSync(file, 'utf8'));
    workspaceScripts.set(m.name, m.scripts ?? {});
  }
}

const scratch = tempDir('koru-readme-');
afterAll(() => scratch.cleanup());

describe('README', () => {
  it('has a TypeScript snippet, the two set-up commands, runnable shell blocks and the development block', () => {
    expect(blocks.filter((b) => b.lang === 'ts')).toHaveLength(1);
    expect(shellBlocks.filter(isSetup)).toHaveLength(1);
    expect(shellBlocks.filter(isDevelopment)).toHaveLength(1);
    expect(runnable.length).toBeGreaterThanOrEqual(3);
  });

  it('quick start: command 1 installs only what the server needs and starts it; command 2 is what CI runs', () => {
    const [setup] = shellBlocks.filter(isSetup);
    const commands = setup.lines.map((l) => splitShellLine(l).command).filter(Boolean);
    expect(commands).toHaveLength(2);
    const [serve, test] = commands;
    // 1: a filtered install of the package whose `start` the root script runs.
    const filtered = /^npx --yes pnpm@([\d.]+) install --filter ([\w@/.-]+)\.\.\. && npx --yes pnpm@\1 start$/.exec(serve);
    expect(filtered, serve).not.toBeNull();
    expect(rootManifest.packageManager).toBe(`pnpm@${filtered[1]}`);
    expect(workspaceScripts.has(filtered[2])).toBe(true);
    expect(rootManifest.scripts.start).toContain('scripts/kdelta.mjs start');
    // 2: exactly the line CI runs.
    expect(test).toMatch(/^npx --yes pnpm@[\d.]+ install && npx --yes pnpm@[\d.]+ test$/);
    expect(readFileSync(join(ROOT, '.ci', 'run'), 'utf8')).toContain(test);
  });

  it('the development block names root scripts and workspace packages that exist', () => {
    const [dev] = shellBlocks.filter(isDevelopment);
    const builtins = new Set(['install', 'exec', 'add']);
    for (const line of dev.lines) {
      for (const part of splitShellLine(line).command.split('&&').map((s) => s.trim())) {
        const filter = /^pnpm --filter (\S+) (\S+)/.exec(part);
        const plain = /^pnpm (\S+)/.exec(part);
        if (filter) {
          expect(workspaceScripts.get(filter[1])?.[filter[2]], part).toBeDefined();
        } else if (plain && !builtins.has(plain[1])) {
          expect(rootManifest.scripts[plain[1]], part).toBeDefined();
        }
      }
    }
  });

  it('the TypeScript snippet runs and returns what its comments say', () => {
    const [snippet] = blocks.filter((b) => b.lang === 'ts');
    let checks = 0;
    const body = snippet.lines.map((text, i) => {
      const at = text.indexOf('//');
      if (at < 0) return text;
      const statement = text.slice(0, at).trim().replace(/;$/, '');
      const expected = expectedLiteral(text.slice(at + 2).trim());
      if (expected === undefined || /^(const|let|var|import)\b/.test(statement)) return text;
      checks++;
      return `__check(${statement}, ${expected.source}, ${snippet.line + 1 + i}, ${JSON.stringify(statement)});`;
    });
    expect(checks).toBeGreaterThanOrEqual(3);
    // Inside this package, so `@koru/delta` resolves as it would in an application.
    const dir = join(HERE, '..', `.snippet-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'snippet.mjs');
    writeFileSync(
      file,
      [
        "import { deepStrictEqual } from 'node:assert';",
        'const __check = (actual, expected, line, text) => {',
        '  try { deepStrictEqual(JSON.parse(JSON.stringify(actual)), expected); }',
        '  catch { throw new Error(`README line ${line}: ${text} gave ${JSON.stringify(actual)}, not ${JSON.stringify(expected)}`); }',
        '};',
        ...body,
        "console.log('snippet ok');",
      ].join('\n'),
    );
    try {
      const run = spawnSync(process.execPath, [file], { cwd: scratch.dir, encoding: 'utf8', timeout: 60_000 });
      expect(run.stderr).toBe('');
      expect(run.stdout.trim()).toBe('snippet ok');
      expect(run.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const curl = systemTool({ name: 'curl', present: () => spawnSync('sh', ['-c', 'command -v curl']).status === 0, apt: 'curl' });
  if (!curl.available) console.log(`[readme] shell blocks skipped: ${curl.reason}`);
  // The PostgreSQL section's commands run against a private server: its URL replaces the README's.
  const README_STORE = /postgres:\/\/koru@127\.0\.0\.1:\d+\/koru/g;
  const needsPostgres = runnable.some((b) => b.lines.some((l) => l.includes('postgres://koru@127.0.0.1:')));
  const postgres = needsPostgres ? postgresAvailable() : { available: true };
  if (!postgres.available) console.log(`[readme] shell blocks skipped: ${postgres.reason}`);
  let pgServer;
  afterAll(async () => {
    await pgServer?.stop();
  });

  it.skipIf(!curl.available || !postgres.available)('every shell block runs as printed, in order, against a fresh home', async () => {
    if (needsPostgres) pgServer = await startPostgres();
    const home = join(scratch.dir, 'home');
    const prefix = join(scratch.dir, 'prefix');
    const work = join(scratch.dir, 'work');
    const out = join(scratch.dir, 'out');
    for (const d of [home, prefix, work, out]) mkdirSync(d, { recursive: true });
    // `npm install -g ./apps/cli` is typed in the clone's root; the work directory sees the
    // same `apps`, and keeps the members' data directories out of the clone.
    symlinkSync(join(ROOT, 'apps'), join(work, 'apps'));

    // The README's ports, each moved to a free one.
    const ports = new Map();
    for (const b of runnable) for (const l of b.lines) for (const m of l.matchAll(/(?::|--port )(\d{4,5})\b/g)) ports.set(m[1], 0);
    ports.set('7878', 0);
    for (const p of ports.keys()) ports.set(p, await freePort());
    const moveEndpoints = (text) => {
      const moved = text.replace(/\b(\d{4,5})\b/g, (p) => String(ports.get(p) ?? p));
      return pgServer === undefined ? moved : moved.replace(README_STORE, pgServer.url);
    };

    const lines = [];
    for (const b of runnable) {
      b.lines.forEach((text, i) => {
        const { command, comment } = splitShellLine(text);
        if (command) lines.push({ n: b.line + 1 + i, command: moveEndpoints(command), comment });
      });
    }

    const q = (s) => `'${s.replaceAll("'", "'\\''")}'`;
    const script = [
      'set -u',
      `cd ${q(work)}`,
      `OUT=${q(out)}`,
      'started() { # N PATTERN: waits until background job N prints PATTERN, or fails',
      '  local pid; pid=$(cat "$OUT/$1.pid")',
      '  for _ in $(seq 1 150); do',
      '    grep -q "$2" "$OUT/$1.log" && return 0',
      '    kill -0 "$pid" 2>/dev/null || { echo "README line $1: exited before serving:"; cat "$OUT/$1.log"; exit 1; }',
      '    sleep 0.2',
      '  done',
      '  echo "README line $1: not serving after 30 s:"; cat "$OUT/$1.log"; exit 1',
      '}',
      'run() { # N COMMAND: runs it here; retried for up to 6 s, as a person retypes',
      '  local deadline=$((SECONDS + 6))',
      '  while :; do',
      '    eval "$2" > "$OUT/$1.out" 2> "$OUT/$1.err" < /dev/null && return 0',
      '    [ $SECONDS -ge $deadline ] && { echo "README line $1 failed: $2"; cat "$OUT/$1.out" "$OUT/$1.err"; exit 1; }',
      '    sleep 0.5',
      '  done',
      '}',
      'background() { # N COMMAND',
      '  setsid bash -c "$2" > "$OUT/$1.log" 2>&1 < /dev/null & echo $! > "$OUT/$1.pid"',
      '}',
      // What the quick start's first command runs once it has installed: `pnpm start`.
      // The port through KORU_PORT, which the README documents for moving it.
      `background server ${q(`KORU_PORT=${ports.get('7878')} node ${q(join(ROOT, 'scripts', 'kdelta.mjs'))} start`)}`,
      'started server "koru: serving"',
    ];
    for (const { n, command } of lines) {
      const inClone = /\bpnpm@[\d.]+\b/.test(command) ? `cd ${q(ROOT)} && ` : '';
      if (command.endsWith('&')) {
        const cmd = command.slice(0, -1).trim();
        script.push(`background ${n} ${q(inClone + cmd)}`);
        if (/\bstart\b/.test(cmd)) script.push(`started ${n} "koru: serving"`);
        else script.push('sleep 1', `kill -0 "$(cat "$OUT/${n}.pid")" || { echo "README line ${n} exited:"; cat "$OUT/${n}.log"; exit 1; }`);
      } else {
        script.push(`run ${n} ${q(inClone ? `(${inClone}${command})` : command)}`);
      }
    }
    script.push('echo "all README commands ran"');

    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(KORU_|npm_|NPM_|PNPM_|TURBO_HASH)/.test(k)));
    Object.assign(env, {
      HOME: home,
      PATH: `${join(prefix, 'bin')}:${dirname(process.execPath)}:${process.env.PATH}`,
      npm_config_prefix: prefix,
      // The machine's npm cache: npx fetches pnpm once, not in every run.
      npm_config_cache: process.env.npm_config_cache || join(homedir(), '.npm'),
      npm_config_update_notifier: 'false',
      NO_COLOR: '1',
    });
    let run;
    try {
      run = spawnSync('bash', ['-c', script.join('\n')], { env, encoding: 'utf8', timeout: 240_000 });
    } finally {
      for (const f of readdirSync(out).filter((f) => f.endsWith('.pid'))) {
        const pid = Number(readFileSync(join(out, f), 'utf8'));
        try {
          process.kill(-pid, 'SIGTERM');
        } catch {}
      }
    }
    expect(run.stdout + run.stderr).toContain('all README commands ran');
    expect(run.status).toBe(0);

    // The quick-start server printed no build output (a quiet build, or none needed).
    const serverLog = readFileSync(join(out, 'server.log'), 'utf8');
    expect(serverLog).not.toMatch(/turbo|Tasks:|ELIFECYCLE/);

    // Lines whose comment is JSON printed that JSON.
    for (const { n, command, comment } of lines) {
      const expected = expectedJson(comment);
      if (expected === undefined) continue;
      const printed = readFileSync(join(out, `${n}.out`), 'utf8');
      expect(JSON.parse(printed), `README line ${n}: ${command}`).toEqual(expected.value);
    }
    // A background watcher saw every key the lines after it wrote in its namespace.
    for (const [i, { n, command }] of lines.entries()) {
      const watch = /\bkdelta\b.*\bwatch (\w+)\s*&$/.exec(command);
      if (!watch) continue;
      const log = readFileSync(join(out, `${n}.log`), 'utf8');
      const written = lines.slice(i + 1).flatMap((l) => [...l.command.matchAll(/\bkdelta\b.*\bset (\w+\/\w+)/g)].map((m) => m[1]));
      for (const key of written.filter((k) => k.startsWith(`${watch[1]}/`))) expect(log, `README line ${n}`).toContain(key);
    }
  });
});

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
