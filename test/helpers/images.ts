/**
 * Real test images, built with umoci into OCI layouts (no Docker daemon) and pushed with
 * skopeo.
 *
 * umoci 0.4.7 writes only single-platform image manifests, so multi-platform indexes are
 * assembled here: the index JSON is written as a blob and a ref in `index.json` points at it.
 */
import { createCipheriv, createHash, randomUUID } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { makeTempDir, run } from './proc.ts';
import { dockerRef, skopeo, skopeoArgsFor, type SkopeoAccess, type SkopeoTarget } from './skopeo.ts';

export {
  dockerRef,
  skopeo,
  skopeoArgsFor,
  skopeoCopy,
  skopeoDelete,
  skopeoDigest,
  skopeoInspect,
  skopeoInspectConfig,
  skopeoInspectRaw,
  skopeoListTags,
} from './skopeo.ts';
export type { SkopeoAccess, SkopeoRole, SkopeoTarget } from './skopeo.ts';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';
/** Fixed timestamp for seeded builds, so the same seed yields the same digests. */
const SEEDED_CREATED = '2024-01-01T00:00:00Z';
const FIXED_MTIME = new Date('2000-01-01T00:00:00Z');

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { architecture: string; os: string; variant?: string };
  annotations?: Record<string, string>;
}

/** An image or index in a local OCI layout, ready for `skopeo copy`. */
export interface LocalImage {
  kind: 'image' | 'index';
  /** OCI layout dir. */
  layout: string;
  /** Ref name in the layout's index.json. */
  ref: string;
  /** skopeo source reference, `oci:LAYOUT:REF`. */
  source: string;
  /** Digest of the manifest (image) or index (index). */
  digest: string;
  mediaType: string;
  size: number;
  /** Raw manifest or index bytes. */
  bytes: Buffer;
  /** Image only: config blob digest. */
  configDigest?: string;
  /** Image only: layer descriptors in order. */
  layers: Descriptor[];
  /**
   * Index only: the platform images. Those built by {@link buildIndex} have their own ref, so
   * each can be pushed alone; a child without one has its index's `ref` and `source`.
   */
  children: LocalImage[];
  platform?: { architecture: string; os: string; variant?: string };
}

export type Architecture = 'amd64' | 'arm64' | 'arm' | 'ppc64le' | 's390x' | '386';

export interface BuildImageOptions {
  /** Number of layers, each a distinct file. Default 1. */
  layers?: number;
  /** Bytes in each layer's file (before gzip). Default 1024. */
  layerBytes?: number;
  /**
   * Incompressible (pseudo-random) content instead of compressible text. Use it when the
   * compressed size matters, e.g. for transfer-volume tests.
   */
  random?: boolean;
  labels?: Record<string, string>;
  /** Config `User`, e.g. `1000:1000` or `nobody`. */
  user?: string;
  arch?: Architecture;
  os?: 'linux';
  /** RFC 3339 creation time (config and history). */
  created?: string;
  /**
   * Content seed. Without it every build is unique. With it, content is a function of the
   * seed and, with the default fixed `created`, the digests are reproducible.
   */
  seed?: string;
  /** Ref name in the layout. Default `latest`. */
  ref?: string;
  /** Config `Env` entries, `KEY=value`. */
  env?: string[];
  /** Manifest annotations. */
  annotations?: Record<string, string>;
}

/** Deterministic bytes for one layer: seeded AES-CTR keystream or repeated seeded text. */
function layerContent(seed: string, index: number, size: number, random: boolean): Buffer {
  if (random) {
    const key = createHash('sha256').update(`${seed}/layer/${index}`).digest();
    const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
    return Buffer.concat([cipher.update(Buffer.alloc(size)), cipher.final()]);
  }
  const line = Buffer.from(`sluice test layer ${index} seed ${seed}\n`);
  const out = Buffer.alloc(size);
  for (let offset = 0; offset < size; offset += line.length) line.copy(out, offset);
  return out;
}

