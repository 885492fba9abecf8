/**
 * Cosign's simple-signing payload: the bytes an image signature signs.
 *
 *   {"critical":{"identity":{"docker-reference":"<repo>"},
 *                "image":{"docker-manifest-digest":"sha256:…"},
 *                "type":"cosign container image signature"},
 *    "optional":{…annotations…} | null}
 *
 * Writing: cosign produces it with Go's `encoding/json` from sigstore's
 * `payload.SimpleContainerImage` struct, so field order is the struct order, map keys
 * (annotations) are sorted, and strings get Go's escaping (`<`, `>`, `&`, U+2028, U+2029 as
 * `\u…`). Reproducing that exactly keeps our payloads byte-identical to cosign's for the
 * same input.
 *
 * Reading: strict. containers-signature(5) requires rejecting unknown fields in `critical`;
 * doing so also closes the gap between our exact-case key lookup and Go's case-insensitive
 * struct matching (a payload carrying both `image` and `Image` could otherwise mean different
 * digests to different verifiers). A key twice in one object is refused for the same reason.
 */
import { SluiceError } from '../errors.ts';
import { isDigest } from '../oci/digest.ts';
import { firstDuplicateKey } from './json-keys.ts';

export const COSIGN_SIGNATURE_TYPE = 'cosign container image signature';
/** The `critical.type` cosign 3 shows for new-format signatures; accepted on read. */
export const COSIGN_SIGN_V1_TYPE = 'https://sigstore.dev/cosign/sign/v1';
export const ACCEPTED_PAYLOAD_TYPES: readonly string[] = [COSIGN_SIGNATURE_TYPE, COSIGN_SIGN_V1_TYPE];

/** Payloads above this are refused unread (cosign's registry readers cap layers too). */
export const MAX_PAYLOAD_BYTES = 128 * 1024;

export interface PayloadInput {
  /** What cosign puts here: the repository's full name, e.g. `index.docker.io/library/alpine`. */
  dockerReference: string;
  digest: string;
  annotations?: Record<string, string>;
}

/** A parsed, validated payload. */
export interface SimpleSigningPayload {
  dockerReference: string;
  digest: string;
  type: string;
  /** `optional`, or `{}` when it was null or absent. */
  annotations: Record<string, string>;
}

/**
 * The payload bytes cosign would sign for this input. Annotations are optional; without
 * them `optional` is `null`, as cosign writes when no `-a` flag is given.
 */
export function buildPayload(input: PayloadInput): Buffer {
  const invalid = (why: string) =>
    new SluiceError('SIGNATURE_PAYLOAD_INVALID', 'invalid-input', why, { digest: input.digest });
  if (!isDigest(input.digest))
    throw invalid(`"${input.digest}" is not a valid digest (sha256:<64 hex> or sha512:<128 hex>)`);
  if (typeof input.dockerReference !== 'string' || input.dockerReference === '')
    throw invalid('docker reference must be a non-empty string');
  let optional = 'null';
  if (input.annotations !== undefined) {
    const entries = Object.entries(input.annotations);
    for (const [k, v] of entries) {
      if (typeof v !== 'string') throw invalid(`annotation "${k}" must be a string`);
    }
    entries.sort(([a], [b]) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
    optional = `{${entries.map(([k, v]) => `${goString(k, invalid)}:${goString(v, invalid)}`).join(',')}}`;
  }
  const text =
    `{"critical":{"identity":{"docker-reference":${goString(input.dockerReference, invalid)}},` +
    `"image":{"docker-manifest-digest":${goString(input.digest, invalid)}},` +
    `"type":${goString(COSIGN_SIGNATURE_TYPE, invalid)}},"optional":${optional}}`;
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > MAX_PAYLOAD_BYTES) {
    throw invalid(`payload would be ${bytes.length} bytes, over the ${MAX_PAYLOAD_BYTES}-byte limit verifiers enforce`);
  }
  return bytes;
}

/**
 * A JSON string literal as Go's `encoding/json` writes it: JSON.stringify already matches Go
 * for quotes, backslashes and control characters (both use \b \f \n \r \t and lowercase
 * \u00xx); Go additionally escapes HTML-significant characters and the two JavaScript line
 * separators. Strings with lone surrogates have no UTF-8 form and are refused.
 */
