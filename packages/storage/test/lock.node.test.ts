// One process owns a data directory: a second opener (same process or another) gets
// DATABASE_LOCKED naming the holder; a lock left by a killed process is taken over.
import { ErrorCodes } from '@koru/engine';
import { CausalStorage } from '@koru/storage';
import { FileAdapter, readLockHolder } from '@koru/storage/node';
import { tempDir } from '@koru/vitest-preset/helpers';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { rejection } from './disk-helpers.js';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const fixture = fileURLToPath(new URL('./fixtures/open-db.mjs', import.meta.url));

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function newDir(): string {
  const { dir, cleanup } = tempDir('koru-lock-');
  cleanups.push(cleanup);
  return dir;
}

const open = (dir: string) => CausalStorage.open({ adapter: new FileAdapter(dir) });

interface Child {
  readonly proc: ChildProcess;
  /** Resolves with the first stdout line. */
  readonly firstLine: Promise<string>;
  /** Resolves with the exit code and signal once the process is gone (and reaped). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs the fixture under plain Node in the package directory (so `@koru/storage` resolves to dist). */
function runFixture(dir: string, mode: 'try' | 'hold'): Child {
  const proc = spawn(process.execPath, [fixture, dir, mode], { cwd: pkgDir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const firstLine = new Promise<string>((resolve, reject) => {
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(out.slice(0, nl));
    });
    void exited.then(({ code, signal }) => reject(new Error(`fixture exited (${code ?? signal}) before printing: ${err}`)));
  });
  cleanups.push(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await exited;
    }
  });
  return { proc, firstLine, exited };
}

beforeAll(() => {
  if (!existsSync(join(pkgDir, 'dist', 'node.js'))) throw new Error('dist/ is missing: build @koru/storage first');
});

describe('directory lock', () => {
  it('a second open in the same process is DATABASE_LOCKED, under any spelling of the path', async () => {
    const dir = newDir();
    mkdirSync(join(dir, 'db'));
    symlinkSync(join(dir, 'db'), join(dir, 'alias'));
    const first = await open(join(dir, 'db'));
    try {
      for (const path of [join(dir, 'db'), `${join(dir, 'db')}/`, join(dir, 'alias'), join(dir, 'db', '..', 'db')]) {
        const e = await rejection(open(path));
        expect(e.code, path).toBe(ErrorCodes.DATABASE_LOCKED);
        expect(e.message).toContain(`pid ${process.pid}`);
      }
      // The refused opens did not disturb the holder or its lock.
      await first.put('l', 'k', 1);
      expect(readLockHolder(join(dir, 'db'))).toMatchObject({ pid: process.pid, host: hostname() });
    } finally {
      await first.close();
    }
    expect(existsSync(join(dir, 'db', 'LOCK'))).toBe(false);
    const again = await open(join(dir, 'alias'));
    expect(again.get('l', 'k')).toBe(1);
    await again.close();
  });

  it('another process gets DATABASE_LOCKED naming this process as the holder', async () => {
    const dir = newDir();
    const db = await open(dir);
    try {
      const child = runFixture(dir, 'try');
      const result = JSON.parse(await child.firstLine) as { ok: boolean; code: string; message: string; details: { pid: number } };
      expect(result).toMatchObject({ ok: false, code: ErrorCodes.DATABASE_LOCKED, details: { pid: process.pid, host: hostname() } });
      expect(result.message).toContain(`process ${process.pid}`);
      expect(await child.exited).toEqual({ code: 0, signal: null });
    } finally {
      await db.close();
    }
    // Released: now the other process gets in.
    const child = runFixture(dir, 'try');
    expect(JSON.parse(await child.firstLine)).toEqual({ ok: true });
    expect(await child.exited).toEqual({ code: 0, signal: null });
  });

  it('a live holder in another process is named; after its clean exit the directory opens', async () => {
    const dir = newDir();
    const child = runFixture(dir, 'hold');
    expect(await child.firstLine).toBe('ready');
    const pid = child.proc.pid!;
    expect(readLockHolder(dir)).toMatchObject({ pid, host: hostname() });
    const e = await rejection(open(dir));
    expect(e.code).toBe(ErrorCodes.DATABASE_LOCKED);
    expect(e.message).toContain(`process ${pid}`);
    expect(e.details).toMatchObject({ pid });
    child.proc.kill('SIGTERM');
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect(existsSync(join(dir, 'LOCK'))).toBe(false);
    const db = await open(dir);
    expect(db.get('lock', 'holder')).toEqual({ pid });
    await db.close();
  });

  it('a stale LOCK left by a SIGKILLed process is taken over by the next opener', async () => {
    const dir = newDir();
    const child = runFixture(dir, 'hold');
    expect(await child.firstLine).toBe('ready');
    const pid = child.proc.pid!;
    child.proc.kill('SIGKILL');
    expect(await child.exited).toEqual({ code: null, signal: 'SIGKILL' });
    // The dead process's lock file is still there.
    expect(readLockHolder(dir)).toMatchObject({ pid });
    const db = await open(dir);
    try {
      expect(readLockHolder(dir)).toMatchObject({ pid: process.pid });
      // Its acknowledged write survived the kill.
      expect(db.get('lock', 'holder')).toEqual({ pid });
    } finally {
      await db.close();
    }
  });

  it('an empty or unreadable LOCK older than a second is treated as stale', async () => {
    const dir = newDir();
    await (await open(dir)).close();
    writeFileSync(join(dir, 'LOCK'), '');
    utimesSync(join(dir, 'LOCK'), new Date(Date.now() - 10_000), new Date(Date.now() - 10_000));
    const db = await open(dir);
    expect(JSON.parse(readFileSync(join(dir, 'LOCK'), 'utf8'))).toMatchObject({ pid: process.pid });
    await db.close();
  });

  it('a LOCK held by a process on another host is never taken over', async () => {
    const dir = newDir();
    const db = await open(dir);
    await db.close();
    writeFileSync(join(dir, 'LOCK'), JSON.stringify({ pid: 1, host: `not-${hostname()}`, startedAt: new Date().toISOString() }));
    const e = await rejection(open(dir));
    expect(e.code).toBe(ErrorCodes.DATABASE_LOCKED);
    expect(e.message).toContain(`not-${hostname()}`);
    expect(existsSync(join(dir, 'LOCK'))).toBe(true);
  });
});
