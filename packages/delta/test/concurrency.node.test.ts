// Concurrent writers on durable databases, with both sync policies; each test reopens
// the directory and checks what was acknowledged is what is on disk.
import { describe } from 'vitest';
import { tempDir } from '@koru/vitest-preset/helpers';
import { KoruDelta, type SyncPolicy } from '@koru/delta';
import { concurrencySuite, type Subject } from './concurrency-suite.js';

for (const sync of ['periodic', 'always'] as SyncPolicy[]) {
  describe(`durable, sync: '${sync}'`, () => {
    const state = new WeakMap<Subject, { handles: KoruDelta[]; cleanup: () => void }>();
    concurrencySuite(
      async () => {
        const { dir, cleanup } = tempDir('koru-delta-concurrency-');
        const handles: KoruDelta[] = [await KoruDelta.start({ path: dir, sync })];
        const subject: Subject = {
          db: handles[0]!,
          reopen: async () => {
            await handles[handles.length - 1]!.close();
            const db = await KoruDelta.start({ path: dir, sync });
            handles.push(db);
            return db;
          },
        };
        state.set(subject, { handles, cleanup });
        return subject;
      },
      async (s) => {
        const st = state.get(s)!;
        for (const h of st.handles) await h.close();
        st.cleanup();
      },
    );
  });
}
