/**
 * Reads the version vectors under test/fixtures/versions/: one case a line, `#` comments,
 * tokens split on white space, a token in double quotes read as JSON (for versions with spaces).
 *   A OP B       OP one of < <= = >= > and their negations !< !<= != !>= !>
 *   valid V...   invalid V...
 *   order V...   strictly ascending: every pair is checked
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export type Vector =
  | { kind: 'compare'; a: string; op: string; b: string; line: number }
  | { kind: 'valid' | 'invalid' | 'order'; versions: string[]; line: number };

const FIXTURES = path.join(import.meta.dirname, '..', '..', 'fixtures', 'versions');

function tokens(text: string): string[] {
  return (text.match(/"(?:[^"\\]|\\.)*"|\S+/g) ?? []).map((t) => (t.startsWith('"') ? (JSON.parse(t) as string) : t));
}

export function readVectors(name: string): Vector[] {
  const out: Vector[] = [];
  readFileSync(path.join(FIXTURES, name), 'utf8')
    .split('\n')
    .forEach((raw, i) => {
      const body = raw.replace(/(^|\s)#.*$/, '').trim();
      if (!body) return;
      const t = tokens(body);
      const line = i + 1;
      if (t[0] === 'valid' || t[0] === 'invalid' || t[0] === 'order') {
        out.push({ kind: t[0], versions: t.slice(1), line });
      } else if (t.length === 3) {
        out.push({ kind: 'compare', a: t[0]!, op: t[1]!, b: t[2]!, line });
      } else {
        throw new Error(`${name}:${line}: cannot read ${JSON.stringify(raw)}`);
      }
    });
  return out;
}

/** Whether a three-way result satisfies `op`, e.g. `<=` or `!>`. */
export function holds(result: number, op: string): boolean {
  const negated = op.startsWith('!');
  const base = negated ? op.slice(1) : op;
  const ok =
    base === '<'
      ? result < 0
      : base === '<='
        ? result <= 0
        : base === '='
          ? result === 0
          : base === '>='
            ? result >= 0
            : base === '>'
              ? result > 0
              : (() => {
                  throw new Error(`unknown operator ${op}`);
                })();
  return negated ? !ok : ok;
}
