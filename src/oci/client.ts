/**
 * A client for one OCI registry (distribution-spec v1.1). Every method names its operation,
 * repository and reference in errors; every byte fetched is checked against its digest.
 */
import { finished, type Readable } from 'node:stream';
import { isIP } from 'node:net';
import { relayedCode, type CodeOf } from '../error-codes.ts';
import { SluiceError } from '../errors.ts';
import { categoryForStatus } from '../http/index.ts';
import { Authenticator, CATALOG_SCOPE, repositoryScope, type Scope } from './auth.ts';
import type { CredentialSource } from './credentials.ts';
import { VerifyingStream, digestOf, digestToTag, isDigest, parseDigest } from './digest.ts';
import { MAX_MANIFEST_BYTES, parseManifest, type Descriptor, type Manifest } from './manifest.ts';
import { MANIFEST_ACCEPT, MediaType } from './mediatypes.ts';
import { DOCKER_HUB } from './reference.ts';
import { LIMIT_SETTINGS, formatMiB, pages, resolveLimits, type RegistryLimits } from './limits.ts';
import {
  HttpTransport,
  isTlsProtocolError,
  retryRefusal,
  type HttpMethod,
  type HttpResponse,
  type RetryPolicy,
  type TransportOptions,
} from './transport.ts';

export type ReferrersMode = 'auto' | 'api' | 'tags';

export interface RegistryClientOptions {
  /** host[:port] as it appears in references. */
  registry: string;
  /** API base URL when it differs from https://<registry> (Docker Hub, a port-forward, an explicit http://). */
  url?: string;
  /** Allow plain http and unverified TLS for a non-loopback registry. */
  insecure?: boolean;
  caPem?: string;
  credentials?: CredentialSource;
  concurrency?: number;
  referrers?: ReferrersMode;
  retry?: Partial<RetryPolicy>;
  idleTimeoutMs?: number;
  userAgent?: string;
  onResponse?: TransportOptions['onResponse'];
  onRetry?: TransportOptions['onRetry'];
  /** Bounds on listings and index fan-out; defaults where not given. */
  limits?: Partial<RegistryLimits>;
}

export interface ManifestHead {
  digest: string;
  mediaType: string;
  size: number;
}

export interface OciErrorBody {
  code?: string;
  message?: string;
  detail?: unknown;
}

const MAX_PAGES = 100_000;
const MAX_REFERRER_PAGES = 100;

function isLoopbackHost(host: string): boolean {
  const h = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1';
}

/**
 * Pipes a response body into its verifier and makes the verifier the one stream the caller
 * holds. The caller may keep it across await gaps (an upload session opening, a token fetch,
 * a wait for a connection) before reading: an error in such a gap must not become an
 * unhandled 'error' event that takes the process down. It stays recorded on the stream
 * (`errored`), where pipeline() and for-await find it. A body that breaks off destroys the
 * verifier with `interrupted(err)`; a verifier destroyed by its reader releases the body's
 * connection instead of leaving it paused until the idle timeout.
 */
function feedVerifier(
  body: Readable,
  verifier: VerifyingStream,
  interrupted: (err: Error) => SluiceError,
): VerifyingStream {
  verifier.on('error', () => {});
  finished(body, (err) => {
    if (err) verifier.destroy(interrupted(err));
  });
  verifier.once('close', () => {
    if (!body.readableEnded) body.destroy();
  });
  body.pipe(verifier);
  return verifier;
}

/** Parses `<url>; rel="next"` out of a Link header. */
export function parseNextLink(link: string | undefined): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (m && /\brel\s*=\s*"?next"?/i.test(m[2]!)) return m[1];
  }
  return undefined;
}

/**
 * The distribution spec's meanings: 405 is a registry that does not allow the operation
 * (deletes disabled), 409 a conflict with its state, 400/413/416 an answer to something
 * malformed, and any other status the registry's trouble rather than the input's.
 */
const REGISTRY_STATUS = {
  otherClientError: 'unavailable',
  overrides: {
    400: 'integrity',
    405: 'forbidden',
    409: 'conflict',
    410: 'unavailable',
    413: 'integrity',
    416: 'integrity',
  },
} as const;

interface CallInit {
  op: string;
  method: HttpMethod;
  /** Path under the API root, or an absolute URL from a Location/Link header. */
  target: string | URL;
  repository?: string;
  reference?: string;
  scopes: Scope[];
  headers?: Record<string, string>;
  body?: Buffer | (() => Readable);
  bodyLength?: number;
  expect: number[];
  /** Statuses returned to the caller instead of raising (e.g. 404 for "does it exist"). */
  pass?: number[];
  followRedirects?: boolean;
  retry?: boolean;
  signal?: AbortSignal;
}

