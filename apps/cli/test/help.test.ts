// The README documents every command with the same examples as --help.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { allExamples } from '../src/help.js';
import { buildProgram } from '../src/main.js';
import type { Io } from '../src/io.js';

const sink = { write: () => true };
const io: Io = { stdout: sink, stderr: sink, readStdin: async () => '', env: {}, cwd: '/' };

describe('help and README', () => {
  it('every example of --help is in the README, and every command is documented there', () => {
    const program = buildProgram(io, () => async () => {});
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8').replaceAll('\\|', '|');
    expect(allExamples.length).toBeGreaterThan(30);
    for (const example of allExamples) expect(readme, example).toContain(`\`${example}\``);
    // `help` is documented with -h (`kdelta help <command>`), not in the table.
    const names = program.commands.filter((c) => c.name() !== 'help').flatMap((c) => (c.commands.length > 0 ? c.commands.map((s) => `${c.name()} ${s.name()}`) : [c.name()]));
    for (const name of names) {
      const [group, sub] = name.split(' ');
      expect(readme, name).toMatch(sub === undefined ? new RegExp(`\\| \`${group}[ \`]`) : new RegExp(`\`${group} .*${sub}`));
    }
  });
});
