/**
 * `sluice verify`: resolves a reference once to a digest, gathers every signature stored for
 * that digest (cosign's `.sig` layers, simple-signing referrers, Sigstore bundle referrers) and
 * checks each with the pure verifiers of verify.ts.
 *
 * Resources are bounded before anything is read: more than 1000 signatures refuse the whole
 * verification (a signature flood, CVE-2023-46737); a payload declared over 128 KiB (a bundle
 * over 1 MiB) is rejected without fetching it, and fetches stop at that limit whatever the
 * registry sends. Each signature is judged alone: one hostile entry is rejected with its reason
 * and cannot stop the others from being checked.
 *
 * Material Sluice cannot check is refused, in both layouts alike: certificates (keyless
 * signing) always; transparency-log entries and RFC 3161 timestamps unless the caller opts
 * into key-only assurance (`ignoreTransparencyLog`, `--insecure-ignore-tlog`).
 */
import { SluiceError, asSluiceError, type ErrorCategory } from '../errors.ts';
import type { RegistryClient } from '../oci/client.ts';
import { mapLimit } from '../util/concurrency.ts';
import { cosignTag } from '../oci/cosign.ts';
import type { Descriptor } from '../oci/manifest.ts';
import { MediaType } from '../oci/mediatypes.ts';
import type { RegistryPool } from '../oci/pool.ts';
import { formatReference, type Reference } from '../oci/reference.ts';
import type { SigningAudit } from './audit.ts';
import type { PublicKeySet } from './keys.ts';
import { MAX_PAYLOAD_BYTES } from './payload.ts';
import {
  CERTIFICATE_ANNOTATION,
  CHAIN_ANNOTATION,
  REKOR_BUNDLE_ANNOTATION,
  RFC3161_TIMESTAMP_ANNOTATION,
  SIGNATURE_ANNOTATION,
  readSignatureManifest,
  resolveImage,
  type ResolvedImage,
} from './store.ts';
import {
  COSIGN_SIGN_PREDICATE_TYPE,
  MAX_BUNDLE_BYTES,
  MAX_SIGNATURES_PER_IMAGE,
  SIGSTORE_BUNDLE_V03,
  signatureEncodingProblem,
  verifyBundle,
  verifyCandidate,
  type SignedClaim,
  type VerifyFailureCode,
  type VerifyResult,
} from './verify.ts';

/** Rejection codes: those of the pure verifiers plus what only the registry side can find. */
export type RejectionCode =
  | VerifyFailureCode
  /** Certificate, transparency-log or timestamp material that Sluice cannot check. */
  | 'SIGNATURE_UNVERIFIABLE'
  /** A `.sig` layer or referrer layer of another media type. */
  | 'SIGNATURE_LAYER_UNSUPPORTED'
  /** A `.sig` tag or referrer artifact that is not shaped as a signature (index, wrong subject, several layers). */
  | 'SIGNATURE_MANIFEST_INVALID'
  /** The registry could not serve the blob as described (missing, wrong size, wrong digest). */
  | 'SIGNATURE_FETCH_FAILED';

export type SignatureLayout = 'cosign-sig' | 'referrer' | 'sigstore-bundle';

export interface ValidSignature {
  /** Where it was found: `sha256-<hex>.sig[<layer>]` or `referrer sha256:<hex>`. */
  source: string;
  layout: SignatureLayout;
  keyId: string;
  /** The file (or directory entry) the verifying key came from. */
  keySource: string;
  claim: SignedClaim;
  /** The exact simple-signing payload (legacy and referrer layouts). */
  payload?: string;
  /** Transparency-log entries and timestamps present but not checked (only with `ignoreTransparencyLog`). */
  unverifiedTlogEntries?: number;
  unverifiedTimestamps?: number;
}

export interface RejectedSignature {
  source: string;
  layout: SignatureLayout;
  code: RejectionCode;
  reason: string;
}

export interface VerifyImageResult {
  /** The reference as given. */
  reference: string;
  registry: string;
  repository: string;
  /** The digest the reference resolved to: everything below is about this digest only. */
  digest: string;
  mediaType: string;
  /** Signatures examined (valid + rejected). */
  found: number;
  valid: ValidSignature[];
  rejected: RejectedSignature[];
}