export class RegistryClient {
  readonly registry: string;
  readonly transport: HttpTransport;
  /** What this registry's answers may make Sluice do; every walker of an index reads it. */
  readonly limits: RegistryLimits;
  private readonly auth: Authenticator;
  private base: URL | undefined;
  private readonly explicitBase: boolean;
  private readonly mayUseHttp: boolean;
  private referrersMode: ReferrersMode;
  private referrersProbe: Promise<Descriptor[] | undefined> | undefined;

  constructor(options: RegistryClientOptions) {
    this.registry = options.registry;
    this.limits = resolveLimits(options.limits);
    const loopback = isLoopbackHost(options.registry);
    this.mayUseHttp = loopback || !!options.insecure;
    this.transport = new HttpTransport({
      caPem: options.caPem,
      skipTlsVerify: !!options.insecure,
      concurrency: options.concurrency,
      retry: options.retry,
      idleTimeoutMs: options.idleTimeoutMs,
      userAgent: options.userAgent,
      onResponse: options.onResponse,
      onRetry: options.onRetry,
    });
    if (options.url) {
      this.base = new URL(options.url.replace(/\/+$/, '') + '/');
      if (this.base.protocol === 'http:' && !this.mayUseHttp) {
        throw new SluiceError(
          'INSECURE_REGISTRY',
          'invalid-input',
          `registry ${options.registry} is configured with plain http; set insecure: true (or --insecure) to allow it`,
          { registry: options.registry },
        );
      }
      this.explicitBase = true;
    } else {
      if (options.registry === DOCKER_HUB) this.base = new URL('https://registry-1.docker.io/');
      this.explicitBase = this.base !== undefined;
    }
    this.referrersMode = options.referrers ?? 'auto';
    this.auth = new Authenticator({
      registry: options.registry,
      origin: () => this.baseUrl().origin,
      credentials: options.credentials,
      transport: this.transport,
      allowHttpRealm: () => this.baseUrl().protocol === 'http:',
    });
  }

  close(): void {
    this.transport.close();
  }

  /** Whether the registry serves the OCI referrers API (undefined until known). */
  get supportsReferrersApi(): boolean | undefined {
    return this.referrersMode === 'api' ? true : this.referrersMode === 'tags' ? false : undefined;
  }

  private baseUrl(): URL {
    return this.base ?? new URL(`https://${this.registry}/`);
  }

  private async send(init: CallInit, authorization: string | undefined): Promise<HttpResponse> {
    const url = typeof init.target === 'string' ? new URL(init.target, this.baseUrl()) : init.target;
    const headers: Record<string, string> = { ...init.headers };
    // Location and Link URLs may point elsewhere; credentials only go to the registry's origin.
    if (authorization && url.origin === this.baseUrl().origin) headers.authorization = authorization;
    try {
      return await this.transport.request({
        method: init.method,
        url,
        headers,
        body: init.body,
        bodyLength: init.bodyLength,
        followRedirects: init.followRedirects,
        retry: init.retry,
        signal: init.signal,
      });
    } catch (err) {
      // A loopback registry without TLS is reached over plain http, as docker does.
      const cause = (err as SluiceError).cause ?? err;
      // Concurrent first requests may all fail this way; the first one switches the base.
      if (!this.explicitBase && url.protocol === 'https:' && this.mayUseHttp && isTlsProtocolError(cause)) {
        this.base = new URL(`http://${this.registry}/`);
        const retryUrl =
          typeof init.target === 'string' ? init.target : new URL(init.target.pathname + init.target.search, this.base);
        return this.send({ ...init, target: retryUrl }, authorization);
      }
      if (err instanceof SluiceError) {
        err.context.registry ??= this.registry;
        err.context.operation ??= init.op;
        if (init.repository) err.context.repository ??= init.repository;
      }
      throw err;
    }
  }

  private async call(init: CallInit): Promise<HttpResponse> {
    let res = await this.send(init, await this.auth.header(init.scopes));
    if (res.status === 401) {
      const www = res.header('www-authenticate');
      await res.discard();
      if (await this.auth.onUnauthorized(www, init.scopes)) {
        res = await this.send(init, await this.auth.header(init.scopes));
      }
    }
    if (init.expect.includes(res.status) || init.pass?.includes(res.status)) return res;
    throw await this.errorFrom(res, init);
  }

