// Server → client change latency of db.sync on loopback: a write on the server until the
// synced local database applied it. Not a test (no thresholds): prints p50/p99.
//   node scripts/latency.mjs [writes=1000]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { KoruClient } from '@koru/client';
import { KoruDelta } from '@koru/delta';
import { startServer } from '@koru/server';

const n = Number(process.argv[2] ?? 1000);
const dirs = [mkdtempSync(join(tmpdir(), 'koru-lat-s-')), mkdtempSync(join(tmpdir(), 'koru-lat-l-'))];
const server = await startServer({ path: dirs[0], port: 0, cluster: false, log: 'silent' });
const db = await KoruDelta.start({ path: dirs[1] });
const sync = await db.sync(server.url);
await sync.synced();

// Keyed by the write's number in its value: the client may apply a write before the
// server's put has resolved.
const arrived = new Map();
db.storage.onApply((_current, all) => {
  const t = performance.now();
  for (const v of all) if (v.namespace === 'lat') arrived.get(v.value.i)?.(t);
});
const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

// One at a time: each write waits for the previous one to arrive. (Server and client share
// this process and its event loop, as a browser and a server on one machine would not.)
const single = [];
for (let i = 0; i < n; i++) {
  const seen = new Promise((resolve) => arrived.set(i, resolve));
  const t0 = performance.now();
  await server.db.put('lat', `k${i % 100}`, { i });
  single.push((await seen) - t0);
  arrived.delete(i);
}
single.sort((a, b) => a - b);

// A burst: n writes as fast as the server takes them; latency of each until applied locally.
const starts = new Map();
const burst = [];
const done = new Promise((resolve) => {
  let left = n;
  db.storage.onApply((_c, all) => {
    const t = performance.now();
    for (const v of all) {
      const s = starts.get(v.versionId);
      if (s !== undefined) {
        burst.push(t - s);
        starts.delete(v.versionId);
        if (--left === 0) resolve();
      }
    }
  });
});
const writes = [];
for (let i = 0; i < n; i++) {
  const t0 = performance.now();
  writes.push(server.db.put('burst', `k${i}`, { i }).then((v) => starts.set(v.versionId, t0)));
}
await Promise.all(writes);
await done;
burst.sort((a, b) => a - b);

// Across processes: the server in a child process, a KoruClient writing to it (another
// "browser"), this process's synced database reading: from the writer's put to the apply here.
const serverDir = mkdtempSync(join(tmpdir(), 'koru-lat-p-'));
dirs.push(serverDir);
const bin = join(createRequire(import.meta.url).resolve('@koru/server/package.json'), '..', 'dist', 'bin.js');
const child = spawn(process.execPath, [bin, '--port', '0', '--db-path', serverDir], { stdio: ['ignore', 'ignore', 'pipe'] });
const url = await new Promise((resolve, reject) => {
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d) => {
    err += d;
    const m = /at (http:\/\/\S+)/.exec(err);
    if (m) resolve(m[1]);
  });
  child.on('exit', (code) => reject(new Error(`server exited ${code}: ${err}`)));
});
await sync.stop();
const remote = await db.sync(url);
await remote.synced();
const writer = await KoruClient.connect(url);
const cross = [];
for (let i = n; i < 2 * n; i++) {
  const seen = new Promise((resolve) => arrived.set(i, resolve));
  const t0 = performance.now();
  await writer.put('lat', `k${i % 100}`, { i });
  cross.push((await seen) - t0);
  arrived.delete(i);
}
cross.sort((a, b) => a - b);
await writer.close();
await remote.stop();
child.kill();

console.log(JSON.stringify({
  acrossProcesses: { p50ms: +pct(cross, 50).toFixed(2), p99ms: +pct(cross, 99).toFixed(2), maxMs: +cross.at(-1).toFixed(2) },
  writes: n,
  oneAtATime: { p50ms: +pct(single, 50).toFixed(2), p99ms: +pct(single, 99).toFixed(2), maxMs: +single.at(-1).toFixed(2) },
  burst: { p50ms: +pct(burst, 50).toFixed(2), p99ms: +pct(burst, 99).toFixed(2), maxMs: +burst.at(-1).toFixed(2) },
  loadavg: loadavg().map((x) => +x.toFixed(2)),
}));
await db.close();
await server.close();
for (const d of dirs) rmSync(d, { recursive: true, force: true });
