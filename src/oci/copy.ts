/**
 * The copy engine: moves an image or index by digest from one repository to another, with its
 * signatures, attestations and SBOMs.
 *
 * - Within a registry blobs are mounted across repositories (no bytes move); across registries
 *   they are streamed, several at a time, through a verifier (memory does not grow with size).
 * - Manifest bytes are copied exactly as served, so the target digest is the source digest.
 * - Children before their index; referrers before the tag; the requested tag is written last,
 *   so a copy that fails leaves no tag behind and a re-run completes it.
 * - Idempotent: when the target already holds the digest under the tag, only the referrers
 *   are compared, and nothing is transferred.
 */
import type { Readable } from 'node:stream';
import { SluiceError, asSluiceError } from '../errors.ts';
import type { RegistryClient } from './client.ts';
import { cosignTagsAmong, mergeSignatureLayers } from './cosign.ts';
import { checkIndexFanOut } from './limits.ts';
import { blobsOf, type Descriptor, type Manifest } from './manifest.ts';
import { isForeignLayer } from './mediatypes.ts';
import { streamedBytes } from './memory.ts';
import { formatReference, manifestReferenceOf, type Reference } from './reference.ts';
import type { RegistryPool } from './pool.ts';
import { mapLimit } from '../util/concurrency.ts';
import { sleep } from '../http/index.ts';

export interface CopyTarget {
  registry: string;
  repository: string;
  /** Tag to set; without one the manifest is put by digest only. */
  tag?: string;
}

export interface CopyRequest {
  source: Reference;
  target: CopyTarget;
}

export type CopyProgress =
  | { kind: 'manifest'; digest: string; state: 'copied' | 'present' }
  | { kind: 'blob-start'; digest: string; size: number }
  | { kind: 'blob-bytes'; digest: string; bytes: number }
  | { kind: 'blob-done'; digest: string; size: number; how: BlobOutcome };

export type BlobOutcome = 'mounted' | 'copied' | 'present' | 'foreign';

export interface CopyOptions {
  /** Carry signatures, attestations, SBOMs and other referrers (default true). */
  referrers?: boolean;
  /** Blobs in flight per copy (default 4). */
  blobConcurrency?: number;
  /** Upload in chunks of this many bytes instead of one PUT (for proxies that cap bodies). */
  chunkSize?: number;
  /** Whole-blob retries after a transient failure mid-stream (default 2). */
  blobRetries?: number;
  signal?: AbortSignal;
  onProgress?: (event: CopyProgress) => void;
}

export interface CopiedReferrer {
  digest: string;
  tag?: string;
  artifactType?: string;
  state: 'copied' | 'present' | 'merged';
}

export interface CopyResult {
  source: string;
  target: string;
  digest: string;
  mediaType: string;
  /** Nothing had to be written. */
  noop: boolean;
  manifestsWritten: number;
  blobs: Record<BlobOutcome, number>;
  bytesTransferred: number;
  referrers: CopiedReferrer[];
}

/**
 * An upload body that can be sent once. A second request for it (a re-send after a 401)
 * would stream what is left of a half-read download under the full length: refused, and as
 * a transient failure, so the copy retries the whole blob.
 */
function sendOnce(source: Readable, digest: string): () => Readable {
  let taken = false;
  return () => {
    if (taken) {
      source.destroy();
      throw new SluiceError(
        'UPLOAD_NOT_REPLAYABLE',
        'unavailable',
        `the upload of blob ${digest} was asked to start over; the blob is copied again`,
        { digest },
      );
    }
    taken = true;
    return source;
  };
}

class CopyRun {
  readonly result: CopyResult;
  private readonly src: RegistryClient;
  private readonly dst: RegistryClient;
  private readonly sameRegistry: boolean;
  private readonly srcRepo: string;
  private readonly dstRepo: string;
  private readonly options: CopyOptions;
  private readonly inflight: Map<string, Promise<BlobOutcome>>;
  private readonly tagLists: Map<string, Promise<string[]>>;

  constructor(pool: RegistryPool, req: CopyRequest, options: CopyOptions, shared: EngineCaches) {
    this.src = pool.get(req.source.registry);
    this.dst = pool.get(req.target.registry);
    this.sameRegistry = this.src === this.dst;
    this.srcRepo = req.source.repository;
    this.dstRepo = req.target.repository;
    this.options = options;
    this.inflight = shared.blobs;
    this.tagLists = shared.tagLists;
    this.result = {
      source: formatReference(req.source),
      target: formatReference({ ...req.target }),
      digest: '',
      mediaType: '',
      noop: true,
      manifestsWritten: 0,
      blobs: { mounted: 0, copied: 0, present: 0, foreign: 0 },
      bytesTransferred: 0,
      referrers: [],
    };
  }

