/**
 * Why retention keeps or deletes something: a stable machine code (for scripts, tests and
 * the fingerprint) and a sentence for people. Codes are grouped by prefix:
 *
 * - `protected:*` a protection; no rule overrides it.
 * - `rule:*` a retention rule of the repository decided.
 * - `keep:*` kept for a structural reason (env tag, artifact following its subject, ...).
 * - `follows:*` deleted because what it belongs to is deleted.
 */

export const PROTECTION_CODES = [
  'protected:legal-hold',
  'protected:quarantine',
  'protected:in-use',
  'protected:stage-current',
  'protected:rollback',
  'protected:reached-prod',
  'protected:recent-pull',
  'protected:kept-tag',
  'protected:shared-digest',
  'protected:child-of-kept-index',
  'protected:subject-of-kept-artifact',
] as const;

export const REASON_CODES = [
  ...PROTECTION_CODES,
  'keep:env-tag',
  'keep:subject-kept',
  'keep:subject-absent',
  'keep:inventory-incomplete',
  'rule:keep-tags',
  'rule:keep-last',
  'rule:within-age',
  'rule:no-expiry',
  'rule:untagged-within-age',
  'rule:delete-tags',
  'rule:catalog-cap',
  'rule:max-age',
  'rule:max-age-since-pull',
  'rule:max-age-since-promotion',
  'rule:untagged-max-age',
  'follows:subject-deleted',
  'follows:index-deleted',
] as const;

export type ProtectionCode = (typeof PROTECTION_CODES)[number];
export type ReasonCode = (typeof REASON_CODES)[number];

/**
 * Protections that hold a digest for its own sake: the manifest and every tag on it stay,
 * because whoever pulls it, runs it or audits it may know it by any of those tags. The
 * other protections (kept tag, kept index, kept signature) only need the manifest.
 */
export const INTRINSIC_PROTECTIONS: readonly ProtectionCode[] = [
  'protected:legal-hold',
  'protected:quarantine',
  'protected:in-use',
  'protected:stage-current',
  'protected:rollback',
  'protected:reached-prod',
  'protected:recent-pull',
];

export function isProtection(code: ReasonCode): code is ProtectionCode {
  return code.startsWith('protected:');
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** The units reasons speak in, coarsest first; days are the coarsest (years read as 730 d). */
const UNITS: ReadonlyArray<readonly [name: string, ms: number]> = [
  ['d', DAY],
  ['h', HOUR],
  ['min', MINUTE],
  ['s', SECOND],
  ['ms', 1],
];

/** Milliseconds of each unit `precisionOf` returns the index of. */
export const PRECISION_MS: readonly number[] = UNITS.map(([, ms]) => ms);

/**
 * The unit a limit from the policy was written in, as an index into UNITS: the coarsest one
 * that measures it exactly (`30d` → d, `36h` → h, `90m` → min, `1s` → s). A zero limit
 * reads in seconds.
 */
export function precisionOf(limit: number): number {
  if (limit <= 0) return 3;
  for (let u = 0; u < UNITS.length - 1; u++) if (limit % UNITS[u]![1] === 0) return u;
  return UNITS.length - 1;
}

/** A limit of the policy in its own unit: `30 d`, `36 h`, `1 s`. */
export function limitText(limit: number): string {
  const [name, ms] = UNITS[precisionOf(limit)]!;
  return `${Math.max(0, limit) / ms} ${name}`;
}

/**
 * How a measured duration reads next to a limit: in the limit's unit, so that the two read
 * alike (`41 d` against `30 d`, `3 s` against `1 s`); under one such unit, in the first
 * finer unit that shows it (`5 h` against `30 d`, not `0 d`). Returns the unit index and
 * the count in it.
 */
export function readingAt(ms: number, limit: number): readonly [unit: number, count: number] {
  const u = precisionOf(limit);
  const m = Math.max(0, ms);
  let f = u;
  while (m < PRECISION_MS[f]! && f < UNITS.length - 1 && m > 0) f++;
  return [f, Math.floor(m / PRECISION_MS[f]!)];
}

/**
 * A measured duration read as `readingAt` says. Where it would print the limit itself while
 * exceeding it, the remainder follows in the next unit that shows it (`30 d 5 h` against
 * `30 d`): a deletion never reads as if it were within the limit.
 */
export function spanAt(ms: number, limit: number): string {
  const [u, count] = readingAt(ms, limit);
  const [name, size] = UNITS[u]!;
  const text = `${count} ${name}`;
  if (ms <= limit || count * size !== limit) return text;
  const rest = ms - limit;
  for (let f = u + 1; f < UNITS.length; f++) {
    const [fname, fsize] = UNITS[f]!;
    if (rest >= fsize) return `${text} ${Math.floor(rest / fsize)} ${fname}`;
  }
  return text;
}

/** "41 d ago" at the limit's precision; a time after the clock (skew) says so. */
export function agoAt(ms: number, limit: number): string {
  return ms < 0 ? 'in the future (clock skew)' : `${spanAt(ms, limit)} ago`;
}

/** A duration in the unit people use for retention: days, or hours, minutes and seconds below a day. */
export function span(ms: number): string {
  if (ms >= DAY) return `${Math.floor(ms / DAY)} d`;
  if (ms >= HOUR) return `${Math.floor(ms / HOUR)} h`;
  if (ms >= MINUTE) return `${Math.floor(ms / MINUTE)} min`;
  return `${Math.max(0, Math.floor(ms / SECOND))} s`;
}

/** "41 d ago"; a time after the clock (skew between the registry and Sluice) says so. */
export function ago(ms: number): string {
  return ms < 0 ? 'in the future (clock skew)' : `${span(ms)} ago`;
}

/** `sha256:0123456789ab`: enough to tell digests apart in a sentence. */
export function shortDigest(digest: string): string {
  const colon = digest.indexOf(':');
  return colon < 0 ? digest : digest.slice(0, colon + 13);
}
