/**
 * Manifest parsing. The bytes a registry served are the manifest: they are kept as they came
 * and never re-serialised, so digests stay byte-identical wherever an image is copied.
 * Parsing only reads what Sluice needs and rejects what could be read two ways.
 */
import { SluiceError, type ErrorContext } from '../errors.ts';
import { digestOf, parseDigest } from './digest.ts';
import { MediaType, isImageManifestType, isIndexType } from './mediatypes.ts';

/** Registries must accept at least 4 MiB; a bigger document is refused before it is read. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
}

export interface Manifest {
  kind: 'image' | 'index';
  mediaType: string;
  /** The exact bytes served; this is what gets copied. */
  bytes: Buffer;
  digest: string;
  size: number;
  config?: Descriptor;
  layers: Descriptor[];
  manifests: Descriptor[];
  subject?: Descriptor;
  artifactType?: string;
  annotations: Record<string, string>;
}

function bad(message: string, context: ErrorContext): SluiceError {
  return new SluiceError('MANIFEST_INVALID', 'integrity', message, context);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringMap(v: unknown, where: string, ctx: ErrorContext): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw bad(`${where} must be an object of strings`, ctx);
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string') throw bad(`${where}["${k}"] must be a string`, ctx);
  }
  return v as Record<string, string>;
}

export function parseDescriptor(v: unknown, where: string, ctx: ErrorContext): Descriptor {
  if (!isObject(v)) throw bad(`${where} must be an object`, ctx);
  const { mediaType, digest, size } = v;
  if (typeof mediaType !== 'string' || mediaType === '') throw bad(`${where}.mediaType is missing`, ctx);
  if (typeof digest !== 'string') throw bad(`${where}.digest is missing`, ctx);
  try {
    parseDigest(digest);
  } catch (err) {
    throw bad(`${where}.digest: ${(err as Error).message}`, ctx);
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw bad(`${where}.size must be a non-negative integer`, ctx);
  }
  const d: Descriptor = { mediaType, digest, size };
  if (v.urls !== undefined) {
    if (!Array.isArray(v.urls) || v.urls.some((u) => typeof u !== 'string')) {
      throw bad(`${where}.urls must be a list of strings`, ctx);
    }
    d.urls = v.urls as string[];
  }
  const annotations = stringMap(v.annotations, `${where}.annotations`, ctx);
  if (annotations) d.annotations = annotations;
  if (v.platform !== undefined) {
    const p = v.platform;
    if (!isObject(p) || typeof p.architecture !== 'string' || typeof p.os !== 'string') {
      throw bad(`${where}.platform needs architecture and os`, ctx);
    }
    d.platform = { architecture: p.architecture, os: p.os };
    if (typeof p.variant === 'string') d.platform.variant = p.variant;
    if (typeof p['os.version'] === 'string') d.platform['os.version'] = p['os.version'];
  }
  if (typeof v.artifactType === 'string') d.artifactType = v.artifactType;
  return d;
}

export interface ParseManifestOptions {
  /** Content-Type the registry sent; used when the body has no mediaType field. */
  contentType?: string;
  /** When fetched by digest, the bytes must hash to it. */
  expectedDigest?: string;
  context?: ErrorContext;
}

function normaliseContentType(ct: string | undefined): string | undefined {
  if (!ct) return undefined;
  const base = ct.split(';')[0]!.trim().toLowerCase();
  return base === '' || base === 'application/json' || base === 'text/plain' ? undefined : base;
}

/**
 * Parses manifest bytes. Rejects: oversize documents, digest mismatches, schema 1, unknown
 * media types, and documents that are both an index and an image (CVE-2021-41190).
 */
