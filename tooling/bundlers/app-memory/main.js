// An in-memory database in the page (`KoruDelta.start()` without path): the browser build
// loads its engine on this first local start (a chunk of its own where the bundler splits).
import { Filter, InvalidQueryError, KoruDelta } from '@koru/delta';

globalThis.run = async () => {
  const db = await KoruDelta.start();
  const events = [];
  const sub = db.subscribe({ namespace: 'users' }, (e) => {
    events.push(e.key);
  });
  await db.put('users', 'ada', { name: 'Ada', age: 36 });
  await db.put('users', 'bob', { name: 'Bob', age: 25 });
  const value = await db.get('users', 'ada');
  const rows = (await db.query('users', Filter.gt('age', 30))).rows.map((r) => r.key);
  const badQuery = await db.query('users', { filter: { age: { $nope: 1 } } }).then(
    () => 'resolved',
    (e) => e instanceof InvalidQueryError && e.code,
  );
  while (events.length < 2) await new Promise((r) => setTimeout(r, 5));
  sub.unsubscribe();
  const result = { isKoruDelta: db instanceof KoruDelta, value, frozen: Object.isFrozen(value), rows, badQuery, events, seq: db.seq };
  await db.close();
  return result;
};
