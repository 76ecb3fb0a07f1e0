// Server → client change latency of db.sync on loopback: a write on the server until the
// synced local database applied it. Not a test (no thresholds): prints p50/p99.
//   node scripts/latency.mjs [writes=1000]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { KoruDelta } from '@koru/delta';
import { startServer } from '@koru/server';

const n = Number(process.argv[2] ?? 1000);
const dirs = [mkdtempSync(join(tmpdir(), 'koru-lat-s-')), mkdtempSync(join(tmpdir(), 'koru-lat-l-'))];
const server = await startServer({ path: dirs[0], port: 0, cluster: false, log: 'silent' });
const db = await KoruDelta.start({ path: dirs[1] });
const sync = await db.sync(server.url);
await sync.synced();

const arrived = new Map();
db.storage.onApply((_current, all) => {
  const t = performance.now();
  for (const v of all) arrived.get(v.versionId)?.(t);
});
const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

// One at a time: each write waits for the previous one to arrive. (Server and client share
// this process and its event loop, as a browser and a server on one machine would not.)
const single = [];
for (let i = 0; i < n; i++) {
  const t0 = performance.now();
  const v = await server.db.put('lat', `k${i % 100}`, { i, at: Date.now() });
  // The id is known only once put resolves; the client may apply it before that.
  let t1;
  if (db.storage.contains('lat', `k${i % 100}`) && (await db.getVersion('lat', `k${i % 100}`)).versionId === v.versionId) t1 = performance.now();
  else t1 = await new Promise((resolve) => arrived.set(v.versionId, resolve));
  arrived.delete(v.versionId);
  single.push(t1 - t0);
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

console.log(JSON.stringify({
  writes: n,
  oneAtATime: { p50ms: +pct(single, 50).toFixed(2), p99ms: +pct(single, 99).toFixed(2), maxMs: +single.at(-1).toFixed(2) },
  burst: { p50ms: +pct(burst, 50).toFixed(2), p99ms: +pct(burst, 99).toFixed(2), maxMs: +burst.at(-1).toFixed(2) },
  loadavg: loadavg().map((x) => +x.toFixed(2)),
}));
await db.close();
await server.close();
for (const d of dirs) rmSync(d, { recursive: true, force: true });