  private async errorFrom(res: HttpResponse, init: CallInit): Promise<SluiceError> {
    let oci: OciErrorBody | undefined;
    if (init.method !== 'HEAD') {
      try {
        const body = JSON.parse(await res.text(64 * 1024)) as { errors?: OciErrorBody[] };
        oci = body.errors?.[0];
      } catch {
        /* not an OCI error body */
      }
    } else {
      await res.discard();
    }
    const status = res.status;
    const target = init.repository
      ? `${init.repository}${init.reference ? (isDigest(init.reference) ? '@' : ':') + init.reference : ''}`
      : this.registry;
    let code = oci?.code ?? (status === 404 ? 'NOT_FOUND' : status === 401 ? 'UNAUTHORIZED' : `HTTP_${status}`);
    let detail = oci?.message ? `${oci.code ?? ''} ${oci.message}`.trim() : `HTTP ${status}`;
    const refusal = retryRefusal(res);
    if (status === 401) {
      code = 'UNAUTHORIZED';
      detail = `authentication failed ${await this.auth.identity()}${oci?.message ? `: ${oci.message}` : ''}`;
    }
    const category =
      code === 'NAME_INVALID' || code === 'TAG_INVALID' ? 'invalid-input' : categoryForStatus(status, REGISTRY_STATUS);
    return new SluiceError(
      relayedCode(code),
      category,
      `${init.op} ${target} on ${this.registry}: ${detail} (HTTP ${status}${refusal})`,
      {
        registry: this.registry,
        repository: init.repository,
        reference: init.reference,
        operation: init.op,
        ociCode: oci?.code,
        httpStatus: status,
        ...(res.retryRefused ? { retryAfterSeconds: Math.ceil(res.retryRefused.retryAfterMs / 1000) } : {}),
      },
    );
  }

  private integrity(code: CodeOf<'integrity'>, message: string, repository: string, reference?: string): SluiceError {
    return new SluiceError(
      code,
      'integrity',
      `${message} (registry ${this.registry}, ${repository}${reference ? ` ${reference}` : ''})`,
      {
        registry: this.registry,
        repository,
        reference,
      },
    );
  }

  // ---------------------------------------------------------------- manifests

  /** HEAD a manifest; undefined when it does not exist. */
  async headManifest(repository: string, reference: string, signal?: AbortSignal): Promise<ManifestHead | undefined> {
    const res = await this.call({
      op: 'HEAD manifest',
      method: 'HEAD',
      target: `v2/${repository}/manifests/${reference}`,
      repository,
      reference,
      scopes: [repositoryScope(repository, ['pull'])],
      headers: { accept: MANIFEST_ACCEPT },
      expect: [200],
      pass: [404],
      signal,
    });
    await res.discard();
    if (res.status === 404) return undefined;
    const digest = res.header('docker-content-digest');
    if (!digest || !isDigest(digest)) {
      // Without the header a HEAD cannot tell the digest; fetch the bytes instead.
      const m = await this.getManifest(repository, reference, signal);
      return { digest: m.digest, mediaType: m.mediaType, size: m.size };
    }
    if (isDigest(reference) && digest !== reference) {
      throw this.integrity(
        'DIGEST_MISMATCH',
        `registry answered ${digest} for a request by digest ${reference}`,
        repository,
        reference,
      );
    }
    return {
      digest,
      mediaType: (res.header('content-type') ?? '').split(';')[0]!.trim(),
      size: Number(res.header('content-length') ?? 0),
    };
  }

  /** GET a manifest by tag or digest; bytes are kept exactly and checked against the digest. */
  async getManifest(repository: string, reference: string, signal?: AbortSignal): Promise<Manifest> {
    const res = await this.call({
      op: 'GET manifest',
      method: 'GET',
      target: `v2/${repository}/manifests/${reference}`,
      repository,
      reference,
      scopes: [repositoryScope(repository, ['pull'])],
      headers: { accept: MANIFEST_ACCEPT },
      expect: [200],
      signal,
    });
    const declared = Number(res.header('content-length'));
    if (Number.isFinite(declared) && declared > MAX_MANIFEST_BYTES) {
      res.body.destroy();
      throw new SluiceError(
        'MANIFEST_TOO_LARGE',
        'integrity',
        `manifest ${repository}:${reference} on ${this.registry} is ${declared} bytes, over the ${MAX_MANIFEST_BYTES}-byte limit`,
        { registry: this.registry, repository, reference },
      );
    }
    let bytes: Buffer;
    try {
      bytes = await res.buffer(MAX_MANIFEST_BYTES);
    } catch (err) {
      if (err instanceof SluiceError && err.code === 'RESPONSE_TOO_LARGE') {
        throw new SluiceError(
          'MANIFEST_TOO_LARGE',
          'integrity',
          `manifest ${repository}:${reference} on ${this.registry} is over the ${MAX_MANIFEST_BYTES}-byte limit`,
          { registry: this.registry, repository, reference },
        );
      }
      throw err;
    }
    const byDigest = isDigest(reference);
    const manifest = parseManifest(bytes, {
      contentType: res.header('content-type'),
      expectedDigest: byDigest ? reference : undefined,
      context: { registry: this.registry, repository, reference },
    });
    const claimed = res.header('docker-content-digest');
    if (
      !byDigest &&
      claimed &&
      isDigest(claimed) &&
      parseDigest(claimed).algorithm === 'sha256' &&
      claimed !== manifest.digest
    ) {
      throw this.integrity(
        'DIGEST_MISMATCH',
        `registry claims ${claimed} but the manifest bytes hash to ${manifest.digest}`,
        repository,
        reference,
      );
    }
    return manifest;
  }

