/**
 * Where the images are in the objects the webhook sees. Every workload kind carries one pod
 * spec at a fixed place; a pod spec has three container lists. Each image is returned with
 * the JSON Pointer (RFC 6901) of its `image` field, which the mutating answer patches.
 *
 * Pod spec locations (k8s.io/api core/v1, apps/v1, batch/v1 types; OpenShift
 * openshift/api apps/v1 DeploymentConfig):
 *   Pod                                             /spec
 *   Deployment, ReplicaSet, StatefulSet, DaemonSet  /spec/template/spec
 *   Job, DeploymentConfig                           /spec/template/spec
 *   CronJob                                         /spec/jobTemplate/spec/template/spec
 */
import { ADMISSION_LIMITS, reviewInvalid, type AdmissionRequest, type JsonObject } from './review.ts';

export type WorkloadKind =
  'Pod' | 'Deployment' | 'ReplicaSet' | 'StatefulSet' | 'DaemonSet' | 'Job' | 'CronJob' | 'DeploymentConfig';

export interface WorkloadType {
  /** API group ("" for the core group) and version the webhook registers for. */
  group: string;
  version: string;
  kind: WorkloadKind;
  /** Plural resource name, as webhook rules spell it. */
  resource: string;
  podSpec: readonly string[];
}

const TEMPLATE = ['spec', 'template', 'spec'];

/** The kinds Sluice checks, in the order the webhook rules list them. */
export const WORKLOAD_TYPES: readonly WorkloadType[] = [
  { group: '', version: 'v1', kind: 'Pod', resource: 'pods', podSpec: ['spec'] },
  { group: 'apps', version: 'v1', kind: 'Deployment', resource: 'deployments', podSpec: TEMPLATE },
  { group: 'apps', version: 'v1', kind: 'ReplicaSet', resource: 'replicasets', podSpec: TEMPLATE },
  { group: 'apps', version: 'v1', kind: 'StatefulSet', resource: 'statefulsets', podSpec: TEMPLATE },
  { group: 'apps', version: 'v1', kind: 'DaemonSet', resource: 'daemonsets', podSpec: TEMPLATE },
  { group: 'batch', version: 'v1', kind: 'Job', resource: 'jobs', podSpec: TEMPLATE },
  {
    group: 'batch',
    version: 'v1',
    kind: 'CronJob',
    resource: 'cronjobs',
    podSpec: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
  },
  {
    group: 'apps.openshift.io',
    version: 'v1',
    kind: 'DeploymentConfig',
    resource: 'deploymentconfigs',
    podSpec: TEMPLATE,
  },
];

/**
 * `kubectl debug` adds ephemeral containers through this subresource of a Pod; the object
 * it sends is the whole Pod, so it is checked like one.
 */
export const EPHEMERAL_SUBRESOURCE = 'ephemeralcontainers';

export const CONTAINER_LISTS = ['containers', 'initContainers', 'ephemeralContainers'] as const;
export type ContainerList = (typeof CONTAINER_LISTS)[number];

export interface WorkloadImage {
  /** The reference exactly as written in the object. */
  image: string;
  /** JSON Pointer to the `image` field. */
  path: string;
  container: string;
  list: ContainerList;
}

