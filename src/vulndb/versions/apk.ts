/**
 * Alpine package versions, `digit{.digit}...{letter}{_suffix{number}}...{~hash}{-r#}`, tokenised
 * and ordered as apk-tools does it (src/version.c: `token_next`, `token_cmp`,
 * `apk_version_compare`). Pre-release suffixes `_alpha`, `_beta`, `_pre`, `_rc` sort before the
 * bare version; `_cvs`, `_svn`, `_git`, `_hg`, `_p` after it. A digit part with a leading zero
 * compares as a string (the Gentoo rule), and numbers wrap at 64 bits as apk's `uint64_t` does.
 */
import { defineScheme, Invalid, type VersionScheme } from './scheme.ts';

const TOKEN_INITIAL_DIGIT = 0;
const TOKEN_DIGIT = 1;
const TOKEN_LETTER = 2;
const TOKEN_SUFFIX = 3;
const TOKEN_SUFFIX_NO = 4;
const TOKEN_COMMIT_HASH = 5;
const TOKEN_REVISION_NO = 6;
const TOKEN_END = 7;
const TOKEN_INVALID = 8;

// Suffix ranks; NONE is the bare version that pre-releases sort below.
const SUFFIXES: Record<string, number> = { alpha: 1, beta: 2, pre: 3, rc: 4, cvs: 6, svn: 7, git: 8, hg: 9, p: 10 };
const SUFFIX_NONE = 5;

interface TokenState {
  token: number;
  suffix: number;
  number: bigint;
  value: string;
  /** Read position in the version string. */
  pos: number;
}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
const isLower = (c: string | undefined): boolean => c !== undefined && c >= 'a' && c <= 'z';
const isHex = (c: string | undefined): boolean => isDigit(c) || (c !== undefined && c >= 'a' && c <= 'f');

function parseDigits(t: TokenState, s: string): void {
  const start = t.pos;
  while (isDigit(s[t.pos])) t.pos++;
  t.value = s.slice(start, t.pos);
  t.number = t.value === '' ? 0n : BigInt.asUintN(64, BigInt(t.value));
  if (t.value.length === 0) t.token = TOKEN_INVALID;
}

function first(s: string): TokenState {
  const t: TokenState = { token: TOKEN_INITIAL_DIGIT, suffix: 0, number: 0n, value: '', pos: 0 };
  parseDigits(t, s);
  return t;
}

function next(t: TokenState, s: string): void {
  if (t.pos >= s.length) {
    t.token = TOKEN_END;
    return;
  }
  const c = s[t.pos]!;
  if (isLower(c)) {
    if (t.token > TOKEN_DIGIT) return invalid(t);
    t.value = c;
    t.token = TOKEN_LETTER;
    t.pos++;
  } else if (c === '.' || isDigit(c)) {
    if (c === '.') {
      if (t.token > TOKEN_DIGIT) return invalid(t);
      t.pos++;
    }
    if (t.token === TOKEN_INITIAL_DIGIT || t.token === TOKEN_DIGIT) t.token = TOKEN_DIGIT;
    else if (t.token === TOKEN_SUFFIX) t.token = TOKEN_SUFFIX_NO;
    else return invalid(t);
    parseDigits(t, s);
  } else if (c === '_') {
    if (t.token > TOKEN_SUFFIX_NO) return invalid(t);
    t.pos++;
    const start = t.pos;
    while (isLower(s[t.pos])) t.pos++;
    t.value = s.slice(start, t.pos);
    const suffix = Object.hasOwn(SUFFIXES, t.value) ? SUFFIXES[t.value]! : 0;
    if (suffix === 0) return invalid(t);
    t.suffix = suffix;
    t.token = TOKEN_SUFFIX;
  } else if (c === '~') {
    if (t.token >= TOKEN_COMMIT_HASH) return invalid(t);
    t.pos++;
    const start = t.pos;
    while (isHex(s[t.pos])) t.pos++;
    t.value = s.slice(start, t.pos);
    if (t.value.length === 0) return invalid(t);
    t.token = TOKEN_COMMIT_HASH;
  } else if (c === '-') {
    if (t.token >= TOKEN_REVISION_NO) return invalid(t);
    if (s[t.pos + 1] !== 'r') return invalid(t);
    t.pos += 2;
    t.token = TOKEN_REVISION_NO;
    parseDigits(t, s);
  } else {
    invalid(t);
  }
}

function invalid(t: TokenState): void {
  t.token = TOKEN_INVALID;
}

function blobSort(a: string, b: string): number {
  // memcmp over the common length, then the shorter first; the strings here are ASCII.
  return a < b ? -1 : a > b ? 1 : 0;
}

function tokenCmp(a: TokenState, b: TokenState): number {
  let x: bigint | number;
  let y: bigint | number;
  if (a.token === TOKEN_DIGIT && (a.value[0] === '0' || b.value[0] === '0')) {
    // A leading zero makes the part compare as a string (the Gentoo rule).
    return blobSort(a.value, b.value);
  }
  switch (a.token) {
    case TOKEN_DIGIT:
    case TOKEN_INITIAL_DIGIT:
    case TOKEN_SUFFIX_NO:
    case TOKEN_REVISION_NO:
      x = a.number;
      y = b.number;
      break;
    case TOKEN_LETTER:
      x = a.value.charCodeAt(0);
      y = b.value.charCodeAt(0);
      break;
    case TOKEN_SUFFIX:
      x = a.suffix;
      y = b.suffix;
      break;
    default:
      return blobSort(a.value, b.value);
  }
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * apk-tools' ordering of any two strings, valid or not (its test data compares invalid ones
 * too); the scheme refuses invalid versions before getting here.
 */
export function apkVersionCompare(a: string, b: string): number {
  const ta = first(a);
  const tb = first(b);
  while (ta.token === tb.token && ta.token < TOKEN_END) {
    const r = tokenCmp(ta, tb);
    if (r !== 0) return r;
    next(ta, a);
    next(tb, b);
  }
  if (ta.token === tb.token) return 0;
  if (ta.token === TOKEN_SUFFIX && ta.suffix < SUFFIX_NONE) return -1;
  if (tb.token === TOKEN_SUFFIX && tb.suffix < SUFFIX_NONE) return 1;
  if (ta.token > tb.token) return -1;
  if (tb.token > ta.token) return 1;
  return 0;
}

export function isValidApkVersion(version: string): boolean {
  const t = first(version);
  while (t.token < TOKEN_END) next(t, version);
  return t.token === TOKEN_END;
}

export const apk: VersionScheme = defineScheme(
  'apk',
  (version) =>
    isValidApkVersion(version) ? version : new Invalid('not digit{.digit}...{letter}{_suf{#}}...{~hash}{-r#}'),
  apkVersionCompare,
);