  /** PUT manifest bytes as-is under a tag or their digest. */
  async putManifest(
    repository: string,
    reference: string,
    bytes: Buffer,
    mediaType: string,
    signal?: AbortSignal,
  ): Promise<{ digest: string; subjectProcessed: boolean }> {
    const digest = digestOf(bytes, isDigest(reference) ? parseDigest(reference).algorithm : 'sha256');
    if (isDigest(reference) && reference !== digest) {
      throw this.integrity(
        'DIGEST_MISMATCH',
        `refusing to put bytes hashing to ${digest} under ${reference}`,
        repository,
        reference,
      );
    }
    const res = await this.call({
      op: 'PUT manifest',
      method: 'PUT',
      target: `v2/${repository}/manifests/${reference}`,
      repository,
      reference,
      scopes: [repositoryScope(repository, ['pull', 'push'])],
      headers: { 'content-type': mediaType },
      body: bytes,
      expect: [200, 201, 202],
      signal,
    });
    await res.discard();
    const stored = res.header('docker-content-digest');
    if (
      stored &&
      isDigest(stored) &&
      parseDigest(stored).algorithm === parseDigest(digest).algorithm &&
      stored !== digest
    ) {
      throw this.integrity(
        'DIGEST_MISMATCH',
        `registry stored the manifest as ${stored}, expected ${digest}`,
        repository,
        reference,
      );
    }
    return { digest, subjectProcessed: res.header('oci-subject') !== undefined };
  }

  async deleteManifest(repository: string, digest: string): Promise<boolean> {
    parseDigest(digest);
    const res = await this.call({
      op: 'DELETE manifest',
      method: 'DELETE',
      target: `v2/${repository}/manifests/${digest}`,
      repository,
      reference: digest,
      scopes: [repositoryScope(repository, ['delete'])],
      expect: [200, 202],
      pass: [404],
    });
    await res.discard();
    return res.status !== 404;
  }

  /**
   * Deletes one tag without touching the manifest (distribution-spec 1.1 tag delete). Registries
   * that cannot (CNCF Distribution 2.x) answer 400/405: that is reported as TAG_DELETE_UNSUPPORTED.
   */
  async deleteTag(repository: string, tag: string): Promise<boolean> {
    const res = await this.call({
      op: 'DELETE tag',
      method: 'DELETE',
      target: `v2/${repository}/manifests/${tag}`,
      repository,
      reference: tag,
      scopes: [repositoryScope(repository, ['delete'])],
      expect: [200, 202],
      pass: [404, 400, 405],
    });
    await res.discard();
    if (res.status === 404) return false;
    if (res.status === 400 || res.status === 405) {
      throw new SluiceError(
        'TAG_DELETE_UNSUPPORTED',
        'forbidden',
        `${this.registry} cannot delete tag ${repository}:${tag} without deleting its manifest`,
        { registry: this.registry, repository, reference: tag, httpStatus: res.status },
      );
    }
    return true;
  }

  // ---------------------------------------------------------------- blobs

  async headBlob(repository: string, digest: string, signal?: AbortSignal): Promise<{ size: number } | undefined> {
    const res = await this.call({
      op: 'HEAD blob',
      method: 'HEAD',
      target: `v2/${repository}/blobs/${digest}`,
      repository,
      reference: digest,
      scopes: [repositoryScope(repository, ['pull'])],
      expect: [200],
      pass: [404],
      followRedirects: true,
      signal,
    });
    await res.discard();
    if (res.status === 404) return undefined;
    return { size: Number(res.header('content-length') ?? -1) };
  }