export interface VerifyImageOptions {
  /** `-a key=value`: every one must be in the signed payload with exactly this value. */
  requiredAnnotations?: Record<string, string>;
  /** Accept signatures whose transparency-log or timestamp material cannot be checked, on the key alone. */
  ignoreTransparencyLog?: boolean;
  audit?: SigningAudit;
  /** Blob fetches in flight (default 8). */
  concurrency?: number;
  signal?: AbortSignal;
}

/** Errors that say the registry is unreachable or refuses us: reported as such, not as a bad signature. */
const INFRASTRUCTURE: readonly ErrorCategory[] = ['unavailable', 'unauthorized', 'forbidden', 'internal'];

/** Registry access of one verification: one repository, blob reads shared between candidates. */
interface Io {
  client: RegistryClient;
  repo: string;
  blob(digest: string, limit: number, size: number): Promise<Buffer>;
}

interface Candidate {
  source: string;
  layout: SignatureLayout;
  check: () => Promise<Outcome>;
}

type Outcome =
  | { ok: true; valid: Omit<ValidSignature, 'source' | 'layout'> & { layout?: SignatureLayout } }
  | { ok: false; code: RejectionCode; reason: string; layout?: SignatureLayout };

const reject = (code: RejectionCode, reason: string, layout?: SignatureLayout): Outcome => ({
  ok: false,
  code,
  reason,
  ...(layout ? { layout } : {}),
});

/** Verifies the signatures of the image `ref` names against `keys`. Never throws for a bad signature. */
export async function verifyImage(
  pool: RegistryPool,
  ref: Reference,
  keys: PublicKeySet,
  options: VerifyImageOptions = {},
): Promise<VerifyImageResult> {
  if (keys.keys.length === 0) throw new SluiceError('SIGNATURE_NO_KEYS', 'invalid-input', 'no verification keys given');
  const client = pool.get(ref.registry);
  const repository = `${ref.registry}/${ref.repository}`;
  let resolved: ResolvedImage | undefined;
  try {
    resolved = await resolveImage(client, ref, options.signal);
    const result = await verifyResolved(client, ref, resolved, keys, options);
    await options.audit?.({
      action: 'signature.verify',
      repository,
      digest: resolved.digest,
      ...(ref.tag !== undefined ? { tag: ref.tag } : {}),
      result: result.valid.length > 0 ? 'success' : 'failure',
      reason: summarize(result),
      details: {
        trusted: keys.keys.map((k) => k.keyId),
        requiredAnnotations: options.requiredAnnotations ?? {},
        ignoreTransparencyLog: !!options.ignoreTransparencyLog,
        valid: result.valid.map((v) => ({ source: v.source, fingerprint: v.keyId })),
        rejected: result.rejected.map((r) => ({ source: r.source, code: r.code })),
      },
    });
    return result;
  } catch (err) {
    const e = asSluiceError(err);
    await options.audit?.({
      action: 'signature.verify',
      repository,
      digest: resolved?.digest ?? ref.digest ?? '',
      ...(ref.tag !== undefined ? { tag: ref.tag } : {}),
      result: 'failure',
      reason: e.message,
      details: { code: e.code, trusted: keys.keys.map((k) => k.keyId) },
    });
    throw err;
  }
}

/** One line for logs and the audit trail. */
export function summarize(result: VerifyImageResult): string {
  const at = `${result.registry}/${result.repository}@${result.digest}`;
  if (result.found === 0) return `no signatures found for ${at}`;
  if (result.valid.length === 0) {
    const first = result.rejected[0];
    return `no valid signature for ${at}: ${result.rejected.length} rejected${first ? ` (first: ${first.reason})` : ''}`;
  }
  const keys = [...new Set(result.valid.map((v) => v.keyId.slice(0, 16)))].join(', ');
  return `${result.valid.length} valid signature(s) for ${at} by key ${keys}${result.rejected.length ? `, ${result.rejected.length} rejected` : ''}`;
}

