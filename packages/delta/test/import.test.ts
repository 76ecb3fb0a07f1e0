// Import that forgives: a dump imported twice adds nothing the second time, plain
// {namespace, key, value} lines are writes, 1.0 database files come in with their
// history and times; anything malformed is a KoruError and stores nothing.
import { fromV1Database, KoruDelta, readImportLine, V1_NODE, type ImportedVersion, type Version } from '@koru/delta';
import { describe, expect, it } from 'vitest';

const line = (v: Version): string => JSON.stringify(v);
const versionOf = (text: string): ImportedVersion => {
  const r = readImportLine(text);
  if (r.kind !== 'version') throw new Error(`not a version line: ${text}`);
  return r.version;
};

async function source(): Promise<{ db: KoruDelta; dump: string[] }> {
  const db = await KoruDelta.start({ now: () => Date.UTC(2026, 0, 1) });
  await db.put('users', 'alice', { n: 1 });
  await db.put('users', 'alice', { n: 2 });
  await db.put('users', 'bob', 'b');
  await db.delete('users', 'bob');
  const dump: string[] = [];
  for await (const v of db.exportVersions()) dump.push(line(v));
  return { db, dump };
}

describe('importVersions', () => {
  it('skips versions already stored and says how many were added', async () => {
    const { db: from, dump } = await source();
    const to = await KoruDelta.start();
    const items = dump.map(versionOf);
    expect(await to.importVersions(items.slice(0, 2))).toBe(2);
    expect(await to.importVersions(items)).toBe(2);
    expect(await to.importVersions(items)).toBe(0);
    expect(await to.history('users', 'alice')).toEqual(await from.history('users', 'alice'));
    await Promise.all([from.close(), to.close()]);
  });
});

