/**
 * Building blocks for the signing integration tests: key pairs on disk, and signature
 * manifests written with the registry client exactly as a (possibly hostile) signer would.
 */
import { createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import type { RegistryClient } from '../../../src/oci/client.ts';
import { cosignTag, signatureConfig, signatureManifest } from '../../../src/oci/cosign.ts';
import { digestOf } from '../../../src/oci/digest.ts';
import type { Descriptor } from '../../../src/oci/manifest.ts';
import { EMPTY_JSON_DIGEST, MediaType } from '../../../src/oci/mediatypes.ts';
import { keyIdOf, sigstoreKeyHint } from '../../../src/signing/encoding.ts';
import { publicKeyPem } from '../../../src/signing/keys.ts';
import { buildPayload } from '../../../src/signing/payload.ts';
import {
  COSIGN_SIGN_PREDICATE_TYPE,
  IN_TOTO_PAYLOAD_TYPE,
  SIGSTORE_BUNDLE_V03,
  dssePae,
} from '../../../src/signing/verify.ts';

const dirs: string[] = [];
// Registered when the module loads, so it belongs to the file's root, whatever hook or test creates a directory.
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

/** A temporary directory removed when the test file ends. */
export async function tempDir(prefix = 'sluice-signing-it-'): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

export interface TestKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  keyId: string;
  /** `<dir>/<name>.pub`, SPKI PEM. */
  pubFile: string;
}

/** A P-256 key whose public half is written to `<dir>/<name>.pub`. */
export async function testKey(dir: string, name: string): Promise<TestKey> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pubFile = path.join(dir, `${name}.pub`);
  await writeFile(pubFile, publicKeyPem(publicKey));
  return { privateKey, publicKey, keyId: keyIdOf(publicKey), pubFile };
}

/** Runs the openssl CLI: an implementation independent of the code under test. */
export function openssl(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export interface LayerSpec {
  payload: Buffer;
  /** Base64 signature annotation; default: a valid signature by `key` over `payload`. */
  signature?: string;
  key?: KeyObject;
  /** Overrides the descriptor's size (a registry or signer lying about it). */
  declaredSize?: number;
  mediaType?: string;
  annotations?: Record<string, string>;
}

export const sigOf = (data: Uint8Array, key: KeyObject): string => sign('sha256', data, key).toString('base64');

export function payloadFor(repository: string, digest: string, annotations?: Record<string, string>): Buffer {
  return buildPayload({ dockerReference: repository, digest, ...(annotations ? { annotations } : {}) });
}

/** Pushes the payload blobs and a `.sig` manifest holding exactly `layers` for `digest` (replacing any). */
export async function putSignatures(
  client: RegistryClient,
  repository: string,
  digest: string,
  layers: LayerSpec[],
  tag = cosignTag(digest, 'sig'),
): Promise<{ tag: string; descriptors: Descriptor[]; manifestDigest: string }> {
  const descriptors: Descriptor[] = [];
  const pushed = new Set<string>();
  for (const l of layers) {
    const blobDigest = digestOf(l.payload);
    if (!pushed.has(blobDigest)) {
      await client.pushBlobBytes(repository, l.payload);
      pushed.add(blobDigest);
    }
    const signature = l.signature ?? (l.key ? sigOf(l.payload, l.key) : '');
    descriptors.push({
      mediaType: l.mediaType ?? MediaType.CosignSimpleSigning,
      digest: blobDigest,
      size: l.declaredSize ?? l.payload.length,
      annotations: { 'dev.cosignproject.cosign/signature': signature, ...l.annotations },
    });
  }
  const config = signatureConfig(descriptors);
  await client.pushBlobBytes(repository, config);
  const put = await client.putManifest(repository, tag, signatureManifest(descriptors, config), MediaType.OciManifest);
  return { tag, descriptors, manifestDigest: put.digest };
}

export interface BundleSpec {
  key: KeyObject;
  subjectDigest: string;
  annotations?: Record<string, string>;
  predicateType?: string;
  tlogEntries?: unknown[];
  /** Sign something other than the DSSE PAE (a broken signer). */
  tamper?: boolean;
}

/** A Sigstore bundle v0.3 as `cosign sign --key` (cosign 3, new bundle format) writes for an image. */
export function cosignBundle(spec: BundleSpec): Buffer {
  const [alg, hex] = spec.subjectDigest.split(':');
  const statement = {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: '', digest: { [alg!]: hex }, annotations: spec.annotations ?? {} }],
    predicateType: spec.predicateType ?? COSIGN_SIGN_PREDICATE_TYPE,
    predicate: {},
  };
  const payload = Buffer.from(JSON.stringify(statement));
  const pae = dssePae(IN_TOTO_PAYLOAD_TYPE, payload);
  const signed = spec.tamper ? Buffer.concat([pae, Buffer.from(' ')]) : pae;
  return Buffer.from(
    JSON.stringify({
      mediaType: SIGSTORE_BUNDLE_V03,
      verificationMaterial: {
        publicKey: { hint: sigstoreKeyHint(createPublicKey(spec.key)) },
        tlogEntries: spec.tlogEntries ?? [],
      },
      dsseEnvelope: {
        payload: payload.toString('base64'),
        payloadType: IN_TOTO_PAYLOAD_TYPE,
        signatures: [{ sig: sigOf(signed, spec.key), keyid: '' }],
      },
    }),
  );
}

