// The page: renders the list, the time-travel slider, a todo's history and the sync status.
import { addTodo, changeTimes, listTodos, NAMESPACE, openTodos, removeTodo, setDone, todoHistory } from './todos.js';
import { describeSync } from './sync-status.js';

const params = new URLSearchParams(location.search);
// `?server=ws://host:port&token=…` points the page at another server.
const server = params.get('server') ?? 'ws://127.0.0.1:7878';
const token = params.get('token') ?? undefined;

const $ = (id) => document.getElementById(id);
const { db, link, syncError } = await openTodos({ server, token });
globalThis.todoApp = { db, link, syncError };

/** The time-travel slider's stops; the last one is "now". */
let stops = [];
let rendering = Promise.resolve();

function item(todo, past) {
  const li = document.createElement('li');
  li.dataset.key = todo.key;
  li.className = todo.value.done ? 'done' : '';
  const box = document.createElement('input');
  box.type = 'checkbox';
  box.checked = todo.value.done;
  box.disabled = past;
  box.addEventListener('change', () => setDone(db, todo.key, box.checked));
  const title = document.createElement('span');
  title.className = 'title';
  title.textContent = todo.value.title;
  const history = document.createElement('button');
  history.type = 'button';
  history.textContent = 'history';
  history.addEventListener('click', () => showHistory(todo.key, todo.value.title));
  const remove = document.createElement('button');
  remove.type = 'button';
  remove.textContent = 'delete';
  remove.disabled = past;
  remove.addEventListener('click', () => removeTodo(db, todo.key));
  li.append(box, title, history, remove);
  return li;
}

async function render() {
  const times = await changeTimes(db);
  const slider = $('travel');
  const atNow = Number(slider.value) >= stops.length;
  stops = times;
  slider.max = String(stops.length);
  if (atNow) slider.value = String(stops.length);
  const index = Number(slider.value);
  const at = index < stops.length ? stops[index] : undefined;
  $('travel-label').textContent = at === undefined ? `Now (${stops.length} changes; slide back to travel in time)` : `As it was at ${new Date(at).toLocaleString()} (change ${index + 1} of ${stops.length})`;
  const todos = await listTodos(db, at);
  const list = $('list');
  list.className = at === undefined ? '' : 'past';
  list.replaceChildren(...todos.map((t) => item(t, at !== undefined)));
}

/** Renders one at a time, in order (changes can arrive faster than a render). */
function rerender() {
  rendering = rendering.then(render).catch((e) => console.error(e));
  return rendering;
}

async function showHistory(key, title) {
  const versions = await todoHistory(db, key);
  $('history-title').textContent = title;
  $('history-list').replaceChildren(
    ...versions.map((v) => {
      const li = document.createElement('li');
      const what = v.value === null ? 'deleted' : `${v.value.done ? '☑' : '☐'} ${v.value.title}`;
      li.textContent = `${new Date(v.timestamp).toLocaleString()}: ${what}`;
      return li;
    }),
  );
  $('history').hidden = false;
}

$('history-close').addEventListener('click', () => ($('history').hidden = true));
$('travel').addEventListener('input', rerender);
$('add').addEventListener('submit', async (e) => {
  e.preventDefault();
  const input = $('title');
  const title = input.value.trim();
  if (title === '') return;
  input.value = '';
  await addTodo(db, title);
});

// Every change, from this tab, another tab or the server, re-renders the list.
db.subscribe({ namespace: NAMESPACE }, rerender);
describeSync(link, syncError, (state, text) => {
  const status = $('status');
  status.dataset.state = state;
  status.textContent = text;
});
await rerender();
document.body.dataset.ready = 'true';