/** Writes `size` bytes of layer content without holding it all in memory. */
async function writeLayerFile(file: string, seed: string, index: number, size: number, random: boolean): Promise<void> {
  const chunk = 8 * 1024 * 1024;
  if (size <= chunk || !random) {
    await writeFile(file, layerContent(seed, index, size, random));
  } else {
    const key = createHash('sha256').update(`${seed}/layer/${index}`).digest();
    const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
    const out = createWriteStream(file);
    const zeros = Buffer.alloc(chunk);
    for (let written = 0; written < size; written += chunk) {
      const n = Math.min(chunk, size - written);
      if (!out.write(cipher.update(n === chunk ? zeros : zeros.subarray(0, n)))) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
  }
  // The tar header carries the mtime; fixing it keeps seeded layer digests reproducible.
  await utimes(file, FIXED_MTIME, FIXED_MTIME);
}

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function blobPath(layout: string, digest: string): string {
  const [algorithm, hex] = digest.split(':');
  return path.join(layout, 'blobs', algorithm!, hex!);
}

async function readIndexJson(layout: string): Promise<{ schemaVersion: number; manifests: Descriptor[] }> {
  return JSON.parse(await readFile(path.join(layout, 'index.json'), 'utf8')) as {
    schemaVersion: number;
    manifests: Descriptor[];
  };
}

/** Reads an image or index that a layout's `index.json` names `ref`. */
export async function loadLocalImage(layout: string, ref: string): Promise<LocalImage> {
  const index = await readIndexJson(layout);
  const entry = index.manifests.find((d) => d.annotations?.[REF_NAME_ANNOTATION] === ref);
  if (!entry) throw new Error(`no ref ${ref} in ${layout}`);
  return loadDescriptor(layout, ref, entry);
}

async function loadDescriptor(layout: string, ref: string, entry: Descriptor): Promise<LocalImage> {
  const bytes = await readFile(blobPath(layout, entry.digest));
  const parsed = JSON.parse(bytes.toString('utf8')) as {
    mediaType?: string;
    config?: Descriptor;
    layers?: Descriptor[];
    manifests?: Descriptor[];
  };
  const base = {
    layout,
    ref,
    source: `oci:${layout}:${ref}`,
    digest: entry.digest,
    mediaType: entry.mediaType,
    size: entry.size,
    bytes,
  };
  if (parsed.manifests) {
    const refs = (await readIndexJson(layout)).manifests;
    const children = await Promise.all(
      parsed.manifests.map(async (child) => {
        // A child is pushable on its own only through a ref of its own in the layout.
        const childRef = refs.find((d) => d.digest === child.digest)?.annotations?.[REF_NAME_ANNOTATION] ?? ref;
        return {
          ...(await loadDescriptor(layout, childRef, child)),
          ...(child.platform ? { platform: child.platform } : {}),
        };
      }),
    );
    return { ...base, kind: 'index', layers: [], children };
  }
  const config = JSON.parse((await readFile(blobPath(layout, parsed.config!.digest))).toString('utf8')) as {
    architecture: string;
    os: string;
  };
  return {
    ...base,
    kind: 'image',
    configDigest: parsed.config!.digest,
    layers: parsed.layers ?? [],
    children: [],
    platform: { architecture: config.architecture, os: config.os },
  };
}

function umociRootlessArgs(): string[] {
  return process.getuid?.() === 0 ? [] : ['--rootless'];
}

/** Builds an image under `ref` inside an existing (or new) layout. */
async function buildInto(layout: string, workDir: string, options: BuildImageOptions): Promise<LocalImage> {
  const ref = options.ref ?? 'latest';
  const image = `${layout}:${ref}`;
  const seed = options.seed ?? randomUUID();
  const created = options.created ?? (options.seed !== undefined ? SEEDED_CREATED : new Date().toISOString());
  const layers = options.layers ?? 1;
  const layerBytes = options.layerBytes ?? 1024;

  if (!existsSync(path.join(layout, 'index.json'))) await run('umoci', ['init', '--layout', layout]);
  await run('umoci', ['new', '--image', image]);
  for (let i = 0; i < layers; i++) {
    const file = path.join(workDir, `${ref}-layer-${i}.bin`);
    await writeLayerFile(file, seed, i, layerBytes, options.random ?? false);
    await run('umoci', [
      'insert',
      ...umociRootlessArgs(),
      '--image',
      image,
      '--history.created',
      created,
      '--history.created_by',
      `sluice-test layer ${i}`,
      file,
      `/sluice/layer-${i}.bin`,
    ]);
    await rm(file);
  }
  const configArgs = [
    'config',
    '--image',
    image,
    '--no-history',
    '--created',
    created,
    '--architecture',
    options.arch ?? 'amd64',
    '--os',
    options.os ?? 'linux',
  ];
  if (options.user !== undefined) configArgs.push('--config.user', options.user);
  for (const [key, value] of Object.entries(options.labels ?? {})) configArgs.push('--config.label', `${key}=${value}`);
  for (const entry of options.env ?? []) configArgs.push('--config.env', entry);
  for (const [key, value] of Object.entries(options.annotations ?? {})) {
    configArgs.push('--manifest.annotation', `${key}=${value}`);
  }
  await run('umoci', configArgs);
  return loadLocalImage(layout, ref);
}

/**
 * Builds a single-platform OCI image into a new layout in a temp dir (removed at exit).
 * Takes ~50 ms for a few small layers.
 */
export async function buildImage(options: BuildImageOptions = {}): Promise<LocalImage> {
  const dir = await makeTempDir('image');
  return buildInto(path.join(dir, 'oci'), dir, options);
}

/** `arch` or `arch/variant`, e.g. `arm64/v8`, `arm/v7`. */
export type PlatformSpec = Architecture | `${Architecture}/${string}`;

export interface BuildIndexOptions extends Omit<BuildImageOptions, 'arch'> {
  /** One image per platform. Default `['amd64', 'arm64']`. */
  platforms?: PlatformSpec[];
  /** Annotations on the index itself. */
  indexAnnotations?: Record<string, string>;
}

/**
 * Builds one image per platform and an OCI image index over them, in one new layout.
 * Each platform image is also reachable in the layout as `<ref>-<arch>[-<variant>]`.
 * umoci cannot set a config `variant`, so a variant appears only in the index's platform.
 */
export async function buildIndex(options: BuildIndexOptions = {}): Promise<LocalImage> {
  const dir = await makeTempDir('index');
  const layout = path.join(dir, 'oci');
  const ref = options.ref ?? 'latest';
  const seed = options.seed ?? randomUUID();
  const platforms = options.platforms ?? ['amd64', 'arm64'];

  const manifests: Descriptor[] = [];
  for (const spec of platforms) {
    const [arch, variant] = spec.split('/') as [Architecture, string | undefined];
    const childRef = `${ref}-${spec.replace('/', '-')}`;
    const child = await buildInto(layout, dir, { ...options, arch, ref: childRef, seed: `${seed}/${spec}` });
    manifests.push({
      mediaType: child.mediaType,
      digest: child.digest,
      size: child.size,
      platform: { architecture: arch, os: options.os ?? 'linux', ...(variant ? { variant } : {}) },
    });
  }

  const index = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests,
    ...(options.indexAnnotations ? { annotations: options.indexAnnotations } : {}),
  };
  const bytes = Buffer.from(JSON.stringify(index));
  const digest = sha256(bytes);
  await writeFile(blobPath(layout, digest), bytes);
  const layoutIndex = await readIndexJson(layout);
  layoutIndex.manifests = layoutIndex.manifests.filter((d) => d.annotations?.[REF_NAME_ANNOTATION] !== ref);
  layoutIndex.manifests.push({
    mediaType: OCI_INDEX,
    digest,
    size: bytes.length,
    annotations: { [REF_NAME_ANNOTATION]: ref },
  });
  await writeFile(path.join(layout, 'index.json'), JSON.stringify(layoutIndex));
  return loadLocalImage(layout, ref);
}

