/**
 * Reviews of real workload objects, made by Debian's kubectl in client dry-run and wrapped as
 * the API server wraps them (test/helpers/admission.ts), through parsing, image extraction,
 * the decision and the response.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { isSluiceError, type SluiceError } from '../../../src/errors.ts';
import { decideReview, type GatheredFacts } from '../../../src/admission/decide.ts';
import { admissionResponse, parseAdmissionReview, rejectionFor } from '../../../src/admission/review.ts';
import { reviewedWorkload } from '../../../src/admission/workloads.ts';
import { validatingVerdict, mutatingVerdict } from '../../../src/admission/decide.ts';
import { admissionReview, fromDeployment, kubectlObject, type JsonObject } from '../../helpers/admission.ts';

const D = `sha256:${'c'.repeat(64)}`;
const API = 'registry.example.com/shop-prod/api:1.4';
const SIDECAR = `registry.example.com/shop-prod/proxy@${D}`;
const NS = 'shop-prod';

const objects: Record<string, JsonObject> = {};

before(async () => {
  objects.Deployment = await kubectlObject([
    'create',
    'deployment',
    'web',
    `--image=${API}`,
    `--image=${SIDECAR}`,
    '-n',
    NS,
  ]);
  objects.Pod = await kubectlObject([
    'run',
    'web',
    `--image=${API}`,
    '-n',
    NS,
    `--overrides=${JSON.stringify({ spec: { initContainers: [{ name: 'migrate', image: SIDECAR }] } })}`,
  ]);
  objects.Job = await kubectlObject(['create', 'job', 'migrate', `--image=${API}`, '-n', NS]);
  objects.CronJob = await kubectlObject([
    'create',
    'cronjob',
    'nightly',
    `--image=${API}`,
    '--schedule=0 3 * * *',
    '-n',
    NS,
  ]);
  for (const kind of ['ReplicaSet', 'StatefulSet', 'DaemonSet', 'DeploymentConfig'] as const) {
    objects[kind] = fromDeployment(objects.Deployment, kind);
  }
});

function at(object: unknown, pointer: string): unknown {
  return pointer
    .split('/')
    .slice(1)
    .reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], object);
}

const EXPECTED: Record<string, string[]> = {
  Deployment: [API, SIDECAR],
  ReplicaSet: [API, SIDECAR],
  StatefulSet: [API, SIDECAR],
  DaemonSet: [API, SIDECAR],
  DeploymentConfig: [API, SIDECAR],
  Pod: [API, SIDECAR],
  Job: [API],
  CronJob: [API],
};

describe('reviews of kubectl-generated workloads', () => {
  for (const kind of Object.keys(EXPECTED)) {
    it(`finds every image of a ${kind} at a pointer that resolves to it`, () => {
      const body = admissionReview(objects[kind]!);
      const request = parseAdmissionReview(JSON.stringify(body));
      assert.equal(request.kind.kind, kind);
      assert.equal(request.namespace, NS);
      const w = reviewedWorkload(request);
      assert.equal(w.type?.kind, kind);
      assert.deepEqual(
        w.toCheck.map((i) => i.image),
        EXPECTED[kind],
      );
      for (const i of w.toCheck) assert.equal(at(request.object, i.path), i.image);
    });
  }

  it('the CronJob image sits under jobTemplate.spec.template', () => {
    const w = reviewedWorkload(parseAdmissionReview(admissionReview(objects.CronJob!)));
    assert.equal(w.toCheck[0]!.path, '/spec/jobTemplate/spec/template/spec/containers/0/image');
  });

  it('an UPDATE that only scales is decided without looking anything up', () => {
    const old = objects.Deployment!;
    const scaled = structuredClone(old);
    (scaled.spec as JsonObject).replicas = 5;
    const w = reviewedWorkload(parseAdmissionReview(admissionReview(scaled, { operation: 'UPDATE', oldObject: old })));
    assert.deepEqual(w.toCheck, []);
  });

  it('an UPDATE that changes one image checks only that one', async () => {
    const old = objects.Deployment!;
    const next = await kubectlObject([
      'create',
      'deployment',
      'web',
      '--image=registry.example.com/shop-prod/api:1.5',
      `--image=${SIDECAR}`,
      '-n',
      NS,
    ]);
    const w = reviewedWorkload(parseAdmissionReview(admissionReview(next, { operation: 'UPDATE', oldObject: old })));
    assert.deepEqual(
      w.toCheck.map((i) => i.image),
      ['registry.example.com/shop-prod/api:1.5'],
    );
  });

  it('a Pod with 5,000 containers gets a clear 400 review, not a crash', () => {
    const pod = structuredClone(objects.Pod!);
    (pod.spec as JsonObject).containers = Array.from({ length: 5000 }, (_, i) => ({
      name: `c${i}`,
      image: `r/x:${i}`,
    }));
    const body = admissionReview(pod, { uid: 'b7e0c2a6-0000-4000-8000-000000000001' });
    const request = parseAdmissionReview(JSON.stringify(body));
    let err: SluiceError | undefined;
    try {
      reviewedWorkload(request);
    } catch (e) {
      err = e as SluiceError;
    }
    assert.ok(isSluiceError(err, 'ADMISSION_REVIEW_INVALID'));
    const answer = rejectionFor(err);
    assert.equal(answer?.response.uid, 'b7e0c2a6-0000-4000-8000-000000000001');
    assert.equal(answer?.response.status?.code, 400);
    assert.match(answer!.response.status!.message, /more than 256 containers/);
  });

  it('a review with the wrong apiVersion or without uid is refused by name', () => {
    const body = admissionReview(objects.Pod!) as { apiVersion: string; request: JsonObject };
    assert.throws(
      () => parseAdmissionReview({ ...body, apiVersion: 'admission.k8s.io/v1beta1' }),
      /apiVersion must be/,
    );
    const { uid: _uid, ...request } = body.request;
    assert.throws(() => parseAdmissionReview({ ...body, request }), /request\.uid is missing/);
  });

  it('decides and answers a prod Deployment end to end, with the pinning patch', () => {
    const body = admissionReview(objects.Deployment!);
    const request = parseAdmissionReview(body);
    const w = reviewedWorkload(request);
    const facts = new Map<string, GatheredFacts>(
      w.toCheck.map((i) => [
        i.image,
        {
          source: { allowed: true },
          resolution: { digest: D, source: i.image.includes('@') ? 'reference' : 'inventory' },
          known: true,
          stagesReached: ['dev', 'prod'],
          holds: [],
          signature: { status: 'verified' },
        },
      ]),
    );
    const decision = decideReview({
      settings: { namespaces: [{ pattern: '*-prod', stage: 'prod', mode: 'enforce' }], exclude: [], mutate: true },
      sluiceNamespace: 'sluice',
      stages: { prod: { requireSignature: true } },
      workload: w,
      facts,
    });
    const validated = admissionResponse(request.uid, validatingVerdict(decision));
    assert.equal(validated.response.allowed, true);
    assert.equal(validated.response.uid, request.uid);
    assert.equal(validated.response.patch, undefined, 'a validating answer never carries a patch');

    const mutated = admissionResponse(request.uid, mutatingVerdict(decision));
    const ops = JSON.parse(Buffer.from(mutated.response.patch!, 'base64').toString('utf8')) as Array<{
      op: string;
      path: string;
      value: string;
    }>;
    const patched = structuredClone(request.object!);
    for (const op of ops) {
      assert.equal(op.op, 'replace');
      assert.equal(typeof at(patched, op.path), 'string', `${op.path} does not exist in the object`);
      const parts = op.path.split('/').slice(1);
      const parent = at(patched, `/${parts.slice(0, -1).join('/')}`) as Record<string, unknown>;
      parent[parts.at(-1)!] = op.value;
    }
    const containers = ((patched.spec as JsonObject).template as { spec: { containers: Array<{ image: string }> } })
      .spec.containers;
    assert.deepEqual(
      containers.map((c) => c.image),
      [`${API}@${D}`, SIDECAR],
    );
  });
});
