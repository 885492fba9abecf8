/** What `sluice config validate` reports: one entry per problem, all of them at once. */
import { escapeToLine } from '../text.ts';

export interface Problem {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  /** Where in the document, e.g. `spec.stages[2].gate.require[1]`. */
  path: string;
  expected: string;
  found: string;
  /** A sentence that stands on its own. */
  message: string;
}

/**
 * `sluice.yaml:12:7: spec.stages[2].gate.require[1]: unknown evidence type ...`, on one line
 * whatever a quoted key in the file holds (a newline there must not forge another problem).
 */
export function formatProblem(p: Problem): string {
  const where = p.path === '' ? '' : `${p.path}: `;
  return escapeToLine(`${p.file}:${p.line}:${p.column}: ${where}${p.message}`);
}

/** Optimal string alignment distance: Levenshtein plus adjacent transpositions (`retnetion`). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => {
    const row = new Array<number>(cols).fill(0);
    row[0] = i;
    return row;
  });
  for (let j = 0; j < cols; j++) d[0]![j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest candidate if it is close enough to be a plausible typo. */
export function closest(input: string, candidates: Iterable<string>): string | undefined {
  const needle = input.toLowerCase();
  let best: string | undefined;
  let bestScore = Infinity;
  for (const c of candidates) {
    const score = editDistance(needle, c.toLowerCase());
    if (score < bestScore) {
      best = c;
      bestScore = score;
    }
  }
  if (best === undefined) return undefined;
  // A third of the length: `retnetion` → `retention`, but no `b` for `d`.
  const allowed = Math.floor(Math.max(needle.length, best.length) / 3);
  return bestScore <= allowed ? best : undefined;
}

export function didYouMean(input: string, candidates: Iterable<string>): string {
  const c = closest(input, candidates);
  return c === undefined ? '' : `; did you mean \`${c}\`?`;
}
