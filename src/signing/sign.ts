/**
 * `sluice sign`: signs the digest a reference resolves to, never the tag. The reference is read
 * once; the payload names that digest; the signature is appended to the image's `.sig`
 * manifest (and, on request, pushed as an OCI referrer as well).
 */
import { verify as cryptoVerify } from 'node:crypto';
import { SluiceError, asSluiceError } from '../errors.ts';
import { checkIndexFanOut } from '../oci/limits.ts';
import { formatReference, type Reference } from '../oci/reference.ts';
import type { RegistryPool } from '../oci/pool.ts';
import type { Descriptor } from '../oci/manifest.ts';
import type { SigningAudit } from './audit.ts';
import { keyIdOf } from './encoding.ts';
import { signImageDigest, type Signer } from './signer.ts';
import {
  appendSignatureLayers,
  dockerReferenceOf,
  pushSignatureReferrer,
  resolveImage,
  signatureLayer,
  type AppendOptions,
  type ReferrerResult,
} from './store.ts';

export interface SignImageOptions {
  /** `-a key=value`: written to the payload's `optional` object. Without any, `optional` is null, as cosign writes. */
  annotations?: Record<string, string>;
  /** For an index, also sign every child manifest it lists. */
  recursive?: boolean;
  /** Also push each signature as an OCI referrer artifact of the signed manifest. */
  referrer?: boolean;
  audit?: SigningAudit;
  signal?: AbortSignal;
  /** Tuning of the `.sig` read-merge-write loop (tests, benchmarks). */
  append?: Omit<AppendOptions, 'signal' | 'blobs'>;
}

export interface SignResult {
  /** `registry/repository@digest` that was signed. */
  reference: string;
  digest: string;
  mediaType: string;
  /** Whether this is a child of the index the reference named (`recursive`). */
  child: boolean;
  keyRef: string;
  /** Hex SHA-256 of the public key's SPKI DER. */
  keyId: string;
  /** Base64 DER signature, as in the `dev.cosignproject.cosign/signature` annotation. */
  signature: string;
  /** The exact payload bytes that were signed (UTF-8 JSON). */
  payload: string;
  payloadDigest: string;
  /** `sha256-<hex>.sig`. */
  signatureTag: string;
  signatureManifestDigest: string;
  /** Signatures in the `.sig` manifest after this one was added. */
  signatures: number;
  referrer?: ReferrerResult;
}

/**
 * Signs the image `ref` names. Returns one result per signed manifest: the one the reference
 * resolved to first, then (with `recursive`) each child of an index in index order.
 */
export async function signImage(
  pool: RegistryPool,
  ref: Reference,
  signer: Signer,
  options: SignImageOptions = {},
): Promise<SignResult[]> {
  const client = pool.get(ref.registry);
  const repository = `${ref.registry}/${ref.repository}`;
  let resolved;
  let step = 'cannot resolve';
  try {
    resolved = await resolveImage(client, ref, options.signal);
    // One signature per child: an index listing thousands is refused before the first is written.
    if (options.recursive) {
      step = 'refused to sign the children of';
      checkIndexFanOut(resolved.manifest, 0, client.limits, { registry: ref.registry, repository: ref.repository });
    }
  } catch (err) {
    await options.audit?.({
      action: 'signature',
      repository,
      digest: resolved?.digest ?? ref.digest ?? '',
      ...(ref.tag !== undefined ? { tag: ref.tag } : {}),
      result: 'failure',
      reason: `${step} ${formatReference(ref)}: ${asSluiceError(err).message}`,
      details: { signer: signer.keyRef, code: asSluiceError(err).code },
    });
    throw err;
  }
  const publicKey = await signer.publicKey();
  const keyId = keyIdOf(publicKey);
  const targets: Array<Pick<Descriptor, 'mediaType' | 'digest' | 'size'> & { child: boolean }> = [
    { mediaType: resolved.mediaType, digest: resolved.digest, size: resolved.size, child: false },
  ];
  if (options.recursive && resolved.manifest.kind === 'index') {
    for (const c of resolved.manifest.manifests) {
      targets.push({ mediaType: c.mediaType, digest: c.digest, size: c.size, child: true });
    }
  }
  const dockerReference = dockerReferenceOf(ref.registry, ref.repository);
  const results: SignResult[] = [];
  for (const target of targets) {
    const auditBase = {
      action: 'signature' as const,
      repository,
      digest: target.digest,
      ...(ref.tag !== undefined && !target.child ? { tag: ref.tag } : {}),
    };
    try {
      const signed = await signImageDigest(signer, {
        dockerReference,
        digest: target.digest,
        ...(options.annotations !== undefined ? { annotations: options.annotations } : {}),
      });
      // A signer that returns garbage (a misconfigured KMS) must not leave an unverifiable signature behind.
      if (!cryptoVerify('sha256', signed.payload, publicKey, signed.signature)) {
        throw new SluiceError(
          'SIGNATURE_SELF_CHECK_FAILED',
          'internal',
          `the signature ${signer.keyRef} produced does not verify with its own public key`,
          { digest: target.digest },
        );
      }
      const layer = signatureLayer(signed.payload, signed.signatureB64);
      const appended = await appendSignatureLayers(client, ref.repository, target.digest, [layer], {
        ...options.append,
        blobs: [signed.payload],
        ...(options.signal ? { signal: options.signal } : {}),
      });
      const referrer = options.referrer
        ? await pushSignatureReferrer(client, ref.repository, target, layer, options.signal)
        : undefined;
      const result: SignResult = {
        reference: formatReference({ registry: ref.registry, repository: ref.repository, digest: target.digest }),
        digest: target.digest,
        mediaType: target.mediaType,
        child: target.child,
        keyRef: signer.keyRef,
        keyId,
        signature: signed.signatureB64,
        payload: signed.payload.toString('utf8'),
        payloadDigest: layer.digest,
        signatureTag: appended.tag,
        signatureManifestDigest: appended.manifestDigest,
        signatures: appended.signatures,
        ...(referrer ? { referrer } : {}),
      };
      results.push(result);
      await options.audit?.({
        ...auditBase,
        result: 'success',
        reason: `signed with ${signer.keyRef} (key ${keyId.slice(0, 16)})`,
        details: {
          signer: signer.keyRef,
          fingerprint: keyId,
          payloadDigest: layer.digest,
          signatureTag: appended.tag,
          signatureManifestDigest: appended.manifestDigest,
          annotations: options.annotations ?? null,
          ...(referrer ? { referrer: referrer.digest } : {}),
          ...(target.child ? { index: resolved.digest } : {}),
        },
      });
    } catch (err) {
      const e = asSluiceError(err);
      await options.audit?.({
        ...auditBase,
        result: 'failure',
        reason: e.message,
        details: { signer: signer.keyRef, fingerprint: keyId, code: e.code },
      });
      throw err;
    }
  }
  return results;
}
