import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSluiceError, type SluiceError } from '../../../src/errors.ts';
import {
  ADMISSION_LIMITS,
  admissionResponse,
  boundWarnings,
  parseAdmissionReview,
  rejectionFor,
} from '../../../src/admission/review.ts';

const UID = '705ab4f5-6393-11e8-b7cc-42010a800002';

/** The request of the Kubernetes docs' "Dynamic Admission Control" example, trimmed to a Pod. */
function review(request: Record<string, unknown> = {}, top: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: UID,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      name: 'web',
      namespace: 'team-prod',
      operation: 'CREATE',
      userInfo: { username: 'admin', groups: ['system:authenticated'] },
      object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web' }, spec: { containers: [] } },
      oldObject: null,
      dryRun: false,
      ...request,
    },
    ...top,
  };
}

function invalid(body: unknown, field: string, why: RegExp, uid?: string): void {
  assert.throws(
    () => parseAdmissionReview(body),
    (err: unknown) => {
      assert.ok(isSluiceError(err, 'ADMISSION_REVIEW_INVALID'), String(err));
      assert.equal(err.category, 'invalid-input');
      assert.equal(err.context.field, field);
      assert.match(err.message, why);
      assert.equal(err.context.uid, uid);
      return true;
    },
  );
}

describe('parseAdmissionReview', () => {
  it('reads a request as the API server sends it', () => {
    const r = parseAdmissionReview(review());
    assert.equal(r.uid, UID);
    assert.deepEqual(r.kind, { group: '', version: 'v1', kind: 'Pod' });
    assert.equal(r.namespace, 'team-prod');
    assert.equal(r.operation, 'CREATE');
    assert.deepEqual(r.user, { username: 'admin', groups: ['system:authenticated'] });
    assert.equal(r.subResource, '');
    assert.equal(r.dryRun, false);
    assert.equal(r.oldObject, null);
  });

  it('accepts the JSON text and bytes as well as the parsed value', () => {
    const text = JSON.stringify(review());
    assert.equal(parseAdmissionReview(text).uid, UID);
    assert.equal(parseAdmissionReview(Buffer.from(text)).uid, UID);
  });

  it('rejects a body that is not JSON', () => invalid('{"apiVersion":', 'body', /not JSON/));
  it('rejects a body that is not an object', () => invalid([1, 2], 'body', /JSON object, got an array/));
  it('rejects the wrong kind', () => invalid(review({}, { kind: 'Pod' }), 'kind', /"AdmissionReview", got "Pod"/));
  it('rejects v1beta1 and names the configuration that asks for v1', () =>
    invalid(
      review({}, { apiVersion: 'admission.k8s.io/v1beta1' }),
      'apiVersion',
      /admission\.k8s\.io\/v1".*admissionReviewVersions \[v1\].*v1beta1/,
    ));
  it('rejects a review without request', () =>
    invalid(review({}, { request: undefined }), 'request', /request must be an object/));
  it('rejects a missing uid, without a uid to echo', () =>
    invalid(review({ uid: undefined }), 'request.uid', /uid is missing/));
  it('rejects an empty uid', () => invalid(review({ uid: '' }), 'request.uid', /uid is missing/));
  it('rejects a uid that is too long to echo', () =>
    invalid(review({ uid: 'a'.repeat(ADMISSION_LIMITS.uidLength + 1) }), 'request.uid', /at most 128/));
  it('rejects a uid with characters that would be reflected into the answer', () =>
    invalid(review({ uid: '<script>' }), 'request.uid', /letters, digits/));
  it('rejects an unknown operation, keeping the uid', () =>
    invalid(review({ operation: 'PATCH' }), 'request.operation', /CREATE, UPDATE, DELETE, CONNECT, got "PATCH"/, UID));
  it('rejects a kind without version', () =>
    invalid(review({ kind: { group: '', kind: 'Pod' } }), 'request.kind.version', /a string, got undefined/, UID));
  it('rejects a non-object object', () => invalid(review({ object: 'Pod' }), 'request.object', /object or null/, UID));
  it('rejects CREATE without object', () =>
    invalid(review({ object: null }), 'request.object', /missing for CREATE/, UID));
  it('rejects UPDATE without oldObject', () =>
    invalid(review({ operation: 'UPDATE' }), 'request.oldObject', /missing for UPDATE/, UID));
  it('rejects groups that are not strings', () =>
    invalid(review({ userInfo: { groups: [1] } }), 'request.userInfo.groups', /list of strings/, UID));
  it('accepts DELETE without object', () => {
    assert.equal(parseAdmissionReview(review({ operation: 'DELETE', object: null })).object, null);
  });
});

