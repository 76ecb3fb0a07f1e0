// --token-file / KORU_TOKEN_FILE on the koru-server process: the token is read from a file
// (never on the command line), its trailing newline dropped; an empty or missing file, or
// both --token and --token-file, is refused at start with one line and exit 2.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '@koru/vitest-preset/helpers';
import { afterEach, describe, expect, it } from 'vitest';
import { readTokenFile } from '../src/token-file.js';
import { BIN, exited, spawnServer } from './support.js';

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The environment without the caller's token settings. */
const CLEAN = { KORU_TOKEN: '', KORU_TOKEN_FILE: '', KORU_ALLOW_ORIGIN: '', KORU_ALLOW_HOST: '' };
const SECRET = 'file-s3cret-7d1c';

function dir(): string {
  const t = tempDir('koru-tokfile-');
  cleanups.push(t.cleanup);
  return t.dir;
}

async function serving(args: readonly string[], env: Record<string, string>): Promise<{ url: string; pid: number; stderr: () => string }> {
  const { child, url, stderr } = await spawnServer(args, { ...CLEAN, ...env });
  cleanups.push(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
    return exited(child);
  });
  return { url, pid: child.pid!, stderr };
}

const status = async (url: string, token?: string): Promise<number> =>
  (await fetch(`${url}/v1/ns`, { headers: token !== undefined ? { authorization: `Bearer ${token}` } : {} })).status;

describe('--token-file', () => {
  it('reads the token from the file (trailing newline dropped); it is not in the process list', async () => {
    const d = dir();
    const file = join(d, 'token');
    writeFileSync(file, `${SECRET}\n`);
    const s = await serving(['-d', join(d, 'db'), '--token-file', file], {});
    expect(s.stderr()).toContain('(token required)');
    expect(await status(s.url)).toBe(401);
    // Had the newline been kept, the token would be `SECRET\n`, which no header can carry.
    expect(await status(s.url, SECRET)).toBe(200);
    expect(readFileSync(`/proc/${s.pid}/cmdline`, 'utf8')).not.toContain(SECRET);
  });

  it('KORU_TOKEN_FILE does the same; a flag wins over the environment', async () => {
    const d = dir();
    const file = join(d, 'token');
    writeFileSync(file, `${SECRET}\r\n`);
    const s = await serving(['-d', join(d, 'db')], { KORU_TOKEN_FILE: file });
    expect(await status(s.url, SECRET)).toBe(200);
    expect(await status(s.url, 'other')).toBe(401);
    const other = join(d, 'other');
    writeFileSync(other, 'from-flag');
    const flag = await serving(['-d', join(d, 'db2'), '--token-file', other], { KORU_TOKEN: 'from-env' });
    expect(await status(flag.url, 'from-flag')).toBe(200);
    expect(await status(flag.url, 'from-env')).toBe(401);
  });

  it('refuses both --token and --token-file, an empty or missing file, and both variables: one line, exit 2', () => {
    const d = dir();
    const empty = join(d, 'empty');
    writeFileSync(empty, '\n');
    const good = join(d, 'good');
    writeFileSync(good, SECRET);
    for (const [args, env, message] of [
      [['--token', 'a', '--token-file', good], {}, /--token and --token-file both give the token/],
      [['--token-file', empty], {}, /--token-file ".*empty" is empty/],
      [['--token-file', join(d, 'missing')], {}, /--token-file ".*missing" cannot be read: ENOENT/],
      [[], { KORU_TOKEN_FILE: empty }, /KORU_TOKEN_FILE ".*empty" is empty/],
      [[], { KORU_TOKEN: 'a', KORU_TOKEN_FILE: good }, /KORU_TOKEN and KORU_TOKEN_FILE both give the token/],
      [['--token-file', good, '--token-file', good], {}, /--token-file given twice/],
      [['--allow-origin', 'localhost:3000'], {}, /--allow-origin "localhost:3000" is not an origin/],
      [[], { KORU_ALLOW_ORIGIN: 'nope' }, /KORU_ALLOW_ORIGIN "nope" is not an origin/],
    ] as const) {
      const r = spawnSync(process.execPath, [BIN, '--port', '0', '-d', join(d, 'db'), ...args], { env: { ...process.env, ...CLEAN, ...env }, encoding: 'utf8', timeout: 20_000 });
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(message);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr).not.toContain(SECRET);
    }
  });

  it('readTokenFile refuses a file of several lines (a token is one line)', () => {
    const file = join(dir(), 'two');
    writeFileSync(file, 'a\nb\n');
    expect(() => readTokenFile(file)).toThrow(/more than one line/);
  });
});
