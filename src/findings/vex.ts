/**
 * Sluice's exceptions as VEX, for the other tools in the pipeline (Trivy `--vex`, Grype,
 * policy engines). Findings a report ruled out become `not_affected`; waivers stay what they
 * are, an accepted risk: `affected`, with the waiver (who, why, until when) as the action
 * statement. Presenting a waiver as `not_affected` would let every downstream tool forget
 * the vulnerability for good, past the waiver's expiry.
 */
import { PackageURL } from 'packageurl-js';

export interface VexImage {
  digest: string;
  /** `host/path` of a repository holding it. */
  repository: string;
}

export interface NotAffected {
  kind: 'not-affected';
  vulnerability: string;
  aliases: readonly string[];
  images: readonly VexImage[];
  /** The package in the image, when the statement names one. */
  purl?: string;
  /** The reason the report gave: a CycloneDX justification, or free text. */
  justification?: string;
  since: number;
}

export interface WaiverStatement {
  kind: 'waiver';
  waiver: string;
  vulnerability: string;
  aliases: readonly string[];
  images: readonly VexImage[];
  purl?: string;
  reason: string;
  by: string;
  created: number;
  expires: number;
}

export type VexStatement = NotAffected | WaiverStatement;

const OPENVEX_JUSTIFICATIONS = new Set([
  'component_not_present',
  'vulnerable_code_not_present',
  'vulnerable_code_not_in_execute_path',
  'vulnerable_code_cannot_be_controlled_by_adversary',
  'inline_mitigations_already_exist',
]);

/** CycloneDX's analysis justifications that have an OpenVEX equivalent. */
const FROM_CYCLONEDX: Record<string, string> = {
  code_not_present: 'vulnerable_code_not_present',
  code_not_reachable: 'vulnerable_code_not_in_execute_path',
  protected_by_mitigating_control: 'inline_mitigations_already_exist',
  protected_at_runtime: 'inline_mitigations_already_exist',
  protected_at_perimeter: 'inline_mitigations_already_exist',
  protected_by_compiler: 'inline_mitigations_already_exist',
};

/** `pkg:oci/api@sha256%3A…?repository_url=host/path`: the image as a product, by digest. */
export function ociPurl(image: VexImage): string {
  const slash = image.repository.lastIndexOf('/');
  const name = image.repository.slice(slash + 1).toLowerCase();
  return new PackageURL(
    'oci',
    undefined,
    name,
    image.digest,
    { repository_url: image.repository },
    undefined,
  ).toString();
}

function justify(text: string | undefined): { justification: string } | { impact_statement: string } {
  const word = text?.split(':').pop()?.trim() ?? '';
  const mapped = Object.hasOwn(FROM_CYCLONEDX, word) ? FROM_CYCLONEDX[word]! : word;
  if (OPENVEX_JUSTIFICATIONS.has(mapped)) return { justification: mapped };
  // OpenVEX needs a justification or an impact statement for not_affected, and not both.
  return { impact_statement: text && text !== '' ? text : 'ruled out by the scanner report recorded in Sluice' };
}

export interface OpenVexOptions {
  /** The document's IRI. */
  id: string;
  author: string;
  now: number;
  version?: number;
}

export function openVexDocument(statements: readonly VexStatement[], o: OpenVexOptions): Record<string, unknown> {
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    '@context': 'https://openvex.dev/ns/v0.2.0',
    '@id': o.id,
    author: o.author,
    timestamp: iso(o.now),
    version: o.version ?? 1,
    tooling: 'Sluice',
    statements: statements.map((s) => {
      const products = s.images.map((image) => ({
        '@id': ociPurl(image),
        identifiers: { purl: ociPurl(image) },
        hashes: { 'sha-256': image.digest.slice('sha256:'.length) },
        ...(s.purl ? { subcomponents: [{ '@id': s.purl, identifiers: { purl: s.purl } }] } : {}),
      }));
      const vulnerability = {
        name: s.vulnerability,
        ...(s.aliases.length ? { aliases: [...new Set(s.aliases)] } : {}),
      };
      if (s.kind === 'not-affected') {
        return {
          vulnerability,
          products,
          status: 'not_affected',
          timestamp: iso(s.since),
          ...justify(s.justification),
        };
      }
      return {
        vulnerability,
        products,
        status: 'affected',
        timestamp: iso(s.created),
        action_statement: `accepted risk: waiver ${s.waiver} by ${s.by} until ${iso(s.expires)}: ${s.reason}`,
        action_statement_timestamp: iso(s.created),
      };
    }),
  };
}
