// A writer in a child process, killed with SIGKILL mid-write: shared by the kill -9 tests
// (crash, lsm-crash, retention). The writer prints each acknowledged number on a line.
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Writers still running: kill them in `afterEach` (a failed test must not leave one behind). */
export const liveWriters = new Set<ChildProcess>();

/** Kills every writer still running. */
export function killWriters(): void {
  for (const c of liveWriters) c.kill('SIGKILL');
  liveWriters.clear();
}

/**
 * Runs `node script ...args` and kills it with SIGKILL `ms` after its first
 * acknowledgement (or, with `until`, once `until()` holds, within 60 s). Returns every
 * number it printed (acknowledged) before the kill, in order.
 */
export async function runAndKill(script: string, args: readonly string[], ms: number, until?: () => boolean): Promise<number[]> {
  const child = spawn(process.execPath, [script, ...args], { cwd: packageDir, stdio: ['ignore', 'pipe', 'pipe'] });
  liveWriters.add(child);
  const acked: number[] = [];
  let tail = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    const lines = (tail + chunk).split('\n');
    tail = lines.pop()!;
    for (const l of lines) acked.push(Number(l));
  });
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const deadline = Date.now() + 20_000;
  while (acked.length === 0 && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 5));
  if (acked.length === 0) throw new Error(`the writer did not start: ${stderr}`);
  if (until === undefined) await new Promise((r) => setTimeout(r, ms));
  else {
    const end = Date.now() + 60_000;
    while (!until() && Date.now() < end && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
  }
  child.kill('SIGKILL');
  await exited;
  liveWriters.delete(child);
  expect(child.signalCode, stderr).toBe('SIGKILL');
  return acked;
}