async function verifyResolved(
  client: RegistryClient,
  ref: Reference,
  resolved: ResolvedImage,
  keys: PublicKeySet,
  options: VerifyImageOptions,
): Promise<VerifyImageResult> {
  const { digest } = resolved;
  const repo = ref.repository;
  const ctx = { registry: ref.registry, repository: repo, digest };
  const candidates: Candidate[] = [];
  const early: RejectedSignature[] = [];
  // Signatures without annotations by different keys share one payload blob: fetch it once.
  const blobs = new Map<string, Promise<Buffer>>();
  const io: Io = {
    client,
    repo,
    blob: (blobDigest, limit, size) => {
      const k = `${blobDigest}|${size}|${limit}`;
      let p = blobs.get(k);
      if (!p) {
        p = client.fetchBlob(repo, blobDigest, limit, size);
        blobs.set(k, p);
      }
      return p;
    },
  };

  const sigTag = cosignTag(digest, 'sig');
  const sigManifest = await readSignatureManifest(client, repo, digest, options.signal);
  if (sigManifest) {
    if (sigManifest.kind !== 'image') {
      early.push({
        source: sigTag,
        layout: 'cosign-sig',
        code: 'SIGNATURE_MANIFEST_INVALID',
        reason: `${sigTag} holds an index, not a cosign signature manifest`,
      });
    } else {
      // Refuse before a single layer is read: a flood must not cost a request per entry.
      assertCount(sigManifest.layers.length, `${sigTag} has ${sigManifest.layers.length} layers`, ctx);
      sigManifest.layers.forEach((layer, i) => {
        candidates.push({
          source: `${sigTag}[${i}]`,
          layout: 'cosign-sig',
          check: () => checkSimpleSigningLayer(io, layer, digest, keys, options),
        });
      });
    }
  }

  let referrers: Descriptor[] = [];
  try {
    referrers = await client.referrers(repo, digest);
  } catch (err) {
    const e = asSluiceError(err);
    if (INFRASTRUCTURE.includes(e.category)) throw err;
    early.push({ source: 'referrers', layout: 'referrer', code: 'SIGNATURE_MANIFEST_INVALID', reason: e.message });
  }
  const relevant = referrers.filter((d) => isSignatureReferrer(d));
  assertCount(
    candidates.length + relevant.length,
    `${candidates.length} signature layers and ${relevant.length} signature referrers`,
    ctx,
  );
  for (const d of relevant) {
    candidates.push({
      source: `referrer ${d.digest}`,
      layout: d.artifactType === SIGSTORE_BUNDLE_V03 ? 'sigstore-bundle' : 'referrer',
      check: () => checkReferrer(io, d, resolved, keys, options),
    });
  }

  const outcomes = await mapLimit(candidates, options.concurrency ?? 8, async (c) => {
    try {
      return await c.check();
    } catch (err) {
      const e = asSluiceError(err);
      if (INFRASTRUCTURE.includes(e.category)) throw err;
      return reject('SIGNATURE_FETCH_FAILED', e.message);
    }
  });

  const result: VerifyImageResult = {
    reference: formatReference(ref),
    registry: ref.registry,
    repository: repo,
    digest,
    mediaType: resolved.mediaType,
    found: candidates.length + early.length,
    valid: [],
    rejected: [...early],
  };
  outcomes.forEach((o, i) => {
    const c = candidates[i]!;
    if (o.ok) {
      const { layout, ...rest } = o.valid;
      result.valid.push({ source: c.source, layout: layout ?? c.layout, ...rest });
    } else result.rejected.push({ source: c.source, layout: o.layout ?? c.layout, code: o.code, reason: o.reason });
  });
  return result;
}

function assertCount(count: number, what: string, ctx: Record<string, unknown>): void {
  if (count > MAX_SIGNATURES_PER_IMAGE) {
    throw new SluiceError(
      'SIGNATURES_TOO_MANY',
      'integrity',
      `${what}: over the limit of ${MAX_SIGNATURES_PER_IMAGE} signatures per image; refusing to verify (nothing was fetched)`,
      { ...ctx, count },
    );
  }
}