function goString(s: string, invalid: (why: string) => SluiceError): string {
  if (!s.isWellFormed()) throw invalid('text contains a lone UTF-16 surrogate, which has no UTF-8 encoding');
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export type PayloadParse = { ok: true; payload: SimpleSigningPayload } | { ok: false; reason: string };

/**
 * Parses and validates payload bytes without throwing: the verifier turns `reason` into its
 * result. Checks, in order: size, UTF-8, JSON, structure, type, digest, annotations.
 */
export function tryParsePayload(bytes: Uint8Array): PayloadParse {
  const fail = (reason: string): PayloadParse => ({ ok: false, reason });
  if (bytes.byteLength > MAX_PAYLOAD_BYTES)
    return fail(`payload is ${bytes.byteLength} bytes, over the ${MAX_PAYLOAD_BYTES}-byte limit`);
  let text: string;
  try {
    // A BOM is kept (and then fails JSON.parse) because Go's decoder rejects it as well.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return fail('payload is not valid UTF-8');
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return fail(`payload is not valid JSON (${err instanceof Error ? err.message.slice(0, 120) : 'parse error'})`);
  }
  const duplicate = firstDuplicateKey(text);
  if (duplicate !== undefined) return fail(`payload has duplicate key "${duplicate}"`);
  const top = record(doc);
  if (!top) return fail('payload must be a JSON object');
  const extraTop = unknownKeys(top, ['critical', 'optional']);
  if (extraTop) return fail(`payload has unknown top-level field "${extraTop}"`);
  const critical = record(top.critical);
  if (!critical) return fail('payload has no "critical" object');
  const extraCritical = unknownKeys(critical, ['identity', 'image', 'type']);
  if (extraCritical) return fail(`payload has unknown field "critical.${extraCritical}"`);
  const identity = record(critical.identity);
  if (!identity) return fail('payload has no "critical.identity" object');
  const extraIdentity = unknownKeys(identity, ['docker-reference']);
  if (extraIdentity) return fail(`payload has unknown field "critical.identity.${extraIdentity}"`);
  const image = record(critical.image);
  if (!image) return fail('payload has no "critical.image" object');
  const extraImage = unknownKeys(image, ['docker-manifest-digest']);
  if (extraImage) return fail(`payload has unknown field "critical.image.${extraImage}"`);
  const dockerReference = identity['docker-reference'];
  if (typeof dockerReference !== 'string') return fail('"critical.identity.docker-reference" must be a string');
  const type = critical.type;
  if (typeof type !== 'string') return fail('"critical.type" must be a string');
  if (!ACCEPTED_PAYLOAD_TYPES.includes(type)) {
    return fail(
      `"critical.type" is "${type.slice(0, 100)}", not "${COSIGN_SIGNATURE_TYPE}" or "${COSIGN_SIGN_V1_TYPE}"`,
    );
  }
  const digest = image['docker-manifest-digest'];
  if (typeof digest !== 'string') return fail('"critical.image.docker-manifest-digest" must be a string');
  if (!isDigest(digest))
    return fail(`"critical.image.docker-manifest-digest" is not a valid digest: "${digest.slice(0, 150)}"`);
  let annotations: Record<string, string> = {};
  if (top.optional !== undefined && top.optional !== null) {
    const optional = record(top.optional);
    if (!optional) return fail('"optional" must be an object or null');
    const entries = Object.entries(optional);
    for (const [k, v] of entries) {
      if (typeof v !== 'string') return fail(`annotation "optional.${k.slice(0, 100)}" is not a string`);
    }
    // fromEntries defines own properties, so a "__proto__" annotation stays data.
    annotations = Object.fromEntries(entries) as Record<string, string>;
  }
  return { ok: true, payload: { dockerReference, digest, type, annotations } };
}

/** Like `tryParsePayload`, throwing `SIGNATURE_PAYLOAD_MALFORMED`. */
export function parsePayload(bytes: Uint8Array): SimpleSigningPayload {
  const r = tryParsePayload(bytes);
  if (!r.ok) throw new SluiceError('SIGNATURE_PAYLOAD_MALFORMED', 'policy-violation', r.reason);
  return r.payload;
}

/**
 * The first required annotation that `annotations` lacks or holds with another value, as a
 * sentence; undefined when all match. Values compare exactly, as cosign does.
 */
export function annotationMismatch(
  annotations: Record<string, string>,
  required: Record<string, string> | undefined,
): string | undefined {
  for (const [k, want] of Object.entries(required ?? {})) {
    if (!Object.hasOwn(annotations, k)) return `required annotation "${k}" is missing`;
    const got = annotations[k];
    if (got !== want) return `annotation "${k}" is "${(got ?? '').slice(0, 200)}", required "${want}"`;
  }
  return undefined;
}

function record(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function unknownKeys(obj: Record<string, unknown>, allowed: readonly string[]): string | undefined {
  const k = Object.keys(obj).find((key) => !allowed.includes(key));
  return k === undefined ? undefined : k.slice(0, 100);
}
