/**
 * Verification of cosign signatures against a set of public keys. Pure: no registry, no
 * files; the caller hands over the bytes it fetched. Every rejection is a value with a stable
 * `code` and a precise `reason`, never an exception, so one hostile signature among many
 * cannot abort the check of the others.
 *
 * A signature is accepted only if (1) it verifies over the exact payload bytes with a key of
 * the set, (2) the payload names exactly the expected digest, and (3) it carries every
 * required annotation. Steps run cheapest-first and the signature is checked before the
 * payload is parsed, so unauthenticated JSON is never interpreted beyond its size.
 */
import { createHash, verify as cryptoVerify } from 'node:crypto';
import { SluiceError, type ErrorContext } from '../errors.ts';
import { parseDigest } from '../oci/digest.ts';
import { decodeBase64Strict, derSignatureProblem, sigstoreKeyHint } from './encoding.ts';
import { firstDuplicateKey } from './json-keys.ts';
import type { PublicKeySet, VerificationKey } from './keys.ts';
import { annotationMismatch, COSIGN_SIGN_V1_TYPE, MAX_PAYLOAD_BYTES, tryParsePayload } from './payload.ts';

/** At most this many signatures are considered per image (cosign caps at 1000 as well). */
export const MAX_SIGNATURES_PER_IMAGE = 1000;
/** A base64 ECDSA P-256 DER signature is at most 96 characters; anything far longer is not one. */
export const MAX_SIGNATURE_B64_CHARS = 1024;
/** Bundles hold the DSSE payload plus log entries and certificates: a few KiB in practice. */
export const MAX_BUNDLE_BYTES = 1024 * 1024;

export const SIGSTORE_BUNDLE_V03 = 'application/vnd.dev.sigstore.bundle.v0.3+json';
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const IN_TOTO_STATEMENT_TYPES: readonly string[] = [
  'https://in-toto.io/Statement/v1',
  'https://in-toto.io/Statement/v0.1',
];
/** The predicate type `cosign sign` (cosign 3, new bundle format) gives image signatures. */
export const COSIGN_SIGN_PREDICATE_TYPE = COSIGN_SIGN_V1_TYPE;

export type VerifyFailureCode =
  | 'SIGNATURE_NO_KEYS'
  | 'SIGNATURE_PAYLOAD_TOO_LARGE'
  | 'SIGNATURE_NOT_BASE64'
  | 'SIGNATURE_NOT_DER'
  | 'SIGNATURE_INVALID'
  | 'SIGNATURE_PAYLOAD_MALFORMED'
  | 'SIGNATURE_DIGEST_MISMATCH'
  | 'SIGNATURE_ANNOTATION_MISMATCH'
  | 'SIGNATURE_WRONG_TYPE'
  | 'SIGNATURE_BUNDLE_MALFORMED'
  | 'SIGNATURE_BUNDLE_UNSUPPORTED'
  | 'SIGNATURE_BUNDLE_UNVERIFIABLE';

/** What was signed, in the form common to both layouts. */
export interface SignedClaim {
  digest: string;
  /** `critical.type` of a simple-signing payload, or the in-toto predicate type, or `message-signature`. */
  type: string;
  annotations: Record<string, string>;
  /** `critical.identity.docker-reference`; absent for bundles. Informational: cosign ignores it. */
  dockerReference?: string;
}

export interface VerifyOk {
  ok: true;
  keyId: string;
  payload: SignedClaim;
}

export interface VerifyFailure {
  ok: false;
  code: VerifyFailureCode;
  reason: string;
}

export type VerifyResult = VerifyOk | VerifyFailure;

export interface CandidateInput {
  /** The layer blob: exact bytes as fetched. */
  payload: Uint8Array;
  /** The `dev.cosignproject.cosign/signature` annotation. */
  signatureB64: string;
  keys: PublicKeySet;
  expectedDigest: string;
  requiredAnnotations?: Record<string, string>;
}

const fail = (code: VerifyFailureCode, reason: string): VerifyFailure => ({ ok: false, code, reason });

/** Throws for caller mistakes (not attacker input): an invalid expected digest, an empty key set. */
function checkCallerInput(expectedDigest: string, keys: PublicKeySet): void {
  parseDigest(expectedDigest);
  if (!keys || !Array.isArray(keys.keys)) {
    throw new SluiceError('SIGNATURE_NO_KEYS', 'invalid-input', 'no verification keys given');
  }
}

