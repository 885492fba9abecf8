/**
 * What `sluice inspect` reports about an image: read-only, resolved by digest once so every
 * field describes the same content even if the tag moves meanwhile.
 */
import { SluiceError } from '../errors.ts';
import type { RegistryClient } from './client.ts';
import { mapLimit } from '../util/concurrency.ts';
import { checkIndexFanOut } from './limits.ts';
import { formatPlatform, parseImageConfig, type Descriptor, type Manifest } from './manifest.ts';
import { manifestReferenceOf, type Reference } from './reference.ts';

const MAX_CONFIG_BYTES = 8 * 1024 * 1024;

export interface PlatformEntry {
  platform: string;
  digest: string;
  mediaType: string;
  size: number;
}

export interface ImageDetails {
  registry: string;
  repository: string;
  tag?: string;
  digest: string;
  mediaType: string;
  artifactType?: string;
  /** Manifest + config + layers; for an index, the sum over its platforms. */
  size: number;
  platforms: PlatformEntry[];
  /** Details of one platform's image (the requested one, or linux/amd64, or the first). */
  platform?: string;
  platformDigest?: string;
  created?: string;
  architecture?: string;
  os?: string;
  user?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  config?: Descriptor;
  layers: Descriptor[];
  subject?: string;
}

function imageSize(m: Manifest): number {
  return m.size + (m.config?.size ?? 0) + m.layers.reduce((n, l) => n + l.size, 0);
}

export async function inspectImage(
  client: RegistryClient,
  ref: Reference,
  wantedPlatform?: string,
): Promise<ImageDetails> {
  const top = await client.getManifest(ref.repository, manifestReferenceOf(ref));
  const details: ImageDetails = {
    registry: ref.registry,
    repository: ref.repository,
    ...(ref.tag !== undefined ? { tag: ref.tag } : {}),
    digest: top.digest,
    mediaType: top.mediaType,
    size: 0,
    platforms: [],
    labels: {},
    annotations: top.annotations,
    layers: [],
  };
  if (top.artifactType) details.artifactType = top.artifactType;
  if (top.subject) details.subject = top.subject.digest;
  let image: Manifest = top;
  const where = { registry: ref.registry, repository: ref.repository };
  // One request per child: an index listing ten thousand must be refused before the first.
  checkIndexFanOut(top, 0, client.limits, where);
  if (top.kind === 'index') {
    const children = await mapLimit(top.manifests, 4, async (d) => {
      const child = await client.getManifest(ref.repository, d.digest);
      checkIndexFanOut(child, 1, client.limits, where);
      return child;
    });
    details.platforms = top.manifests.map((d) => ({
      platform: formatPlatform(d.platform),
      digest: d.digest,
      mediaType: d.mediaType,
      size: d.size,
    }));
    details.size = top.size + children.reduce((n, c) => n + (c.kind === 'image' ? imageSize(c) : c.size), 0);
    const pick = wantedPlatform
      ? details.platforms.findIndex((p) => p.platform === wantedPlatform)
      : Math.max(
          0,
          details.platforms.findIndex((p) => p.platform === 'linux/amd64'),
        );
    if (pick < 0) {
      throw new SluiceError(
        'PLATFORM_NOT_FOUND',
        'not-found',
        `${ref.repository}@${top.digest} has no platform ${wantedPlatform} (has: ${details.platforms.map((p) => p.platform).join(', ')})`,
        { registry: ref.registry, repository: ref.repository, digest: top.digest },
      );
    }
    const chosen = children[pick];
    if (!chosen || chosen.kind !== 'image') return details;
    image = chosen;
    details.platform = details.platforms[pick]!.platform;
    details.platformDigest = chosen.digest;
  } else {
    details.size = imageSize(top);
  }
  details.config = image.config;
  details.layers = image.layers;
  if (image.config && /config|container\.image/.test(image.config.mediaType)) {
    const bytes = await client.fetchBlob(ref.repository, image.config.digest, MAX_CONFIG_BYTES, image.config.size);
    const cfg = parseImageConfig(bytes, {
      registry: ref.registry,
      repository: ref.repository,
      digest: image.config.digest,
    });
    details.labels = cfg.labels;
    if (cfg.created) details.created = cfg.created;
    if (cfg.user) details.user = cfg.user;
    if (cfg.architecture) details.architecture = cfg.architecture;
    if (cfg.os) details.os = cfg.os;
    if (top.kind === 'image') {
      const p = formatPlatform(
        cfg.architecture && cfg.os
          ? { architecture: cfg.architecture, os: cfg.os, ...(cfg.variant ? { variant: cfg.variant } : {}) }
          : undefined,
      );
      details.platforms = [{ platform: p, digest: top.digest, mediaType: top.mediaType, size: top.size }];
      details.platform = p;
    }
  }
  return details;
}

export interface TagEntry {
  tag: string;
  digest: string;
  mediaType: string;
}

/** Every tag of a repository with the digest it points to now. */
export async function listTagDigests(client: RegistryClient, repository: string, concurrency = 8): Promise<TagEntry[]> {
  const tags = await client.listTags(repository);
  const entries = await mapLimit(tags, concurrency, async (tag) => {
    const head = await client.headManifest(repository, tag);
    return head ? { tag, digest: head.digest, mediaType: head.mediaType } : undefined;
  });
  // A tag deleted between the listing and the HEAD is simply gone.
  return entries.filter((e): e is TagEntry => e !== undefined);
}
