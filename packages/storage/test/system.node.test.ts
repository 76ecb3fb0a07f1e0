// The reserved namespace: the database's own records, durable and hidden.
import { ErrorCodes } from '@koru/engine';
import { CausalStorage, SYSTEM_NAMESPACE } from '@koru/storage';
import { FileAdapter } from '@koru/storage/node';
import { tempDir } from '@koru/vitest-preset/helpers';
import { afterEach, describe, expect, it } from 'vitest';
import { codeOf } from './conformance.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe('system records', () => {
  it('survive log replay and snapshots, and stay out of namespaces, counts and user calls', async () => {
    const { dir, cleanup } = tempDir('koru-sys-');
    cleanups.push(cleanup);
    const open = () => CausalStorage.open({ adapter: new FileAdapter(dir) });
    let s = await open();
    await s.put('users', 'a', 1);
    await s.putSystem('index:users:n', { field: 'n' });
    await s.putSystem('view:v', { name: 'v' });
    await s.deleteSystem('view:v');
    await s.close();

    s = await open(); // from the log
    expect(s.systemEntries().map((v) => [v.key, v.value])).toEqual([['index:users:n', { field: 'n' }]]);
    await s.compact();
    await s.close();

    s = await open(); // from the snapshot
    expect(s.systemEntries().map((v) => v.key)).toEqual(['index:users:n']);
    expect(s.listNamespaces()).toEqual(['users']);
    expect(s.stats()).toMatchObject({ keys: 1, namespaces: 1, versions: 4, seq: 4 });
    expect((await s.verify()).ok).toBe(true);
    for (const call of [
      () => s.get(SYSTEM_NAMESPACE, 'index:users:n'),
      () => s.history(SYSTEM_NAMESPACE, 'index:users:n'),
      () => s.listKeys(SYSTEM_NAMESPACE),
      () => [...s.entries(SYSTEM_NAMESPACE)],
      () => s.contains(SYSTEM_NAMESPACE, 'index:users:n'),
    ]) {
      expect(codeOf(call)).toBe(ErrorCodes.INVALID_NAMESPACE);
    }
    for (const write of [() => s.put(SYSTEM_NAMESPACE, 'x', 1), () => s.delete(SYSTEM_NAMESPACE, 'index:users:n')]) {
      await expect(write()).rejects.toMatchObject({ code: ErrorCodes.INVALID_NAMESPACE });
    }
    await expect(s.deleteSystem('never')).rejects.toMatchObject({ code: ErrorCodes.KEY_NOT_FOUND });
    expect(s.systemEntries()).toHaveLength(1);
    await s.close();
  });
});
