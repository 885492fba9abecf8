/**
 * RubyGems versions, ordered as `Gem::Version#<=>` orders them (rubygems 3.3, Ruby 3.1):
 * `-` means `.pre.`, segments are runs of digits or of letters, letters make a pre-release that
 * sorts before the release, trailing zeros of the numeric part and of the pre-release part are
 * ignored (`1.0.a` == `1.a`), and letters compare case-sensitively.
 *
 * Ruby takes an empty (or all-blank) string as version "0"; here it is invalid, as OSV never
 * publishes one.
 */
import { defineScheme, Invalid, type VersionScheme } from './scheme.ts';

type Segment = bigint | string;

export interface GemVersion {
  /** The string after strip and `-` → `.pre.`: versions equal as strings are equal. */
  version: string;
  canonical: Segment[];
}

// Gem::Version::ANCHORED_VERSION_PATTERN; Ruby's \s is [ \t\r\n\f\v].
const ANCHORED_VERSION_PATTERN =
  /^[ \t\r\n\f\v]*([0-9]+(?:\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?)?[ \t\r\n\f\v]*$/;

function dropTrailingZeros(segments: Segment[]): Segment[] {
  let end = segments.length;
  while (end > 0 && segments[end - 1] === 0n) end--;
  return segments.slice(0, end);
}

export function parseGemVersion(input: string): GemVersion | Invalid {
  // Without the m flag, ^ and $ anchor at the ends of the input only, like Ruby's \A and \z.
  if (!ANCHORED_VERSION_PATTERN.test(input)) return new Invalid('malformed version number string');
  const version = input.replace(/^[ \t\r\n\f\v]+|[ \t\r\n\f\v]+$/g, '').replaceAll('-', '.pre.');
  if (version === '') return new Invalid('empty');
  const segments: Segment[] = (version.match(/[0-9]+|[a-z]+/gi) ?? []).map((s) => (/^[0-9]/.test(s) ? BigInt(s) : s));
  const stringStart = segments.findIndex((s) => typeof s === 'string');
  const numeric = stringStart === -1 ? segments : segments.slice(0, stringStart);
  const strings = stringStart === -1 ? [] : segments.slice(stringStart);
  return { version, canonical: [...dropTrailingZeros(numeric), ...dropTrailingZeros(strings)] };
}

export function compareGemVersions(a: GemVersion, b: GemVersion): number {
  if (a.version === b.version) return 0;
  const l = a.canonical;
  const r = b.canonical;
  if (l.length === r.length && l.every((s, i) => s === r[i])) return 0;
  const limit = Math.max(l.length, r.length);
  for (let i = 0; i < limit; i++) {
    const lhs = l[i] ?? 0n;
    const rhs = r[i] ?? 0n;
    if (lhs === rhs) continue;
    if (typeof lhs === 'string' && typeof rhs !== 'string') return -1;
    if (typeof lhs !== 'string' && typeof rhs === 'string') return 1;
    return lhs < rhs ? -1 : 1;
  }
  return 0;
}

export const rubygems: VersionScheme = defineScheme('rubygems', parseGemVersion, compareGemVersions);