/** The first key of the set under which `sig` verifies over `data`. */
function findVerifyingKey(
  data: Uint8Array,
  sig: Uint8Array,
  keys: readonly VerificationKey[],
): VerificationKey | undefined {
  for (const k of keys) {
    try {
      if (cryptoVerify('sha256', data, k.key, sig)) return k;
    } catch {
      // OpenSSL refusing the input is the same outcome as a failed check.
    }
  }
  return undefined;
}

function decodeSignature(signatureB64: unknown): { ok: true; der: Buffer } | VerifyFailure {
  if (typeof signatureB64 !== 'string' || signatureB64 === '')
    return fail('SIGNATURE_NOT_BASE64', 'signature is missing or empty');
  if (signatureB64.length > MAX_SIGNATURE_B64_CHARS) {
    return fail(
      'SIGNATURE_NOT_BASE64',
      `signature is ${signatureB64.length} characters; an ECDSA P-256 signature is at most 96 in base64`,
    );
  }
  const der = decodeBase64Strict(signatureB64);
  if (!der) return fail('SIGNATURE_NOT_BASE64', 'signature is not standard padded base64');
  const problem = derSignatureProblem(der);
  if (problem) return fail('SIGNATURE_NOT_DER', problem);
  return { ok: true, der };
}

/**
 * Why a signature annotation cannot be an ECDSA P-256 DER signature (not base64, not DER,
 * truncated), or undefined when it is well-formed. Lets a caller reject it before fetching
 * the payload it claims to sign.
 */
export function signatureEncodingProblem(signatureB64: unknown): VerifyFailure | undefined {
  const r = decodeSignature(signatureB64);
  return r.ok ? undefined : r;
}

/**
 * Verifies one signature of cosign's legacy layout (`sha256-<hex>.sig`: payload blob plus
 * signature annotation). See the module comment for what is required.
 */
export function verifyCandidate(input: CandidateInput): VerifyResult {
  checkCallerInput(input.expectedDigest, input.keys);
  if (input.keys.keys.length === 0) return fail('SIGNATURE_NO_KEYS', 'the key set is empty');
  const payload = input.payload;
  if (!(payload instanceof Uint8Array)) return fail('SIGNATURE_PAYLOAD_MALFORMED', 'payload is not bytes');
  if (payload.byteLength > MAX_PAYLOAD_BYTES) {
    return fail(
      'SIGNATURE_PAYLOAD_TOO_LARGE',
      `payload is ${payload.byteLength} bytes, over the ${MAX_PAYLOAD_BYTES}-byte limit`,
    );
  }
  const sig = decodeSignature(input.signatureB64);
  if (!sig.ok) return sig;
  const key = findVerifyingKey(payload, sig.der, input.keys.keys);
  if (!key) {
    return fail(
      'SIGNATURE_INVALID',
      `signature does not verify over the payload with ${describeKeys(input.keys.keys)}`,
    );
  }
  const parsed = tryParsePayload(payload);
  if (!parsed.ok) return fail('SIGNATURE_PAYLOAD_MALFORMED', parsed.reason);
  const p = parsed.payload;
  if (p.digest !== input.expectedDigest) {
    return fail('SIGNATURE_DIGEST_MISMATCH', `payload is signed for ${p.digest}, not ${input.expectedDigest}`);
  }
  const mismatch = annotationMismatch(p.annotations, input.requiredAnnotations);
  if (mismatch) return fail('SIGNATURE_ANNOTATION_MISMATCH', mismatch);
  return {
    ok: true,
    keyId: key.keyId,
    payload: { digest: p.digest, type: p.type, annotations: p.annotations, dockerReference: p.dockerReference },
  };
}

function describeKeys(keys: readonly VerificationKey[]): string {
  if (keys.length === 1) return `key ${keys[0]?.keyId.slice(0, 16)}`;
  return `any of ${keys.length} keys`;
}

export interface CandidateSummary {
  verified: VerifyOk[];
  rejected: Array<{ index: number } & VerifyFailure>;
}