export interface PushOptions {
  /** Manifest format in the registry. `v2s2`: Docker schema 2 (manifest list for an index). */
  format?: 'oci' | 'v2s2';
  /** Copy every platform of an index. Default: true for an index. */
  all?: boolean;
  access?: SkopeoAccess;
}

/**
 * Pushes a local image or index to `registry` as `repo:tag` (or `repo@digest`) and returns
 * the digest skopeo reports for what it wrote. OCI-format pushes keep the local digest;
 * `v2s2` rewrites the manifest, so the digest changes.
 */
export async function pushImage(
  image: LocalImage,
  registry: SkopeoTarget,
  ref: string,
  options: PushOptions = {},
): Promise<{ digest: string; reference: string }> {
  const dir = await makeTempDir('push');
  const digestFile = path.join(dir, 'digest');
  const all = options.all ?? image.kind === 'index';
  await skopeo([
    'copy',
    '--quiet',
    ...(all ? ['--all'] : []),
    ...(options.format ? ['--format', options.format] : []),
    '--digestfile',
    digestFile,
    ...skopeoArgsFor(registry, 'dest', options.access),
    image.source,
    dockerRef(registry, ref),
  ]);
  const digest = (await readFile(digestFile, 'utf8')).trim();
  await rm(dir, { recursive: true, force: true });
  return { digest, reference: `${registry.host}/${ref}` };
}

