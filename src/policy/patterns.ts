/**
 * Repository templates (`{team}-{stage}/{repo}`), repository globs and tag patterns: the
 * little languages of the policy file, each with a checker used at load time and a
 * compiled form used at run time.
 */
import { RE2JS } from 're2js';
import { TEMPLATE_PLACEHOLDERS } from './schema.ts';

export type Placeholder = (typeof TEMPLATE_PLACEHOLDERS)[number];
export type TemplatePart = { literal: string } | { placeholder: Placeholder };

/** Distribution's path-component grammar (src/oci/reference.ts), one component. */
export const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const PATH_COMPONENT_SRC = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const MAX_REPOSITORY_LENGTH = 255;

/** Why a repository path (without registry) is invalid, or undefined when it is valid. */
export function repositoryPathProblem(path: string): string | undefined {
  if (path === '') return 'it is empty';
  if (path.length > MAX_REPOSITORY_LENGTH) return `it is longer than ${MAX_REPOSITORY_LENGTH} characters`;
  for (const c of path.split('/')) {
    if (!PATH_COMPONENT.test(c)) {
      return c === ''
        ? 'it has an empty path component'
        : `path component "${c}" must be lowercase letters and digits, separated by ".", "_", "__" or "-"`;
    }
  }
  return undefined;
}

/** Splits a template; throws a message (string) naming the first problem. */
export function parseTemplate(
  template: string,
  allowed: readonly Placeholder[] = TEMPLATE_PLACEHOLDERS,
): TemplatePart[] {
  const parts: TemplatePart[] = [];
  const seen = new Set<string>();
  let i = 0;
  let literal = '';
  while (i < template.length) {
    const ch = template[i]!;
    if (ch === '}') throw new Error(`unmatched "}" at offset ${i}`);
    if (ch !== '{') {
      literal += ch;
      i++;
      continue;
    }
    const end = template.indexOf('}', i);
    if (end < 0) throw new Error(`unclosed "{" at offset ${i}`);
    const name = template.slice(i + 1, end);
    if (!(allowed as readonly string[]).includes(name)) {
      throw new Error(`unknown placeholder {${name}}; allowed: ${allowed.map((p) => `{${p}}`).join(', ')}`);
    }
    if (seen.has(name)) throw new Error(`placeholder {${name}} appears twice`);
    seen.add(name);
    if (literal) parts.push({ literal });
    literal = '';
    parts.push({ placeholder: name as Placeholder });
    i = end + 1;
  }
  if (literal) parts.push({ literal });
  return parts;
}

export function renderTemplate(parts: readonly TemplatePart[], values: Partial<Record<Placeholder, string>>): string {
  return parts.map((p) => ('literal' in p ? p.literal : (values[p.placeholder] ?? `{${p.placeholder}}`))).join('');
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

/**
 * A regex matching what the template renders to, given the possible values of `{team}` and
 * `{stage}` (longest first, so `acme-web` wins over `acme` when both exist); `{repo}` matches
 * any valid repository path. Groups: team, stage, repo.
 */
export function templateMatcher(
  parts: readonly TemplatePart[],
  teams: readonly string[],
  stages: readonly string[],
): RegExp {
  const alt = (names: readonly string[]) =>
    [...names]
      .sort((a, b) => b.length - a.length)
      .map(escapeRegExp)
      .join('|') || '(?!)';
  const src = parts
    .map((p) => {
      if ('literal' in p) return escapeRegExp(p.literal);
      if (p.placeholder === 'team') return `(?<team>${alt(teams)})`;
      if (p.placeholder === 'stage') return `(?<stage>${alt(stages)})`;
      return `(?<repo>${PATH_COMPONENT_SRC}(?:/${PATH_COMPONENT_SRC})*)`;
    })
    .join('');
  return new RegExp(`^${src}$`);
}

/** `*` within a path segment, `**` across segments, `?` one character. */
export function globToRegExp(glob: string): RegExp {
  let src = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*') {
      if (glob[i + 1] === '*') {
        src += '.*';
        i++;
      } else src += '[^/]*';
    } else if (ch === '?') src += '[^/]';
    else src += escapeRegExp(ch);
  }
  return new RegExp(`^${src}$`);
}

/** Tag patterns: `/regex/` (as written, unanchored unless it says so) or a glob over the whole tag. */
export function isRegexPattern(pattern: string): boolean {
  return pattern.length >= 2 && pattern.startsWith('/') && pattern.endsWith('/');
}

/**
 * A regex written by a user, matched by RE2 (linear in the input) instead of the backtracking
 * engine: `/^(a+)+$/` against a 128-character tag would otherwise hold the event loop for
 * hours. It stays a RegExp (compiled by V8 as well, so the accepted syntax and `source` are
 * the ones users know) but every match goes through `test`/`exec`, which the string methods
 * (`match`, `replace`, `split`...) call too. Lookaround and backreferences have no linear-time
 * matching and are refused.
 */
class LinearRegExp extends RegExp {
  readonly #re2: RE2JS;

  constructor(source: string) {
    // V8 first: its SyntaxError is the message users know for plain syntax errors.
    new RegExp(source, 'u');
    let re2: RE2JS;
    try {
      re2 = RE2JS.compile(source);
    } catch (err) {
      const why = err instanceof Error ? err.message.replace(/^error parsing regexp: /, '') : String(err);
      throw new SyntaxError(
        `${why}: lookaround and backreferences are not supported (patterns are matched in linear time)`,
        { cause: err },
      );
    }
    super(source, 'u');
    this.#re2 = re2;
  }

  override test(input: string): boolean {
    return this.#re2.matcher(String(input)).find();
  }

  override exec(input: string): RegExpExecArray | null {
    const text = String(input);
    const m = this.#re2.matcher(text);
    if (!m.find()) return null;
    const groups: string[] = [];
    for (let i = 0; i <= m.groupCount(); i++) groups.push(m.group(i) ?? (undefined as unknown as string));
    return Object.assign(groups, { index: m.start(), input: text, groups: undefined }) as RegExpExecArray;
  }
}

/** Compiles a user-written regex (no slashes) for linear-time matching; throws SyntaxError. */
export function linearRegExp(source: string): RegExp {
  return new LinearRegExp(source);
}

/** Compiles a tag pattern; throws SyntaxError for a bad or unsupported regex. */
export function compileTagPattern(pattern: string): RegExp {
  return isRegexPattern(pattern) ? linearRegExp(pattern.slice(1, -1)) : globToRegExp(pattern);
}

/** A predicate: does the tag match any of the patterns? */
export function tagMatcher(patterns: readonly string[]): (tag: string) => boolean {
  const compiled = patterns.map(compileTagPattern);
  return (tag) => compiled.some((re) => re.test(tag));
}