  /**
   * Streams a blob. The returned stream errors with DIGEST_MISMATCH instead of delivering its
   * last chunk when the content does not match, so nothing downstream can complete with it,
   * and with BLOB_INTERRUPTED (naming this registry and the digest) when the download breaks
   * off. Read it with pipeline() or for-await, which report an error that happened before
   * reading began, or destroy it: either way the connection is released.
   */
  async getBlob(
    repository: string,
    digest: string,
    expectedSize?: number,
    signal?: AbortSignal,
    /** Sees every chunk as it arrives (bytes start flowing before this call returns). */
    onBytes?: (n: number) => void,
  ): Promise<VerifyingStream> {
    parseDigest(digest);
    const res = await this.call({
      op: 'GET blob',
      method: 'GET',
      target: `v2/${repository}/blobs/${digest}`,
      repository,
      reference: digest,
      scopes: [repositoryScope(repository, ['pull'])],
      expect: [200],
      followRedirects: true,
      signal,
    });
    const declared = Number(res.header('content-length'));
    if (
      expectedSize !== undefined &&
      Number.isFinite(declared) &&
      res.header('content-length') !== undefined &&
      declared !== expectedSize
    ) {
      res.body.destroy();
      throw this.integrity(
        'SIZE_MISMATCH',
        `blob ${digest} is served with ${declared} bytes, the manifest says ${expectedSize}`,
        repository,
        digest,
      );
    }
    const verifier = new VerifyingStream(digest, expectedSize, () => ({ registry: this.registry, repository }));
    verifier.onBytes = onBytes;
    return feedVerifier(res.body, verifier, (err) =>
      this.blobInterrupted(err, repository, digest, verifier.bytesSeen, expectedSize),
    );
  }

  private blobInterrupted(
    err: Error,
    repository: string,
    digest: string,
    received: number,
    expectedSize: number | undefined,
  ): SluiceError {
    if (err instanceof SluiceError) return err;
    const code = (err as { code?: string }).code;
    const aborted = err.name === 'AbortError';
    const why = aborted ? 'aborted' : `${err.message}${code && !err.message.includes(code) ? ` (${code})` : ''}`;
    return new SluiceError(
      aborted ? 'ABORTED' : 'BLOB_INTERRUPTED',
      'unavailable',
      `GET blob ${repository}@${digest} on ${this.registry}: download broke off after ${received} of ${expectedSize ?? 'unknown'} bytes: ${why}`,
      { registry: this.registry, repository, reference: digest, digest, operation: 'GET blob' },
      err,
    );
  }