export function parseManifest(bytes: Buffer, options: ParseManifestOptions = {}): Manifest {
  const ctx: ErrorContext = { ...options.context };
  if (bytes.length > MAX_MANIFEST_BYTES) {
    throw new SluiceError(
      'MANIFEST_TOO_LARGE',
      'integrity',
      `manifest is ${bytes.length} bytes, over the ${MAX_MANIFEST_BYTES}-byte limit`,
      ctx,
    );
  }
  const algorithm = options.expectedDigest ? parseDigest(options.expectedDigest).algorithm : 'sha256';
  const digest = digestOf(bytes, algorithm);
  if (options.expectedDigest && digest !== options.expectedDigest) {
    throw new SluiceError(
      'DIGEST_MISMATCH',
      'integrity',
      `manifest served for ${options.expectedDigest} hashes to ${digest}`,
      { ...ctx, digest: options.expectedDigest },
    );
  }
  ctx.digest ??= digest;
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw bad(`manifest is not valid JSON: ${(err as Error).message}`, ctx);
  }
  if (!isObject(json)) throw bad('manifest must be a JSON object', ctx);
  if (json.schemaVersion === 1) {
    throw new SluiceError(
      'MEDIA_TYPE_UNSUPPORTED',
      'integrity',
      'Docker schema 1 manifests are not supported (deprecated since 2017); re-push the image with a current client',
      ctx,
    );
  }
  if (json.schemaVersion !== 2) throw bad(`schemaVersion must be 2 (found ${JSON.stringify(json.schemaVersion)})`, ctx);

  const hasManifests = json.manifests !== undefined;
  const hasImageFields = json.layers !== undefined || json.config !== undefined;
  if (hasManifests && hasImageFields) {
    throw bad('document has both "manifests" and "layers"/"config": ambiguous between index and image', ctx);
  }
  const declared = typeof json.mediaType === 'string' ? json.mediaType : undefined;
  const served = normaliseContentType(options.contentType);
  if (declared && served && declared !== served && (isImageManifestType(served) || isIndexType(served))) {
    throw bad(`registry sent Content-Type ${served} but the manifest declares ${declared}`, ctx);
  }
  let mediaType = declared ?? served;
  if (!mediaType) {
    // OCI allows omitting mediaType; the structure then decides.
    mediaType = hasManifests ? MediaType.OciIndex : MediaType.OciManifest;
  }
  ctx.mediaType = mediaType;
  const annotations = stringMap(json.annotations, 'annotations', ctx) ?? {};
  const base = {
    mediaType,
    bytes,
    digest,
    size: bytes.length,
    annotations,
    layers: [] as Descriptor[],
    manifests: [] as Descriptor[],
  };
  let result: Manifest;
  if (isIndexType(mediaType)) {
    if (hasImageFields) throw bad(`an index (${mediaType}) must not have layers or config`, ctx);
    if (!Array.isArray(json.manifests)) throw bad('index has no "manifests" list', ctx);
    result = {
      ...base,
      kind: 'index',
      manifests: json.manifests.map((m, i) => parseDescriptor(m, `manifests[${i}]`, ctx)),
    };
  } else if (isImageManifestType(mediaType)) {
    if (hasManifests) throw bad(`an image manifest (${mediaType}) must not have "manifests"`, ctx);
    if (!Array.isArray(json.layers)) throw bad('image manifest has no "layers" list', ctx);
    result = {
      ...base,
      kind: 'image',
      config: parseDescriptor(json.config, 'config', ctx),
      layers: json.layers.map((l, i) => parseDescriptor(l, `layers[${i}]`, ctx)),
    };
  } else {
    throw new SluiceError(
      'MEDIA_TYPE_UNSUPPORTED',
      'integrity',
      `unsupported manifest media type "${mediaType}" (supported: OCI image manifest and index, Docker schema 2 manifest and manifest list)`,
      ctx,
    );
  }
  if (json.subject !== undefined) result.subject = parseDescriptor(json.subject, 'subject', ctx);
  if (typeof json.artifactType === 'string') result.artifactType = json.artifactType;
  return result;
}

/** Every blob an image manifest needs in the registry (config first), foreign layers excluded by the caller. */
export function blobsOf(manifest: Manifest): Descriptor[] {
  if (manifest.kind !== 'image') return [];
  return manifest.config ? [manifest.config, ...manifest.layers] : [...manifest.layers];
}

export function formatPlatform(p: Platform | undefined): string {
  if (!p) return 'unknown';
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** The fields of an image config Sluice reads (OCI image-spec config.md, Docker's is the same shape). */
export interface ImageConfig {
  created?: string;
  architecture?: string;
  os?: string;
  variant?: string;
  user?: string;
  labels: Record<string, string>;
  diffIds: string[];
  historyCount: number;
}

export function parseImageConfig(bytes: Buffer, context: ErrorContext = {}): ImageConfig {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new SluiceError(
      'CONFIG_INVALID',
      'integrity',
      `image config is not valid JSON: ${(err as Error).message}`,
      context,
    );
  }
  if (!isObject(json)) throw new SluiceError('CONFIG_INVALID', 'integrity', 'image config must be an object', context);
  const cfg = isObject(json.config) ? json.config : {};
  // Entries, not assignments: a label named `__proto__` is kept as the label it is.
  const labels: Record<string, string> = isObject(cfg.Labels)
    ? Object.fromEntries(Object.entries(cfg.Labels).filter((e): e is [string, string] => typeof e[1] === 'string'))
    : {};
  const rootfs = isObject(json.rootfs) ? json.rootfs : {};
  const out: ImageConfig = {
    labels,
    diffIds: Array.isArray(rootfs.diff_ids) ? rootfs.diff_ids.filter((d): d is string => typeof d === 'string') : [],
    historyCount: Array.isArray(json.history) ? json.history.length : 0,
  };
  if (typeof json.created === 'string') out.created = json.created;
  if (typeof json.architecture === 'string') out.architecture = json.architecture;
  if (typeof json.os === 'string') out.os = json.os;
  if (typeof json.variant === 'string') out.variant = json.variant;
  if (typeof cfg.User === 'string' && cfg.User !== '') out.user = cfg.User;
  return out;
}
