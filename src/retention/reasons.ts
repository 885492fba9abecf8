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

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** A duration in the unit people use for retention: days, or hours and minutes below a day. */
export function span(ms: number): string {
  if (ms >= DAY) return `${Math.floor(ms / DAY)} d`;
  if (ms >= HOUR) return `${Math.floor(ms / HOUR)} h`;
  return `${Math.max(0, Math.floor(ms / MINUTE))} min`;
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
