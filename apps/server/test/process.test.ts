// The server as a process: ready line, graceful SIGTERM during a write burst, restart.
import { KoruDelta } from '@koru/delta';
import { tempDir } from '@koru/vitest-preset/helpers';
import { afterEach, describe, expect, it } from 'vitest';
import { exited, spawnServer } from './support.js';

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('server process', () => {
  it('SIGTERM during a write burst: exits 0 and loses no acknowledged write', async () => {
    const t = tempDir('koru-term-');
    cleanups.push(t.cleanup);
    const { child, url } = await spawnServer(['-d', t.dir]);
    cleanups.push(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
      return exited(child);
    });
    const acked: Array<{ key: string; versionId: string }> = [];
    let refused = 0;
    let stop = false;
    const writer = async (w: number): Promise<void> => {
      for (let i = 0; !stop && i < 5_000; i++) {
        const key = `w${w}-${i}`;
        try {
          const res = await fetch(`${url}/v1/kv/burst/${key}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ w, i }) });
          if (res.status === 200) acked.push({ key, versionId: ((await res.json()) as { versionId: string }).versionId });
          else {
            refused++;
            await res.text();
          }
        } catch {
          refused++; // connection refused or reset once the server stopped
          if (child.exitCode !== null) return;
        }
      }
    };
    const writers = Array.from({ length: 16 }, (_, w) => writer(w));
    while (acked.length < 300) await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGTERM');
    const code = await exited(child);
    stop = true;
    await Promise.all(writers);
    expect(code).toBe(0);
    expect(acked.length).toBeGreaterThanOrEqual(300);
    const db = await KoruDelta.start({ path: t.dir });
    for (const a of acked) expect((await db.getVersion('burst', a.key)).versionId).toBe(a.versionId);
    expect((await db.verify()).ok).toBe(true);
    await db.close();
  });

  it('refuses to start on a non-loopback address without a token (exit 2, one line)', async () => {
    const t = tempDir('koru-bind-');
    cleanups.push(t.cleanup);
    await expect(spawnServer(['-d', t.dir, '--host', '0.0.0.0'])).rejects.toThrow(/exited 2: koru: cannot start: refusing to serve 0\.0\.0\.0 without a token/);
  });
});
