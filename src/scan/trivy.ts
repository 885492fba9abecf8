/**
 * Trivy JSON reports (SchemaVersion 2) as scan evidence. Only what a gate judges is kept:
 * finding counts per severity (one finding per vulnerability id and package), and the digest
 * the report describes, which must be the digest the evidence is recorded for.
 */
import { SluiceError } from '../errors.ts';
import type { Severity } from '../policy/index.ts';
import { ownValue } from '../util/own.ts';

export const MAX_REPORT_BYTES = 64 * 1024 * 1024;

export interface ScanSummary {
  scanner: 'trivy';
  artifact: string | null;
  /** Digests the report names (Metadata.RepoDigests), when it names any. */
  digests: string[];
  counts: Record<Severity, number>;
  fixable: Record<Severity, number>;
  findings: number;
  createdAt: string | null;
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

const SEVERITY_MAP: Record<string, Severity> = {
  CRITICAL: 'critical',
  HIGH: 'high',
  MEDIUM: 'medium',
  LOW: 'low',
  UNKNOWN: 'unknown',
};

export function parseTrivyReport(text: string, source = 'report'): ScanSummary {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SluiceError(
      'SCAN_REPORT_INVALID',
      'invalid-input',
      `${source} is not valid JSON: ${(err as Error).message}`,
      { location: source },
    );
  }
  const report = obj(json);
  if (!report || report.SchemaVersion !== 2 || !Array.isArray(report.Results ?? [])) {
    throw new SluiceError(
      'SCAN_REPORT_INVALID',
      'invalid-input',
      `${source} is not a Trivy JSON report (expected SchemaVersion 2 with Results)`,
      { location: source },
    );
  }
  const zero = (): Record<Severity, number> => ({ critical: 0, high: 0, medium: 0, low: 0, negligible: 0, unknown: 0 });
  const counts = zero();
  const fixable = zero();
  const seen = new Set<string>();
  for (const [i, r] of ((report.Results as unknown[]) ?? []).entries()) {
    const result = obj(r);
    if (!result)
      throw new SluiceError('SCAN_REPORT_INVALID', 'invalid-input', `${source}: Results[${i}] is not an object`, {
        location: source,
      });
    const vulns = result.Vulnerabilities;
    if (vulns === undefined || vulns === null) continue;
    if (!Array.isArray(vulns))
      throw new SluiceError(
        'SCAN_REPORT_INVALID',
        'invalid-input',
        `${source}: Results[${i}].Vulnerabilities is not a list`,
        { location: source },
      );
    for (const [j, v] of vulns.entries()) {
      const vuln = obj(v);
      const id = typeof vuln?.VulnerabilityID === 'string' ? vuln.VulnerabilityID : undefined;
      if (!vuln || !id)
        throw new SluiceError(
          'SCAN_REPORT_INVALID',
          'invalid-input',
          `${source}: Results[${i}].Vulnerabilities[${j}] has no VulnerabilityID`,
          { location: source },
        );
      const key = `${id}\u0000${String(vuln.PkgName ?? '')}\u0000${String(vuln.InstalledVersion ?? '')}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const severity = ownValue(SEVERITY_MAP, String(vuln.Severity ?? 'UNKNOWN').toUpperCase()) ?? 'unknown';
      counts[severity]++;
      if (typeof vuln.FixedVersion === 'string' && vuln.FixedVersion !== '') fixable[severity]++;
    }
  }
  const metadata = obj(report.Metadata) ?? {};
  const repoDigests = Array.isArray(metadata.RepoDigests)
    ? metadata.RepoDigests.filter((d): d is string => typeof d === 'string')
    : [];
  const digests = repoDigests.map((d) => d.slice(d.indexOf('@') + 1)).filter((d) => d.startsWith('sha256:'));
  return {
    scanner: 'trivy',
    artifact: typeof report.ArtifactName === 'string' ? report.ArtifactName : null,
    digests,
    counts,
    fixable,
    findings: seen.size,
    createdAt: typeof report.CreatedAt === 'string' ? report.CreatedAt : null,
  };
}

/** A report that names digests must name this one: evidence for A never counts for B. */
export function assertReportIsFor(summary: ScanSummary, digest: string, source: string): void {
  const named = [...summary.digests];
  const fromName = summary.artifact?.includes('@')
    ? summary.artifact.slice(summary.artifact.indexOf('@') + 1)
    : undefined;
  if (fromName) named.push(fromName);
  if (named.length > 0 && !named.includes(digest)) {
    throw new SluiceError(
      'SCAN_REPORT_MISMATCH',
      'invalid-input',
      `${source} describes ${named[0]}, not ${digest}; a report is evidence only for the digest it scanned`,
      { digest, location: source },
    );
  }
}
