/**
 * Debian and Ubuntu package versions: `[epoch:]upstream[-revision]`, ordered as dpkg orders them
 * (lib/dpkg/version.c `verrevcmp`, parsed as lib/dpkg/parsehelp.c `parseversion`). Both dpkg's
 * errors and its warnings ("version number does not start with digit", "invalid character")
 * make a version invalid here: `dpkg --compare-versions` still compares after a warning, but a
 * status file or an advisory with such a version is broken, and matching it would be a guess.
 */
import { defineScheme, Invalid, type VersionScheme } from './scheme.ts';

export interface DpkgVersion {
  epoch: number;
  upstream: string;
  revision: string;
}

const INT_MAX = 2147483647;

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isAlpha = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const isBlank = (c: number): boolean => c === 32 || c === 9;
// strtol skips C isspace(), a wider set than the blanks parseversion trims.
const isCSpace = (c: number): boolean => c === 32 || (c >= 9 && c <= 13);

export function parseDpkgVersion(input: string): DpkgVersion | Invalid {
  let start = 0;
  while (start < input.length && isBlank(input.charCodeAt(start))) start++;
  if (start === input.length) return new Invalid('version string is empty');
  let end = start;
  while (end < input.length && !isBlank(input.charCodeAt(end))) end++;
  for (let i = end; i < input.length; i++) {
    if (!isBlank(input.charCodeAt(i))) return new Invalid('version string has embedded spaces');
  }
  const text = input.slice(start, end);

  let epoch = 0;
  let rest = text;
  const colon = text.indexOf(':');
  if (colon >= 0) {
    // strtol(3): leading white space, an optional sign, then digits.
    let i = 0;
    while (i < text.length && isCSpace(text.charCodeAt(i))) i++;
    let negative = false;
    if (text[i] === '+' || text[i] === '-') {
      negative = text[i] === '-';
      i++;
    }
    const digitsStart = i;
    while (i < text.length && isDigit(text.charCodeAt(i))) i++;
    if (i === digitsStart) return new Invalid('epoch in version is empty');
    if (i !== colon) return new Invalid('epoch in version is not number');
    const digits = text.slice(digitsStart, i).replace(/^0+(?=.)/, '');
    const tooBig = digits.length > 10 || Number(digits) > INT_MAX;
    if (negative && Number(digits) !== 0) return new Invalid('epoch in version is negative');
    if (tooBig) return new Invalid('epoch in version is too big');
    if (colon + 1 === input.length - start) return new Invalid('nothing after colon in version number');
    epoch = Number(digits);
    rest = text.slice(colon + 1);
  }

  let upstream = rest;
  let revision = '';
  const hyphen = rest.lastIndexOf('-');
  if (hyphen >= 0) {
    upstream = rest.slice(0, hyphen);
    revision = rest.slice(hyphen + 1);
    if (revision === '') return new Invalid('revision number is empty');
  }
  if (upstream === '') return new Invalid('version number is empty');
  if (!isDigit(upstream.charCodeAt(0))) return new Invalid('version number does not start with digit');
  for (let i = 1; i < upstream.length; i++) {
    const c = upstream.charCodeAt(i);
    if (!isDigit(c) && !isAlpha(c) && !'.-+~:'.includes(upstream[i]!)) {
      return new Invalid('invalid character in version number');
    }
  }
  for (let i = 0; i < revision.length; i++) {
    const c = revision.charCodeAt(i);
    if (!isDigit(c) && !isAlpha(c) && !'.+~'.includes(revision[i]!)) {
      return new Invalid('invalid character in revision number');
    }
  }
  return { epoch, upstream, revision };
}

/** dpkg's `order()`: letters sort by ASCII, `~` before everything, even the end of the part. */
function order(c: number): number {
  if (isDigit(c)) return 0;
  if (isAlpha(c)) return c;
  if (c === 126) return -1;
  if (c) return c + 256;
  return 0;
}

/** dpkg's `verrevcmp`, with index 0 past the end standing for C's terminating NUL. */
export function verrevcmp(a: string, b: string): number {
  const at = (s: string, i: number): number => (i < s.length ? s.charCodeAt(i) : 0);
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let firstDiff = 0;
    while ((i < a.length && !isDigit(at(a, i))) || (j < b.length && !isDigit(at(b, j)))) {
      const ac = order(at(a, i));
      const bc = order(at(b, j));
      if (ac !== bc) return ac - bc;
      i++;
      j++;
    }
    while (at(a, i) === 48) i++;
    while (at(b, j) === 48) j++;
    while (isDigit(at(a, i)) && isDigit(at(b, j))) {
      if (!firstDiff) firstDiff = at(a, i) - at(b, j);
      i++;
      j++;
    }
    if (isDigit(at(a, i))) return 1;
    if (isDigit(at(b, j))) return -1;
    if (firstDiff) return firstDiff;
  }
  return 0;
}

export function compareDpkgVersions(a: DpkgVersion, b: DpkgVersion): number {
  if (a.epoch !== b.epoch) return a.epoch > b.epoch ? 1 : -1;
  return verrevcmp(a.upstream, b.upstream) || verrevcmp(a.revision, b.revision);
}

export const dpkg: VersionScheme = defineScheme('dpkg', parseDpkgVersion, compareDpkgVersions);
