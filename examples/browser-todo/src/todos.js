// The todo list's data: one KoruDelta database in the browser (kept in the origin's
// storage, shared by every tab), synced with a `kdelta start` server. Each todo is a key of
// namespace `todos`; every change is a new version, so history and time travel come free.
import { KoruDelta } from '@koru/delta';

/** The namespace the todos live in (and the only one synced). */
export const NAMESPACE = 'todos';

/**
 * Opens the database and starts syncing it with `server` (a ws:// URL). A sync that
 * cannot start (a bad URL, say) leaves the list working locally: `link` is then
 * undefined and `syncError` says why.
 * @param {{ server: string, token?: string }} options
 */
export async function openTodos({ server, token }) {
  const db = await KoruDelta.start({ path: 'browser-todo' });
  try {
    const link = await db.sync(server, { namespaces: [NAMESPACE], ...(token ? { token } : {}) });
    return { db, link, syncError: undefined };
  } catch (e) {
    console.error('sync did not start:', e);
    return { db, link: undefined, syncError: e };
  }
}

/** A new todo's key: time first, so keys sort roughly by creation. */
function newKey() {
  return `t${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

/** Adds a todo; resolves to its key. */
export async function addTodo(db, title) {
  const key = newKey();
  await db.put(NAMESPACE, key, { title, done: false, created: Date.now() });
  return key;
}

/** Marks a todo done or not done (a new version of it). */
export async function setDone(db, key, done) {
  const todo = await db.get(NAMESPACE, key);
  await db.put(NAMESPACE, key, { ...todo, done });
}

/** Deletes a todo (a tombstone: its history stays). */
export function removeTodo(db, key) {
  return db.delete(NAMESPACE, key);
}

/**
 * The list, oldest first: as it is, or as it was at `at` (a time: epoch ms, Date or ISO).
 * @returns {Promise<{ key: string, value: { title: string, done: boolean, created: number } }[]>}
 */
export async function listTodos(db, at) {
  const result = await db.query(NAMESPACE, {}, at === undefined ? {} : { at });
  return [...result.rows].sort((a, b) => a.value.created - b.value.created);
}

/** Every version of one todo, oldest first: `{ value (null once deleted), timestamp }`. */
export function todoHistory(db, key) {
  return db.history(NAMESPACE, key);
}

/** The time of every change to the list, oldest first (the stops of the time-travel slider). */
export async function changeTimes(db) {
  const versions = await db.queryHistory(NAMESPACE);
  return [...new Set(versions.map((v) => Date.parse(v.timestamp)))].sort((a, b) => a - b);
}
