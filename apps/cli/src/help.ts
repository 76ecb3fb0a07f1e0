/** Help text shared by the commands; the README shows the same examples (a test checks). */

/** Every example line given to {@link examples}, in registration order. */
export const allExamples: string[] = [];

/** The "Examples:" block of a command's help. */
export function examples(lines: readonly string[]): string {
  allExamples.push(...lines);
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
}
