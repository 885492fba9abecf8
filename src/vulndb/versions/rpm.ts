/**
 * RPM package versions (Red Hat, AlmaLinux, Rocky Linux): `[epoch:]version[-release]`, split as
 * rpm's `parseEVR` splits them and ordered as `rpmverCmp` orders them (rpmio/rpmver.c), each
 * part compared by `rpmvercmp` (rpmio/rpmvercmp.c) with `~` sorting before everything and `^`
 * after the base version but before anything else. This is what `rpm.vercmp()` in rpm's Lua
 * does since rpm 4.16; a missing release sorts before any release, as there.
 *
 * rpm itself compares any non-empty string. Here a version must also be printable ASCII without
 * spaces: rpm treats every other byte as a separator, so such a version is a mangled one.
 */
import { defineScheme, Invalid, type VersionScheme } from './scheme.ts';

export interface RpmVersion {
  /** `null` when the string has no epoch; compared as "0". */
  epoch: string | null;
  version: string;
  release: string | null;
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isAlpha = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const isAlnum = (c: number): boolean => isDigit(c) || isAlpha(c);
const TILDE = 126;
const CARET = 94;

export function parseRpmVersion(evr: string): RpmVersion | Invalid {
  if (evr === '') return new Invalid('empty');
  if (!/^[\x21-\x7e]+$/.test(evr)) return new Invalid('only printable ASCII without spaces is allowed');
  let s = 0;
  while (s < evr.length && isDigit(evr.charCodeAt(s))) s++;
  // parseEVR looks for the release separator after the epoch's digits only.
  const hyphen = evr.lastIndexOf('-');
  const se = hyphen >= s ? hyphen : -1;
  let epoch: string | null = null;
  let versionStart = 0;
  if (evr[s] === ':') {
    epoch = s === 0 ? '0' : evr.slice(0, s);
    versionStart = s + 1;
  }
  const version = evr.slice(versionStart, se >= 0 ? se : evr.length);
  const release = se >= 0 ? evr.slice(se + 1) : null;
  return { epoch, version, release };
}

/** rpm's `rpmvercmp`, with index past the end standing for C's terminating NUL. */
export function rpmvercmp(a: string, b: string): number {
  if (a === b) return 0;
  const at = (s: string, i: number): number => (i < s.length ? s.charCodeAt(i) : 0);
  let one = 0;
  let two = 0;
  while (one < a.length || two < b.length) {
    while (one < a.length && !isAlnum(at(a, one)) && at(a, one) !== TILDE && at(a, one) !== CARET) one++;
    while (two < b.length && !isAlnum(at(b, two)) && at(b, two) !== TILDE && at(b, two) !== CARET) two++;

    if (at(a, one) === TILDE || at(b, two) === TILDE) {
      if (at(a, one) !== TILDE) return 1;
      if (at(b, two) !== TILDE) return -1;
      one++;
      two++;
      continue;
    }
    if (at(a, one) === CARET || at(b, two) === CARET) {
      if (one >= a.length) return -1;
      if (two >= b.length) return 1;
      if (at(a, one) !== CARET) return 1;
      if (at(b, two) !== CARET) return -1;
      one++;
      two++;
      continue;
    }
    if (!(one < a.length && two < b.length)) break;

    let str1 = one;
    let str2 = two;
    let isNum: boolean;
    if (isDigit(at(a, str1))) {
      while (str1 < a.length && isDigit(at(a, str1))) str1++;
      while (str2 < b.length && isDigit(at(b, str2))) str2++;
      isNum = true;
    } else {
      while (str1 < a.length && isAlpha(at(a, str1))) str1++;
      while (str2 < b.length && isAlpha(at(b, str2))) str2++;
      isNum = false;
    }
    if (one === str1) return -1;
    if (two === str2) return isNum ? 1 : -1;

    let segA = a.slice(one, str1);
    let segB = b.slice(two, str2);
    if (isNum) {
      segA = segA.replace(/^0+/, '');
      segB = segB.replace(/^0+/, '');
      if (segA.length !== segB.length) return segA.length > segB.length ? 1 : -1;
    }
    if (segA !== segB) return segA < segB ? -1 : 1;
    one = str1;
    two = str2;
  }
  if (one >= a.length && two >= b.length) return 0;
  return one >= a.length ? -1 : 1;
}

function compareValues(a: string | null, b: string | null): number {
  if (a === null && b === null) return 0;
  if (b === null) return 1;
  if (a === null) return -1;
  return rpmvercmp(a, b);
}

export function compareRpmVersions(a: RpmVersion, b: RpmVersion): number {
  return (
    compareValues(a.epoch ?? '0', b.epoch ?? '0') ||
    compareValues(a.version, b.version) ||
    compareValues(a.release, b.release)
  );
}

export const rpm: VersionScheme = defineScheme('rpm', parseRpmVersion, compareRpmVersions);
