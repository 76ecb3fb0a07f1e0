// Reading the README: its fenced blocks, and a shell line's command and trailing comment.

/**
 * The fenced code blocks of a Markdown text, in order.
 * @returns {{ lang: string, lines: string[], line: number }[]} `line`: 1-based line of the fence
 */
export function fencedBlocks(markdown) {
  const blocks = [];
  let current;
  markdown.split('\n').forEach((text, i) => {
    const fence = /^```\s*([\w-]*)\s*$/.exec(text);
    if (current === undefined && fence) current = { lang: fence[1], lines: [], line: i + 1 };
    else if (current !== undefined && /^```\s*$/.test(text)) {
      blocks.push(current);
      current = undefined;
    } else if (current !== undefined) current.lines.push(text);
  });
  if (current !== undefined) throw new Error(`README: the block opened at line ${current.line} is never closed`);
  return blocks;
}

/**
 * A shell line split into its command and its trailing comment (a `#` outside quotes that
 * follows whitespace). Blank and comment-only lines give an empty command.
 */
export function splitShellLine(text) {
  let quote;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"') i++;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '\\') i++;
    else if (c === '#' && (i === 0 || /\s/.test(text[i - 1]))) {
      return { command: text.slice(0, i).trim(), comment: text.slice(i + 1).trim() };
    }
  }
  return { command: text.trim(), comment: '' };
}

/** The JSON value a comment states as a command's output (`# {"total":12}`), if it is JSON. */
export function expectedJson(comment) {
  if (!/^[[{"]/.test(comment)) return undefined;
  try {
    return { value: JSON.parse(comment) };
  } catch {
    return undefined;
  }
}

/**
 * The longest prefix of a TypeScript snippet's comment that is a JavaScript literal (an
 * object, array, number or string), as the value the commented line evaluates to; e.g.
 * `2: both versions` → 2. Prose comments give undefined.
 */
export function expectedLiteral(comment) {
  if (!/^[[{'"\d-]/.test(comment)) return undefined;
  for (let end = comment.length; end > 0; end--) {
    const text = comment.slice(0, end).trim();
    if (!/[\]}'"\d]$/.test(text)) continue;
    try {
      return { source: text, value: new Function(`return (${text});`)() };
    } catch {
      // not a literal yet: try a shorter prefix
    }
  }
  return undefined;
}