/**
 * Checks every signature found for one image. Refuses (throws) above
 * `MAX_SIGNATURES_PER_IMAGE` before doing any work: a registry serving millions of layers
 * must not turn a verification into an unbounded loop (CVE-2023-46737).
 */
export function verifyCandidates(
  candidates: ReadonlyArray<Pick<CandidateInput, 'payload' | 'signatureB64'>>,
  common: Omit<CandidateInput, 'payload' | 'signatureB64'>,
): CandidateSummary {
  assertSignatureCount(candidates.length, { digest: common.expectedDigest });
  const summary: CandidateSummary = { verified: [], rejected: [] };
  candidates.forEach((c, index) => {
    const r = verifyCandidate({ ...common, payload: c.payload, signatureB64: c.signatureB64 });
    if (r.ok) summary.verified.push(r);
    else summary.rejected.push({ index, ...r });
  });
  return summary;
}

/** Throws `SIGNATURES_TOO_MANY` when an image has more signatures than Sluice will examine. */
export function assertSignatureCount(count: number, context: ErrorContext = {}): void {
  if (count > MAX_SIGNATURES_PER_IMAGE) {
    throw new SluiceError(
      'SIGNATURES_TOO_MANY',
      'integrity',
      `${count} signatures found, over the limit of ${MAX_SIGNATURES_PER_IMAGE} per image; refusing to verify`,
      { ...context, count },
    );
  }
}

/**
 * A rejected signature as a SluiceError (category policy-violation), for callers that stop at
 * the first. An empty key set rejects nothing: it is the caller's input that is wrong.
 */
export function verifyFailureError(failure: VerifyFailure, context: ErrorContext = {}): SluiceError {
  if (failure.code === 'SIGNATURE_NO_KEYS')
    return new SluiceError(failure.code, 'invalid-input', `cannot verify: ${failure.reason}`, context);
  return new SluiceError(failure.code, 'policy-violation', `signature rejected: ${failure.reason}`, context);
}

