/**
 * What every report reader shares: typed access to untrusted JSON that names the path of what
 * is wrong, severity words mapped onto the policy's scale, and duplicate folding.
 */
import { SluiceError } from '../../errors.ts';
import type { Severity } from '../../policy/index.ts';
import { findingKey, type ReportedFinding } from '../model.ts';

export type Json = Record<string, unknown>;

export function invalid(source: string, path: string, message: string): SluiceError {
  return new SluiceError('SCAN_REPORT_INVALID', 'invalid-input', `${source}: ${path ? `${path} ` : ''}${message}`, {
    location: path ? `${source}:${path}` : source,
  });
}

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The object at `path`, or a clear refusal. */
export function object(v: unknown, source: string, path: string): Json {
  if (!isObject(v)) throw invalid(source, path, 'is not an object');
  return v;
}

/** A list, or [] when absent/null (scanners write `null` for "none"). */
export function list(v: unknown, source: string, path: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalid(source, path, 'is not a list');
  return v;
}

/** A required non-empty string. */
export function text(v: unknown, source: string, path: string): string {
  if (typeof v !== 'string' || v === '') throw invalid(source, path, 'must be a non-empty string');
  return v;
}

/** An optional string: undefined when absent, null or empty. */
export function optionalText(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export function optionalNumber(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

const SEVERITY_WORDS: Record<string, Severity> = {
  critical: 'critical',
  high: 'high',
  important: 'high',
  medium: 'medium',
  moderate: 'medium',
  low: 'low',
  negligible: 'negligible',
  none: 'negligible',
  info: 'negligible',
  unknown: 'unknown',
  unspecified: 'unknown',
  '': 'unknown',
};

/**
 * A scanner's severity word on the policy's scale. Words no scanner documents are `unknown`
 * rather than an error: a new vendor word must not make a report unreadable, and `unknown`
 * has its own SLA so the finding is still tracked.
 */
export function severity(v: unknown): Severity {
  if (typeof v !== 'string') return 'unknown';
  return Object.hasOwn(SEVERITY_WORDS, v.toLowerCase()) ? SEVERITY_WORDS[v.toLowerCase()]! : 'unknown';
}

export function uniqueAliases(id: string, aliases: Iterable<unknown>): string[] {
  const out = new Set<string>();
  for (const a of aliases) if (typeof a === 'string' && a !== '' && a !== id) out.add(a);
  return [...out].sort();
}

/** The digests named in `name@sha256:…` references. */
export function digestsOf(refs: Iterable<unknown>): string[] {
  const out = new Set<string>();
  for (const r of refs) {
    if (typeof r !== 'string') continue;
    const at = r.lastIndexOf('@');
    const d = at >= 0 ? r.slice(at + 1) : r;
    if (/^sha256:[a-f0-9]{64}$/.test(d)) out.add(d);
  }
  return [...out];
}

const SEVERITY_RANK: Record<Severity, number> = { critical: 5, high: 4, medium: 3, low: 2, negligible: 1, unknown: 0 };

/**
 * Folds entries with the same identity (one vulnerability in one package version) into one,
 * keeping the worst severity and the union of aliases: scanners list a finding once per
 * target or location it was seen at.
 */
export function fold(findings: ReportedFinding[]): { findings: ReportedFinding[]; duplicates: number } {
  const byKey = new Map<string, ReportedFinding>();
  let duplicates = 0;
  for (const f of findings) {
    const key = findingKey(f);
    const seen = byKey.get(key);
    if (!seen) {
      byKey.set(key, f);
      continue;
    }
    duplicates++;
    const worse = SEVERITY_RANK[f.severity] > SEVERITY_RANK[seen.severity] ? f : seen;
    byKey.set(key, {
      ...worse,
      aliases: uniqueAliases(worse.id, [...seen.aliases, ...f.aliases]),
      fixedVersion: seen.fixedVersion ?? f.fixedVersion,
      cvss: seen.cvss ?? f.cvss,
      state: seen.state === 'not-affected' && f.state === 'not-affected' ? 'not-affected' : 'open',
    });
  }
  return { findings: [...byKey.values()], duplicates };
}