  private get signal(): AbortSignal | undefined {
    return this.options.signal;
  }

  async run(req: CopyRequest): Promise<CopyResult> {
    const top = await this.src.getManifest(this.srcRepo, manifestReferenceOf(req.source), this.signal);
    // Before anything else: even a copy with nothing to transfer walks the children's referrers.
    this.checkFanOut(top, 0);
    this.result.digest = top.digest;
    this.result.mediaType = top.mediaType;
    const targetRef = req.target.tag ?? top.digest;
    this.result.target = formatReference({ ...req.target, digest: top.digest });
    const existing = await this.dst.headManifest(this.dstRepo, targetRef, this.signal);
    const contentPresent = existing?.digest === top.digest;
    if (!contentPresent) await this.copyContent(top);
    if (this.options.referrers !== false) {
      await this.copyReferrers([top.digest, ...top.manifests.map((c) => c.digest)]);
    }
    if (!contentPresent) {
      await this.putManifest(targetRef, top.bytes, top.mediaType);
      this.result.manifestsWritten++;
      this.result.noop = false;
      this.options.onProgress?.({ kind: 'manifest', digest: top.digest, state: 'copied' });
    }
    return this.result;
  }

  private checkFanOut(manifest: Manifest, parents: number): void {
    checkIndexFanOut(manifest, parents, this.src.limits, { registry: this.src.registry, repository: this.srcRepo });
  }

  /**
   * Copies everything a manifest needs in the target (blobs, children), not the manifest itself.
   * `parents` counts the indexes above it, so a chain of nested indexes ends at the depth limit.
   */
  private async copyContent(manifest: Manifest, parents = 0): Promise<void> {
    this.checkFanOut(manifest, parents);
    if (manifest.kind === 'image') {
      await mapLimit(blobsOf(manifest), this.options.blobConcurrency ?? 4, (blob) => this.copyBlob(blob));
    } else {
      await mapLimit(manifest.manifests, 4, (child) => this.copyChildManifest(child, parents + 1));
    }
  }

  private async copyChildManifest(child: Descriptor, parents: number): Promise<void> {
    if (await this.dst.headManifest(this.dstRepo, child.digest, this.signal)) {
      this.options.onProgress?.({ kind: 'manifest', digest: child.digest, state: 'present' });
      return;
    }
    const manifest = await this.src.getManifest(this.srcRepo, child.digest, this.signal);
    await this.copyContent(manifest, parents);
    await this.putManifest(child.digest, manifest.bytes, manifest.mediaType);
    this.result.manifestsWritten++;
    this.result.noop = false;
    this.options.onProgress?.({ kind: 'manifest', digest: child.digest, state: 'copied' });
  }