/** DSSE pre-authentication encoding: what a DSSE signature actually signs. */
export function dssePae(payloadType: string, payload: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `, 'utf8'),
    type,
    Buffer.from(` ${payload.byteLength} `, 'utf8'),
    Buffer.from(payload),
  ]);
}

export interface BundleInput {
  keys: PublicKeySet;
  expectedDigest: string;
  requiredAnnotations?: Record<string, string>;
  /**
   * Accept bundles carrying transparency-log entries or RFC 3161 timestamps, which Sluice
   * cannot check (no Rekor/TSA trust root), relying on the key signature alone. cosign 3
   * uploads to Rekor by default, so its bundles usually carry one; the equivalent of
   * `cosign verify --insecure-ignore-tlog`.
   */
  ignoreTransparencyLog?: boolean;
  /**
   * The signed artifact itself (the image manifest bytes), needed only for
   * `messageSignature` bundles, whose signature covers the artifact and not a statement.
   */
  artifact?: Uint8Array;
}

export interface BundleVerifyOk extends VerifyOk {
  content: 'dsse-envelope' | 'message-signature';
  /** Transparency-log entries and timestamps present but not verified (only with `ignoreTransparencyLog`). */
  unverifiedTlogEntries: number;
  unverifiedTimestamps: number;
}

export type BundleVerifyResult = BundleVerifyOk | VerifyFailure;

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;

/**
 * Verifies a Sigstore bundle (v0.3) signed with a key, as cosign 3 attaches to images by
 * default (`--new-bundle-format`). For `cosign sign --key` on an image that bundle holds a
 * `dsseEnvelope` of payload type `application/vnd.in-toto+json` around an in-toto Statement
 * whose subject digest is the image digest, whose `subject[].annotations` are the `-a`
 * annotations and whose predicate type is `https://sigstore.dev/cosign/sign/v1`; the
 * signature covers the DSSE PAE of that payload. `messageSignature` bundles (what
 * `sign-blob` writes) are read too when the artifact bytes are supplied.
 *
 * Material Sluice cannot verify is refused rather than skipped: a certificate (keyless
 * signing) always, since the key given to us is not what the bundle claims to be signed
 * with; transparency-log entries and timestamps unless `ignoreTransparencyLog` says the
 * caller accepts key-only assurance. Skipping them silently would report "verified" for
 * claims nobody checked, the pattern behind several cosign bypasses (CVE-2022-36056,
 * CVE-2026-22703).
 */
export function verifyBundle(bundleJson: Uint8Array | string, input: BundleInput): BundleVerifyResult {
  checkCallerInput(input.expectedDigest, input.keys);
  if (input.keys.keys.length === 0) return fail('SIGNATURE_NO_KEYS', 'the key set is empty');
  const size = typeof bundleJson === 'string' ? Buffer.byteLength(bundleJson, 'utf8') : bundleJson.byteLength;
  if (size > MAX_BUNDLE_BYTES)
    return fail('SIGNATURE_PAYLOAD_TOO_LARGE', `bundle is ${size} bytes, over the ${MAX_BUNDLE_BYTES}-byte limit`);
  let doc: unknown;
  try {
    const text =
      typeof bundleJson === 'string'
        ? bundleJson
        : new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bundleJson);
    doc = JSON.parse(text);
    const duplicate = firstDuplicateKey(text);
    if (duplicate !== undefined) return fail('SIGNATURE_BUNDLE_MALFORMED', `bundle has duplicate key "${duplicate}"`);
  } catch {
    return fail('SIGNATURE_BUNDLE_MALFORMED', 'bundle is not valid UTF-8 JSON');
  }
  const bundle = obj(doc);
  if (!bundle) return fail('SIGNATURE_BUNDLE_MALFORMED', 'bundle is not a JSON object');
  if (bundle.mediaType !== SIGSTORE_BUNDLE_V03) {
    return fail(
      'SIGNATURE_BUNDLE_UNSUPPORTED',
      `bundle media type "${String(bundle.mediaType).slice(0, 100)}" is not ${SIGSTORE_BUNDLE_V03}`,
    );
  }
  const vm = obj(bundle.verificationMaterial);
  if (!vm) return fail('SIGNATURE_BUNDLE_MALFORMED', 'bundle has no verificationMaterial');
  if (vm.certificate !== undefined || vm.x509CertificateChain !== undefined) {
    return fail(
      'SIGNATURE_BUNDLE_UNVERIFIABLE',
      'bundle is signed with a certificate (keyless signing); Sluice verifies key-signed bundles only and cannot check certificate identities',
    );
  }
  const publicKey = obj(vm.publicKey);
  if (!publicKey) return fail('SIGNATURE_BUNDLE_MALFORMED', 'bundle verificationMaterial has no publicKey');
  const tlog = vm.tlogEntries ?? [];
  if (!Array.isArray(tlog))
    return fail('SIGNATURE_BUNDLE_MALFORMED', 'verificationMaterial.tlogEntries is not an array');
  const tsd = vm.timestampVerificationData === undefined ? {} : obj(vm.timestampVerificationData);
  const timestamps = tsd?.rfc3161Timestamps ?? [];
  if (!tsd || !Array.isArray(timestamps))
    return fail('SIGNATURE_BUNDLE_MALFORMED', 'verificationMaterial.timestampVerificationData is malformed');
  if ((tlog.length > 0 || timestamps.length > 0) && !input.ignoreTransparencyLog) {
    return fail(
      'SIGNATURE_BUNDLE_UNVERIFIABLE',
      `bundle carries ${tlog.length} transparency-log entr${tlog.length === 1 ? 'y' : 'ies'} and ${timestamps.length} timestamp(s) that Sluice cannot verify; ` +
        'accept key-only verification explicitly to ignore them',
    );
  }
  const hasDsse = bundle.dsseEnvelope !== undefined;
  const hasMessage = bundle.messageSignature !== undefined;
  if (hasDsse === hasMessage)
    return fail('SIGNATURE_BUNDLE_MALFORMED', 'bundle must hold exactly one of dsseEnvelope and messageSignature');
  const keys = orderByHint(input.keys.keys, typeof publicKey.hint === 'string' ? publicKey.hint : undefined);
  const result = hasDsse
    ? verifyDsseContent(bundle.dsseEnvelope, keys, input)
    : verifyMessageContent(bundle.messageSignature, keys, input);
  if (!result.ok) return result;
  return {
    ...result,
    content: hasDsse ? 'dsse-envelope' : 'message-signature',
    unverifiedTlogEntries: tlog.length,
    unverifiedTimestamps: timestamps.length,
  };
}

