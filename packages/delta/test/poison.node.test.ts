// Nothing a client could have stored keeps a database from opening (issue 12, items 2 and
// 9): imports cannot write the reserved namespace or far-future clocks, a stored
// definition that does not load is reported and skipped, and a failed start releases
// the directory lock and its descriptors.
import { readdirSync, readlinkSync } from 'node:fs';
import { HLC_MAX_LOGICAL, HLC_MAX_WALL, canonicalJson, formatHlc, valueIdOfCanonical, versionIdOf } from '@koru/engine';
import { CausalStorage, IoError, SYSTEM_NAMESPACE, type StorageAdapter } from '@koru/storage';
import { FileAdapter } from '@koru/storage/node';
import { tempDir } from '@koru/vitest-preset/helpers';
import { afterEach, describe, expect, it } from 'vitest';
import { KoruDelta, type ImportedVersion } from '@koru/delta';
import { expectKoruError } from './support.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function dir(): string {
  const t = tempDir('koru-poison-');
  cleanups.push(t.cleanup);
  return t.dir;
}

/** A first version, with ids that match its fields (what a crafted file would hold). */
function crafted(namespace: string, key: string, value: unknown, hlc: string, node = 'crafted'): ImportedVersion {
  const valueId = valueIdOfCanonical(canonicalJson(value));
  const fields = { namespace, key, valueId, previousVersion: null, hlc, node, deleted: false };
  return { ...fields, value, versionId: versionIdOf(fields) };
}

const now = (): string => formatHlc({ wall: Date.now(), logical: 0 });
const badView = { name: 'bad', namespace: 'users', query: { filter: { x: { $bogus: 1 } } }, autoRefresh: true, createdAt: '2026-01-01T00:00:00.000Z', refreshedAt: '2026-01-01T00:00:00.000Z', seq: 0 };

