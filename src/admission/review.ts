/**
 * AdmissionReview `admission.k8s.io/v1`: what the API server sends a webhook and what it
 * accepts back. Shapes follow k8s.io/api `admission/v1/types.go` (AdmissionReview,
 * AdmissionRequest, AdmissionResponse, PatchType "JSONPatch") and the Kubernetes docs
 * "Dynamic Admission Control" (sections "Request" and "Response") and "kube-apiserver
 * Admission (v1)" reference:
 *
 *   request:  { uid, kind{group,version,kind}, resource{group,version,resource}, subResource,
 *               requestKind, requestResource, requestSubResource, name, namespace,
 *               operation: CREATE|UPDATE|DELETE|CONNECT, userInfo{username,uid,groups,extra},
 *               object, oldObject, dryRun, options }
 *   response: { uid (copied from the request), allowed, status{code,message} (metav1.Status,
 *               ignored when allowed), patch (base64 RFC 6902 JSON Patch), patchType,
 *               auditAnnotations, warnings }
 *
 * The body comes from whoever can reach the port, so everything is checked here and a bad
 * review is a SluiceError naming the field; the body's byte size is bounded by the server.
 * The answer is always HTTP 200 with a review, except when there is no usable uid to echo:
 * then the server answers 400, which the API server treats as a webhook failure
 * (failurePolicy decides).
 */
import { SluiceError } from '../errors.ts';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';
export const ADMISSION_KIND = 'AdmissionReview';

/**
 * Bounds on what one review may ask of Sluice. Each distinct image may cost a registry
 * lookup and a signature verification, so their number is capped; real pods stay far below
 * (ephemeral debug containers accumulate, hence the headroom).
 */
export const ADMISSION_LIMITS = {
  /** containers + initContainers + ephemeralContainers of one pod spec. */
  containersPerPod: 256,
  /** Distinct image references in one object. */
  imagesPerObject: 64,
  /** Characters of one image reference (a valid one is well below). */
  imageLength: 512,
  /** Characters of the request uid we echo back (API servers send a 36-character UUID). */
  uidLength: 128,
  /** Warnings per response, and characters per warning (the API server truncates beyond 256). */
  warnings: 20,
  warningLength: 256,
  /** Characters of the denial message. */
  messageLength: 4096,
} as const;

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
const OPERATIONS: readonly Operation[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface GroupVersionResource {
  group: string;
  version: string;
  resource: string;
}

export type JsonObject = { [key: string]: unknown };

export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  resource: GroupVersionResource;
  /** "" when the request is for the resource itself. */
  subResource: string;
  /** "" on CREATE with generateName. */
  name: string;
  namespace: string;
  operation: Operation;
  user: { username: string; groups: string[] };
  /** null for DELETE. */
  object: JsonObject | null;
  /** Only for UPDATE and DELETE. */
  oldObject: JsonObject | null;
  dryRun: boolean;
}

/** A review Sluice cannot answer as asked. `context.uid` is set when the uid itself was fine. */
export function reviewInvalid(message: string, field: string, uid?: string): SluiceError {
  const context: Record<string, unknown> = { operation: 'admission-review', field };
  if (uid !== undefined) context.uid = uid;
  return new SluiceError('ADMISSION_REVIEW_INVALID', 'invalid-input', `AdmissionReview: ${message}`, context);
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const UID = /^[A-Za-z0-9._:-]+$/;

function quote(v: unknown): string {
  const text = typeof v === 'string' ? JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v) : typeof v;
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : text;
}

/**
 * Parses a review: the JSON text (string or bytes) or the value a JSON body parser made of it.
 * Throws ADMISSION_REVIEW_INVALID naming the first field that is wrong.
 */
