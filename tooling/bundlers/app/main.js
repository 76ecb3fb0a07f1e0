// The tiny app every bundler builds: a persistent database in the browser, one key.
import { KoruDelta } from '@koru/delta';

// No top-level await: each bundler's default target must take this file as it is.
globalThis.app = KoruDelta.start({ path: 'bundler-test' }).then((db) => ({
  put: async (value) => (await db.put('app', 'greeting', value)).versionId,
  get: () => db.get('app', 'greeting').catch((e) => (e.code === 'KEY_NOT_FOUND' ? null : Promise.reject(e))),
  history: async () => (await db.history('app', 'greeting')).map((v) => v.value),
  close: () => db.close(),
}));
