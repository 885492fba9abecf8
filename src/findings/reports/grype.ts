/**
 * Grype JSON (`grype -o json`): `matches[]`, each a vulnerability matched against an artifact.
 * The digest comes from `source.target.manifestDigest` or `repoDigests`.
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

export function isGrype(json: unknown): boolean {
  return isObject(json) && Array.isArray(json.matches) && (isObject(json.source) || isObject(json.descriptor));
}

function cvssOf(vuln: Record<string, unknown>, source: string, at: string): Cvss | undefined {
  let best: Cvss | undefined;
  let bestVersion = '';
  for (const [k, c] of list(vuln.cvss, source, `${at}.cvss`).entries()) {
    if (!isObject(c)) throw invalid(source, `${at}.cvss[${k}]`, 'is not an object');
    const metrics = isObject(c.metrics) ? c.metrics : {};
    const version = optionalText(c.version) ?? '';
    // Grype lists every rating it knows; the newest CVSS version it gives wins.
    if (best && version < bestVersion) continue;
    best = { vector: optionalText(c.vector), score: optionalNumber(metrics.baseScore), source: optionalText(c.source) };
    bestVersion = version;
  }
  return best;
}

export function parseGrype(json: unknown, source: string): ParsedReport {
  const report = object(json, source, '');
  if (!Array.isArray(report.matches)) throw invalid(source, 'matches', 'is missing: not a Grype JSON report');
  const findings: ReportedFinding[] = [];
  for (const [i, m] of report.matches.entries()) {
    const at = `matches[${i}]`;
    const match = object(m, source, at);
    const vuln = object(match.vulnerability, source, `${at}.vulnerability`);
    const artifact = object(match.artifact, source, `${at}.artifact`);
    const id = text(vuln.id, source, `${at}.vulnerability.id`);
    const related = list(match.relatedVulnerabilities, source, `${at}.relatedVulnerabilities`).map((r) =>
      isObject(r) ? r.id : undefined,
    );
    const fix = isObject(vuln.fix) ? vuln.fix : {};
    const fixed = list(fix.versions, source, `${at}.vulnerability.fix.versions`).filter(
      (v): v is string => typeof v === 'string' && v !== '',
    );
    findings.push({
      id,
      aliases: uniqueAliases(id, related),
      package: {
        name: text(artifact.name, source, `${at}.artifact.name`),
        version: optionalText(artifact.version) ?? '',
        ecosystem: optionalText(artifact.type),
        purl: optionalText(artifact.purl),
      },
      fixedVersion: fixed[0],
      severity: severity(vuln.severity),
      cvss: cvssOf(vuln, source, `${at}.vulnerability`),
      state: 'open',
    });
  }
  const src = isObject(report.source) ? report.source : {};
  const target = isObject(src.target) ? src.target : {};
  const digests = digestsOf([target.manifestDigest, ...list(target.repoDigests, source, 'source.target.repoDigests')]);
  const descriptor = isObject(report.descriptor) ? report.descriptor : {};
  return {
    format: 'grype',
    scanner: 'grype',
    digests,
    artifact: optionalText(target.userInput),
    createdAt: optionalText(descriptor.timestamp),
    ...fold(findings),
  };
}