/** The type of a request's object, by group and kind (the version is the registered one). */
export function workloadTypeOf(kind: { group: string; kind: string }): WorkloadType | undefined {
  return WORKLOAD_TYPES.find((t) => t.group === kind.group && t.kind === kind.kind);
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Every image in `object`, in document order. `where` names the object in messages
 * ("object", "oldObject"). Throws ADMISSION_REVIEW_INVALID when the pod spec is malformed or
 * over the limits. Containers without an image are skipped: Kubernetes lets workload
 * templates leave it to config management (and DeploymentConfig image triggers fill it).
 */
export function imagesOf(type: WorkloadType, object: JsonObject, where = 'object', uid?: string): WorkloadImage[] {
  let node: unknown = object;
  const walked: string[] = [];
  for (const key of type.podSpec) {
    walked.push(key);
    node = (node as JsonObject)[key];
    if (node === undefined || node === null) return [];
    if (!isObject(node)) {
      throw reviewInvalid(
        `${where}.${walked.join('.')} of a ${type.kind} must be an object`,
        `${where}.${walked.join('.')}`,
        uid,
      );
    }
  }
  const spec = node as JsonObject;
  const base = `/${type.podSpec.join('/')}`;
  const out: WorkloadImage[] = [];
  const distinct = new Set<string>();
  let containers = 0;
  for (const list of CONTAINER_LISTS) {
    const items = spec[list];
    if (items === undefined || items === null) continue;
    const field = `${where}.${type.podSpec.join('.')}.${list}`;
    if (!Array.isArray(items)) throw reviewInvalid(`${field} must be a list`, field, uid);
    containers += items.length;
    if (containers > ADMISSION_LIMITS.containersPerPod) {
      throw reviewInvalid(
        `the pod spec of this ${type.kind} has more than ${ADMISSION_LIMITS.containersPerPod} containers (containers, initContainers and ephemeralContainers together)`,
        field,
        uid,
      );
    }
    items.forEach((c: unknown, i: number) => {
      if (!isObject(c)) throw reviewInvalid(`${field}[${i}] must be an object`, `${field}[${i}]`, uid);
      const image = c.image;
      if (image === undefined || image === null) return;
      if (typeof image !== 'string') {
        throw reviewInvalid(`${field}[${i}].image must be a string`, `${field}[${i}].image`, uid);
      }
      if (image.trim() === '') return;
      if (image.length > ADMISSION_LIMITS.imageLength) {
        throw reviewInvalid(
          `${field}[${i}].image is ${image.length} characters long (at most ${ADMISSION_LIMITS.imageLength})`,
          `${field}[${i}].image`,
          uid,
        );
      }
      distinct.add(image);
      if (distinct.size > ADMISSION_LIMITS.imagesPerObject) {
        throw reviewInvalid(
          `this ${type.kind} names more than ${ADMISSION_LIMITS.imagesPerObject} distinct images`,
          `${field}[${i}].image`,
          uid,
        );
      }
      const name = typeof c.name === 'string' ? c.name : `#${i}`;
      out.push({ image, path: `${base}/${list}/${i}/image`, container: name, list });
    });
  }
  return out;
}

/**
 * The images of `current` that `previous` did not already run: the only ones an UPDATE needs
 * checked. Compared by reference text, so moving an image to another container is no change,
 * while pinning `x:1` to `x:1@sha256:…` is (it asks for something new).
 */
export function changedImages(current: readonly WorkloadImage[], previous: readonly WorkloadImage[]): WorkloadImage[] {
  const before = new Set(previous.map((i) => i.image));
  return current.filter((i) => !before.has(i.image));
}

/** The workload a review is about, and the images Sluice has to decide on. */
export interface ReviewedWorkload {
  /** Undefined when the kind is not one Sluice checks: admitted without a decision. */
  type: WorkloadType | undefined;
  kind: string;
  /** The object's name; `generateName` + "*" when the server has not named it yet. */
  name: string;
  namespace: string;
  /** Every image in the new object. */
  images: WorkloadImage[];
  /** The images to decide on: all of them on CREATE, the new ones on UPDATE. */
  toCheck: WorkloadImage[];
}

function nameOf(request: AdmissionRequest): string {
  if (request.name !== '') return request.name;
  const meta = request.object?.metadata;
  if (isObject(meta)) {
    if (typeof meta.name === 'string' && meta.name !== '') return meta.name;
    if (typeof meta.generateName === 'string' && meta.generateName !== '') return `${meta.generateName}*`;
  }
  return '';
}

/**
 * What the request asks to run. DELETE and CONNECT, subresources other than ephemeral
 * containers, and kinds Sluice does not check have nothing to decide (`toCheck` is empty).
 */
export function reviewedWorkload(request: AdmissionRequest): ReviewedWorkload {
  let type = workloadTypeOf(request.kind);
  const relevant =
    (request.operation === 'CREATE' || request.operation === 'UPDATE') &&
    (request.subResource === '' || (type?.kind === 'Pod' && request.subResource === EPHEMERAL_SUBRESOURCE));
  if (!relevant) type = undefined;
  const base = { type, kind: request.kind.kind, name: nameOf(request), namespace: request.namespace };
  if (type === undefined || request.object === null) return { ...base, images: [], toCheck: [] };
  if (request.namespace === '') {
    throw reviewInvalid(
      `request.namespace is empty for a ${type.kind}, which is namespaced`,
      'request.namespace',
      request.uid,
    );
  }
  const images = imagesOf(type, request.object, 'object', request.uid);
  if (request.operation === 'UPDATE' && request.oldObject !== null) {
    const previous = imagesOf(type, request.oldObject, 'oldObject', request.uid);
    return { ...base, images, toCheck: changedImages(images, previous) };
  }
  return { ...base, images, toCheck: images };
}
