/**
 * Go module versions, ordered as golang.org/x/mod/semver orders them: SemVer with a `v` prefix,
 * the `vMAJOR` and `vMAJOR.MINOR` shorthands, build metadata ignored (so `+incompatible` is
 * ignored), pre-releases before the release. Pseudo-versions (`v0.0.0-20191109021931-daa7c04131f5`,
 * `v1.2.4-0.20191109021931-daa7c04131f5`) are pre-releases and need nothing more: their
 * timestamp sorts them between the tagged versions around them.
 *
 * OSV's Go records write versions without the `v` (`1.20.1`); both spellings are accepted and
 * compare equal.
 */
import { defineScheme, Invalid, type VersionScheme } from './scheme.ts';

export interface GoVersion {
  major: string;
  minor: string;
  patch: string;
  /** With its leading `-`, or "". */
  prerelease: string;
  build: string;
}

const isDigitAt = (s: string, i: number): boolean => i < s.length && s[i]! >= '0' && s[i]! <= '9';
const isIdentChar = (c: string): boolean => /^[A-Za-z0-9-]$/.test(c);

function parseInt(v: string): [string, string] | null {
  if (!isDigitAt(v, 0)) return null;
  let i = 1;
  while (isDigitAt(v, i)) i++;
  if (v[0] === '0' && i !== 1) return null;
  return [v.slice(0, i), v.slice(i)];
}

const isBadNum = (v: string): boolean => /^[0-9]+$/.test(v) && v.length > 1 && v[0] === '0';

function parsePrerelease(v: string): [string, string] | null {
  let i = 1;
  let start = 1;
  while (i < v.length && v[i] !== '+') {
    if (!isIdentChar(v[i]!) && v[i] !== '.') return null;
    if (v[i] === '.') {
      if (start === i || isBadNum(v.slice(start, i))) return null;
      start = i + 1;
    }
    i++;
  }
  if (start === i || isBadNum(v.slice(start, i))) return null;
  return [v.slice(0, i), v.slice(i)];
}

function parseBuild(v: string): [string, string] | null {
  let i = 1;
  let start = 1;
  while (i < v.length) {
    if (!isIdentChar(v[i]!) && v[i] !== '.') return null;
    if (v[i] === '.') {
      if (start === i) return null;
      start = i + 1;
    }
    i++;
  }
  if (start === i) return null;
  return [v.slice(0, i), v.slice(i)];
}

/** x/mod/semver's `parse`, on the `v`-prefixed spelling. */
export function parseGoVersion(input: string): GoVersion | Invalid {
  const bad = new Invalid('not vMAJOR[.MINOR[.PATCH[-PRERELEASE][+BUILD]]]');
  const v = input.startsWith('v') ? input : `v${input}`;
  const major = parseInt(v.slice(1));
  if (!major) return bad;
  let rest = major[1];
  if (rest === '') return { major: major[0], minor: '0', patch: '0', prerelease: '', build: '' };
  if (rest[0] !== '.') return bad;
  const minor = parseInt(rest.slice(1));
  if (!minor) return bad;
  rest = minor[1];
  if (rest === '') return { major: major[0], minor: minor[0], patch: '0', prerelease: '', build: '' };
  if (rest[0] !== '.') return bad;
  const patch = parseInt(rest.slice(1));
  if (!patch) return bad;
  rest = patch[1];
  let prerelease = '';
  let build = '';
  if (rest[0] === '-') {
    const p = parsePrerelease(rest);
    if (!p) return bad;
    [prerelease, rest] = p;
  }
  if (rest[0] === '+') {
    const b = parseBuild(rest);
    if (!b) return bad;
    [build, rest] = b;
  }
  if (rest !== '') return bad;
  return { major: major[0], minor: minor[0], patch: patch[0], prerelease, build };
}

function compareInt(x: string, y: string): number {
  if (x === y) return 0;
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return x < y ? -1 : 1;
}

function comparePrerelease(x: string, y: string): number {
  if (x === y) return 0;
  if (x === '') return 1;
  if (y === '') return -1;
  const xs = x.slice(1).split('.');
  const ys = y.slice(1).split('.');
  for (let i = 0; i < xs.length && i < ys.length; i++) {
    const dx = xs[i]!;
    const dy = ys[i]!;
    if (dx === dy) continue;
    const ix = /^[0-9]*$/.test(dx);
    const iy = /^[0-9]*$/.test(dy);
    if (ix !== iy) return ix ? -1 : 1;
    if (ix && dx.length !== dy.length) return dx.length < dy.length ? -1 : 1;
    return dx < dy ? -1 : 1;
  }
  return xs.length < ys.length ? -1 : xs.length > ys.length ? 1 : 0;
}

export function compareGoVersions(a: GoVersion, b: GoVersion): number {
  return (
    compareInt(a.major, b.major) ||
    compareInt(a.minor, b.minor) ||
    compareInt(a.patch, b.patch) ||
    comparePrerelease(a.prerelease, b.prerelease)
  );
}

// golang.org/x/mod/module/pseudo.go pseudoVersionRE.
const PSEUDO_VERSION =
  /^v[0-9]+\.(0\.0-|\d+\.\d+-([^+]*\.)?0\.)\d{14}-[A-Za-z0-9]+(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/;

/** Whether `version` is a pseudo-version (an untagged commit), with or without the `v`. */
export function isPseudoVersion(version: string): boolean {
  return PSEUDO_VERSION.test(version.startsWith('v') ? version : `v${version}`);
}

export const go: VersionScheme = defineScheme('go', parseGoVersion, compareGoVersions);