/**
 * Referrers that may be image signatures. A bundle whose descriptor names another predicate
 * type is an attestation (provenance, SBOM) and is not read; the annotation is unauthenticated,
 * so relying on it can only hide a signature (which deleting it could too), never admit one.
 */
function isSignatureReferrer(d: Descriptor): boolean {
  if (d.artifactType === MediaType.CosignSimpleSigning) return true;
  if (d.artifactType !== SIGSTORE_BUNDLE_V03) return false;
  const predicate = d.annotations?.['dev.sigstore.bundle.predicateType'];
  return predicate === undefined || predicate === COSIGN_SIGN_PREDICATE_TYPE;
}

/** Checks that need no download, cheapest first; undefined when the layer is worth fetching. */
function precheckSimpleSigningLayer(layer: Descriptor, options: VerifyImageOptions): Outcome | undefined {
  if (layer.mediaType !== MediaType.CosignSimpleSigning) {
    return reject(
      'SIGNATURE_LAYER_UNSUPPORTED',
      `layer media type "${layer.mediaType.slice(0, 100)}" is not ${MediaType.CosignSimpleSigning}`,
    );
  }
  if (layer.size > MAX_PAYLOAD_BYTES) {
    return reject(
      'SIGNATURE_PAYLOAD_TOO_LARGE',
      `payload is declared as ${layer.size} bytes, over the ${MAX_PAYLOAD_BYTES}-byte limit; not fetched`,
    );
  }
  const annotations = layer.annotations ?? {};
  if (!Object.hasOwn(annotations, SIGNATURE_ANNOTATION)) {
    return reject('SIGNATURE_NOT_BASE64', `layer has no ${SIGNATURE_ANNOTATION} annotation`);
  }
  const encoding = signatureEncodingProblem(annotations[SIGNATURE_ANNOTATION]);
  if (encoding) return reject(encoding.code, encoding.reason);
  if (Object.hasOwn(annotations, CERTIFICATE_ANNOTATION) || Object.hasOwn(annotations, CHAIN_ANNOTATION)) {
    return reject(
      'SIGNATURE_UNVERIFIABLE',
      'signature carries a certificate (keyless signing); Sluice verifies key-based signatures only and cannot check certificate identities',
    );
  }
  const tlog = Object.hasOwn(annotations, REKOR_BUNDLE_ANNOTATION);
  const tsa = Object.hasOwn(annotations, RFC3161_TIMESTAMP_ANNOTATION);
  if ((tlog || tsa) && !options.ignoreTransparencyLog) {
    const what = [tlog ? 'a Rekor transparency-log bundle' : '', tsa ? 'an RFC 3161 timestamp' : '']
      .filter(Boolean)
      .join(' and ');
    return reject(
      'SIGNATURE_UNVERIFIABLE',
      `signature carries ${what} that Sluice cannot verify; accept key-only verification explicitly (--insecure-ignore-tlog) to ignore it`,
    );
  }
  return undefined;
}

async function checkSimpleSigningLayer(
  io: Io,
  layer: Descriptor,
  digest: string,
  keys: PublicKeySet,
  options: VerifyImageOptions,
): Promise<Outcome> {
  const pre = precheckSimpleSigningLayer(layer, options);
  if (pre) return pre;
  const payload = await io.blob(layer.digest, MAX_PAYLOAD_BYTES, layer.size);
  const r = verifyCandidate({
    payload,
    signatureB64: layer.annotations?.[SIGNATURE_ANNOTATION] ?? '',
    keys,
    expectedDigest: digest,
    ...(options.requiredAnnotations ? { requiredAnnotations: options.requiredAnnotations } : {}),
  });
  if (!r.ok) return reject(r.code, r.reason);
  const annotations = layer.annotations ?? {};
  const tlog = Object.hasOwn(annotations, REKOR_BUNDLE_ANNOTATION) ? 1 : 0;
  const tsa = Object.hasOwn(annotations, RFC3161_TIMESTAMP_ANNOTATION) ? 1 : 0;
  return {
    ok: true,
    valid: {
      keyId: r.keyId,
      keySource: keySourceOf(keys, r),
      claim: r.payload,
      payload: payload.toString('utf8'),
      ...(tlog || tsa ? { unverifiedTlogEntries: tlog, unverifiedTimestamps: tsa } : {}),
    },
  };
}