/** Copies `ref` from a registry into a new local OCI layout (all platforms), e.g. to compare content. */
export async function pullImage(registry: SkopeoTarget, ref: string, access?: SkopeoAccess): Promise<LocalImage> {
  const dir = await makeTempDir('pull');
  const layout = path.join(dir, 'oci');
  await skopeo([
    'copy',
    '--quiet',
    '--all',
    '--preserve-digests',
    ...skopeoArgsFor(registry, 'src', access),
    dockerRef(registry, ref),
    `oci:${layout}:pulled`,
  ]);
  return loadLocalImage(layout, 'pulled');
}

export interface LargeImageOptions {
  /** Default 4. */
  layers?: number;
  /** Default 64 (MiB per layer). */
  layerMiB?: number;
}

/** Where large fixtures are cached between runs. */
export const TEST_CACHE_DIR = path.join(os.tmpdir(), 'sluice-test-cache');

/**
 * An image with `layers × layerMiB` MiB of incompressible content (default 4 × 64 MiB), built
 * once and cached under {@link TEST_CACHE_DIR}: gzip over random data makes the first build
 * take tens of seconds. Content is seeded, so a rebuilt cache has the same digests.
 */
export async function largeImage(options: LargeImageOptions = {}): Promise<LocalImage> {
  const layers = options.layers ?? 4;
  const layerMiB = options.layerMiB ?? 64;
  const key = `large-v1-${layers}x${layerMiB}MiB`;
  const final = path.join(TEST_CACHE_DIR, key);
  if (existsSync(path.join(final, 'complete'))) return loadLocalImage(path.join(final, 'oci'), 'latest');

  await mkdir(TEST_CACHE_DIR, { recursive: true });
  const staging = path.join(TEST_CACHE_DIR, `${key}.tmp-${process.pid}-${randomUUID()}`);
  await mkdir(staging);
  try {
    await buildInto(path.join(staging, 'oci'), staging, {
      layers,
      layerBytes: layerMiB * 1024 * 1024,
      random: true,
      seed: key,
    });
    // umoci leaves superseded configs and manifests behind; they only waste cache space.
    await run('umoci', ['gc', '--layout', path.join(staging, 'oci')]);
    await writeFile(path.join(staging, 'complete'), new Date().toISOString());
    await rename(staging, final);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    // A concurrent test process may have finished the same fixture first.
    if (!existsSync(path.join(final, 'complete'))) throw error;
  }
  return loadLocalImage(path.join(final, 'oci'), 'latest');
}

/** True if {@link largeImage} with these options would be served from cache. */
export function isLargeImageCached(options: LargeImageOptions = {}): boolean {
  const key = `large-v1-${options.layers ?? 4}x${options.layerMiB ?? 64}MiB`;
  return existsSync(path.join(TEST_CACHE_DIR, key, 'complete'));
}
