/**
 * How much work a registry's answers may make Sluice do. A registry is hostile input: a tag
 * list can page forever, an index can list ten thousand children or nest indexes three hundred
 * deep, and every one of those answers would otherwise turn into memory and requests.
 * The checks are plain functions over what was read; the callers decide where to apply them.
 */
import { SluiceError, type ErrorContext } from '../errors.ts';
import type { Manifest } from './manifest.ts';

export interface RegistryLimits {
  /** Names one listing (the tags of a repository, the catalog) may hold across all its pages. */
  listItems: number;
  /** Bytes of one listing's response bodies, all pages together. */
  listBytes: number;
  /** Indexes on any path from the manifest a reference names down to an image (1: an index of images). */
  indexDepth: number;
  /** Manifests one index may list. */
  indexChildren: number;
}

export const DEFAULT_REGISTRY_LIMITS: Readonly<RegistryLimits> = Object.freeze({
  // Half a million tags is far beyond any real repository. The bytes bound holds such a
  // listing of 60-character names and keeps a page of tiny names (or a padded body) from
  // growing the heap past ~100 MiB while it is parsed.
  listItems: 500_000,
  listBytes: 32 * 1024 * 1024,
  // containers/image (skopeo, podman, CRI-O) refuses any index inside an index (copy/single.go:
  // "Unexpectedly received a manifest list instead of a manifest for a single image").
  indexDepth: 1,
  // cosign bounds signatures and attestations per image at 1000 (GHSA-95pr-fxf5-86gv); a
  // multi-platform index lists a handful of images and their attestations.
  indexChildren: 1000,
});

/** Where each limit is set, for error messages that say what to change. */
export const LIMIT_SETTINGS: Readonly<Record<keyof RegistryLimits, string>> = Object.freeze({
  listItems: 'limits.listItems',
  listBytes: 'limits.listMiB',
  indexDepth: 'limits.indexDepth',
  indexChildren: 'limits.indexChildren',
});

export function resolveLimits(partial: Partial<RegistryLimits> | undefined): RegistryLimits {
  return { ...DEFAULT_REGISTRY_LIMITS, ...partial };
}

export function pages(n: number): string {
  return n === 1 ? '1 page' : `${n} pages`;
}

export function formatMiB(bytes: number): string {
  const mib = bytes / (1024 * 1024);
  return Number.isInteger(mib) ? `${mib} MiB` : `${bytes} bytes`;
}

/**
 * Refuses an index that breaks the fan-out limits, before any of its children is read.
 * `parents` is the number of indexes above this manifest on the path being walked (0 for the
 * manifest a reference names).
 */
export function checkIndexFanOut(
  manifest: Pick<Manifest, 'kind' | 'digest' | 'manifests'>,
  parents: number,
  limits: Pick<RegistryLimits, 'indexDepth' | 'indexChildren'>,
  context: ErrorContext = {},
): void {
  if (manifest.kind !== 'index') return;
  const depth = parents + 1;
  const where = context.repository ? ` in ${context.repository}` : '';
  if (depth > limits.indexDepth) {
    throw new SluiceError(
      'INDEX_TOO_DEEP',
      'integrity',
      `index ${manifest.digest}${where} is at depth ${depth}, over the limit of ${limits.indexDepth} (${LIMIT_SETTINGS.indexDepth}: indexes nested in indexes)`,
      { ...context, digest: manifest.digest, depth, limit: limits.indexDepth },
    );
  }
  if (manifest.manifests.length > limits.indexChildren) {
    throw new SluiceError(
      'INDEX_TOO_WIDE',
      'integrity',
      `index ${manifest.digest}${where} lists ${manifest.manifests.length} manifests, over the limit of ${limits.indexChildren} (${LIMIT_SETTINGS.indexChildren})`,
      { ...context, digest: manifest.digest, depth, children: manifest.manifests.length, limit: limits.indexChildren },
    );
  }
}
