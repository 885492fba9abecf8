import type { OsRelease } from '../../model.ts';

export interface OsReleaseProblem {
  line: number;
  message: string;
}

/**
 * os-release(5): `KEY=value` lines, values optionally in single or double quotes with shell
 * backslash escapes inside double quotes; `#` starts a comment line.
 */
export function parseOsReleaseFields(text: string): { fields: Map<string, string>; problems: OsReleaseProblem[] } {
  const fields = new Map<string, string>();
  const problems: OsReleaseProblem[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length && i < 1000; i++) {
    const line = (lines[i] ?? '').replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!match) {
      problems.push({ line: i + 1, message: 'not a KEY=value assignment' });
      continue;
    }
    const value = unquote(match[2] ?? '');
    if (value === undefined) {
      problems.push({ line: i + 1, message: `unbalanced quotes in the value of ${match[1]}` });
      continue;
    }
    fields.set(match[1] ?? '', value);
  }
  return { fields, problems };
}

function unquote(raw: string): string | undefined {
  const first = raw[0];
  if (first !== '"' && first !== "'") return raw;
  if (raw.length < 2 || raw[raw.length - 1] !== first) return undefined;
  const inner = raw.slice(1, -1);
  return first === '"' ? inner.replace(/\\(["\\$`])/g, '$1') : inner;
}

/** The facts Sluice keeps; undefined when there is no `ID` (os-release says `linux` then, but a
 * file without ID is more likely not an os-release file at all). */
export function osReleaseOf(fields: ReadonlyMap<string, string>): OsRelease | undefined {
  const id = fields.get('ID')?.toLowerCase();
  if (!id) return undefined;
  const result: OsRelease = { id };
  const versionId = fields.get('VERSION_ID');
  if (versionId) result.versionId = versionId;
  const codename = fields.get('VERSION_CODENAME');
  if (codename) result.versionCodename = codename;
  const pretty = fields.get('PRETTY_NAME');
  if (pretty) result.prettyName = pretty;
  const idLike = fields.get('ID_LIKE');
  if (idLike) result.idLike = idLike.split(/\s+/).filter(Boolean);
  return result;
}
