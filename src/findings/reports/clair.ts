/**
 * Clair v4 `vulnerability_report` (GET /matcher/api/v1/vulnerability_report/{digest}) and the
 * shape Quay serves from it (GET /api/v1/repository/{repo}/manifest/{digest}/security
 * ?vulnerabilities=true). Clair reports by document-local ids: packages, vulnerabilities and
 * the package → vulnerabilities index between them.
 */
import type { ParsedReport, ReportedFinding } from '../model.ts';
import {
  digestsOf,
  fold,
  invalid,
  isObject,
  list,
  object,
  optionalText,
  severity,
  text,
  uniqueAliases,
} from './read.ts';

export function isClair(json: unknown): boolean {
  return isObject(json) && 'manifest_hash' in json && 'package_vulnerabilities' in json;
}

export function isQuay(json: unknown): boolean {
  return isObject(json) && 'status' in json && isObject(json.data) && isObject(json.data.Layer);
}

const ADVISORY_ID =
  /\b(?:CVE-\d{4}-\d{4,}|GHSA(?:-[23456789cfghjmpqrvwx]{4}){3}|(?:RHSA|RHBA|RHEA|ALAS\d*|ELSA|DSA|DLA|USN)-[\w:.-]*\w)/g;

/**
 * Clair names vulnerabilities as its updaters found them: `CVE-…` for most distributions,
 * `RHSA-2020:5566: openssl security update (Important)` for Red Hat. The id is the first
 * advisory id in the name; the others in the name and links become aliases.
 */
function identify(name: string, links: string | undefined): { id: string; aliases: string[] } {
  const inName = name.match(ADVISORY_ID) ?? [];
  const id = inName[0] ?? name.split(/\s/, 1)[0]!;
  const aliases = uniqueAliases(id, [...inName, ...((links ?? '').match(ADVISORY_ID) ?? [])]);
  return { id, aliases };
}

export function parseClair(json: unknown, source: string): ParsedReport {
  const report = object(json, source, '');
  const manifest = text(report.manifest_hash, source, 'manifest_hash');
  const packages = object(report.packages ?? {}, source, 'packages');
  const vulnerabilities = object(report.vulnerabilities ?? {}, source, 'vulnerabilities');
  const index = object(report.package_vulnerabilities, source, 'package_vulnerabilities');
  const distributions = isObject(report.distributions) ? report.distributions : {};
  const environments = isObject(report.environments) ? report.environments : {};
  const findings: ReportedFinding[] = [];
  for (const pkgId of Object.keys(index)) {
    if (!Object.hasOwn(packages, pkgId)) {
      throw invalid(source, `package_vulnerabilities.${pkgId}`, 'names a package the report does not list');
    }
    const pkg = object(packages[pkgId], source, `packages.${pkgId}`);
    const env = list(Object.hasOwn(environments, pkgId) ? environments[pkgId] : [], source, `environments.${pkgId}`)[0];
    const distId = isObject(env) ? optionalText(env.distribution_id) : undefined;
    const dist =
      distId && Object.hasOwn(distributions, distId) && isObject(distributions[distId])
        ? distributions[distId]
        : undefined;
    const ecosystem = dist
      ? [optionalText(dist.did), optionalText(dist.version_id)].filter(Boolean).join(':')
      : undefined;
    for (const [k, vulnId] of list(index[pkgId], source, `package_vulnerabilities.${pkgId}`).entries()) {
      const at = `package_vulnerabilities.${pkgId}[${k}]`;
      if (typeof vulnId !== 'string' || !Object.hasOwn(vulnerabilities, vulnId)) {
        throw invalid(source, at, 'names a vulnerability the report does not list');
      }
      const vuln = object(vulnerabilities[vulnId], source, `vulnerabilities.${vulnId}`);
      const { id, aliases } = identify(
        text(vuln.name, source, `vulnerabilities.${vulnId}.name`),
        optionalText(vuln.links),
      );
      findings.push({
        id,
        aliases,
        package: {
          name: text(pkg.name, source, `packages.${pkgId}.name`),
          version: optionalText(pkg.version) ?? '',
          ecosystem: ecosystem || undefined,
        },
        fixedVersion: optionalText(vuln.fixed_in_version),
        severity: severity(vuln.normalized_severity ?? vuln.severity),
        state: 'open',
      });
    }
  }
  return { format: 'clair', scanner: 'clair', digests: digestsOf([manifest]), artifact: manifest, ...fold(findings) };
}

export function parseQuay(json: unknown, source: string): ParsedReport {
  const report = object(json, source, '');
  if (report.status !== 'scanned') {
    throw invalid(source, 'status', `is ${JSON.stringify(report.status)}: Quay has no scan of this manifest yet`);
  }
  const layer = object(object(report.data, source, 'data').Layer, source, 'data.Layer');
  const findings: ReportedFinding[] = [];
  for (const [i, f] of list(layer.Features, source, 'data.Layer.Features').entries()) {
    const at = `data.Layer.Features[${i}]`;
    const feature = object(f, source, at);
    for (const [j, v] of list(feature.Vulnerabilities, source, `${at}.Vulnerabilities`).entries()) {
      const vat = `${at}.Vulnerabilities[${j}]`;
      const vuln = object(v, source, vat);
      const metadata = isObject(vuln.Metadata) ? vuln.Metadata : {};
      const { id, aliases } = identify(text(vuln.Name, source, `${vat}.Name`), optionalText(vuln.Link));
      findings.push({
        id,
        aliases,
        package: {
          name: text(feature.Name, source, `${at}.Name`),
          version: optionalText(feature.Version) ?? '',
          ecosystem: optionalText(vuln.NamespaceName) ?? optionalText(feature.NamespaceName),
        },
        fixedVersion: optionalText(vuln.FixedBy),
        severity: severity(metadata.NormalizedSeverity ?? vuln.Severity),
        state: 'open',
      });
    }
  }
  const name = optionalText(layer.Name);
  return { format: 'quay', scanner: 'clair', digests: digestsOf([name]), artifact: name, ...fold(findings) };
}
