/**
 * Where signatures live in a registry, and the reads and writes that put them there.
 *
 * Legacy cosign layout (the default Sluice writes): one OCI image manifest under the tag
 * `sha256-<hex>.sig` in the image's repository, one layer per signature: the layer blob is the
 * simple-signing payload, the `dev.cosignproject.cosign/signature` annotation the base64 DER
 * signature. New signatures are appended; existing ones are never dropped.
 *
 * Referrer layout (optional): the same layer in an OCI artifact manifest whose `subject` is
 * the signed image and whose `artifactType` is the simple-signing media type. Registries with
 * the referrers API index it themselves; for the others the referrers tag schema index
 * (`sha256-<hex>`) is maintained. Cosign 3's Sigstore bundles are read from the same listing.
 *
 * Everything here works on a digest resolved once (see `resolveImage`): a tag is read exactly
 * once, and every later request names the digest or a tag derived from it.
 */
import { SluiceError } from '../errors.ts';
import { sleep } from '../http/index.ts';
import type { RegistryClient } from '../oci/client.ts';
import { cosignTag, signatureConfig, signatureManifest } from '../oci/cosign.ts';
import { digestOf } from '../oci/digest.ts';
import type { Descriptor, Manifest } from '../oci/manifest.ts';
import { EMPTY_JSON_DIGEST, MediaType } from '../oci/mediatypes.ts';
import { DOCKER_HUB, manifestReferenceOf, type Reference } from '../oci/reference.ts';
import { MAX_SIGNATURES_PER_IMAGE } from './verify.ts';

/** The layer annotation holding the base64 DER signature (the only key in cosign's old namespace). */
export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
/** Keyless material: Fulcio certificate and chain (PEM). */
export const CERTIFICATE_ANNOTATION = 'dev.sigstore.cosign/certificate';
export const CHAIN_ANNOTATION = 'dev.sigstore.cosign/chain';
/** Rekor inclusion bundle (`{"SignedEntryTimestamp","Payload":{…}}`). */
export const REKOR_BUNDLE_ANNOTATION = 'dev.sigstore.cosign/bundle';
export const RFC3161_TIMESTAMP_ANNOTATION = 'dev.sigstore.cosign/rfc3161timestamp';

const EMPTY_JSON = Buffer.from('{}');

/** The image a reference named, pinned to the digest it had when it was read. */
export interface ResolvedImage {
  registry: string;
  repository: string;
  /** The tag the reference named, if any: informational only, never read again. */
  tag?: string;
  digest: string;
  mediaType: string;
  size: number;
  /** The manifest bytes as served, verified against `digest`. */
  manifest: Manifest;
}

/**
 * Reads the reference once (GET by tag or by digest; the bytes are hashed, so the digest is
 * what was served, not what a header claimed) and pins everything that follows to that digest.
 */
export async function resolveImage(
  client: RegistryClient,
  ref: Reference,
  signal?: AbortSignal,
): Promise<ResolvedImage> {
  const manifest = await client.getManifest(ref.repository, manifestReferenceOf(ref), signal);
  if (ref.digest !== undefined && manifest.digest !== ref.digest) {
    // getManifest checks this already for requests by digest; kept for a reference with both.
    throw new SluiceError('DIGEST_MISMATCH', 'integrity', `registry served ${manifest.digest} for ${ref.digest}`, {
      registry: ref.registry,
      repository: ref.repository,
      digest: ref.digest,
    });
  }
  return {
    registry: ref.registry,
    repository: ref.repository,
    ...(ref.tag !== undefined ? { tag: ref.tag } : {}),
    digest: manifest.digest,
    mediaType: manifest.mediaType,
    size: manifest.size,
    manifest,
  };
}

/**
 * What cosign writes as `critical.identity.docker-reference`: go-containerregistry's
 * `Repository.Name()`, which spells Docker Hub `index.docker.io`.
 */
export function dockerReferenceOf(registry: string, repository: string): string {
  return `${registry === DOCKER_HUB ? 'index.docker.io' : registry}/${repository}`;
}

/** The layer descriptor of one signature in cosign's layout. */
export function signatureLayer(
  payload: Buffer,
  signatureB64: string,
): Descriptor & { annotations: Record<string, string> } {
  return {
    mediaType: MediaType.CosignSimpleSigning,
    size: payload.length,
    digest: digestOf(payload),
    annotations: { [SIGNATURE_ANNOTATION]: signatureB64 },
  };
}