async function checkReferrer(
  io: Io,
  d: Descriptor,
  resolved: ResolvedImage,
  keys: PublicKeySet,
  options: VerifyImageOptions,
): Promise<Outcome> {
  const manifest = await io.client.getManifest(io.repo, d.digest, options.signal);
  if (manifest.kind !== 'image')
    return reject('SIGNATURE_MANIFEST_INVALID', 'referrer is an index, not an artifact manifest');
  if (manifest.subject?.digest !== resolved.digest) {
    return reject(
      'SIGNATURE_MANIFEST_INVALID',
      `referrer's subject is ${manifest.subject?.digest ?? 'missing'}, not ${resolved.digest}`,
    );
  }
  // The listing's artifactType is the registry's (or the tag index writer's) word; the manifest decides.
  const artifactType = manifest.artifactType ?? manifest.config?.mediaType;
  if (manifest.layers.length !== 1) {
    return reject(
      'SIGNATURE_MANIFEST_INVALID',
      `signature artifact has ${manifest.layers.length} layers; expected exactly 1`,
    );
  }
  const layer = manifest.layers[0]!;
  if (artifactType === MediaType.CosignSimpleSigning) {
    const r = await checkSimpleSigningLayer(io, layer, resolved.digest, keys, options);
    return r.ok ? { ok: true, valid: { ...r.valid, layout: 'referrer' } } : { ...r, layout: 'referrer' };
  }
  if (artifactType !== SIGSTORE_BUNDLE_V03) {
    return reject(
      'SIGNATURE_LAYER_UNSUPPORTED',
      `referrer artifact type "${String(artifactType).slice(0, 100)}" is not a signature`,
    );
  }
  if (layer.mediaType !== SIGSTORE_BUNDLE_V03) {
    return reject(
      'SIGNATURE_LAYER_UNSUPPORTED',
      `bundle layer media type "${layer.mediaType.slice(0, 100)}" is not ${SIGSTORE_BUNDLE_V03}`,
      'sigstore-bundle',
    );
  }
  if (layer.size > MAX_BUNDLE_BYTES) {
    return reject(
      'SIGNATURE_PAYLOAD_TOO_LARGE',
      `bundle is declared as ${layer.size} bytes, over the ${MAX_BUNDLE_BYTES}-byte limit; not fetched`,
      'sigstore-bundle',
    );
  }
  const bytes = await io.blob(layer.digest, MAX_BUNDLE_BYTES, layer.size);
  const r = verifyBundle(bytes, {
    keys,
    expectedDigest: resolved.digest,
    artifact: resolved.manifest.bytes,
    ...(options.requiredAnnotations ? { requiredAnnotations: options.requiredAnnotations } : {}),
    ...(options.ignoreTransparencyLog ? { ignoreTransparencyLog: true } : {}),
  });
  if (!r.ok) {
    const code: RejectionCode = r.code === 'SIGNATURE_BUNDLE_UNVERIFIABLE' ? 'SIGNATURE_UNVERIFIABLE' : r.code;
    return reject(code, r.reason, 'sigstore-bundle');
  }
  return {
    ok: true,
    valid: {
      layout: 'sigstore-bundle',
      keyId: r.keyId,
      keySource: keySourceOf(keys, r),
      claim: r.payload,
      ...(r.unverifiedTlogEntries || r.unverifiedTimestamps
        ? { unverifiedTlogEntries: r.unverifiedTlogEntries, unverifiedTimestamps: r.unverifiedTimestamps }
        : {}),
    },
  };
}

function keySourceOf(keys: PublicKeySet, r: VerifyResult): string {
  return r.ok ? (keys.keys.find((k) => k.keyId === r.keyId)?.source ?? '') : '';
}