describe('imports cannot poison', () => {
  it('refuse the reserved namespace unless the record is a valid definition; the database keeps opening', async () => {
    const path = dir();
    let db = await KoruDelta.start({ path });
    await db.put('users', 'a', { x: 1 });
    const before = db.seq;
    const e = await expectKoruError(() => db.importVersions([crafted('_koru', 'view:bad', badView, now())]), 'INVALID_NAMESPACE', /_koru/, /\$bogus/);
    expect(e.message).toMatch(/reserved namespace _koru/);
    await expectKoruError(() => db.importVersions([crafted('_koru', 'anything', 1, now())]), 'INVALID_NAMESPACE', /_koru\/anything/, /not an index or view definition/);
    await expectKoruError(() => db.importVersions([crafted('_koru', 'index:users:', { namespace: 'users', field: '', createdAt: '2026-01-01T00:00:00.000Z' }, now())]), 'INVALID_NAMESPACE', /_koru/);
    // The layer underneath, without a definition check, refuses the namespace outright.
    await expectKoruError(() => db.storage.importVersions([crafted('_koru', 'view:ok', { ...badView, name: 'ok', query: {} }, now())]), 'INVALID_NAMESPACE', /_koru/);
    expect(db.seq).toBe(before);
    await db.close();
    db = await KoruDelta.start({ path });
    expect(db.problems).toEqual([]);
    expect(await db.get('users', 'a')).toEqual({ x: 1 });
    await db.close();
  });

  it('still restores a whole export with valid definitions (the restore path)', async () => {
    const src = await KoruDelta.start();
    await src.put('users', 'a', { city: 'Rome' });
    await src.createIndex('users', 'city');
    await src.createView({ name: 'rome', namespace: 'users', query: { filter: { city: 'Rome' } }, autoRefresh: true });
    const dump: ImportedVersion[] = [];
    for await (const v of src.exportVersions()) dump.push(JSON.parse(JSON.stringify(v)) as ImportedVersion);
    const path = dir();
    let dst = await KoruDelta.start({ path });
    expect(await dst.importVersions(dump)).toBe(dump.length);
    await dst.close();
    dst = await KoruDelta.start({ path });
    expect(dst.problems).toEqual([]);
    expect((await dst.queryView('rome')).total).toBe(1);
    expect(await dst.listIndexes()).toEqual(await src.listIndexes());
    await dst.close();
    await src.close();
  });

  it('refuse a clock stamp more than the allowed skew ahead (CLOCK_SKEW); the next write and reopen work', async () => {
    const path = dir();
    let db = await KoruDelta.start({ path });
    for (const hlc of ['999999999999999-999999', formatHlc({ wall: Date.UTC(9999, 11, 31), logical: 0 }), formatHlc({ wall: Date.now() + 11 * 60_000, logical: 0 })]) {
      await expectKoruError(() => db.importVersions([crafted('users', 'future', 1, hlc)]), 'CLOCK_SKEW', /ahead of this node's clock/);
    }
    // Within the skew: accepted, and later local writes still carry today's date.
    expect(await db.importVersions([crafted('users', 'soon', 1, formatHlc({ wall: Date.now() + 60_000, logical: 0 }))])).toBe(1);
    const w = await db.put('users', 'after', 2);
    expect(w.timestamp.slice(0, 4)).toBe(String(new Date().getUTCFullYear()));
    expect((await db.verify()).ok).toBe(true);
    await db.close();
    db = await KoruDelta.start({ path });
    expect(await db.get('users', 'after')).toBe(2);
    await db.close();
  });

  it('a stamp at the end of the format (stored without the skew check) makes writes refuse, never an unopenable file', async () => {
    const path = dir();
    let db = await KoruDelta.start({ path });
    const last = formatHlc({ wall: HLC_MAX_WALL, logical: HLC_MAX_LOGICAL });
    expect(await db.storage.importVersions([crafted('users', 'end', 1, last)], { maxClockAheadMs: Infinity })).toBe(1);
    await expectKoruError(() => db.put('users', 'next', 2), 'CLOCK_SKEW', /end of the stamp format/);
    await expectKoruError(() => db.putMany([{ namespace: 'users', key: 'n1', value: 1 }]), 'CLOCK_SKEW');
    await db.close();
    db = await KoruDelta.start({ path });
    expect(await db.get('users', 'end')).toBe(1);
    expect(await db.listKeys('users')).toEqual(['end']);
    expect((await db.verify()).ok).toBe(true);
    await db.close();
  });

  it('a wrong versionId is refused without telling the right one', async () => {
    const db = await KoruDelta.start();
    const v = crafted('users', 'a', 1, now());
    const right = v.versionId;
    const e = await expectKoruError(() => db.importVersions([{ ...v, versionId: '0'.repeat(64) }]), 'INVALID_ARGUMENT', /versionId 0{64} does not match its content/);
    expect(JSON.stringify(e)).not.toContain(right);
    await db.close();
  });
});

describe('stored definitions that do not load', () => {
  it('are reported and skipped at start, and can be dropped', async () => {
    const path = dir();
    let db = await KoruDelta.start({ path });
    await db.put('users', 'a', { city: 'Rome' });
    await db.createView({ name: 'good', namespace: 'users', query: { filter: { city: 'Rome' } } });
    await db.createIndex('users', 'city');
    await db.close();
    // An old poisoned database, written through the lowest layer.
    const s = await CausalStorage.open({ adapter: new FileAdapter(path) });
    await s.putSystem('view:bad', badView);
    await s.putSystem('view:junk', 42);
    await s.putSystem('index:users:', { namespace: 'users', field: '', createdAt: '2026-01-01T00:00:00.000Z' });
    await s.close();

    const warnings: string[] = [];
    db = await KoruDelta.start({ path, onWarning: (m) => warnings.push(m) });
    expect(db.problems.map((p) => [p.kind, p.name])).toEqual([['index', 'users:'], ['view', 'bad'], ['view', 'junk']]);
    expect(db.problems[1]!.message).toMatch(/the view definition "bad" cannot be loaded: .*\$bogus/);
    expect(warnings).toHaveLength(3);
    expect(warnings.join('\n')).toMatch(/skipped \(drop it with deleteView\)/);
    expect((await db.listViews()).map((v) => v.name)).toEqual(['good']);
    expect((await db.queryView('good')).total).toBe(1);
    await db.put('users', 'b', { city: 'Rome' }); // writes are not disturbed by the skipped auto-refresh view
    await db.deleteView('bad');
    await db.deleteView('junk');
    await db.dropIndex('users', '');
    expect(db.problems).toEqual([]);
    await db.close();

    db = await KoruDelta.start({ path, onWarning: (m) => warnings.push(m) });
    expect(db.problems).toEqual([]);
    expect(warnings).toHaveLength(3);
    expect(await db.listIndexes()).toHaveLength(1);
    await db.close();
  });

  it('a broken view is replaced by creating a valid one of the same name', async () => {
    const path = dir();
    const s = await CausalStorage.open({ adapter: new FileAdapter(path) });
    await s.putSystem('view:bad', badView);
    await s.close();
    let db = await KoruDelta.start({ path, onWarning: () => {} });
    expect(db.problems).toHaveLength(1);
    await db.createView({ name: 'bad', namespace: 'users' });
    expect(db.problems).toEqual([]);
    await db.close();
    db = await KoruDelta.start({ path });
    expect(db.problems).toEqual([]);
    expect((await db.listViews()).map((v) => v.name)).toEqual(['bad']);
    await db.close();
  });
});

/** Descriptors this process holds open under `path`. */
function fdsUnder(path: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith(path)) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

describe('a failed start', () => {
  it.runIf(process.platform === 'linux')('releases the lock and every descriptor it took: a retry in the same process opens', async () => {
    const path = dir();
    let db = await KoruDelta.start({ path });
    await db.createView({ name: 'v', namespace: 'users' });
    await db.close();
    expect(fdsUnder(path)).toBe(0);

    // The store opens, then reading a definition fails (a damaged value): start fails after the storage opened.
    const inner = new FileAdapter(path);
    // Reading the reserved namespace (where definitions live) fails; everything else works.
    const systemPrefix = `V${SYSTEM_NAMESPACE}\u0000\u0001`;
    // Members are bound to the real objects (their private fields are not on a proxy).
    const member = (o: object, p: string | symbol): unknown => {
      const v = Reflect.get(o, p, o) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(o) : v;
    };
    const failing: StorageAdapter = {
      name: inner.name,
      synchronous: inner.synchronous,
      open: async () => {
        const opened = await inner.open();
        const tree = new Proxy(opened.tree, {
          get(t, p) {
            // One key's versions are read by scanKey, ranges by cursors: both fail on the reserved namespace.
            if (p === 'scanKey') {
              return (prefix: string, ...rest: unknown[]) => {
                if (prefix.startsWith(systemPrefix)) throw new IoError('injected: the value cannot be read');
                return (t.scanKey as (...a: unknown[]) => void)(prefix, ...rest);
              };
            }
            if (p !== 'cursor') return member(t, p);
            return (o?: object) => {
              const c = t.cursor(o);
              return new Proxy(c, {
                get(cc, q) {
                  if (q !== 'seek') return member(cc, q);
                  return (key: string) => {
                    if (key.startsWith(systemPrefix)) throw new IoError('injected: the value cannot be read');
                    cc.seek(key);
                  };
                },
              });
            };
          },
        });
        return { ...opened, tree };
      },
      diskBytes: () => inner.diskBytes(),
      close: () => inner.close(),
    };
    await expectKoruError(() => KoruDelta.start({ adapter: failing }), 'IO_ERROR', /injected/);
    expect(fdsUnder(path)).toBe(0);

    db = await KoruDelta.start({ path });
    expect((await db.listViews()).map((v) => v.name)).toEqual(['v']);
    await db.close();
    expect(fdsUnder(path)).toBe(0);
  });
});