export function parseAdmissionReview(body: unknown): AdmissionRequest {
  let review: unknown = body;
  if (typeof body === 'string' || body instanceof Uint8Array) {
    const text = typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
    try {
      review = JSON.parse(text);
    } catch (err) {
      throw reviewInvalid(`body is not JSON (${(err as Error).message})`, 'body');
    }
  }
  if (!isObject(review)) throw reviewInvalid(`body must be a JSON object, got ${quote(review)}`, 'body');
  if (review.kind !== ADMISSION_KIND) {
    throw reviewInvalid(`kind must be "${ADMISSION_KIND}", got ${quote(review.kind)}`, 'kind');
  }
  if (review.apiVersion !== ADMISSION_API_VERSION) {
    throw reviewInvalid(
      `apiVersion must be "${ADMISSION_API_VERSION}" (the webhook configuration lists admissionReviewVersions [v1]), got ${quote(review.apiVersion)}`,
      'apiVersion',
    );
  }
  const req = review.request;
  if (!isObject(req)) throw reviewInvalid(`request must be an object, got ${quote(req)}`, 'request');

  const uid = req.uid;
  if (typeof uid !== 'string' || uid === '') throw reviewInvalid('request.uid is missing', 'request.uid');
  if (uid.length > ADMISSION_LIMITS.uidLength || !UID.test(uid)) {
    throw reviewInvalid(
      `request.uid must be at most ${ADMISSION_LIMITS.uidLength} characters of letters, digits, ".", "_", ":" and "-"`,
      'request.uid',
    );
  }
  const bad = (field: string, what: string, got: unknown) =>
    reviewInvalid(`request.${field} must be ${what}, got ${quote(got)}`, `request.${field}`, uid);
  const str = (obj: JsonObject, key: string, prefix: string, optional: boolean): string => {
    const v = obj[key];
    if (v === undefined && optional) return '';
    if (typeof v !== 'string') throw bad(`${prefix}${key}`, 'a string', v);
    if (v.length > 253) throw bad(`${prefix}${key}`, 'at most 253 characters', `${v.length} characters`);
    return v;
  };

  if (!isObject(req.kind)) throw bad('kind', 'an object {group, version, kind}', req.kind);
  const kind: GroupVersionKind = {
    group: str(req.kind, 'group', 'kind.', true),
    version: str(req.kind, 'version', 'kind.', false),
    kind: str(req.kind, 'kind', 'kind.', false),
  };
  if (!isObject(req.resource)) throw bad('resource', 'an object {group, version, resource}', req.resource);
  const resource: GroupVersionResource = {
    group: str(req.resource, 'group', 'resource.', true),
    version: str(req.resource, 'version', 'resource.', false),
    resource: str(req.resource, 'resource', 'resource.', false),
  };
  const operation = req.operation;
  if (typeof operation !== 'string' || !(OPERATIONS as readonly string[]).includes(operation)) {
    throw bad('operation', OPERATIONS.join(', '), operation);
  }
  const userInfo = req.userInfo === undefined ? {} : req.userInfo;
  if (!isObject(userInfo)) throw bad('userInfo', 'an object', userInfo);
  const groups = userInfo.groups ?? [];
  if (!Array.isArray(groups) || groups.some((g) => typeof g !== 'string')) {
    throw bad('userInfo.groups', 'a list of strings', groups);
  }
  const object = req.object ?? null;
  if (object !== null && !isObject(object)) throw bad('object', 'an object or null', object);
  const oldObject = req.oldObject ?? null;
  if (oldObject !== null && !isObject(oldObject)) throw bad('oldObject', 'an object or null', oldObject);
  if (req.dryRun !== undefined && req.dryRun !== null && typeof req.dryRun !== 'boolean') {
    throw bad('dryRun', 'a boolean', req.dryRun);
  }
  if ((operation === 'CREATE' || operation === 'UPDATE') && object === null) {
    throw reviewInvalid(`request.object is missing for ${operation}`, 'request.object', uid);
  }
  if (operation === 'UPDATE' && oldObject === null) {
    throw reviewInvalid('request.oldObject is missing for UPDATE', 'request.oldObject', uid);
  }

  return {
    uid,
    kind,
    resource,
    subResource: str(req, 'subResource', '', true),
    name: str(req, 'name', '', true),
    namespace: str(req, 'namespace', '', true),
    operation: operation as Operation,
    user: { username: str(userInfo, 'username', 'userInfo.', true), groups: groups as string[] },
    object,
    oldObject,
    dryRun: req.dryRun === true,
  };
}

/** One RFC 6902 operation; Sluice only ever replaces an image string. */
export interface JsonPatchOperation {
  op: 'replace';
  path: string;
  value: string;
}

/** What Sluice answers, before it is put into the review's shape. */
export interface AdmissionVerdict {
  allowed: boolean;
  /** HTTP-like status code for a denial: 403 for a policy denial, 400 for a malformed object. */
  code?: number;
  message?: string;
  warnings?: readonly string[];
  /** Mutating endpoint only. */
  patch?: readonly JsonPatchOperation[];
  auditAnnotations?: Readonly<Record<string, string>>;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; message: string };
  warnings?: string[];
  patchType?: 'JSONPatch';
  patch?: string;
  auditAnnotations?: Record<string, string>;
}

export interface AdmissionReviewResponse {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: typeof ADMISSION_KIND;
  response: AdmissionResponse;
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Warnings within what the API server passes on: at most N, each at most 256 characters. */
export function boundWarnings(warnings: readonly string[]): string[] {
  const max = ADMISSION_LIMITS.warnings;
  const out = warnings
    .slice(0, warnings.length > max ? max - 1 : max)
    .map((w) => clip(w, ADMISSION_LIMITS.warningLength));
  if (warnings.length > max) out.push(`… and ${warnings.length - (max - 1)} more warnings (see the Sluice audit log)`);
  return out;
}

/** The review to send back for `uid`. */
export function admissionResponse(uid: string, verdict: AdmissionVerdict): AdmissionReviewResponse {
  const response: AdmissionResponse = { uid, allowed: verdict.allowed };
  if (!verdict.allowed) {
    response.status = {
      code: verdict.code ?? 403,
      message: clip(verdict.message ?? 'denied by Sluice', ADMISSION_LIMITS.messageLength),
    };
  }
  if (verdict.warnings && verdict.warnings.length > 0) response.warnings = boundWarnings(verdict.warnings);
  if (verdict.allowed && verdict.patch && verdict.patch.length > 0) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(verdict.patch), 'utf8').toString('base64');
  }
  if (verdict.auditAnnotations && Object.keys(verdict.auditAnnotations).length > 0) {
    response.auditAnnotations = { ...verdict.auditAnnotations };
  }
  return { apiVersion: ADMISSION_API_VERSION, kind: ADMISSION_KIND, response };
}

/**
 * The review answering a malformed request whose uid was readable: a denial with code 400
 * and the reason. Undefined when there is no uid to echo; the server then answers HTTP 400.
 */
export function rejectionFor(err: SluiceError): AdmissionReviewResponse | undefined {
  const uid = err.context.uid;
  if (typeof uid !== 'string') return undefined;
  return admissionResponse(uid, { allowed: false, code: 400, message: err.message });
}
