/**
 * Server → browser change latency: a real `startServer` on 127.0.0.1 (a temp directory,
 * a token, the page's origin allowed); the page syncs namespace `bench` from it
 * (`db.sync(url, { token, namespaces })`) and times each change's arrival against the
 * send time the runner wrote into the value.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Page } from 'playwright-core';
import { startServer } from '@koru/server';

/** The latency row: every change's latency in ms, or why it was not measured. */
export interface SyncLatency {
  readonly latenciesMs?: readonly number[];
  readonly p50Ms?: number;
  readonly p99Ms?: number;
  readonly received?: number;
  readonly sent?: number;
  readonly intervalMs?: number;
  readonly skipped?: string;
  /** the database the page synced: `persistent` (start({ path })) or `memory` */
  readonly mode?: string;
}

const TOKEN = 'bench-browser-token';
/** Changes are paced, not flooded: the row is the latency of one change, not a queue's. */
const INTERVAL_MS = 20;

/**
 * Runs the latency row; `openPage` opens a fresh bench page. `persistent`: the page syncs
 * the database `start({ path })` opens, else an in-memory one.
 */
export async function measureSyncLatency(origin: string, openPage: () => Promise<Page>, count: number, persistent: boolean): Promise<SyncLatency> {
  const page = await openPage();
  const dir = mkdtempSync(join(tmpdir(), 'koru-bench-browser-'));
  const server = await startServer({ path: dir, port: 0, log: 'silent', token: TOKEN, allowOrigins: [origin] });
  try {
    const wsUrl = `${server.url.replace(/^http/, 'ws')}`;
    const result = page.evaluate(([url, token, n, p]) => globalThis.koruBench.syncLatency(url, token, n, 60_000, p), [wsUrl, TOKEN, count, persistent] as const);
    // Untimed writes until the page has received one: the link is up and caught up.
    let warm = false;
    let failed: unknown;
    result.catch((e: unknown) => {
      failed = e;
    });
    for (let i = 0; !warm && failed === undefined && i < 400; i++) {
      await server.db.put('bench', 'warm', { i });
      await sleep(50);
      warm = await page.evaluate(() => (globalThis as { koruSyncWarm?: boolean }).koruSyncWarm === true);
    }
    if (failed !== undefined) throw failed;
    if (!warm) throw new Error('no change reached the page within 20 s');
    for (let i = 0; i < count; i++) {
      await server.db.put('bench', `k${i}`, { i, sentAt: performance.timeOrigin + performance.now() });
      await sleep(INTERVAL_MS);
    }
    const { latenciesMs, mode } = await result;
    const sorted = [...latenciesMs].sort((a, b) => a - b);
    const q = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
    return { latenciesMs, p50Ms: q(0.5), p99Ms: q(0.99), received: latenciesMs.length, sent: count, intervalMs: INTERVAL_MS, mode: mode ?? 'unknown' };
  } finally {
    await page.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