/** The hint is unauthenticated, so it only decides which key is tried first. */
function orderByHint(keys: readonly VerificationKey[], hint: string | undefined): VerificationKey[] {
  if (!hint) return [...keys];
  const hinted = keys.filter((k) => sigstoreKeyHint(k.key) === hint);
  return [...hinted, ...keys.filter((k) => !hinted.includes(k))];
}

function verifyDsseContent(value: unknown, keys: VerificationKey[], input: BundleInput): VerifyResult {
  const env = obj(value);
  if (!env) return fail('SIGNATURE_BUNDLE_MALFORMED', 'dsseEnvelope is not an object');
  if (env.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    return fail(
      'SIGNATURE_WRONG_TYPE',
      `DSSE payload type "${String(env.payloadType).slice(0, 100)}" is not ${IN_TOTO_PAYLOAD_TYPE}`,
    );
  }
  if (typeof env.payload !== 'string')
    return fail('SIGNATURE_BUNDLE_MALFORMED', 'dsseEnvelope.payload is not a string');
  if (env.payload.length > Math.ceil(MAX_PAYLOAD_BYTES / 3) * 4) {
    return fail('SIGNATURE_PAYLOAD_TOO_LARGE', `DSSE payload is over the ${MAX_PAYLOAD_BYTES}-byte limit`);
  }
  const payload = decodeBase64Strict(env.payload);
  if (!payload) return fail('SIGNATURE_BUNDLE_MALFORMED', 'dsseEnvelope.payload is not standard base64');
  if (payload.length > MAX_PAYLOAD_BYTES) {
    return fail(
      'SIGNATURE_PAYLOAD_TOO_LARGE',
      `DSSE payload is ${payload.length} bytes, over the ${MAX_PAYLOAD_BYTES}-byte limit`,
    );
  }
  const sigs = env.signatures;
  // A bundle pairs one verification material with one signature; several would leave it
  // ambiguous which one the material (and any log entry) speaks for.
  if (!Array.isArray(sigs) || sigs.length !== 1) {
    return fail(
      'SIGNATURE_BUNDLE_MALFORMED',
      `dsseEnvelope must carry exactly one signature (has ${Array.isArray(sigs) ? sigs.length : 'none'})`,
    );
  }
  const sig = decodeSignature(obj(sigs[0])?.sig);
  if (!sig.ok) return sig;
  const key = findVerifyingKey(dssePae(IN_TOTO_PAYLOAD_TYPE, payload), sig.der, keys);
  if (!key) return fail('SIGNATURE_INVALID', `DSSE signature does not verify with ${describeKeys(keys)}`);
  return checkStatement(payload, key, input);
}

