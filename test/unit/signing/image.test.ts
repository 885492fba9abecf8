/** The pure parts around image signing: flag parsing, payload identity, layer shape, summaries, rendering. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { isSluiceError } from '../../../src/errors.ts';
import { parseAnnotationFlags, renderVerification } from '../../../src/cli/commands/signing.ts';
import { dockerReferenceOf, signatureLayer, SIGNATURE_ANNOTATION } from '../../../src/signing/store.ts';
import { summarize, type VerifyImageResult } from '../../../src/signing/verify-image.ts';

const digest = `sha256:${createHash('sha256').update('m').digest('hex')}`;

describe('parseAnnotationFlags', () => {
  it('splits at the first "=" and keeps values verbatim', () => {
    assert.deepEqual(parseAnnotationFlags(['env=prod', 'expr=a=b', 'empty=']), { env: 'prod', expr: 'a=b', empty: '' });
    assert.equal(parseAnnotationFlags([]), undefined);
  });

  it('refuses flags without a key and keys given twice', () => {
    for (const bad of [['novalue'], ['=x'], ['a=1', 'a=2']]) {
      assert.throws(
        () => parseAnnotationFlags(bad),
        (e: unknown) => isSluiceError(e, 'USAGE'),
      );
    }
  });

  it('keeps "__proto__" as data', () => {
    const r = parseAnnotationFlags(['__proto__=x'])!;
    assert.equal(Object.getPrototypeOf(r), Object.prototype);
    assert.deepEqual(Object.entries(r), [['__proto__', 'x']]);
  });
});

describe('signature storage shapes', () => {
  it('names Docker Hub as cosign does', () => {
    assert.equal(dockerReferenceOf('docker.io', 'library/alpine'), 'index.docker.io/library/alpine');
    assert.equal(dockerReferenceOf('127.0.0.1:5000', 'team/app'), '127.0.0.1:5000/team/app');
  });

  it('builds the cosign layer: simple-signing media type, payload digest and size, signature annotation', () => {
    const payload = Buffer.from('{"critical":{}}');
    assert.deepEqual(signatureLayer(payload, 'MEUCIQ=='), {
      mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
      size: payload.length,
      digest: `sha256:${createHash('sha256').update(payload).digest('hex')}`,
      annotations: { [SIGNATURE_ANNOTATION]: 'MEUCIQ==' },
    });
  });
});

describe('summaries', () => {
  const base: VerifyImageResult = {
    reference: 'r.example/app:1',
    registry: 'r.example',
    repository: 'app',
    digest,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    found: 0,
    valid: [],
    rejected: [],
  };
  const rejected = {
    source: 'sha256-x.sig[0]',
    layout: 'cosign-sig' as const,
    code: 'SIGNATURE_INVALID' as const,
    reason: 'signature does not verify',
  };
  const valid = {
    source: 'sha256-x.sig[1]',
    layout: 'cosign-sig' as const,
    keyId: 'ab'.repeat(32),
    keySource: 'cosign.pub',
    claim: { digest, type: 'cosign container image signature', annotations: {} },
    payload: '{"critical":…}',
  };

  it('says what was found, in one line', () => {
    assert.equal(summarize(base), `no signatures found for r.example/app@${digest}`);
    assert.equal(
      summarize({ ...base, found: 1, rejected: [rejected] }),
      `no valid signature for r.example/app@${digest}: 1 rejected (first: signature does not verify)`,
    );
    assert.equal(
      summarize({ ...base, found: 2, valid: [valid], rejected: [rejected] }),
      `1 valid signature(s) for r.example/app@${digest} by key ${'ab'.repeat(8)}, 1 rejected`,
    );
  });

  it('renders each valid signature with its payload and each rejection with its reason', () => {
    const text = renderVerification({ ...base, found: 2, valid: [valid], rejected: [rejected] });
    assert.match(
      text,
      /VALID {5}sha256-x\.sig\[1\]\n {2}key: {5}(ab){32} \(cosign\.pub\)\n {2}payload: \{"critical":…\}/,
    );
    assert.match(text, /REJECTED {2}sha256-x\.sig\[0\]\n {2}SIGNATURE_INVALID: signature does not verify/);
    assert.match(renderVerification(base), /No signatures found\./);
  });
});
