// The 1.0 kdelta's spellings beside today's, flags given twice, and help and errors.
import { Option, type Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import type { Io } from '../src/io.js';
import { buildProgram, main } from '../src/main.js';
import { nearest } from '../src/suggest.js';
import { freshDatabase, kdelta } from './run.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A fresh database directory and a runner of the built binary bound to it. */
const fresh = () => freshDatabase(cleanups).k;

/** kdelta run in this process (parsing and help only: nothing here opens a database). */
async function inProcess(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    readStdin: async () => '',
    env: {},
    cwd: '/',
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

const json = (s: string): unknown => JSON.parse(s);
const keys = (s: string): string[] => (json(s) as { rows: Array<{ key: string }> }).rows.map((r) => r.key);

async function people(k: ReturnType<typeof fresh>): Promise<void> {
  for (const [key, v] of [
    ['alice', { name: 'Alice', age: 30, status: 'active', city: 'Oslo' }],
    ['bob', { name: 'Bob', age: 41, status: 'active', city: 'Rome' }],
    ['carol', { name: 'Carol', age: 45, status: 'inactive', city: 'Oslo' }],
    ['dave', { name: 'Dave', age: 52, status: 'on-hold', city: 'Lima' }],
  ] as const) {
    expect((await k('set', `users/${key}`, JSON.stringify(v))).code).toBe(0);
  }
}

describe('the 1.0 query spellings', () => {
  it('takes -f, -s, -l and --desc on query and view create, and bare-word strings', async () => {
    const k = fresh();
    await people(k);
    expect(keys((await k('query', 'users', '-f', 'status = active', '-s', 'name', '--desc', '--json')).stdout)).toEqual(['bob', 'alice']);
    expect(keys((await k('query', 'users', '-s', 'age', '--desc', '-l', '2', '--json')).stdout)).toEqual(['dave', 'carol']);
    expect(keys((await k('query', 'users', '--filter', 'status in [active, on-hold]', '--sort', 'age:desc', '--json')).stdout)).toEqual(['dave', 'bob', 'alice']);
    const human = await k('query', 'users', '-f', 'city = Oslo', '-s', 'name', '--desc');
    expect(human.stdout).toBe('carol  {"age":45,"city":"Oslo","name":"Carol","status":"inactive"}\nalice  {"age":30,"city":"Oslo","name":"Alice","status":"active"}\n2 of 2 matching (scan, 4 examined)\n');
    expect((await k('view', 'create', 'oldest', 'users', '-f', 'age > 40', '-s', 'age', '--desc', '-l', '1')).code).toBe(0);
    expect(keys((await k('view', 'query', 'oldest', '--json')).stdout)).toEqual(['dave']);
    expect(json((await k('view', 'list', '--json')).stdout)).toMatchObject([{ name: 'oldest', query: { filter: { age: { $gt: 40 } }, sort: [['age', 'desc']], limit: 1 } }]);
  });

  it('ANDs a repeated --filter (it used to keep only the last)', async () => {
    const k = fresh();
    await people(k);
    expect(keys((await k('query', 'users', '--filter', 'age > 30', '--filter', 'status = "active"', '--json')).stdout)).toEqual(['bob']);
    expect(keys((await k('query', 'users', '-f', 'age > 30', '-f', 'status = active', '-f', 'city = Rome or city = Oslo', '--json')).stdout)).toEqual(['bob']);
    expect(json((await k('query', 'users', '-f', 'city = Oslo', '--filter', 'age >= 45', '--count', '--json')).stdout)).toBe(1);
    const bad = await k('query', 'users', '-f', 'age > 30', '-f', 'age >');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe("kdelta: --filter #2: expected a value after '>' at column 6 (INVALID_QUERY)\n");
  });

  it('refuses --desc where it would be a guess', async () => {
    const k = fresh();
    for (const [args, message] of [
      [['--desc'], '--desc needs a --sort field (e.g. --sort name --desc)'],
      [['-s', 'age,name', '--desc'], '--desc applies to one --sort field, not 2: write each as FIELD:desc or FIELD:asc'],
      [['-s', 'age:asc', '--desc'], '--desc with --sort age:asc: give the direction once'],
    ] as const) {
      const r = await k('query', 'users', ...args);
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 2, stderr: `kdelta: ${message} (INVALID_ARGUMENT)\n` });
    }
  });

  it('refuses what a bare word cannot say without a guess', async () => {
    const k = fresh();
    for (const [filter, message] of [
      ['a = b.c', "'b.c' looks like a field, but a value cannot be a field at column 5 (for the text, quote it: \"b.c\")"],
      ['city = São Paulo', "unexpected 'Paulo' after the unquoted value 'São' at column 12 (quote a value of several words: \"São Paulo\")"],
      ['email = a@b.com', "unquoted value 'a@b.com' at column 9 (only a single word may go unquoted: write \"a@b.com\")"],
    ] as const) {
      const r = await k('query', 'users', '-f', filter);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`kdelta: --filter: ${message} (INVALID_QUERY)\n`);
    }
  });
});