function checkStatement(payload: Buffer, key: VerificationKey, input: BundleInput): VerifyResult {
  let doc: unknown;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(payload);
    doc = JSON.parse(text);
  } catch {
    return fail('SIGNATURE_PAYLOAD_MALFORMED', 'DSSE payload is not valid UTF-8 JSON');
  }
  const duplicate = firstDuplicateKey(text);
  if (duplicate !== undefined)
    return fail('SIGNATURE_PAYLOAD_MALFORMED', `DSSE payload has duplicate key "${duplicate}"`);
  const st = obj(doc);
  if (!st) return fail('SIGNATURE_PAYLOAD_MALFORMED', 'in-toto statement is not a JSON object');
  if (typeof st._type !== 'string' || !IN_TOTO_STATEMENT_TYPES.includes(st._type)) {
    return fail(
      'SIGNATURE_PAYLOAD_MALFORMED',
      `statement _type "${String(st._type).slice(0, 100)}" is not an in-toto Statement`,
    );
  }
  // An attestation (SLSA provenance, SBOM, vulnerability report) signed with the same key is
  // not a signature of the image: accepting any predicate is the CVE-2022-35929 confusion.
  if (st.predicateType !== COSIGN_SIGN_PREDICATE_TYPE) {
    return fail(
      'SIGNATURE_WRONG_TYPE',
      `statement predicate type "${String(st.predicateType).slice(0, 150)}" is not ${COSIGN_SIGN_PREDICATE_TYPE} (an attestation, not an image signature)`,
    );
  }
  const subjects = st.subject;
  if (!Array.isArray(subjects) || subjects.length === 0)
    return fail('SIGNATURE_PAYLOAD_MALFORMED', 'statement has no subject');
  if (subjects.length > MAX_SIGNATURES_PER_IMAGE)
    return fail('SIGNATURE_PAYLOAD_MALFORMED', `statement has ${subjects.length} subjects`);
  const { algorithm, hex } = parseDigest(input.expectedDigest);
  const named: string[] = [];
  for (const s of subjects) {
    const subject = obj(s);
    const digests = obj(subject?.digest);
    if (!subject || !digests) return fail('SIGNATURE_PAYLOAD_MALFORMED', 'statement subject without a digest map');
    const value = digests[algorithm];
    if (typeof value === 'string') named.push(`${algorithm}:${value}`);
    if (value !== hex) continue;
    const annotations =
      subject.annotations === undefined || subject.annotations === null ? {} : obj(subject.annotations);
    if (!annotations) return fail('SIGNATURE_PAYLOAD_MALFORMED', 'subject annotations are not an object');
    const entries = Object.entries(annotations);
    const nonString = entries.find(([, v]) => typeof v !== 'string');
    if (nonString)
      return fail('SIGNATURE_PAYLOAD_MALFORMED', `subject annotation "${nonString[0].slice(0, 100)}" is not a string`);
    const map = Object.fromEntries(entries) as Record<string, string>;
    const mismatch = annotationMismatch(map, input.requiredAnnotations);
    if (mismatch) return fail('SIGNATURE_ANNOTATION_MISMATCH', mismatch);
    return {
      ok: true,
      keyId: key.keyId,
      payload: { digest: input.expectedDigest, type: st.predicateType, annotations: map },
    };
  }
  const shown = named.slice(0, 3).join(', ') || `no ${algorithm} digest`;
  return fail('SIGNATURE_DIGEST_MISMATCH', `statement is signed for ${shown}, not ${input.expectedDigest}`);
}

function verifyMessageContent(value: unknown, keys: VerificationKey[], input: BundleInput): VerifyResult {
  const ms = obj(value);
  if (!ms) return fail('SIGNATURE_BUNDLE_MALFORMED', 'messageSignature is not an object');
  const { algorithm, hex } = parseDigest(input.expectedDigest);
  if (algorithm !== 'sha256')
    return fail('SIGNATURE_BUNDLE_UNSUPPORTED', 'message-signature bundles are verified for sha256 digests only');
  if (!input.artifact) {
    return fail(
      'SIGNATURE_BUNDLE_UNSUPPORTED',
      'message-signature bundle signs the artifact bytes themselves; the image manifest bytes are needed to verify it',
    );
  }
  const artifactHex = createHash('sha256').update(input.artifact).digest('hex');
  if (artifactHex !== hex) {
    return fail(
      'SIGNATURE_DIGEST_MISMATCH',
      `the artifact bytes supplied hash to sha256:${artifactHex}, not ${input.expectedDigest}`,
    );
  }
  const md = ms.messageDigest === undefined ? undefined : obj(ms.messageDigest);
  if (ms.messageDigest !== undefined) {
    if (!md || md.algorithm !== 'SHA2_256' || typeof md.digest !== 'string') {
      return fail('SIGNATURE_BUNDLE_MALFORMED', 'messageSignature.messageDigest must be {algorithm: SHA2_256, digest}');
    }
    const claimed = decodeBase64Strict(md.digest);
    if (!claimed || claimed.toString('hex') !== hex) {
      return fail('SIGNATURE_DIGEST_MISMATCH', `messageSignature.messageDigest does not name ${input.expectedDigest}`);
    }
  }
  const sig = decodeSignature(ms.signature);
  if (!sig.ok) return sig;
  const key = findVerifyingKey(input.artifact, sig.der, keys);
  if (!key)
    return fail('SIGNATURE_INVALID', `message signature does not verify over the artifact with ${describeKeys(keys)}`);
  const mismatch = annotationMismatch({}, input.requiredAnnotations);
  if (mismatch)
    return fail('SIGNATURE_ANNOTATION_MISMATCH', `${mismatch} (message-signature bundles carry no annotations)`);
  return {
    ok: true,
    keyId: key.keyId,
    payload: { digest: input.expectedDigest, type: 'message-signature', annotations: {} },
  };
}