describe('admissionResponse', () => {
  it('echoes the uid and omits status when allowed', () => {
    const r = admissionResponse(UID, { allowed: true });
    assert.deepEqual(r, {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: UID, allowed: true },
    });
  });

  it('denies with a status code and message', () => {
    const r = admissionResponse(UID, { allowed: false, code: 403, message: 'image x is quarantined' });
    assert.deepEqual(r.response.status, { code: 403, message: 'image x is quarantined' });
    assert.equal(r.response.allowed, false);
  });

  it('clips a huge denial message', () => {
    const r = admissionResponse(UID, { allowed: false, message: 'x'.repeat(100_000) });
    assert.equal(r.response.status!.message.length, ADMISSION_LIMITS.messageLength);
    assert.ok(r.response.status!.message.endsWith('…'));
  });

  it('encodes the patch as base64 JSON Patch with patchType', () => {
    const patch = [{ op: 'replace' as const, path: '/spec/containers/0/image', value: 'r/x:1@sha256:aa' }];
    const r = admissionResponse(UID, { allowed: true, patch });
    assert.equal(r.response.patchType, 'JSONPatch');
    assert.deepEqual(JSON.parse(Buffer.from(r.response.patch!, 'base64').toString('utf8')), patch);
  });

  it('sends no patch with a denial or with an empty patch (the API server rejects a patchType without patch)', () => {
    const patch = [{ op: 'replace' as const, path: '/spec/containers/0/image', value: 'v' }];
    assert.equal(admissionResponse(UID, { allowed: false, patch }).response.patch, undefined);
    const empty = admissionResponse(UID, { allowed: true, patch: [] }).response;
    assert.equal(empty.patch, undefined);
    assert.equal(empty.patchType, undefined);
  });

  it('passes warnings and audit annotations', () => {
    const r = admissionResponse(UID, { allowed: true, warnings: ['w'], auditAnnotations: { decision: 'warned' } });
    assert.deepEqual(r.response.warnings, ['w']);
    assert.deepEqual(r.response.auditAnnotations, { decision: 'warned' });
  });
});

describe('boundWarnings', () => {
  it('keeps each warning within 256 characters', () => {
    const [w] = boundWarnings(['y'.repeat(1000)]);
    assert.equal(w!.length, ADMISSION_LIMITS.warningLength);
  });
  it('caps the count and says how many were left out', () => {
    const out = boundWarnings(Array.from({ length: 50 }, (_, i) => `w${i}`));
    assert.equal(out.length, ADMISSION_LIMITS.warnings);
    assert.equal(out.at(-2), 'w18');
    assert.match(out.at(-1)!, /and 31 more warnings/);
  });
  it('keeps exactly the limit untouched', () => {
    const ws = Array.from({ length: ADMISSION_LIMITS.warnings }, (_, i) => `w${i}`);
    assert.deepEqual(boundWarnings(ws), ws);
  });
});

describe('rejectionFor', () => {
  it('answers a malformed request with a 400 denial echoing its uid', () => {
    let err: SluiceError | undefined;
    try {
      parseAdmissionReview(review({ operation: 'PATCH' }));
    } catch (e) {
      err = e as SluiceError;
    }
    const r = rejectionFor(err!);
    assert.equal(r?.response.uid, UID);
    assert.equal(r?.response.allowed, false);
    assert.equal(r?.response.status?.code, 400);
    assert.match(r!.response.status!.message, /operation/);
  });
  it('has no review to send when the uid was unusable', () => {
    try {
      parseAdmissionReview(review({ uid: undefined }));
      assert.fail('should throw');
    } catch (e) {
      assert.equal(rejectionFor(e as SluiceError), undefined);
    }
  });
});