describe('readImportLine', () => {
  it('reads export lines (checked whole) and plain writes', async () => {
    const { db, dump } = await source();
    expect(readImportLine(dump[0]!)).toMatchObject({ kind: 'version', version: { namespace: 'users', key: 'alice', value: { n: 1 } } });
    expect(readImportLine(dump[3]!)).toMatchObject({ kind: 'version', version: { deleted: true, value: null } });
    expect(readImportLine('{"namespace":"users","key":"carol","value":{"n":3}}')).toEqual({ kind: 'write', item: { namespace: 'users', key: 'carol', value: { n: 3 } } });
    expect(readImportLine('{"namespace":"users","key":"nil","value":null}')).toEqual({ kind: 'write', item: { namespace: 'users', key: 'nil', value: null } });
    await db.close();
  });

  it('refuses bad lines with a code and a reason', async () => {
    const { db, dump } = await source();
    const refused = (text: string, code: string, message: RegExp) => expect(() => readImportLine(text)).toThrow(expect.objectContaining({ code, message: expect.stringMatching(message) }));
    refused('{"namespace":', 'INVALID_ARGUMENT', /^not JSON/);
    refused('[1,2]', 'INVALID_ARGUMENT', /not a JSON object/);
    refused('{"namespace":"users","key":"a","value":1,"extra":true}', 'INVALID_ARGUMENT', /unknown field "extra"/);
    refused('{"namespace":"users","key":"a"}', 'INVALID_ARGUMENT', /value is missing/);
    refused('{"namespace":"users","key":7,"value":1}', 'INVALID_ARGUMENT', /key must be a string/);
    refused('{"namespace":"_koru","key":"index:x","value":{}}', 'INVALID_NAMESPACE', /_koru|reserved|_/);
    refused('{"namespace":"bad ns","key":"a","value":1}', 'INVALID_NAMESPACE', /bad ns/);
    refused(dump[1]!.replace('"n":2', '"n":3'), 'INVALID_ARGUMENT', /^\(users\/alice\): value does not hash to valueId/);
    refused(dump[1]!.replace('"key":"alice"', '"key":"alicia"'), 'INVALID_ARGUMENT', /versionId [0-9a-f]{64} does not match its content/);
    refused(dump[1]!.replace(/"timestamp":"[^"]+"/, '"timestamp":"2020-01-01T00:00:00.000Z"'), 'INVALID_ARGUMENT', /timestamp "2020-01-01T00:00:00.000Z" is not the time of its hlc/);
    refused(dump[1]!.replace(/"hlc":"[^"]+"/, '"hlc":"soon"'), 'INVALID_ARGUMENT', /hlc "soon" is not a clock stamp/);
    const { node: _, ...noNode } = JSON.parse(dump[1]!) as Record<string, unknown>;
    refused(JSON.stringify(noNode), 'INVALID_ARGUMENT', /node must be a non-empty string/);
    await db.close();
  });
});

/** A 1.0 file as the Rust 1.0 writes it (serde: arrays of [fullKey, value] pairs). */
const V1 = {
  version: 1,
  current_state: [
    [{ namespace: 'users', key: 'alice' }, { value: { age: 30 }, timestamp: '2025-11-25T08:30:00Z', version_id: 'd1', previous_version: 'd2' }],
    [{ namespace: 'users', key: 'bob' }, { value: 'Bob', timestamp: '2025-11-24T09:59:59.000+01:00', version_id: 'd9', previous_version: null }],
  ],
  history_log: [
    [
      { namespace: 'users', key: 'alice' },
      [
        { value: { age: 30 }, timestamp: '2025-11-24T10:00:00.123456789Z', version_id: 'd1', previous_version: null },
        { value: { age: 31 }, timestamp: '2025-11-24T10:00:00.123999Z', version_id: 'd2', previous_version: 'd1' },
        { value: { age: 30 }, timestamp: '2025-11-25T08:30:00Z', version_id: 'd1', previous_version: 'd2' },
      ],
    ],
    [{ namespace: 'users', key: 'bob' }, [{ value: 'Bob', timestamp: '2025-11-24T09:59:59.000+01:00', version_id: 'd9', previous_version: null }]],
  ],
};

describe('fromV1Database', () => {
  it("imports every key's history in order with its times, under new ids, once", async () => {
    const read = fromV1Database(V1);
    expect(read).toMatchObject({ keys: 2, moved: 0 });
    expect(read.versions.map((v) => [v.key, v.timestamp, v.hlc])).toEqual([
      ['bob', '2025-11-24T08:59:59.000Z', `00${Date.UTC(2025, 10, 24, 8, 59, 59)}-000000`],
      ['alice', '2025-11-24T10:00:00.123Z', `00${Date.UTC(2025, 10, 24, 10, 0, 0, 123)}-000000`],
      ['alice', '2025-11-24T10:00:00.123Z', `00${Date.UTC(2025, 10, 24, 10, 0, 0, 123)}-000001`],
      ['alice', '2025-11-25T08:30:00.000Z', `00${Date.UTC(2025, 10, 25, 8, 30)}-000000`],
    ]);
    expect(new Set(read.versions.map((v) => v.node))).toEqual(new Set([V1_NODE]));
    const db = await KoruDelta.start();
    expect(await db.importVersions(read.versions)).toBe(4);
    const alice = await db.history('users', 'alice');
    expect(alice.map((v) => v.value)).toEqual([{ age: 30 }, { age: 31 }, { age: 30 }]);
    expect(alice[1]!.previousVersion).toBe(alice[0]!.versionId);
    // Same file again: the same ids, all skipped. Both versions of one millisecond are reachable.
    expect(await db.importVersions(fromV1Database(V1).versions)).toBe(0);
    expect((await db.getAt('users', 'alice', alice[0]!.hlc)).value).toEqual({ age: 30 });
    expect((await db.getAt('users', 'alice', '2025-11-24T10:00:00.123Z')).value).toEqual({ age: 31 });
    expect((await db.verify()).ok).toBe(true);
    await db.close();
  });

  it('takes the other map encodings and keeps a key history in order when its clock stepped back', () => {
    const byString = {
      version: 1,
      history_log: {
        'docs:a/b:c': [
          { value: 1, timestamp: '2025-01-01T00:00:01Z', version_id: 'x' },
          { value: 2, timestamp: '2025-01-01T00:00:00Z', version_id: 'y', previous_version: 'x' },
        ],
      },
      current_state: [{ key: 'docs:a/b:c', value: { value: 2, timestamp: '2025-01-01T00:00:00Z', version_id: 'y', previous_version: 'x' } }],
    };
    const read = fromV1Database(byString);
    expect(read).toMatchObject({ keys: 1, moved: 1 });
    expect(read.versions.map((v) => [v.namespace, v.key, v.value, v.hlc.slice(-6)])).toEqual([
      ['docs', 'a/b:c', 1, '000000'],
      ['docs', 'a/b:c', 2, '000001'],
    ]);
    // A key only in current_state is imported as its one version.
    expect(fromV1Database({ version: 1, current_state: { 'k:v': { value: true, timestamp: '2025-01-01T00:00:00Z', version_id: 'z' } } }).versions).toHaveLength(1);
  });

  it('names where a malformed file is wrong', () => {
    const refused = (doc: unknown, code: string, message: RegExp) => expect(() => fromV1Database(doc)).toThrow(expect.objectContaining({ code, message: expect.stringMatching(message) }));
    const alice = (v: Record<string, unknown>) => ({ version: 1, history_log: [[{ namespace: 'users', key: 'alice' }, [{ value: 1, timestamp: '2025-01-01T00:00:00Z', version_id: 'a', ...v }]]] });
    refused([1], 'INVALID_ARGUMENT', /not a 1\.0 database file/);
    refused({ version: 2, history_log: [] }, 'INVALID_ARGUMENT', /format version 2/);
    refused({ history_log: [[1, 2, 3]] }, 'INVALID_ARGUMENT', /^history_log\[0\]: expected a \[key, value\] pair/);
    refused({ history_log: [['users', []]] }, 'INVALID_ARGUMENT', /^history_log\[0\]: key "users" is not "namespace:key"/);
    refused({ history_log: [['users:a', {}]] }, 'INVALID_ARGUMENT', /^history_log\[0\] \(users:a\): a key's history must be an array/);
    refused(alice({ timestamp: 'yesterday' }), 'INVALID_ARGUMENT', /^history_log\[0\] \(users:alice\) version 0: timestamp "yesterday" is not an RFC 3339 time/);
    refused(alice({ timestamp: '2025-02-30T00:00:00Z' }), 'INVALID_ARGUMENT', /timestamp "2025-02-30T00:00:00Z"/);
    refused(alice({ version_id: 5 }), 'INVALID_ARGUMENT', /version 0: version_id must be a non-empty string/);
    refused({ history_log: [['users:a', [{ timestamp: '2025-01-01T00:00:00Z', version_id: 'a' }]]] }, 'INVALID_ARGUMENT', /version 0: value is missing/);
    refused({ history_log: [['bad ns:a', [{ value: 1, timestamp: '2025-01-01T00:00:00Z', version_id: 'a' }]]] }, 'INVALID_NAMESPACE', /^history_log\[0\] \(bad ns:a\): /);
    refused({ history_log: [['_koru:a', [{ value: 1, timestamp: '2025-01-01T00:00:00Z', version_id: 'a' }]]] }, 'INVALID_NAMESPACE', /^history_log\[0\] \(_koru:a\): /);
    refused({ ...alice({}), current_state: [[{ namespace: 'users', key: 'alice' }, { value: 2, timestamp: '2025-01-01T00:00:00Z', version_id: 'b' }]] }, 'CORRUPTION', /current_state\[0\] \(users:alice\): current_state holds version b .* history_log ends with a/);
    refused({ history_log: [['u:a', []], ['u:a', []]] }, 'INVALID_ARGUMENT', /empty history/);
  });
});
