/**
 * NuGet versions, parsed as `NuGetVersion.TryParse` and ordered as `VersionComparer.Default`
 * (NuGet.Client src/NuGet.Core/NuGet.Versioning): one to four numeric parts (`1` is `1.0.0.0`,
 * leading zeros allowed, each at most 2^31-1), SemVer 2.0 release labels compared
 * case-insensitively, a label numeric when `int.TryParse` reads it (so `-1` is the number -1),
 * numeric labels before alphanumeric ones, build metadata ignored.
 */
import { defineScheme, Invalid, type VersionScheme } from './scheme.ts';

export interface NuGetVersion {
  /** major, minor, patch, revision. */
  parts: [number, number, number, number];
  labels: string[] | null;
  metadata: string | null;
}

const WHITE = /^[\t\n\v\f\r ]+|[\t\n\v\f\r ]+$/g;
const INT32_MAX = 2147483647;

/** SemanticVersionFactory.ParseSections: version, labels after the first `-`, metadata after `+`. */
function parseSections(value: string): [string | null, string[] | null, string | null] {
  let versionString: string | null = null;
  let releaseLabels: string[] | null = null;
  let metadata: string | null = null;
  let dashPos = -1;
  let plusPos = -1;
  for (let i = 0; i < value.length; i++) {
    const end = i === value.length - 1;
    if (dashPos < 0) {
      if (end || value[i] === '-' || value[i] === '+') {
        versionString = value.slice(0, i + (end ? 1 : 0));
        dashPos = i;
        if (value[i] === '+') plusPos = i;
      }
    } else if (plusPos < 0) {
      if (end || value[i] === '+') {
        releaseLabels = value.slice(dashPos + 1, i + (end ? 1 : 0)).split('.');
        plusPos = i;
      }
    } else if (end) {
      metadata = value.slice(plusPos + 1, i + 1);
    }
  }
  return [versionString, releaseLabels, metadata];
}

function isValidPart(s: string, allowLeadingZeros: boolean): boolean {
  if (s.length === 0) return false;
  if (!allowLeadingZeros && s.length > 1 && s[0] === '0' && /^[0-9]+$/.test(s)) return false;
  return /^[A-Za-z0-9-]+$/.test(s);
}

/** System.Version.TryParse: 2 to 4 parts, each what int.TryParse(NumberStyles.Integer) reads, >= 0. */
function parseSystemVersion(s: string): number[] | null {
  const parts = s.split('.');
  if (parts.length < 2 || parts.length > 4) return null;
  const out: number[] = [];
  for (const part of parts) {
    // No sign can reach here: ParseSections cut the string at the first '-' or '+'.
    const digits = /^[\t\n\v\f\r ]*([0-9]+)[\t\n\v\f\r ]*$/.exec(part)?.[1]?.replace(/^0+(?=.)/, '');
    if (digits === undefined || digits.length > 10 || Number(digits) > INT32_MAX) return null;
    out.push(Number(digits));
  }
  return out;
}

export function parseNuGetVersion(input: string): NuGetVersion | Invalid {
  const bad = new Invalid('not MAJOR[.MINOR[.PATCH[.REVISION]]][-LABELS][+METADATA]');
  if (!/^[\x20-\x7e\t\n\v\f\r]*$/.test(input)) return new Invalid('only printable ASCII is allowed');
  const [versionPart, labels, metadata] = parseSections(input.replace(WHITE, ''));
  if (!versionPart) return bad;
  const numbers = parseSystemVersion(versionPart.includes('.') ? versionPart : `${versionPart}.0`);
  if (!numbers) return bad;
  if (labels && !labels.every((label) => isValidPart(label, false))) return bad;
  if (metadata !== null && !metadata.split('.').every((m) => isValidPart(m, true))) return bad;
  const [major = 0, minor = 0, patch = 0, revision = 0] = numbers;
  return { parts: [major, minor, patch, revision], labels, metadata };
}

/** int.TryParse(NumberStyles.Integer) over a label, which can only hold [A-Za-z0-9-]. */
function labelNumber(label: string): number | null {
  if (!/^-?[0-9]+$/.test(label)) return null;
  const n = Number(label);
  return n >= -2147483648 && n <= INT32_MAX ? n : null;
}

// StringComparer.OrdinalIgnoreCase on ASCII: compare the upper-cased code units.
const compareIgnoreCase = (a: string, b: string): number => {
  const x = a.toUpperCase();
  const y = b.toUpperCase();
  return x < y ? -1 : x > y ? 1 : 0;
};

function compareRelease(a: string, b: string): number {
  const x = labelNumber(a);
  const y = labelNumber(b);
  if (x !== null && y !== null) return x - y;
  if (x !== null) return -1;
  if (y !== null) return 1;
  return compareIgnoreCase(a, b);
}

export function compareNuGetVersions(a: NuGetVersion, b: NuGetVersion): number {
  for (let i = 0; i < 4; i++) {
    if (a.parts[i] !== b.parts[i]) return a.parts[i]! - b.parts[i]!;
  }
  if (a.labels && !b.labels) return -1;
  if (!a.labels && b.labels) return 1;
  if (a.labels && b.labels) {
    for (let i = 0; i < Math.max(a.labels.length, b.labels.length); i++) {
      if (i >= a.labels.length) return -1;
      if (i >= b.labels.length) return 1;
      const r = compareRelease(a.labels[i]!, b.labels[i]!);
      if (r !== 0) return r;
    }
  }
  return 0;
}

export const nuget: VersionScheme = defineScheme('nuget', parseNuGetVersion, compareNuGetVersions);
