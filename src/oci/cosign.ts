/**
 * Cosign's legacy storage: signatures, attestations and SBOMs of `sha256:<hex>` live in the
 * same repository under the tags `sha256-<hex>.sig|.att|.sbom`, one OCI image manifest each,
 * one layer per signature.
 */
import { SluiceError } from '../errors.ts';
import { digestOf, digestToTag } from './digest.ts';
import type { Descriptor, Manifest } from './manifest.ts';
import { MediaType } from './mediatypes.ts';

export const COSIGN_SUFFIXES = ['sig', 'att', 'sbom'] as const;
export type CosignSuffix = (typeof COSIGN_SUFFIXES)[number];

export function cosignTag(digest: string, suffix: CosignSuffix): string {
  return `${digestToTag(digest)}.${suffix}`;
}

/** Tags of `tags` that carry cosign artifacts for one of `digests`. */
export function cosignTagsAmong(tags: Iterable<string>, digests: Iterable<string>): string[] {
  const wanted = new Set<string>();
  for (const d of digests) for (const s of COSIGN_SUFFIXES) wanted.add(cosignTag(d, s));
  return [...tags].filter((t) => wanted.has(t));
}

/** `sha256-<hex>.sig` → `sha256:<hex>`; undefined for any other tag. */
export function subjectOfCosignTag(tag: string): { digest: string; suffix: CosignSuffix } | undefined {
  const m = /^(sha256|sha512)-([0-9a-f]{64}|[0-9a-f]{128})\.(sig|att|sbom)$/.exec(tag);
  if (!m) return undefined;
  return { digest: `${m[1]}:${m[2]}`, suffix: m[3] as CosignSuffix };
}

/** Whether a tag is machine-made (cosign artifact or referrers-schema index), not a version. */
export function isArtifactTag(tag: string): boolean {
  return subjectOfCosignTag(tag) !== undefined || /^(sha256|sha512)-[0-9a-f]{64,128}$/.test(tag);
}

/**
 * The config cosign writes for a signature manifest: an image config whose rootfs lists the
 * layers. Verifiers ignore it, but registries and tools expect a well-formed config.
 */
export function signatureConfig(layers: Descriptor[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      architecture: '',
      created: '0001-01-01T00:00:00Z',
      history: [{ created: '0001-01-01T00:00:00Z' }],
      os: '',
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
      config: {},
    }),
  );
}

export function signatureManifest(layers: Descriptor[], config: Buffer): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, size: config.length, digest: digestOf(config) },
      layers,
    }),
  );
}

/**
 * Merges the signature layers of `incoming` into `existing` (append, never replace): used when
 * a copy or a new signature meets a `.sig` tag that already holds other signatures.
 * Returns undefined when every incoming layer is already present.
 */
export function mergeSignatureLayers(
  existing: Manifest,
  incoming: Manifest,
): { manifest: Buffer; config: Buffer; added: Descriptor[] } | undefined {
  if (existing.kind !== 'image' || incoming.kind !== 'image') {
    throw new SluiceError(
      'SIGNATURE_MANIFEST_INVALID',
      'integrity',
      'cosign signature tags must hold image manifests',
      {
        digest: existing.kind !== 'image' ? existing.digest : incoming.digest,
      },
    );
  }
  const have = new Set(
    existing.layers.map((l) => `${l.digest}|${l.annotations?.['dev.cosignproject.cosign/signature'] ?? ''}`),
  );
  const added = incoming.layers.filter(
    (l) => !have.has(`${l.digest}|${l.annotations?.['dev.cosignproject.cosign/signature'] ?? ''}`),
  );
  if (added.length === 0) return undefined;
  const layers = [...existing.layers, ...added];
  const config = signatureConfig(layers);
  return { manifest: signatureManifest(layers, config), config, added };
}