  /**
   * Puts a manifest whose blobs were just placed. CNCF Distribution rewrites a repository's
   * layer link files in place when blobs are mounted, and a concurrent manifest PUT reading one
   * mid-rewrite is refused with DIGEST_INVALID or MANIFEST_BLOB_UNKNOWN although every blob is
   * there: such a refusal is retried (a manifest that really lacks a blob is refused again).
   */
  private async putManifest(reference: string, bytes: Buffer, mediaType: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.dst.putManifest(this.dstRepo, reference, bytes, mediaType, this.signal);
        return;
      } catch (err) {
        const code = asSluiceError(err).code;
        if (attempt >= 2 || (code !== 'DIGEST_INVALID' && code !== 'MANIFEST_BLOB_UNKNOWN')) throw err;
        await sleep(100 * (attempt + 1), this.signal);
      }
    }
  }

  private copyBlob(blob: Descriptor): Promise<void> {
    const key = `${this.dst.registry}/${this.dstRepo}@${blob.digest}`;
    let pending = this.inflight.get(key);
    if (pending) {
      // Placed (or being placed) by an earlier copy of this engine: no request needed. Mounting
      // the same layer again would also race Distribution's link-file rewrite (400 DIGEST_INVALID).
      pending = pending.then((how) => (how === 'foreign' ? how : 'present'));
    } else {
      pending = this.transferBlob(blob);
      this.inflight.set(key, pending);
      // Only successes are remembered; a failed transfer is tried again by the next copy.
      pending.catch(() => this.inflight.delete(key));
    }
    return pending.then((how) => {
      this.result.blobs[how]++;
      if (how !== 'present' && how !== 'foreign') this.result.noop = false;
      this.options.onProgress?.({ kind: 'blob-done', digest: blob.digest, size: blob.size, how });
    });
  }

  private async transferBlob(blob: Descriptor): Promise<BlobOutcome> {
    // Non-distributable layers live at their `urls`; registries are not asked for them and
    // Sluice never fetches those URLs (credentials could follow, CVE-2020-15157).
    if (isForeignLayer(blob.mediaType)) return 'foreign';
    if (this.sameRegistry && this.srcRepo === this.dstRepo) return 'present';
    let uploadUrl: URL | undefined;
    if (this.sameRegistry) {
      const mount = await this.dst.mountBlob(this.dstRepo, blob.digest, this.srcRepo, this.signal);
      if (mount.mounted) return 'mounted';
      uploadUrl = mount.uploadUrl;
    } else if (await this.dst.headBlob(this.dstRepo, blob.digest, this.signal)) {
      return 'present';
    }
    await this.streamBlob(blob, uploadUrl);
    return 'copied';
  }

  private async streamBlob(blob: Descriptor, firstUploadUrl: URL | undefined): Promise<void> {
    const retries = this.options.blobRetries ?? 2;
    let uploadUrl = firstUploadUrl;
    for (let attempt = 0; ; attempt++) {
      // The upload session opens while the download starts: one round trip less per blob.
      const session = uploadUrl ? Promise.resolve(uploadUrl) : this.dst.startUpload(this.dstRepo, this.signal);
      session.catch(() => undefined);
      this.options.onProgress?.({ kind: 'blob-start', digest: blob.digest, size: blob.size });
      let sent = 0;
      const onProgress = this.options.onProgress;
      const onBytes = (n: number) => {
        sent += n;
        streamedBytes(n);
        onProgress?.({ kind: 'blob-bytes', digest: blob.digest, bytes: n });
      };
      const download = this.src.getBlob(this.srcRepo, blob.digest, blob.size, this.signal, onBytes);
      try {
        const [source, url] = await Promise.all([download, session]);
        uploadUrl = url;
        if (this.options.chunkSize) {
          await this.dst.finishUploadChunked(
            this.dstRepo,
            uploadUrl,
            blob.digest,
            source,
            this.options.chunkSize,
            this.signal,
          );
        } else {
          await this.dst.finishUploadMonolithic(
            this.dstRepo,
            uploadUrl,
            blob.digest,
            blob.size,
            sendOnce(source, blob.digest),
            this.signal,
          );
        }
        this.result.bytesTransferred += sent;
        return;
      } catch (err) {
        const e = asSluiceError(err);
        // An attempt that failed (or whose upload session could not open) must not leave its
        // download open: it would hold a connection and could still fail later, unobserved.
        await download.then(
          (source) => source.destroy(),
          () => undefined,
        );
        uploadUrl ??= await session.catch(() => undefined);
        if (uploadUrl) await this.dst.cancelUpload(this.dstRepo, uploadUrl);
        uploadUrl = undefined;
        this.result.bytesTransferred += sent;
        // A digest mismatch is the source lying, not a hiccup: never retried, never committed.
        const transient = e.category === 'unavailable' && e.code !== 'ABORTED';
        if (!transient || attempt >= retries || this.signal?.aborted) throw this.blobFailure(e, blob.digest);
      }
    }
  }

  /** The error of a blob that could not be copied names the blob and both ends. */
  private blobFailure(e: SluiceError, digest: string): SluiceError {
    e.context.digest ??= digest;
    if (e.message.includes(digest)) return e;
    return new SluiceError(
      e.code,
      e.category,
      `copying blob ${digest} from ${this.src.registry}/${this.srcRepo} to ${this.dst.registry}/${this.dstRepo}: ${e.message}`,
      e.context,
      e,
    );
  }

  private async copyReferrers(subjects: string[]): Promise<void> {
    // One listing serves every cosign tag and the referrers-schema tags of all subjects, and
    // every image of a batch from the same repository.
    const key = `${this.src.registry}/${this.srcRepo}`;
    let listing = this.tagLists.get(key);
    if (!listing) {
      listing = this.src.listTags(this.srcRepo);
      this.tagLists.set(key, listing);
      listing.catch(() => this.tagLists.delete(key));
    }
    const tags = new Set(await listing);
    for (const tag of cosignTagsAmong(tags, subjects)) await this.copyCosignTag(tag);
    for (const subject of subjects) {
      const referrers = await this.src.referrers(this.srcRepo, subject, { knownTags: tags });
      for (const d of referrers) await this.copyReferrer(subject, d);
    }
  }

  private async copyCosignTag(tag: string): Promise<void> {
    const manifest = await this.src.getManifest(this.srcRepo, tag, this.signal);
    const existing = await this.dst.headManifest(this.dstRepo, tag, this.signal);
    if (existing?.digest === manifest.digest) {
      this.result.referrers.push({ digest: manifest.digest, tag, state: 'present' });
      return;
    }
    await this.copyContent(manifest);
    if (existing) {
      // The target has signatures of its own under this tag: append, never replace.
      const current = await this.dst.getManifest(this.dstRepo, existing.digest, this.signal);
      const merged = mergeSignatureLayers(current, manifest);
      if (!merged) {
        this.result.referrers.push({ digest: current.digest, tag, state: 'present' });
        return;
      }
      await this.dst.pushBlobBytes(this.dstRepo, merged.config, this.signal);
      const put = await this.dst.putManifest(this.dstRepo, tag, merged.manifest, manifest.mediaType, this.signal);
      this.result.referrers.push({ digest: put.digest, tag, state: 'merged' });
    } else {
      await this.dst.putManifest(this.dstRepo, tag, manifest.bytes, manifest.mediaType, this.signal);
      this.result.referrers.push({ digest: manifest.digest, tag, state: 'copied' });
    }
    this.result.manifestsWritten++;
    this.result.noop = false;
  }

  private async copyReferrer(subject: string, descriptor: Descriptor): Promise<void> {
    if (await this.dst.headManifest(this.dstRepo, descriptor.digest, this.signal)) {
      this.result.referrers.push({
        digest: descriptor.digest,
        artifactType: descriptor.artifactType,
        state: 'present',
      });
      return;
    }
    const manifest = await this.src.getManifest(this.srcRepo, descriptor.digest, this.signal);
    await this.copyContent(manifest);
    const put = await this.dst.putManifest(
      this.dstRepo,
      descriptor.digest,
      manifest.bytes,
      manifest.mediaType,
      this.signal,
    );
    if (!put.subjectProcessed) {
      await this.dst.addToReferrersTag(this.dstRepo, subject, {
        mediaType: manifest.mediaType,
        digest: manifest.digest,
        size: manifest.size,
        ...(descriptor.artifactType ? { artifactType: descriptor.artifactType } : {}),
        ...(Object.keys(manifest.annotations).length ? { annotations: manifest.annotations } : {}),
      });
    }
    this.result.manifestsWritten++;
    this.result.noop = false;
    this.result.referrers.push({ digest: manifest.digest, artifactType: descriptor.artifactType, state: 'copied' });
  }
}

