// The 1.0 CLI guide still works: every `kdelta` example of its ```bash blocks runs, in
// order, with the built binary against a fresh directory (HOME and /tmp moved into it).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '@koru/vitest-preset/helpers';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN } from './run.js';

/** One example: the shell line as the guide has it, what the test runs, and how it must end. */
interface Example {
  readonly line: string;
  readonly run: string;
  /** 0, or the exit code of an example the guide shows failing. */
  readonly exit: 0 | 1 | 2;
  /** The guide pipes its output into jq: it must be JSON. */
  readonly json: boolean;
}

/** Unquoted `'` count is odd: the line goes on (a multi-line JSON value). */
const openQuote = (text: string): boolean => (text.match(/'/g)?.length ?? 0) % 2 === 1;

/** The examples of the guide's ```bash blocks, in order. */
export function guideExamples(markdown: string): Example[] {
  const examples: Example[] = [];
  for (const [, body] of markdown.matchAll(/```bash\n([\s\S]*?)```/g)) {
    const lines = body!.split('\n');
    let inLoop = false;
    for (let i = 0; i < lines.length; i++) {
      let line = lines[i]!.trim();
      if (line.startsWith('#')) continue; // comments (with apostrophes: "aren't")
      while (openQuote(line) && i + 1 < lines.length) line += `\n${lines[++i]!}`;
      if (/^for\b/.test(line)) inLoop = true; // shell loops: skipped (a thousand processes)
      if (inLoop) {
        if (line === 'done') inLoop = false;
        continue;
      }
      const prompt = line.startsWith('$ ');
      if (prompt) line = line.slice(2);
      // kdelta lines and the shell assignments around them; not cargo, cp, cat, or the
      // synopses (`kdelta get <namespace>/<key> [--verbose]`).
      if (!/^(kdelta |\w+=\$\()/.test(line) || /\s(<[a-z]|\[[A-Za-z-])/.test(line)) continue;
      const error = /#\s*✗ Error\s*$/.test(line);
      // `$ kdelta get users/nonexistent` followed by the guide's `✗ Key not found`.
      const notFound = prompt && lines[i + 1]?.trim() === '✗';
      let run = line.replace(/\s+#.*$/, '');
      const json = /\|\s*jq\b/.test(run);
      run = run.replace(/\s*\|\s*jq\b.*$/, ''); // jq is not assumed installed: the output is checked here
      run = run.replaceAll('/tmp/', '"$GUIDE_TMP"/');
      examples.push({ line, run, exit: error ? 2 : notFound ? 1 : 0, json });
    }
  }
  return examples;
}

const guide = readFileSync(new URL('./fixtures/CLI_GUIDE-1.0.md', import.meta.url), 'utf8');
const examples = guideExamples(guide);
const t = tempDir('kdelta-guide-');
afterAll(() => t.cleanup());

/**
 * The guide's diff examples show three versions of users/alice (the third adds skills)
 * where its earlier examples write two: the test writes that third one first.
 */
const BEFORE: Readonly<Record<string, string>> = {
  'kdelta diff users/alice': `kdelta set users/alice '{"name": "Alice Smith", "age": 31, "city": "SF", "skills": ["rust", "python", "go"]}'`,
};

describe('the 1.0 CLI guide', () => {
  it('has the examples this test expects to find', () => {
    expect(examples.length).toBeGreaterThan(50);
    expect(examples.filter((e) => e.exit === 2).map((e) => e.run)).toEqual([`kdelta set config/name hello`, `kdelta set mykey '{"value": 1}'`]);
    expect(examples.filter((e) => e.exit === 1).map((e) => e.run)).toEqual(['kdelta get users/nonexistent']);
    expect(examples.some((e) => e.run.startsWith(`kdelta set profiles/alice '{\n`))).toBe(true);
    expect(examples.some((e) => e.run.includes('<'))).toBe(false);
  });

  it('runs every kdelta example in order against a fresh database', { timeout: 300_000 }, () => {
    const home = join(t.dir, 'home');
    const out = join(t.dir, 'out');
    for (const dir of [home, out, join(t.dir, 'tmp'), join(t.dir, 'work')]) mkdirSync(dir, { recursive: true });
    // One bash script, so `requests=$(kdelta get …)` is seen by the next line; each
    // example's exit code and output are kept apart.
    const script = ['kdelta() { "$NODE" "$BIN" "$@"; }', `cd "${join(t.dir, 'work')}"`];
    const runs: Example[] = [];
    const before = new Set(Object.keys(BEFORE));
    for (const e of examples) {
      for (const start of before) {
        if (!e.run.startsWith(start)) continue;
        before.delete(start);
        runs.push({ line: BEFORE[start]!, run: BEFORE[start]!, exit: 0, json: false });
      }
      runs.push(e);
    }
    runs.forEach((e, n) => script.push(`{ ${e.run}\n} >"${out}/${n}.out" 2>"${out}/${n}.err"; echo $? >"${out}/${n}.rc"`));
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, GUIDE_TMP: join(t.dir, 'tmp'), NODE: process.execPath, BIN };
    delete env.KORU_DB_PATH;
    delete env.KORU_URL;
    delete env.FORCE_COLOR;
    const bash = spawnSync('bash', ['-c', script.join('\n')], { env, encoding: 'utf8' });
    expect(bash.status, bash.stderr).toBe(0);
    runs.forEach((e, n) => {
      const code = Number(readFileSync(join(out, `${n}.rc`), 'utf8'));
      const stdout = readFileSync(join(out, `${n}.out`), 'utf8');
      const stderr = readFileSync(join(out, `${n}.err`), 'utf8');
      expect({ example: e.line, code }, stderr).toEqual({ example: e.line, code: e.exit });
      if (e.exit !== 0) {
        expect(stderr, e.line).toMatch(/^kdelta: .+\n$/); // one line naming what was wrong
        expect(stderr, e.line).toMatch(e.exit === 2 ? /not valid JSON|expected NAMESPACE\/KEY/ : /not found/);
      } else if (!e.run.includes('||')) {
        expect(stderr, e.line).toBe('');
      }
      if (e.json) expect(() => JSON.parse(stdout), `${e.line}: ${stdout}`).not.toThrow();
    });
    // Where the examples wrote: --db-path under /tmp (here moved) and ~, a path ending
    // in .json being a directory; by default ~/.korudelta/db.
    const history = readFileSync(join(t.dir, 'work', 'history.txt'), 'utf8').trim().split('\n');
    expect(history.length).toBeGreaterThanOrEqual(3);
    for (const line of history) expect(line).toContain('"name":"Alice');
    const get = (args: string[]): unknown => JSON.parse(spawnSync(process.execPath, [BIN, ...args, '--json'], { env, encoding: 'utf8' }).stdout);
    expect(get(['-d', join(t.dir, 'tmp', 'mydb.json'), 'get', 'test/key'])).toEqual({ value: 1 });
    expect(get(['-d', join(home, 'prod.db'), 'get', 'test/key'])).toBe(2);
    expect(get(['get', 'metrics/requests'])).toBe(1);
    expect(get(['get', 'users/alice'])).toEqual({ name: 'Alice', role: 'superadmin' });
    expect(get(['status'])).toMatchObject({ path: join(home, '.korudelta', 'db') });
  });
});