describe('the 1.0 watch spellings', () => {
  it('watches everything with no target, and one change type with --inserts-only, --updates-only or --deletes-only', async () => {
    const k = fresh();
    await k('set', 'users/a', '1');
    await k('set', 'other/x', '1');
    await k('set', 'users/a', '2');
    await k('delete', 'users/a');
    const seqs = async (...args: string[]) => (await k('watch', '--since', '0', '--exit', '--json', ...args)).stdout.trim().split('\n').filter((l) => l !== '').map((l) => (json(l) as { seq: number }).seq);
    expect(await seqs()).toEqual([1, 2, 3, 4]);
    expect(await seqs('--inserts-only')).toEqual([1, 2]);
    expect(await seqs('--updates-only')).toEqual([3]);
    expect(await seqs('--deletes-only')).toEqual([4]);
    expect(await seqs('users', '--inserts-only')).toEqual([1]);
    expect((await k('watch', '--since', '0', '--exit', '--updates-only')).stdout).toBe('3  update  users/a  2\n');
  });

  it('refuses two change types, and a target with --all', async () => {
    const k = fresh();
    for (const [args, message] of [
      [['--inserts-only', '--deletes-only'], 'give at most one of --inserts-only, --updates-only, --deletes-only (got --inserts-only and --deletes-only)'],
      [['users', '--all'], 'give a namespace or ns/key, or --all, not both (got "users" and --all)'],
    ] as const) {
      const r = await k('watch', '--exit', ...args);
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 2, stderr: `kdelta: ${message} (INVALID_ARGUMENT)\n` });
    }
  });
});