/** State an engine shares between its copies: blobs already placed, tag listings already read. */
interface EngineCaches {
  blobs: Map<string, Promise<BlobOutcome>>;
  tagLists: Map<string, Promise<string[]>>;
}

export interface BulkCopyOutcome {
  request: CopyRequest;
  result?: CopyResult;
  error?: SluiceError;
}

/** Copies images through a shared pool of registry clients. */
export class CopyEngine {
  private readonly pool: RegistryPool;
  // An engine lives for one command or job; caching what it placed and listed is safe that long.
  private readonly caches: EngineCaches = { blobs: new Map(), tagLists: new Map() };

  constructor(pool: RegistryPool) {
    this.pool = pool;
  }

  async copy(request: CopyRequest, options: CopyOptions = {}): Promise<CopyResult> {
    if (request.source.tag === undefined && request.source.digest === undefined) {
      throw new SluiceError(
        'REFERENCE_INVALID',
        'invalid-input',
        `source ${formatReference(request.source)} needs a tag or digest`,
      );
    }
    return new CopyRun(this.pool, request, options, this.caches).run(request);
  }

  /** Many copies, `concurrency` in flight; one failure does not stop the others. */
  async copyAll(
    requests: CopyRequest[],
    options: CopyOptions & { concurrency?: number } = {},
  ): Promise<BulkCopyOutcome[]> {
    return mapLimit(requests, options.concurrency ?? 8, async (request) => {
      try {
        return { request, result: await this.copy(request, options) };
      } catch (err) {
        return { request, error: asSluiceError(err) };
      }
    });
  }
}
