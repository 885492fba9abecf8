/**
 * Trivy JSON (`trivy image --format json`, SchemaVersion 2). One entry per vulnerability per
 * package per target; the digest comes from Metadata.RepoDigests or an `@sha256:` artifact name.
 */
import type { Cvss, ParsedReport, ReportedFinding } from '../model.ts';
import {
  digestsOf,
  fold,
  invalid,
  isObject,
  list,
  object,
  optionalNumber,
  optionalText,
  severity,
  text,
  uniqueAliases,
} from './read.ts';

export function isTrivy(json: unknown): boolean {
  return isObject(json) && 'SchemaVersion' in json && ('Results' in json || 'ArtifactName' in json);
}

function cvssOf(v: Record<string, unknown>): Cvss | undefined {
  if (!isObject(v.CVSS)) return undefined;
  const sources = Object.keys(v.CVSS);
  // The rating Trivy chose its severity from comes first, then NVD, then any.
  const preferred = [optionalText(v.SeveritySource), 'nvd', ...sources].filter((s): s is string => !!s);
  for (const source of preferred) {
    const c = Object.hasOwn(v.CVSS, source) ? v.CVSS[source] : undefined;
    if (!isObject(c)) continue;
    const vector = optionalText(c.V3Vector) ?? optionalText(c.V40Vector) ?? optionalText(c.V2Vector);
    const score = optionalNumber(c.V3Score) ?? optionalNumber(c.V40Score) ?? optionalNumber(c.V2Score);
    if (vector !== undefined || score !== undefined) return { vector, score, source };
  }
  return undefined;
}

export function parseTrivy(json: unknown, source: string): ParsedReport {
  const report = object(json, source, '');
  if (report.SchemaVersion !== 2) {
    throw invalid(
      source,
      'SchemaVersion',
      `is ${JSON.stringify(report.SchemaVersion)}; only Trivy's SchemaVersion 2 is read`,
    );
  }
  const findings: ReportedFinding[] = [];
  for (const [i, r] of list(report.Results, source, 'Results').entries()) {
    const result = object(r, source, `Results[${i}]`);
    const ecosystem = optionalText(result.Type);
    for (const [j, v] of list(result.Vulnerabilities, source, `Results[${i}].Vulnerabilities`).entries()) {
      const at = `Results[${i}].Vulnerabilities[${j}]`;
      const vuln = object(v, source, at);
      const id = text(vuln.VulnerabilityID, source, `${at}.VulnerabilityID`);
      const identifier = isObject(vuln.PkgIdentifier) ? vuln.PkgIdentifier : {};
      findings.push({
        id,
        aliases: uniqueAliases(id, list(vuln.VendorIDs, source, `${at}.VendorIDs`)),
        package: {
          name: text(vuln.PkgName, source, `${at}.PkgName`),
          version: optionalText(vuln.InstalledVersion) ?? '',
          ecosystem,
          purl: optionalText(identifier.PURL),
        },
        fixedVersion: optionalText(vuln.FixedVersion),
        severity: severity(vuln.Severity),
        cvss: cvssOf(vuln),
        state: 'open',
      });
    }
  }
  const metadata = isObject(report.Metadata) ? report.Metadata : {};
  const artifact = optionalText(report.ArtifactName);
  const digests = digestsOf([
    ...list(metadata.RepoDigests, source, 'Metadata.RepoDigests'),
    ...(artifact?.includes('@') ? [artifact] : []),
  ]);
  return {
    format: 'trivy',
    scanner: 'trivy',
    digests,
    artifact,
    createdAt: optionalText(report.CreatedAt),
    ...fold(findings),
  };
}