function sameSignature(a: Descriptor, b: Descriptor): boolean {
  return a.digest === b.digest && a.annotations?.[SIGNATURE_ANNOTATION] === b.annotations?.[SIGNATURE_ANNOTATION];
}

/**
 * The `.sig` manifest of `digest`, or undefined when the image has none. One request: the tag
 * is read directly (a 404 means unsigned); the client bounds the manifest at 4 MiB.
 */
export async function readSignatureManifest(
  client: RegistryClient,
  repository: string,
  digest: string,
  signal?: AbortSignal,
): Promise<Manifest | undefined> {
  try {
    return await client.getManifest(repository, cosignTag(digest, 'sig'), signal);
  } catch (err) {
    if (err instanceof SluiceError && err.category === 'not-found') return undefined;
    throw err;
  }
}

export interface AppendOptions {
  signal?: AbortSignal;
  /**
   * Blobs the layers need (the payloads), pushed (when missing) at the start of each attempt:
   * concurrent uploads of one digest can make Distribution refuse a manifest for a moment.
   */
  blobs?: readonly Buffer[];
  /** Write attempts before giving up on a tag that keeps moving (default 10). */
  maxAttempts?: number;
  /**
   * Least wait before re-reading the tag to confirm the write (default 40 ms, at least three
   * times the PUT's round trip, plus up to `settleMs` of jitter): long enough for a concurrent
   * writer that read the same old state to land its PUT, so the loser of the race sees it and
   * merges again. 0 disables the confirmation wait (single writer, benchmarks).
   */
  settleMs?: number;
}

export interface AppendResult {
  tag: string;
  /** Digest of the `.sig` manifest that holds the new layers. */
  manifestDigest: string;
  /** Signatures in the manifest after the write. */
  signatures: number;
  /** Layers that were already present (same payload and signature) and not added again. */
  alreadyPresent: number;
  attempts: number;
}

const TRANSIENT_PUT_CODES: readonly string[] = ['DIGEST_INVALID', 'MANIFEST_BLOB_UNKNOWN', 'BLOB_UNKNOWN'];

/**
 * Appends signature layers to the `.sig` manifest of `digest`: read, merge, write, confirm.
 *
 * Registries offer no compare-and-swap on tags (Distribution ignores If-Match), so two signers
 * racing on the same image could each write "old + mine" and one signature would be lost.
 * Before the PUT the tag is read again and the merge redone if it moved; after the PUT, and a
 * settle of a few round trips, the tag is read once more and the merge redone if any of our
 * layers is missing. A write can still be lost if another writer's PUT takes longer than that
 * settle to land after its last read (a stalled client): the merge narrows the race, only a
 * registry with conditional tag writes could close it.
 */
