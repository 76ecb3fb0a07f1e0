// Push and pull throughput of db.sync on loopback (server in this process): N local
// versions pushed to an empty server, then a fresh database pulling them all. Not a test.
//   node scripts/throughput.mjs [versions=20000]
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { KoruDelta } from '@koru/delta';
import { startServer } from '@koru/server';

const n = Number(process.argv[2] ?? 20000);
const dirs = [0, 1, 2].map((i) => mkdtempSync(join(tmpdir(), `koru-tp-${i}-`)));
const server = await startServer({ path: dirs[0], port: 0, cluster: false, log: 'silent' });
const writer = await KoruDelta.start({ path: dirs[1] });
for (let i = 0; i < n; i += 500) {
  await writer.putMany(Array.from({ length: Math.min(500, n - i) }, (_, j) => ({ namespace: 'tp', key: `k${(i + j) % 5000}`, value: { i: i + j, name: `user ${i + j}`, tags: ['a', 'b'], score: (i + j) * 1.5 } })));
}
let t0 = performance.now();
const push = await writer.sync(server.url);
await push.synced();
const pushMs = performance.now() - t0;
const reader = await KoruDelta.start({ path: dirs[2] });
t0 = performance.now();
const pull = await reader.sync(server.url);
await pull.synced();
const pullMs = performance.now() - t0;
if (server.db.seq !== n || reader.seq !== n) throw new Error(`expected ${n} versions everywhere: server ${server.db.seq}, reader ${reader.seq}`);
console.log(JSON.stringify({ versions: n, pushPerSec: Math.round(n / (pushMs / 1000)), pullPerSec: Math.round(n / (pullMs / 1000)), pushMs: Math.round(pushMs), pullMs: Math.round(pullMs), loadavg: loadavg().map((x) => +x.toFixed(2)) }));
await reader.close();
await writer.close();
await server.close();
for (const d of dirs) rmSync(d, { recursive: true, force: true });