describe('diff --at before a key existed (the 1.0 guide\'s example)', () => {
  it('says nothing changed then (nothing was there), and with --to compares nothing with that version', async () => {
    const k = fresh();
    await k('set', 'users/alice', '{"name":"Alice"}');
    await k('set', 'users/alice', '{"name":"Alice","age":31}');
    const text = await k('diff', 'users/alice', '--at', '2000-01-01T00:00:00Z');
    expect(text.code).toBe(0);
    expect(text.stdout).toBe('(users/alice did not exist at 2000-01-01T00:00:00Z: no change)\n');
    expect(json((await k('diff', 'users/alice', '--at', '2000-01-01T00:00:00Z', '--json')).stdout)).toEqual({ namespace: 'users', key: 'alice', from: null, to: null, changes: [] });
    const upTo = await k('diff', 'users/alice', '--at', '2000-01-01T00:00:00Z', '--to', '-1');
    expect(upTo.stdout).toMatch(/^--- \(nothing at 2000-01-01T00:00:00Z\)\n\+\+\+ users\/alice @ [0-9a-f]{12}\t\S+\n@@ -0,0 \+1,4 @@\n\+\{\n\+ {2}"age": 31,\n/);
    const d = json((await k('diff', 'users/alice', '--at', '2000-01-01T00:00:00Z', '--to', '0', '--json')).stdout) as { from: unknown; to: { value: unknown }; changes: unknown[] };
    expect(d).toMatchObject({ from: null, to: { value: { name: 'Alice' } }, changes: [{ kind: 'added', path: '', after: { name: 'Alice' } }] });
    // A key that was never written is still not found.
    expect((await k('diff', 'users/nobody', '--at', '2000-01-01T00:00:00Z')).code).toBe(1);
  });
});

describe('flags given twice', () => {
  /** Every command (with its path) and its own options. */
  function commands(cmd: Command, path: string[] = []): Array<[string[], Command]> {
    return cmd.commands.flatMap((c) => [[[...path, c.name()], c] as [string[], Command], ...commands(c, [...path, c.name()])]);
  }
  const program = buildProgram({ stdout: { write: () => true }, stderr: { write: () => true }, readStdin: async () => '', env: {}, cwd: '/' }, () => async () => {});
  const repeatable = new Set(['query --filter', 'query --sort', 'view create --filter', 'view create --sort', 'watch --filter', 'start --join', 'start --allow-origin', 'start --allow-host']);
  const twice = (o: Option): string[] => [o.long ?? o.short!, ...(o.required || o.optional ? ['1'] : []), o.short ?? o.long!, ...(o.required || o.optional ? ['2'] : [])];

  it('refuses any flag that takes one value, or none, given twice: exit 2, one line', async () => {
    const cases: Array<[string[], Option]> = [];
    for (const o of program.options) if (o.long !== '--version') cases.push([[], o]);
    for (const [path, c] of commands(program)) for (const o of c.options) if (!repeatable.has(`${path.join(' ')} ${o.long}`)) cases.push([path, o]);
    expect(cases.length).toBeGreaterThan(40);
    for (const [path, o] of cases) {
      const argv = [...path, ...twice(o)];
      const r = await inProcess(...argv);
      const spelled = o.long !== undefined && o.short !== undefined ? `${o.long} \\(${o.short}\\)` : o.long!;
      expect({ argv, code: r.code }).toEqual({ argv, code: 2 });
      // With --json the same line is the message of a JSON error on stdout.
      const said = argv.includes('--json') ? `kdelta: ${(json(r.stdout) as { error: { message: string } }).error.message}\n` : r.stderr;
      expect(said, argv.join(' ')).toMatch(new RegExp(`^kdelta: ${spelled} given twice: (it takes one value|once is enough)\\n$`));
    }
  });

  it('lets --filter, --sort, --join, --allow-origin and --allow-host repeat (and only those)', () => {
    const found = commands(program).flatMap(([path, c]) => c.options.filter((o) => repeatable.has(`${path.join(' ')} ${o.long}`)).map((o) => `${path.join(' ')} ${o.long}`));
    expect(found.sort()).toEqual([...repeatable].sort());
  });

  it('takes a global flag once, before or after the command', async () => {
    const r = await inProcess('-d', 'a', 'status', '--db-path', 'b');
    expect(r).toEqual({ code: 2, stdout: '', stderr: 'kdelta: --db-path (-d) given twice: it takes one value\n' });
  });
});

describe('help, version and unknown commands', () => {
  it('names the nearest command in one line, exit 2', async () => {
    for (const [argv, message] of [
      [['stat'], "unknown command 'stat' (did you mean status?); see kdelta --help"],
      [['qeury', 'users'], "unknown command 'qeury' (did you mean query?); see kdelta --help"],
      [['help', 'nosuch'], "help: unknown command 'nosuch'; see kdelta --help"],
      [['help', 'lst'], "help: unknown command 'lst' (did you mean list?); see kdelta --help"],
      [['view', 'craete', 'x', 'y'], "unknown command 'view craete' (did you mean create?); see kdelta view --help"],
      [['help', 'view', 'nosuch'], "help: unknown command 'view nosuch'; see kdelta view --help"],
      [['zzzzzz'], "unknown command 'zzzzzz'; see kdelta --help"],
      [['query', 'users', '--fliter', 'x'], "unknown option '--fliter' (Did you mean --filter?)"],
      [['view', 'help', 'create'], "unknown command 'view help' (did you mean kdelta help view?); see kdelta view --help"],
      [['query'], "missing required argument 'ns'"],
    ] as const) {
      const r = await inProcess(...argv);
      expect({ argv, code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ argv, code: 2, stdout: '', stderr: `kdelta: ${message}\n` });
    }
  });

  it('with --json, says it as one JSON document on stdout', async () => {
    for (const argv of [['--json', 'stat'], ['query', 'users', '-l', '1', '--limit', '2', '--json']]) {
      const r = await inProcess(...argv);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe('');
      expect(json(r.stdout)).toEqual({ error: { code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^(unknown command 'stat' \(did you mean status\?\)|--limit \(-l\) given twice: it takes one value)/) } });
    }
  });

  it('finds commands by prefix first, then by edits', () => {
    const names = ['set', 'get', 'log', 'diff', 'delete', 'list', 'status', 'verify', 'query', 'view', 'index', 'export', 'import', 'start', 'watch', 'peers', 'help'];
    expect(nearest('stat', names)).toEqual(['status']);
    expect(nearest('st', names)).toEqual(['status', 'start']);
    expect(nearest('gte', names)).toEqual(['get']);
    expect(nearest('xyzzy', names)).toEqual([]);
  });

  it('prints the version for -V as for --version, and help for `help COMMAND`', async () => {
    const long = await inProcess('--version');
    expect(long.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
    expect(await inProcess('-V')).toEqual({ code: 0, stdout: long.stdout, stderr: '' });
    const viaHelp = await inProcess('help', 'view', 'create');
    expect(viaHelp.code).toBe(0);
    expect(viaHelp.stdout).toBe((await inProcess('view', 'create', '--help')).stdout);
  });

  it('lists the 1.0 spellings in --help', async () => {
    const top = (await inProcess('--help')).stdout;
    expect(top).toContain('-V, --version');
    expect(top).toMatch(/help \[command\.\.\.\] +show help for a command/);
    for (const cmd of [['query'], ['view', 'create']]) {
      const h = (await inProcess(...cmd, '--help')).stdout;
      for (const flag of ['-f, --filter <expr>', '-s, --sort <field[:desc]>', '--desc', '-l, --limit <n>']) expect(h, `${cmd.join(' ')}: ${flag}`).toContain(flag);
    }
    const query = (await inProcess('query', '--help')).stdout;
    expect(query).toContain('status = active is status = "active"');
    expect(query).toContain('a = b.c is refused');
    expect(query).toContain('-f/--filter given twice: both must match (AND)');
    const watch = (await inProcess('watch', '--help')).stdout;
    for (const flag of ['--inserts-only', '--updates-only', '--deletes-only', 'default: everything']) expect(watch).toContain(flag);
    expect((await inProcess('get', '--help')).stdout).toContain('-v, --verbose');
    expect((await inProcess('log', '--help')).stdout).toContain('-l, --limit <n>');
  });
});

describe('group-by views', () => {
  it('print their groups without a "0 of N matching" line, and list their definition', async () => {
    const k = fresh();
    await people(k);
    expect((await k('view', 'create', 'per-city', 'users', '--group-by', 'city', '--avg', 'age', '--auto-refresh')).code).toBe(0);
    expect((await k('view', 'create', 'active-count', 'users', '-f', 'status = active', '--count')).code).toBe(0);
    const text = await k('view', 'query', 'per-city');
    expect(text.stdout).toMatch(/^\[\n {2}\{\n {4}"group": "Lima",\n {4}"value": 52\n {2}\},/);
    expect(text.stdout).not.toMatch(/matching,|0 of/);
    expect(text.stdout).toMatch(/\nover 4 matching documents, refreshed \S+ \(seq \d+\)\n$/);
    const answer = json((await k('view', 'query', 'per-city', '--json')).stdout);
    expect(answer).toEqual({
      name: 'per-city',
      total: 4,
      aggregate: [{ group: 'Lima', value: 52 }, { group: 'Oslo', value: 37.5 }, { group: 'Rome', value: 41 }],
      refreshedAt: expect.any(String),
      seq: expect.any(Number),
    });
    expect(Object.keys(json((await k('view', 'refresh', 'active-count', '--json')).stdout) as object)).not.toContain('rows');
    const list = (await k('view', 'list')).stdout;
    expect(list).toContain('active-count  users  manual  {"filter":{"status":"active"}}  --count\n');
    expect(list).toContain('per-city  users  auto-refresh  --group-by city --avg age\n');
    expect(list).not.toContain('{}');
    expect(json((await k('view', 'list', '--json')).stdout)).toMatchObject([
      { name: 'active-count', aggregate: { op: 'count' } },
      { name: 'per-city', aggregate: { op: 'groupBy', path: 'city', aggregation: { op: 'avg', path: 'age' } } },
    ]);
  });
});