export async function appendSignatureLayers(
  client: RegistryClient,
  repository: string,
  digest: string,
  layers: readonly Descriptor[],
  options: AppendOptions = {},
): Promise<AppendResult> {
  const tag = cosignTag(digest, 'sig');
  const maxAttempts = options.maxAttempts ?? 10;
  const settle = options.settleMs ?? 40;
  const ctx = { registry: client.registry, repository, digest, reference: tag };
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    // Full-jitter exponential backoff: writers that collided spread out instead of colliding again.
    if (attempt > 1) await sleep(Math.random() * Math.min(1000, 50 * 2 ** (attempt - 1)), options.signal);
    for (const blob of options.blobs ?? []) await client.pushBlobBytes(repository, blob, options.signal);
    const head = await client.headManifest(repository, tag, options.signal);
    let existing: Descriptor[] = [];
    if (head) {
      const current = await client.getManifest(repository, head.digest, options.signal);
      if (current.kind !== 'image') {
        throw new SluiceError(
          'SIGNATURE_MANIFEST_INVALID',
          'integrity',
          `${repository}:${tag} on ${client.registry} holds an index, not a cosign signature manifest; refusing to overwrite it`,
          ctx,
        );
      }
      existing = current.layers;
    }
    const missing = layers.filter((l) => !existing.some((e) => sameSignature(e, l)));
    if (missing.length === 0) {
      return {
        tag,
        manifestDigest: head!.digest,
        signatures: existing.length,
        alreadyPresent: layers.length,
        attempts: attempt,
      };
    }
    if (existing.length + missing.length > MAX_SIGNATURES_PER_IMAGE) {
      throw new SluiceError(
        'SIGNATURES_TOO_MANY',
        'integrity',
        `${repository}:${tag} already holds ${existing.length} signatures; adding ${missing.length} would exceed the ${MAX_SIGNATURES_PER_IMAGE} that verifiers read`,
        { ...ctx, count: existing.length },
      );
    }
    const merged = [...existing, ...missing];
    const config = signatureConfig(merged);
    const manifest = signatureManifest(merged, config);
    await client.pushBlobBytes(repository, config, options.signal);
    const again = await client.headManifest(repository, tag, options.signal);
    if (again?.digest !== head?.digest) continue;
    let put;
    const putStarted = performance.now();
    try {
      put = await client.putManifest(repository, tag, manifest, MediaType.OciManifest, options.signal);
    } catch (err) {
      // Distribution answers 400 DIGEST_INVALID / MANIFEST_BLOB_UNKNOWN while another client is
      // committing an upload of the same blob (two signers, same config): transient, retried.
      if (err instanceof SluiceError && TRANSIENT_PUT_CODES.includes(err.code) && attempt < maxAttempts) continue;
      throw err;
    }
    // A writer that read the old state landed its PUT within about one PUT round trip of its
    // last read, which came before our PUT: waiting a few of our own round trips (they grow
    // with the registry's load as theirs do) lets such a write arrive before we look.
    if (settle > 0)
      await sleep(Math.max(settle, 3 * (performance.now() - putStarted)) + Math.random() * settle, options.signal);
    const after = await client.headManifest(repository, tag, options.signal);
    if (after?.digest === put.digest) {
      return {
        tag,
        manifestDigest: put.digest,
        signatures: merged.length,
        alreadyPresent: layers.length - missing.length,
        attempts: attempt,
      };
    }
    if (after) {
      // Someone wrote after us: fine if they merged on top of our layers.
      const now = await client.getManifest(repository, after.digest, options.signal);
      if (now.kind === 'image' && layers.every((l) => now.layers.some((e) => sameSignature(e, l)))) {
        return {
          tag,
          manifestDigest: now.digest,
          signatures: now.layers.length,
          alreadyPresent: layers.length - missing.length,
          attempts: attempt,
        };
      }
    }
  }
  throw new SluiceError(
    'SIGNATURE_WRITE_CONFLICT',
    'conflict',
    `${repository}:${tag} on ${client.registry} kept changing during ${maxAttempts} attempts to add a signature; try again`,
    ctx,
  );
}

export interface ReferrerResult {
  /** Digest of the artifact manifest. */
  digest: string;
  size: number;
  /** `api`: the registry indexed it from `subject`; `tag`: Sluice updated the referrers tag index. */
  indexedBy: 'api' | 'tag';
}

/**
 * Pushes one signature as an OCI 1.1 artifact referring to `subject`: empty config,
 * `artifactType` the simple-signing media type, the same layer (payload blob plus signature
 * annotation) as in the `.sig` manifest. The payload blob must already be in the repository.
 */
export async function pushSignatureReferrer(
  client: RegistryClient,
  repository: string,
  subject: Pick<Descriptor, 'mediaType' | 'digest' | 'size'>,
  layer: Descriptor,
  signal?: AbortSignal,
): Promise<ReferrerResult> {
  await client.pushBlobBytes(repository, EMPTY_JSON, signal);
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      artifactType: MediaType.CosignSimpleSigning,
      config: { mediaType: MediaType.OciEmpty, digest: EMPTY_JSON_DIGEST, size: EMPTY_JSON.length },
      layers: [layer],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    }),
  );
  const digest = digestOf(bytes);
  const put = await client.putManifest(repository, digest, bytes, MediaType.OciManifest, signal);
  if (put.subjectProcessed) return { digest, size: bytes.length, indexedBy: 'api' };
  await client.addToReferrersTag(repository, subject.digest, {
    mediaType: MediaType.OciManifest,
    digest,
    size: bytes.length,
    artifactType: MediaType.CosignSimpleSigning,
  });
  return { digest, size: bytes.length, indexedBy: 'tag' };
}
