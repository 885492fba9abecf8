/**
 * CycloneDX 1.4-1.7 JSON with `vulnerabilities` (as Grype, Trivy and Dependency-Track write
 * it), including VEX documents: a vulnerability whose `analysis.state` rules it out
 * (`not_affected`, `false_positive`, `resolved`) is a finding in state `not-affected`.
 * `affects[].ref` points at a component's `bom-ref`, directly or as a BOM-Link
 * (`urn:cdx:<serial>/<version>#<bom-ref>`); a ref that is itself a purl names the package.
 */
import { PackageURL } from 'packageurl-js';
import type { AffectedPackage, Cvss, ParsedReport, ReportedFinding } from '../model.ts';
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

export function isCycloneDx(json: unknown): boolean {
  return isObject(json) && json.bomFormat === 'CycloneDX';
}

const RULED_OUT = new Set(['not_affected', 'false_positive', 'resolved', 'resolved_with_pedigree']);
const SEVERITY_ORDER = ['critical', 'high', 'medium', 'low', 'info', 'none', 'unknown'];

function componentsByRef(bom: Record<string, unknown>, source: string): Map<string, Record<string, unknown>> {
  const byRef = new Map<string, Record<string, unknown>>();
  // Components nest (an image holds packages that hold files); walk them without recursion.
  const pending: Array<[unknown, string]> = [[bom.components, 'components']];
  if (isObject(bom.metadata) && bom.metadata.component !== undefined)
    pending.push([[bom.metadata.component], 'metadata.component']);
  let seen = 0;
  while (pending.length > 0) {
    const [items, path] = pending.pop()!;
    for (const [i, c] of list(items, source, path).entries()) {
      if (++seen > 1_000_000) throw invalid(source, path, 'lists more than 1,000,000 components');
      const component = object(c, source, `${path}[${i}]`);
      const ref = optionalText(component['bom-ref']);
      if (ref !== undefined) byRef.set(ref, component);
      if (component.components !== undefined) pending.push([component.components, `${path}[${i}].components`]);
    }
  }
  return byRef;
}

function fromPurl(purl: string): AffectedPackage | undefined {
  try {
    const p = PackageURL.fromString(purl);
    return {
      name:
        p.namespace && p.type !== 'deb' && p.type !== 'rpm' && p.type !== 'apk' ? `${p.namespace}/${p.name}` : p.name,
      version: p.version ?? '',
      ecosystem: p.type,
      purl,
    };
  } catch {
    return undefined;
  }
}

function affectedPackage(ref: string, components: Map<string, Record<string, unknown>>): AffectedPackage | undefined {
  const local =
    ref.startsWith('urn:cdx:') && ref.includes('#') ? decodeURIComponent(ref.slice(ref.indexOf('#') + 1)) : ref;
  const component = components.get(local) ?? components.get(ref);
  if (component) {
    const purl = optionalText(component.purl);
    const name = optionalText(component.name);
    if (name !== undefined) {
      const group = optionalText(component.group);
      return {
        name: group ? `${group}/${name}` : name,
        version: optionalText(component.version) ?? '',
        ecosystem: purl ? fromPurl(purl)?.ecosystem : undefined,
        purl,
      };
    }
    if (purl) return fromPurl(purl);
  }
  return local.startsWith('pkg:') ? fromPurl(local) : undefined;
}

function rating(
  vuln: Record<string, unknown>,
  source: string,
  at: string,
): { severity: string | undefined; cvss?: Cvss } {
  let worst: string | undefined;
  let cvss: Cvss | undefined;
  for (const [i, r] of list(vuln.ratings, source, `${at}.ratings`).entries()) {
    const rated = object(r, source, `${at}.ratings[${i}]`);
    const method = optionalText(rated.method) ?? '';
    const word = optionalText(rated.severity)?.toLowerCase();
    if (word && (worst === undefined || SEVERITY_ORDER.indexOf(word) < SEVERITY_ORDER.indexOf(worst))) worst = word;
    if (method.startsWith('CVSS') && (cvss === undefined || method > (cvss.source ?? ''))) {
      const by = isObject(rated.source) ? optionalText(rated.source.name) : undefined;
      cvss = { vector: optionalText(rated.vector), score: optionalNumber(rated.score), source: by ?? method };
    }
  }
  return { severity: worst, cvss };
}

/** Grype and Trivy write CycloneDX too; the scanner is whichever tool the BOM names. */
function producedBy(metadata: Record<string, unknown>): ParsedReport['scanner'] {
  const tools = isObject(metadata.tools) ? metadata.tools.components : metadata.tools;
  for (const t of Array.isArray(tools) ? tools : []) {
    const name = isObject(t) ? optionalText(t.name)?.toLowerCase() : undefined;
    if (name === 'grype' || name === 'trivy') return name;
  }
  return 'cyclonedx';
}

export function parseCycloneDx(json: unknown, source: string): ParsedReport {
  const bom = object(json, source, '');
  if (bom.bomFormat !== 'CycloneDX') throw invalid(source, 'bomFormat', 'is not "CycloneDX"');
  const spec = optionalText(bom.specVersion) ?? '';
  if (!/^1\.[4-7]$/.test(spec))
    throw invalid(source, 'specVersion', `is ${JSON.stringify(bom.specVersion)}; CycloneDX 1.4 to 1.7 is read`);
  const components = componentsByRef(bom, source);
  const findings: ReportedFinding[] = [];
  for (const [i, v] of list(bom.vulnerabilities, source, 'vulnerabilities').entries()) {
    const at = `vulnerabilities[${i}]`;
    const vuln = object(v, source, at);
    const id = text(vuln.id, source, `${at}.id`);
    const aliases = uniqueAliases(id, [
      ...list(vuln.references, source, `${at}.references`).map((r) => (isObject(r) ? r.id : undefined)),
    ]);
    const { severity: word, cvss } = rating(vuln, source, at);
    const analysis = isObject(vuln.analysis) ? vuln.analysis : {};
    const state = optionalText(analysis.state);
    for (const [j, a] of list(vuln.affects, source, `${at}.affects`).entries()) {
      const affects = object(a, source, `${at}.affects[${j}]`);
      const ref = text(affects.ref, source, `${at}.affects[${j}].ref`);
      const pkg = affectedPackage(ref, components);
      if (!pkg)
        throw invalid(
          source,
          `${at}.affects[${j}].ref`,
          `names ${JSON.stringify(ref)}, which is neither a component of the BOM nor a purl`,
        );
      const versions = list(affects.versions, source, `${at}.affects[${j}].versions`).filter(isObject);
      const affected = versions.find((x) => x.status === 'affected' && typeof x.version === 'string');
      if (pkg.version === '' && affected) pkg.version = affected.version as string;
      findings.push({
        id,
        aliases,
        package: pkg,
        severity: severity(word),
        cvss,
        state: state !== undefined && RULED_OUT.has(state) ? 'not-affected' : 'open',
        detail:
          state !== undefined ? [state, optionalText(analysis.justification)].filter(Boolean).join(': ') : undefined,
      });
    }
  }
  const metadata = isObject(bom.metadata) ? bom.metadata : {};
  const subject = isObject(metadata.component) ? metadata.component : {};
  const subjectPurl = optionalText(subject.purl);
  const digests = digestsOf([
    subject.version,
    subject['bom-ref'],
    subjectPurl ? decodeURIComponent(subjectPurl.split('?')[0]!) : undefined,
  ]);
  return {
    format: 'cyclonedx',
    scanner: producedBy(metadata),
    digests,
    artifact: optionalText(subject.name),
    createdAt: optionalText(metadata.timestamp),
    ...fold(findings),
  };
}
