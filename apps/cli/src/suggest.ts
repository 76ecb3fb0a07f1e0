/** "Did you mean …?" for a mistyped command. */

/** Optimal string alignment distance: edits, with a swap of neighbours as one edit. O(a·b). */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The names `word` most likely meant: those it begins (`stat` → status), else the nearest
 * within about a third of its length in edits (`qeury` → query). Empty when nothing is close.
 */
export function nearest(word: string, names: readonly string[]): string[] {
  const w = word.toLowerCase();
  if (w.length >= 2) {
    const prefixed = names.filter((n) => n.startsWith(w));
    if (prefixed.length > 0) return prefixed;
  }
  const scored = names.map((n) => [n, distance(w, n)] as const).filter(([, d]) => d <= Math.max(1, Math.floor(w.length / 3)));
  const best = Math.min(...scored.map(([, d]) => d));
  return scored.filter(([, d]) => d === best).map(([n]) => n);
}

/** ` (did you mean status?)`, ` (did you mean set or start?)`, or '' when nothing is close. */
export function didYouMean(word: string, names: readonly string[]): string {
  const near = nearest(word, names);
  if (near.length === 0) return '';
  const list = near.length === 1 ? near[0]! : `${near.slice(0, -1).join(', ')} or ${near[near.length - 1]!}`;
  return ` (did you mean ${list}?)`;
}
