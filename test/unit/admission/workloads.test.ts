import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSluiceError } from '../../../src/errors.ts';
import { ADMISSION_LIMITS, parseAdmissionReview, type JsonObject } from '../../../src/admission/review.ts';
import {
  changedImages,
  imagesOf,
  reviewedWorkload,
  WORKLOAD_TYPES,
  workloadTypeOf,
  type WorkloadImage,
} from '../../../src/admission/workloads.ts';

const podSpec = (containers: unknown[], extra: JsonObject = {}): JsonObject => ({ containers, ...extra });

function nest(path: readonly string[], leaf: JsonObject): JsonObject {
  let node: JsonObject = leaf;
  for (const key of [...path].reverse()) node = { [key]: node };
  return node;
}

/** Follows an RFC 6901 pointer (no escapes occur in pod spec paths). */
function at(object: unknown, pointer: string): unknown {
  return pointer
    .split('/')
    .slice(1)
    .reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], object);
}

function request(object: JsonObject, extra: JsonObject = {}): JsonObject {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'u-1',
      kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
      resource: { group: 'apps', version: 'v1', resource: 'deployments' },
      name: 'web',
      namespace: 'team-prod',
      operation: 'CREATE',
      userInfo: { username: 'u' },
      object,
      ...extra,
    },
  };
}

describe('imagesOf', () => {
  for (const type of WORKLOAD_TYPES) {
    it(`finds every container list of a ${type.kind} at ${type.podSpec.join('.')}`, () => {
      const spec = podSpec([{ name: 'app', image: 'r.example.com/a/app:1' }], {
        initContainers: [{ name: 'init', image: 'r.example.com/a/init:1' }],
        ephemeralContainers: [{ name: 'debug', image: 'busybox' }],
      });
      const object = nest(type.podSpec, spec);
      const images = imagesOf(type, object);
      assert.deepEqual(
        images.map((i) => [i.list, i.container, i.image]),
        [
          ['containers', 'app', 'r.example.com/a/app:1'],
          ['initContainers', 'init', 'r.example.com/a/init:1'],
          ['ephemeralContainers', 'debug', 'busybox'],
        ],
      );
      for (const i of images) assert.equal(at(object, i.path), i.image, i.path);
      assert.equal(images[0]!.path, `/${type.podSpec.join('/')}/containers/0/image`);
    });
  }

  const deployment = workloadTypeOf({ group: 'apps', kind: 'Deployment' })!;

  it('skips containers without image (workload templates may leave it to config management)', () => {
    const object = nest(
      deployment.podSpec,
      podSpec([{ name: 'a' }, { name: 'b', image: '' }, { name: 'c', image: 'x' }]),
    );
    assert.deepEqual(
      imagesOf(deployment, object).map((i) => i.path),
      ['/spec/template/spec/containers/2/image'],
    );
  });

  it('returns nothing for an object without pod spec', () => {
    assert.deepEqual(imagesOf(deployment, { spec: {} }), []);
  });

  const bad: Array<[string, JsonObject, RegExp]> = [
    [
      'a pod spec that is a list',
      { spec: { template: { spec: [] } } },
      /object\.spec\.template\.spec of a Deployment must be an object/,
    ],
    ['containers that are not a list', nest(deployment.podSpec, { containers: {} }), /containers must be a list/],
    [
      'a container that is not an object',
      nest(deployment.podSpec, { containers: ['x'] }),
      /containers\[0\] must be an object/,
    ],
    [
      'an image that is not a string',
      nest(deployment.podSpec, { containers: [{ image: 7 }] }),
      /containers\[0\]\.image must be a string/,
    ],
    [
      'an image longer than any reference',
      nest(deployment.podSpec, { containers: [{ image: 'x'.repeat(ADMISSION_LIMITS.imageLength + 1) }] }),
      /513 characters long \(at most 512\)/,
    ],
  ];
  for (const [what, object, why] of bad) {
    it(`rejects ${what}`, () => {
      assert.throws(
        () => imagesOf(deployment, object, 'object', 'u-1'),
        (err: unknown) =>
          isSluiceError(err, 'ADMISSION_REVIEW_INVALID') && why.test(err.message) && err.context.uid === 'u-1',
      );
    });
  }

  it('rejects more containers than one pod may have, counting all three lists', () => {
    const n = ADMISSION_LIMITS.containersPerPod;
    const object = nest(
      deployment.podSpec,
      podSpec(
        Array.from({ length: n }, () => ({ image: 'x' })),
        { initContainers: [{ image: 'x' }] },
      ),
    );
    assert.throws(() => imagesOf(deployment, object), /more than 256 containers/);
    const atLimit = nest(deployment.podSpec, podSpec(Array.from({ length: n }, () => ({ image: 'x' }))));
    assert.equal(imagesOf(deployment, atLimit).length, n);
  });

  it('rejects more distinct images than one object may name', () => {
    const many = Array.from({ length: ADMISSION_LIMITS.imagesPerObject + 1 }, (_, i) => ({ image: `r/x:${i}` }));
    assert.throws(() => imagesOf(deployment, nest(deployment.podSpec, podSpec(many))), /more than 64 distinct images/);
    const same = Array.from({ length: 200 }, () => ({ image: 'r/x:1' }));
    assert.equal(imagesOf(deployment, nest(deployment.podSpec, podSpec(same))).length, 200);
  });
});

