// `kdelta … | head -1`: when the reader of stdout goes away, kdelta ends quietly with 0.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { KoruDelta } from '@koru/delta';
import { tempDir } from '@koru/vitest-preset/helpers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, start } from './run.js';

const t = tempDir('kdelta-epipe-');
const db = join(t.dir, 'db');

beforeAll(async () => {
  // Far more output than a pipe holds (64 KiB), so the writes after the reader has gone fail.
  const kd = await KoruDelta.start({ path: db });
  for (let i = 0; i < 2000; i++) await kd.put('users', 'alice', { n: i, note: 'x'.repeat(100) });
  for (let i = 0; i < 3000; i++) await kd.put('items', `item-${String(i).padStart(4, '0')}-${'k'.repeat(80)}`, { n: i, note: 'y'.repeat(100) });
  await kd.close();
}, 60_000);
afterAll(() => t.cleanup());

/** Runs kdelta with stdout a pipe that the test closes once the first output arrives. */
function closedEarly(args: readonly string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; first: string; stderr: string }> {
  const child = start(['-d', db, ...args]);
  child.stdin!.end();
  let out = '';
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    child.stdout!.destroy(); // like `head -1` exiting
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, first: out.split('\n')[0]!, stderr });
    });
  });
}

describe('kdelta with a reader that stops early', () => {
  it.each([
    'log users/alice',
    'log users/alice --json',
    'list items',
    'list items --json',
    'query items --sort n',
    'query items --json',
    'export',
    'watch --since 0',
    'watch users --since 0 --json',
  ])('kdelta %s exits 0 without a word on stderr', async (command) => {
    const args = command.split(' ');
    const full = spawnSync(process.execPath, [BIN, '-d', db, ...args, ...(args[0] === 'watch' ? ['--exit'] : [])], { encoding: 'utf8', maxBuffer: 1 << 28 });
    expect(full.stdout.length).toBeGreaterThan(200 * 1024); // so the pipe really closes early
    const r = await closedEarly(args);
    expect(r.first).not.toBe('');
    expect(r.stderr).toBe('');
    expect({ code: r.code, signal: r.signal }).toEqual({ code: 0, signal: null });
  });

  it('ends `kdelta log … | head -1` in a shell with exit 0 and nothing on stderr', () => {
    const r = spawnSync('bash', ['-c', 'set -o pipefail; "$NODE" "$BIN" -d "$DB" log users/alice | head -1'], {
      env: { ...process.env, NODE: process.execPath, BIN, DB: db },
      encoding: 'utf8',
    });
    expect(r.stdout).toMatch(/^[0-9a-f]{12} {2}\S+ {2}\{"n":1999,/);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

});
