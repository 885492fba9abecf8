/**
 * The finding model every scanner's report is read into. A finding is one vulnerability in one
 * installed package of one image digest; its identity is (digest, vulnerability id, package,
 * version), whichever scanner reported it and however often it was rescanned.
 */
import type { Severity } from '../policy/index.ts';

export const SCANNERS = ['builtin', 'trivy', 'grype', 'clair', 'cyclonedx'] as const;
export type Scanner = (typeof SCANNERS)[number];

export const REPORT_FORMATS = ['trivy', 'grype', 'clair', 'quay', 'cyclonedx'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** What a report states about a finding: VEX documents may say it does not apply. */
export const FINDING_STATES = ['open', 'fixed', 'waived', 'not-affected'] as const;
export type FindingState = (typeof FINDING_STATES)[number];

export interface AffectedPackage {
  name: string;
  version: string;
  /** The scanner's package type or OSV ecosystem (`apk`, `deb`, `npm`, `Debian:12`), when known. */
  ecosystem?: string;
  purl?: string;
}

export interface Cvss {
  vector?: string;
  score?: number;
  /** Who rated it (`nvd`, `ghsa`, a distribution). */
  source?: string;
}

/** A finding as one report states it, before it meets the store. */
export interface ReportedFinding {
  /** The id the scanner reports (CVE-…, GHSA-…, an OSV id, a distribution advisory). */
  id: string;
  /** Other ids of the same vulnerability, without `id` itself. */
  aliases: string[];
  package: AffectedPackage;
  fixedVersion?: string;
  severity: Severity;
  cvss?: Cvss;
  /** `not-affected` when the report is a VEX statement that rules it out; otherwise `open`. */
  state: 'open' | 'not-affected';
  /** The VEX justification or the scanner's note, when it gives one. */
  detail?: string;
}

export interface ParsedReport {
  format: ReportFormat;
  scanner: Scanner;
  /** Manifest digests the report says it describes; empty when it names none. */
  digests: string[];
  /** What the report was run on, as it names it (a reference, a path). */
  artifact?: string;
  createdAt?: string;
  findings: ReportedFinding[];
  /** Entries the reader skipped on purpose (duplicates), for the operator's summary. */
  duplicates: number;
}

/** The identity a finding keeps across scanners and rescans of one digest. */
export function findingKey(f: Pick<ReportedFinding, 'id' | 'package'>): string {
  return `${f.id}\u0000${f.package.name}\u0000${f.package.version}`;
}
