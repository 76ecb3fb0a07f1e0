// KoruDelta quick start: a durable database in the default data path
// (~/.korudelta/db, or KORU_DB_PATH). Run it twice: the history grows, nothing is lost.
// When a server (`pnpm start`) holds that directory, the example goes through the server
// instead: the client has the same methods and returns the same shapes.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KoruClient } from '@koru/client';
import { KoruDelta } from '@koru/delta';

const path = process.env.KORU_DB_PATH || join(homedir(), '.korudelta', 'db');
const db = await open(path);

/** The database at `path`, or the server that holds it. */
async function open(dir) {
  try {
    const local = await KoruDelta.start({ path: dir });
    console.log(`opened ${dir} (node ${local.nodeId})`);
    return local;
  } catch (error) {
    const url = error?.code === 'DATABASE_LOCKED' ? servedBy(dir, error.details?.pid) : undefined;
    if (url === undefined) throw error;
    console.log(`the server at ${url} holds ${dir}: going through it`);
    return KoruClient.connect(url, process.env.KORU_TOKEN ? { token: process.env.KORU_TOKEN } : {});
  }
}

/** The URL of the server holding `dir` (its SERVER.json, written by the lock holder), if any. */
function servedBy(dir, pid) {
  try {
    const marker = JSON.parse(readFileSync(join(dir, 'SERVER.json'), 'utf8'));
    return marker.pid === pid && typeof marker.url === 'string' ? marker.url : undefined;
  } catch {
    return undefined;
  }
}

const before = await db.contains('users', 'alice');
const v1 = await db.put('users', 'alice', { name: 'Alice', email: 'alice@example.com', visits: 1 });
console.log(`put users/alice -> version ${v1.versionId.slice(0, 12)} at ${v1.timestamp}${before ? ' (key existed: history keeps growing)' : ''}`);

// Wait a moment so the two versions have distinct timestamps for time travel.
await new Promise((r) => setTimeout(r, 5));
const v2 = await db.put('users', 'alice', { name: 'Alice', email: 'alice@example.org', visits: 2 });
console.log(`put users/alice -> version ${v2.versionId.slice(0, 12)} (previous ${v2.previousVersion.slice(0, 12)})`);

console.log('get users/alice ->', JSON.stringify(await db.get('users', 'alice')));

const history = await db.history('users', 'alice');
console.log(`history users/alice: ${history.length} versions`);
for (const v of history.slice(-4)) console.log(`  ${v.timestamp}  ${v.versionId.slice(0, 12)}  ${JSON.stringify(v.value)}`);

const past = await db.getAt('users', 'alice', v1.timestamp);
console.log(`getAt users/alice @ ${v1.timestamp} ->`, JSON.stringify(past.value));

const diff = await db.diff('users', 'alice');
for (const c of diff.changes) console.log(`diff ${c.kind} ${c.path}: ${JSON.stringify(c.before)} -> ${JSON.stringify(c.after)}`);

const report = await db.verify();
const stats = await db.stats();
console.log(`verify: ${report.ok ? 'ok' : 'PROBLEMS'} (${report.versions} versions re-hashed); ${stats.keys} keys, ${stats.versions} versions, ${stats.diskBytes} bytes on disk`);
if (!report.ok) process.exitCode = 1;
await db.close();