  /** Reads a small blob (config, signature payload) into memory, verified, up to `limit` bytes. */
  async fetchBlob(
    repository: string,
    digest: string,
    limit: number,
    expectedSize?: number,
    signal?: AbortSignal,
  ): Promise<Buffer> {
    if (expectedSize !== undefined && expectedSize > limit) {
      throw this.integrity(
        'BLOB_TOO_LARGE',
        `blob ${digest} is ${expectedSize} bytes, over the ${limit}-byte limit`,
        repository,
        digest,
      );
    }
    const stream = await this.getBlob(repository, digest, expectedSize, signal);
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > limit) {
        stream.destroy();
        throw this.integrity('BLOB_TOO_LARGE', `blob ${digest} exceeds the ${limit}-byte limit`, repository, digest);
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks, total);
  }

  /** Cross-repository mount: no bytes move. Falls back to an open upload session when refused. */
  async mountBlob(
    repository: string,
    digest: string,
    fromRepository: string,
    signal?: AbortSignal,
  ): Promise<{ mounted: true } | { mounted: false; uploadUrl: URL }> {
    const target = `v2/${repository}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(fromRepository)}`;
    const res = await this.call({
      op: 'mount blob',
      method: 'POST',
      target,
      repository,
      reference: digest,
      scopes: [repositoryScope(repository, ['pull', 'push']), repositoryScope(fromRepository, ['pull'])],
      expect: [201, 202],
      signal,
    });
    await res.discard();
    if (res.status === 201) return { mounted: true };
    return { mounted: false, uploadUrl: this.uploadLocation(res, repository) };
  }

  private uploadLocation(res: HttpResponse, repository: string): URL {
    const location = res.header('location');
    if (!location) throw this.integrity('UPLOAD_INVALID', 'upload response has no Location header', repository);
    const url = new URL(location, this.baseUrl());
    if (url.origin !== this.baseUrl().origin && url.protocol !== this.baseUrl().protocol) {
      throw this.integrity('UPLOAD_INVALID', `upload Location ${url.origin} changes scheme`, repository);
    }
    return url;
  }

  async startUpload(repository: string, signal?: AbortSignal): Promise<URL> {
    const res = await this.call({
      op: 'start upload',
      method: 'POST',
      target: `v2/${repository}/blobs/uploads/`,
      repository,
      scopes: [repositoryScope(repository, ['pull', 'push'])],
      expect: [202],
      signal,
    });
    await res.discard();
    return this.uploadLocation(res, repository);
  }

  /** Completes an upload session in one PUT; the registry verifies the digest itself too. */
  async finishUploadMonolithic(
    repository: string,
    uploadUrl: URL,
    digest: string,
    size: number,
    body: Buffer | (() => Readable),
    signal?: AbortSignal,
  ): Promise<void> {
    const url = new URL(uploadUrl);
    url.searchParams.set('digest', digest);
    const res = await this.call({
      op: 'upload blob',
      method: 'PUT',
      target: url,
      repository,
      reference: digest,
      scopes: [repositoryScope(repository, ['pull', 'push'])],
      headers: { 'content-type': 'application/octet-stream' },
      body,
      bodyLength: size,
      // A streamed body cannot be replayed by the transport; the copy engine retries whole blobs.
      retry: Buffer.isBuffer(body),
      expect: [201, 204],
      signal,
    });
    await res.discard();
  }

  /** Uploads in PATCH chunks of `chunkSize` bytes (for proxies that cap request bodies). */
  async finishUploadChunked(
    repository: string,
    uploadUrl: URL,
    digest: string,
    source: Readable,
    chunkSize: number,
    signal?: AbortSignal,
  ): Promise<void> {
    let location = uploadUrl;
    let offset = 0;
    const scopes = [repositoryScope(repository, ['pull', 'push'])];
    const sendChunk = async (chunk: Buffer) => {
      const res = await this.call({
        op: 'upload chunk',
        method: 'PATCH',
        target: location,
        repository,
        reference: digest,
        scopes,
        headers: {
          'content-type': 'application/octet-stream',
          'content-range': `${offset}-${offset + chunk.length - 1}`,
        },
        body: chunk,
        retry: false,
        expect: [202],
        signal,
      });
      await res.discard();
      location = this.uploadLocation(res, repository);
      offset += chunk.length;
    };
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    for await (const data of source as AsyncIterable<Buffer>) {
      let rest = data;
      while (pendingBytes + rest.length >= chunkSize) {
        const take = chunkSize - pendingBytes;
        pending.push(rest.subarray(0, take));
        rest = rest.subarray(take);
        await sendChunk(Buffer.concat(pending, chunkSize));
        pending = [];
        pendingBytes = 0;
      }
      if (rest.length) {
        pending.push(rest);
        pendingBytes += rest.length;
      }
    }
    if (pendingBytes > 0) await sendChunk(Buffer.concat(pending, pendingBytes));
    const url = new URL(location);
    url.searchParams.set('digest', digest);
    const res = await this.call({
      op: 'finish upload',
      method: 'PUT',
      target: url,
      repository,
      reference: digest,
      scopes,
      expect: [201, 204],
      signal,
    });
    await res.discard();
  }

  async cancelUpload(repository: string, uploadUrl: URL): Promise<void> {
    try {
      const res = await this.call({
        op: 'cancel upload',
        method: 'DELETE',
        target: uploadUrl,
        repository,
        scopes: [repositoryScope(repository, ['pull', 'push'])],
        expect: [204, 200, 202],
        pass: [404],
        retry: false,
      });
      await res.discard();
    } catch {
      // Abandoned sessions are purged by the registry; failing to cancel one is not an error.
    }
  }

  /** Uploads bytes already in memory (configs, signature payloads). */
  async pushBlobBytes(
    repository: string,
    bytes: Buffer,
    signal?: AbortSignal,
  ): Promise<Descriptor & { digest: string }> {
    const digest = digestOf(bytes);
    if (!(await this.headBlob(repository, digest, signal))) {
      const url = await this.startUpload(repository, signal);
      await this.finishUploadMonolithic(repository, url, digest, bytes.length, bytes, signal);
    }
    return { mediaType: 'application/octet-stream', digest, size: bytes.length };
  }

  // ---------------------------------------------------------------- listings

  /**
   * Follows Link pagination to the end. A registry that keeps paging is stopped by the
   * listing's bounds (names, bytes, pages): the whole listing fails rather than being used
   * truncated, since a partial tag list would read as deletions.
   */
  private async paginate(
    op: string,
    first: string,
    repository: string | undefined,
    scopes: Scope[],
    pick: (body: unknown) => string[],
    signal?: AbortSignal,
  ): Promise<string[]> {
    const out: string[] = [];
    const seen = new Set<string>();
    const { listItems, listBytes } = this.limits;
    const what = `${op}${repository ? ` ${repository}` : ''} on ${this.registry}`;
    let bytes = 0;
    let target: string | URL = first;
    for (let page = 0; ; page++) {
      if (page >= MAX_PAGES) {
        throw this.integrity('PAGINATION_RUNAWAY', `${op} did not end after ${MAX_PAGES} pages`, repository ?? '');
      }
      const res = await this.call({ op, method: 'GET', target, repository, scopes, expect: [200], signal });
      let body: Buffer;
      try {
        body = await res.buffer(listBytes - bytes);
      } catch (err) {
        if (!(err instanceof SluiceError && err.code === 'RESPONSE_TOO_LARGE')) throw err;
        throw new SluiceError(
          'LIST_TOO_LARGE',
          'integrity',
          `${what}: the listing exceeds ${formatMiB(listBytes)} after ${pages(page + 1)} (${LIMIT_SETTINGS.listBytes})`,
          { registry: this.registry, repository, operation: op, limit: listBytes, pages: page + 1 },
        );
      }
      bytes += body.length;
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        throw this.integrity('LIST_INVALID', `${op} returned malformed JSON`, repository ?? '');
      }
      const names = pick(parsed);
      if (out.length + names.length > listItems) {
        throw new SluiceError(
          'LIST_TOO_LONG',
          'integrity',
          `${what}: the listing has more than ${listItems} names after ${pages(page + 1)} (${LIMIT_SETTINGS.listItems})`,
          { registry: this.registry, repository, operation: op, limit: listItems, pages: page + 1 },
        );
      }
      for (const n of names) out.push(n);
      const next = parseNextLink(res.header('link'));
      if (!next) return out;
      const url = new URL(next, this.baseUrl());
      if (url.origin !== this.baseUrl().origin) {
        throw this.integrity(
          'PAGINATION_INVALID',
          `${op}: next page link points to another origin (${url.origin})`,
          repository ?? '',
        );
      }
      // A Link that repeats would loop forever; a list we cannot finish must not be acted on.
      if (seen.has(url.href)) {
        throw this.integrity(
          'PAGINATION_INVALID',
          `${op}: next page link repeats (${url.pathname}${url.search})`,
          repository ?? '',
        );
      }
      seen.add(url.href);
      target = url;
    }
  }

  /** Every tag of a repository, following Link pagination to the end (never a truncated list). */
  async listTags(repository: string, pageSize = 1000, signal?: AbortSignal): Promise<string[]> {
    return this.paginate(
      'list tags',
      `v2/${repository}/tags/list?n=${pageSize}`,
      repository,
      [repositoryScope(repository, ['pull'])],
      (body) => {
        const tags = (body as { tags?: unknown }).tags;
        if (tags === null || tags === undefined) return [];
        if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string')) {
          throw this.integrity('LIST_INVALID', 'tags list is not a list of strings', repository);
        }
        return tags as string[];
      },
      signal,
    );
  }

  /** Every repository in the registry (the catalog extension; Quay and Harbor may restrict it). */
  async catalog(pageSize = 1000, signal?: AbortSignal): Promise<string[]> {
    return this.paginate(
      'catalog',
      `v2/_catalog?n=${pageSize}`,
      undefined,
      [CATALOG_SCOPE],
      (body) => {
        const repos = (body as { repositories?: unknown }).repositories;
        if (repos === null || repos === undefined) return [];
        if (!Array.isArray(repos) || repos.some((r) => typeof r !== 'string')) {
          throw this.integrity('LIST_INVALID', 'catalog is not a list of strings', '');
        }
        return repos as string[];
      },
      signal,
    );
  }

  async ping(): Promise<void> {
    const res = await this.call({ op: 'ping', method: 'GET', target: 'v2/', scopes: [], expect: [200] });
    await res.discard();
  }

  // ---------------------------------------------------------------- referrers

  /**
   * Artifacts whose `subject` is this digest: from the referrers API where the registry has it,
   * else from the `sha256-<hex>` tag schema index. Cosign's legacy `.sig`/`.att`/`.sbom` tags are
   * not referrers; see cosignTagsFor.
   */
  async referrers(
    repository: string,
    digest: string,
    options: { artifactType?: string; knownTags?: ReadonlySet<string> } = {},
  ): Promise<Descriptor[]> {
    parseDigest(digest);
    const { artifactType, knownTags } = options;
    let descriptors: Descriptor[] | undefined;
    // Concurrent first calls wait for one probe instead of each probing the API.
    if (this.referrersMode === 'auto' && this.referrersProbe) await this.referrersProbe.catch(() => undefined);
    if (this.referrersMode === 'auto') {
      this.referrersProbe = this.referrersFromApi(repository, digest, artifactType);
      descriptors = await this.referrersProbe;
      this.referrersMode = descriptors === undefined ? 'tags' : 'api';
    } else if (this.referrersMode === 'api') {
      descriptors = await this.referrersFromApi(repository, digest, artifactType);
      if (descriptors === undefined) this.referrersMode = 'tags';
    }
    // With a fresh tag listing at hand, a missing referrers tag needs no request to confirm.
    if (descriptors === undefined && knownTags && !knownTags.has(digestToTag(digest))) descriptors = [];
    descriptors ??= await this.referrersFromTag(repository, digest);
    return artifactType ? descriptors.filter((d) => d.artifactType === artifactType) : descriptors;
  }

  private async referrersFromApi(
    repository: string,
    digest: string,
    artifactType?: string,
  ): Promise<Descriptor[] | undefined> {
    let first = `v2/${repository}/referrers/${digest}`;
    if (artifactType) first += `?artifactType=${encodeURIComponent(artifactType)}`;
    const res = await this.call({
      op: 'list referrers',
      method: 'GET',
      target: first,
      repository,
      reference: digest,
      scopes: [repositoryScope(repository, ['pull'])],
      headers: { accept: MediaType.OciIndex },
      expect: [200],
      // The spec: a registry that supports the API never answers 404; 404 means "use the tag schema".
      pass: [404, 400, 405],
    });
    if (res.status !== 200) {
      await res.discard();
      return undefined;
    }
    const out: Descriptor[] = [];
    let body = await res.buffer(MAX_MANIFEST_BYTES);
    let next = parseNextLink(res.header('link'));
    const seen = new Set<string>();
    for (;;) {
      const index = parseManifest(body, {
        contentType: MediaType.OciIndex,
        context: { registry: this.registry, repository },
      });
      out.push(...index.manifests);
      if (!next) return out;
      const url = new URL(next, this.baseUrl());
      if (url.origin !== this.baseUrl().origin || seen.has(url.href)) {
        throw this.integrity(
          'PAGINATION_INVALID',
          'referrers next page link is invalid or repeats',
          repository,
          digest,
        );
      }
      // A registry that pages forever must not keep us reading: more than any real image has.
      if (seen.size >= MAX_REFERRER_PAGES) {
        throw this.integrity(
          'PAGINATION_RUNAWAY',
          `referrers of ${digest} did not end after ${MAX_REFERRER_PAGES} pages`,
          repository,
          digest,
        );
      }
      seen.add(url.href);
      const page = await this.call({
        op: 'list referrers',
        method: 'GET',
        target: url,
        repository,
        reference: digest,
        scopes: [repositoryScope(repository, ['pull'])],
        headers: { accept: MediaType.OciIndex },
        expect: [200],
      });
      body = await page.buffer(MAX_MANIFEST_BYTES);
      next = parseNextLink(page.header('link'));
    }
  }

  private async referrersFromTag(repository: string, digest: string): Promise<Descriptor[]> {
    const tag = digestToTag(digest);
    const head = await this.headManifest(repository, tag);
    if (!head) return [];
    const index = await this.getManifest(repository, head.digest);
    if (index.kind !== 'index') {
      throw this.integrity('REFERRERS_INVALID', `referrers tag ${tag} does not hold an index`, repository, tag);
    }
    return index.manifests;
  }

  /**
   * Keeps the referrers tag schema index of `subject` up to date after pushing `descriptor`
   * to a registry without the referrers API (distribution-spec "Pushing Manifests with Subject").
   */
  async addToReferrersTag(repository: string, subject: string, descriptor: Descriptor): Promise<void> {
    const tag = digestToTag(subject);
    const head = await this.headManifest(repository, tag);
    let manifests: Descriptor[] = [];
    if (head) {
      const existing = await this.getManifest(repository, head.digest);
      if (existing.kind !== 'index') {
        throw this.integrity('REFERRERS_INVALID', `referrers tag ${tag} does not hold an index`, repository, tag);
      }
      manifests = existing.manifests;
    }
    if (manifests.some((m) => m.digest === descriptor.digest)) return;
    const body = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [...manifests, descriptor] }),
    );
    await this.putManifest(repository, tag, body, MediaType.OciIndex);
  }
}
