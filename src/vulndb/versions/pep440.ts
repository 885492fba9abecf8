/**
 * Python package versions (PyPI), ordered by PEP 440 as `packaging.version.Version` orders them.
 * The grammar is @renovatebot/pep440's port of packaging's `VERSION_PATTERN`; the ordering key
 * is built here, after packaging's `_cmpkey`, because the package's own `compare` turns every
 * number into a JavaScript number (so `1.9007199254740993` equals `1.9007199254740992`) and
 * reads local segments with `Number()` (so `+1e3` and `+0x10` become numbers, where packaging
 * keeps them as strings). Here numbers are BigInts and a local segment is a number only when it
 * is all digits, as in packaging.
 *
 * Non-ASCII text inside the version is refused (white space around it is trimmed as packaging
 * trims it): packaging's own releases disagree on it (older ones case-fold `ſ` to `s` under
 * `re.IGNORECASE`).
 */
import { VERSION_PATTERN } from '@renovatebot/pep440/lib/version.js';
import { defineScheme, Invalid, type VersionScheme } from './scheme.ts';

type LocalPart = bigint | string;

export interface Pep440Version {
  epoch: bigint;
  /** Trailing zeros removed: `1.0.0` and `1` are the same release. */
  release: bigint[];
  pre: { rank: number; n: bigint } | null;
  post: bigint | null;
  dev: bigint | null;
  local: LocalPart[] | null;
}

// Python's \s on str: what str.isspace() accepts. JavaScript's \s differs (\ufeff in, \x1c-\x1f
// and \x85 out), so the class is spelled out.
const PY_SPACE = '[\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
// packaging: Version._regex = re.compile(r"\s*" + VERSION_PATTERN + r"\s*", VERBOSE | IGNORECASE), fullmatch.
const PATTERN = new RegExp(`^${PY_SPACE}*(?:${VERSION_PATTERN})${PY_SPACE}*$`, 'i');
const SURROUNDING_SPACE = new RegExp(`^${PY_SPACE}+|${PY_SPACE}+$`, 'g');
const PRE_RANK: Record<string, number> = { a: 0, alpha: 0, b: 1, beta: 1, c: 2, rc: 2, pre: 2, preview: 2 };

export function parsePep440(version: string): Pep440Version | Invalid {
  if (/[\u0080-\uffff]/.test(version.replace(SURROUNDING_SPACE, ''))) return new Invalid('non-ASCII characters');
  const groups = PATTERN.exec(version)?.groups;
  if (!groups) return new Invalid('does not match PEP 440');
  const num = (s: string | undefined): bigint => (s ? BigInt(s) : 0n);
  const release = groups.release!.split('.').map((n) => BigInt(n));
  while (release.length > 0 && release[release.length - 1] === 0n) release.pop();
  const preLetter = groups.pre_l?.toLowerCase();
  const postNumber = groups.post_n1 ?? groups.post_n2;
  return {
    epoch: num(groups.epoch),
    release,
    pre: preLetter ? { rank: PRE_RANK[preLetter]!, n: num(groups.pre_n) } : null,
    post: groups.post_l || postNumber ? num(postNumber) : null,
    dev: groups.dev_l ? num(groups.dev_n) : null,
    local: groups.local
      ? groups.local.split(/[._-]/).map((part) => (/^[0-9]+$/.test(part) ? BigInt(part) : part.toLowerCase()))
      : null,
  };
}

const cmp = (a: bigint | number | string, b: bigint | number | string): number => (a < b ? -1 : a > b ? 1 : 0);

function compareLists<T>(a: readonly T[], b: readonly T[], item: (x: T, y: T) => number): number {
  for (let i = 0; i < a.length && i < b.length; i++) {
    const r = item(a[i]!, b[i]!);
    if (r !== 0) return r;
  }
  return cmp(a.length, b.length);
}

/** packaging's `_cmpkey` suffix: (pre_rank, pre_n, post_rank, post_n, dev_rank, dev_n). */
function suffix(v: Pep440Version): Array<bigint | number> {
  let preRank: number;
  let preN = 0n;
  if (v.pre === null && v.post === null && v.dev !== null) preRank = -1;
  else if (v.pre === null) preRank = 3;
  else [preRank, preN] = [v.pre.rank, v.pre.n];
  return [preRank, preN, v.post === null ? 0 : 1, v.post ?? 0n, v.dev === null ? 1 : 0, v.dev ?? 0n];
}

// Local segments: strings sort before numbers, strings lexically, numbers numerically.
function compareLocalPart(a: LocalPart, b: LocalPart): number {
  if (typeof a === 'string' && typeof b === 'string') return cmp(a, b);
  if (typeof a === 'string') return -1;
  if (typeof b === 'string') return 1;
  return cmp(a, b);
}

export function comparePep440(a: Pep440Version, b: Pep440Version): number {
  return (
    cmp(a.epoch, b.epoch) ||
    compareLists(a.release, b.release, cmp) ||
    compareLists(suffix(a), suffix(b), cmp) ||
    (a.local === null || b.local === null
      ? cmp(a.local === null ? 0 : 1, b.local === null ? 0 : 1)
      : compareLists(a.local, b.local, compareLocalPart))
  );
}

export const pep440: VersionScheme = defineScheme('pep440', parsePep440, comparePep440);