/**
 * Stores a bundle as cosign 3 does: an OCI artifact whose subject is the image, with the
 * referrers tag index updated for registries without the referrers API.
 */
export async function putBundleReferrer(
  client: RegistryClient,
  repository: string,
  subject: Pick<Descriptor, 'mediaType' | 'digest' | 'size'>,
  bundle: Buffer,
  predicateType = COSIGN_SIGN_PREDICATE_TYPE,
): Promise<string> {
  const blob = await client.pushBlobBytes(repository, bundle);
  await client.pushBlobBytes(repository, Buffer.from('{}'));
  const annotations = {
    'dev.sigstore.bundle.content': 'dsse-envelope',
    'dev.sigstore.bundle.predicateType': predicateType,
    'org.opencontainers.image.created': '2026-01-01T00:00:00Z',
  };
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      artifactType: SIGSTORE_BUNDLE_V03,
      config: { mediaType: MediaType.OciEmpty, digest: EMPTY_JSON_DIGEST, size: 2 },
      layers: [
        {
          mediaType: SIGSTORE_BUNDLE_V03,
          digest: blob.digest,
          size: bundle.length,
          annotations: { 'org.opencontainers.image.title': `${subject.digest.replace(':', '-')}.sigstore.json` },
        },
      ],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      annotations,
    }),
  );
  const digest = digestOf(bytes);
  const put = await client.putManifest(repository, digest, bytes, MediaType.OciManifest);
  if (!put.subjectProcessed) {
    await client.addToReferrersTag(repository, subject.digest, {
      mediaType: MediaType.OciManifest,
      digest,
      size: bytes.length,
      artifactType: SIGSTORE_BUNDLE_V03,
      annotations,
    });
  }
  return digest;
}

/** Fetches a blob with plain HTTP, outside the Sluice client. */
export async function rawBlob(registryUrl: string, repository: string, digest: string): Promise<Buffer> {
  const res = await fetch(`${registryUrl}/v2/${repository}/blobs/${digest}`);
  if (res.status !== 200) throw new Error(`GET blob ${digest}: HTTP ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

/** Fetches a manifest with plain HTTP, outside the Sluice client. */
export async function rawManifest(registryUrl: string, repository: string, reference: string): Promise<Buffer> {
  const res = await fetch(`${registryUrl}/v2/${repository}/manifests/${reference}`, {
    headers: { accept: `${MediaType.OciManifest}, ${MediaType.OciIndex}` },
  });
  if (res.status !== 200) throw new Error(`GET manifest ${reference}: HTTP ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}