describe('changedImages', () => {
  const img = (image: string, i = 0): WorkloadImage => ({
    image,
    path: `/spec/containers/${i}/image`,
    container: `c${i}`,
    list: 'containers',
  });
  it('is empty when the images are the same, wherever they moved', () => {
    assert.deepEqual(changedImages([img('a', 1), img('b', 0)], [img('a', 0), img('b', 1)]), []);
  });
  it('lists a new or replaced image', () => {
    assert.deepEqual(
      changedImages([img('a'), img('c', 1)], [img('a'), img('b', 1)]).map((i) => i.image),
      ['c'],
    );
  });
  it('counts pinning a tag to a digest as a change', () => {
    assert.equal(changedImages([img('r/x:1@sha256:aa')], [img('r/x:1')]).length, 1);
  });
});

describe('reviewedWorkload', () => {
  const deploymentObject = (image: string) => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'team-prod' },
    spec: { template: { spec: { containers: [{ name: 'app', image }] } } },
  });

  it('checks every image on CREATE', () => {
    const w = reviewedWorkload(parseAdmissionReview(request(deploymentObject('r/x:1'))));
    assert.equal(w.type?.kind, 'Deployment');
    assert.deepEqual(
      w.toCheck.map((i) => i.image),
      ['r/x:1'],
    );
    assert.equal(w.name, 'web');
  });

  it('checks nothing on an UPDATE that keeps the images (a scale, a label)', () => {
    const w = reviewedWorkload(
      parseAdmissionReview(
        request(deploymentObject('r/x:1'), { operation: 'UPDATE', oldObject: deploymentObject('r/x:1') }),
      ),
    );
    assert.equal(w.images.length, 1);
    assert.deepEqual(w.toCheck, []);
  });

  it('checks the new image on an UPDATE that changes it', () => {
    const w = reviewedWorkload(
      parseAdmissionReview(
        request(deploymentObject('r/x:2'), { operation: 'UPDATE', oldObject: deploymentObject('r/x:1') }),
      ),
    );
    assert.deepEqual(
      w.toCheck.map((i) => i.image),
      ['r/x:2'],
    );
  });

  it('has nothing to decide for kinds Sluice does not check', () => {
    const w = reviewedWorkload(
      parseAdmissionReview(
        request({ kind: 'Service', metadata: {} }, { kind: { group: '', version: 'v1', kind: 'Service' } }),
      ),
    );
    assert.equal(w.type, undefined);
    assert.deepEqual(w.toCheck, []);
  });

  it('has nothing to decide for DELETE', () => {
    const w = reviewedWorkload(
      parseAdmissionReview(request(deploymentObject('r/x:1'), { operation: 'DELETE', object: null })),
    );
    assert.deepEqual(w.toCheck, []);
  });

  it('has nothing to decide for a status update', () => {
    const w = reviewedWorkload(
      parseAdmissionReview(
        request(deploymentObject('r/x:2'), {
          operation: 'UPDATE',
          subResource: 'status',
          oldObject: deploymentObject('r/x:1'),
        }),
      ),
    );
    assert.deepEqual(w.toCheck, []);
  });

  it('checks ephemeral containers added through the pods/ephemeralcontainers subresource', () => {
    const pod = (extra: JsonObject) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p' },
      spec: { containers: [{ name: 'app', image: 'r/x:1' }], ...extra },
    });
    const w = reviewedWorkload(
      parseAdmissionReview(
        request(pod({ ephemeralContainers: [{ name: 'debugger', image: 'evil.example.com/shell' }] }), {
          kind: { group: '', version: 'v1', kind: 'Pod' },
          resource: { group: '', version: 'v1', resource: 'pods' },
          subResource: 'ephemeralcontainers',
          operation: 'UPDATE',
          oldObject: pod({}),
        }),
      ),
    );
    assert.deepEqual(
      w.toCheck.map((i) => [i.image, i.path]),
      [['evil.example.com/shell', '/spec/ephemeralContainers/0/image']],
    );
  });

  it('names a pod that only has generateName after its prefix', () => {
    const object = { kind: 'Pod', metadata: { generateName: 'web-7d9f8c-' }, spec: { containers: [{ image: 'x' }] } };
    const w = reviewedWorkload(
      parseAdmissionReview(
        request(object, {
          name: '',
          kind: { group: '', version: 'v1', kind: 'Pod' },
          resource: { group: '', version: 'v1', resource: 'pods' },
        }),
      ),
    );
    assert.equal(w.name, 'web-7d9f8c-*');
  });

  it('rejects a namespaced workload without namespace', () => {
    assert.throws(
      () => reviewedWorkload(parseAdmissionReview(request(deploymentObject('x'), { namespace: '' }))),
      /request\.namespace is empty for a Deployment/,
    );
  });
});
