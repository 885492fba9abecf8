import assert from 'node:assert/strict';
import { X509Certificate, createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isSluiceError } from '../../../src/errors.ts';
import { derSignatureProblem, sigstoreKeyHint } from '../../../src/signing/encoding.ts';
import { publicKeySet } from '../../../src/signing/keys.ts';
import { buildPayload } from '../../../src/signing/payload.ts';
import {
  COSIGN_SIGN_PREDICATE_TYPE,
  IN_TOTO_PAYLOAD_TYPE,
  MAX_SIGNATURES_PER_IMAGE,
  SIGSTORE_BUNDLE_V03,
  dssePae,
  verifyBundle,
  verifyCandidate,
  verifyCandidates,
  verifyFailureError,
  type VerifyResult,
} from '../../../src/signing/verify.ts';
import { fixture } from './helpers.ts';

const newKey = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signer = newKey();
const stranger = newKey();
const keys = publicKeySet([signer.publicKey]);
const digestOf = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;
const digest = digestOf('the image manifest');
const otherDigest = digestOf('another image manifest');
const sigOf = (data: Uint8Array, key: KeyObject = signer.privateKey) => sign('sha256', data, key).toString('base64');

function failure(r: VerifyResult): { code: string; reason: string } {
  assert.equal(r.ok, false, 'expected a rejection');
  return r.ok ? { code: '', reason: '' } : r;
}

describe('verifyCandidate', () => {
  const payload = buildPayload({ dockerReference: 'registry.example.com/app', digest, annotations: { env: 'prod' } });
  const good = { payload, signatureB64: sigOf(payload), keys, expectedDigest: digest };

  it('accepts a signature by a key of the set over the exact payload', () => {
    const other = newKey();
    const r = verifyCandidate({
      ...good,
      keys: publicKeySet([other.publicKey, signer.publicKey]),
      requiredAnnotations: { env: 'prod' },
    });
    assert.ok(r.ok);
    assert.equal(r.keyId, publicKeySet([signer.publicKey]).keys[0]?.keyId);
    assert.deepEqual(r.payload, {
      digest,
      type: 'cosign container image signature',
      annotations: { env: 'prod' },
      dockerReference: 'registry.example.com/app',
    });
  });

  it('rejects a payload naming another digest', () => {
    const p = buildPayload({ dockerReference: 'registry.example.com/app', digest: otherDigest });
    const f = failure(verifyCandidate({ ...good, payload: p, signatureB64: sigOf(p) }));
    assert.equal(f.code, 'SIGNATURE_DIGEST_MISMATCH');
    assert.equal(f.reason, `payload is signed for ${otherDigest}, not ${digest}`);
  });

  it('rejects a payload altered after signing', () => {
    const altered = Buffer.from(payload.toString('utf8').replace(digest, otherDigest));
    const f = failure(verifyCandidate({ ...good, payload: altered, expectedDigest: otherDigest }));
    assert.equal(f.code, 'SIGNATURE_INVALID');
    assert.match(f.reason, /does not verify over the payload with key [0-9a-f]{16}/);
    const oneByte = Buffer.from(payload);
    oneByte[oneByte.length - 2] = 0x20;
    assert.equal(failure(verifyCandidate({ ...good, payload: oneByte })).code, 'SIGNATURE_INVALID');
  });

  it('rejects a signature by a key outside the set', () => {
    const f = failure(verifyCandidate({ ...good, signatureB64: sigOf(payload, stranger.privateKey) }));
    assert.equal(f.code, 'SIGNATURE_INVALID');
    const multi = failure(verifyCandidate({ ...good, keys: publicKeySet([newKey().publicKey, stranger.publicKey]) }));
    assert.match(multi.reason, /with any of 2 keys/);
  });

  it('rejects truncated and non-DER signatures without throwing', () => {
    const der = Buffer.from(good.signatureB64, 'base64');
    const truncated = failure(
      verifyCandidate({ ...good, signatureB64: der.subarray(0, der.length - 5).toString('base64') }),
    );
    assert.equal(truncated.code, 'SIGNATURE_NOT_DER');
    assert.match(truncated.reason, /truncated/);
    const raw = sign('sha256', payload, { key: signer.privateKey, dsaEncoding: 'ieee-p1363' });
    const p1363 = failure(verifyCandidate({ ...good, signatureB64: raw.toString('base64') }));
    assert.equal(p1363.code, 'SIGNATURE_NOT_DER');
    assert.match(p1363.reason, /64 raw bytes \(r\|\|s\), not ASN.1 DER/);
    const trailing = failure(
      verifyCandidate({ ...good, signatureB64: Buffer.concat([der, Buffer.from([0])]).toString('base64') }),
    );
    assert.match(trailing.reason, /trailing bytes/);
    assert.equal(failure(verifyCandidate({ ...good, signatureB64: 'not base64!' })).code, 'SIGNATURE_NOT_BASE64');
    assert.equal(
      failure(verifyCandidate({ ...good, signatureB64: `${good.signatureB64}\n` })).code,
      'SIGNATURE_NOT_BASE64',
    );
    assert.equal(failure(verifyCandidate({ ...good, signatureB64: '' })).code, 'SIGNATURE_NOT_BASE64');
    assert.equal(failure(verifyCandidate({ ...good, signatureB64: 'A'.repeat(4000) })).code, 'SIGNATURE_NOT_BASE64');
  });

  it('refuses a 10 MiB payload by its size, before any cryptography', () => {
    const huge = Buffer.alloc(10 * 1024 * 1024, 0x61);
    const f = failure(verifyCandidate({ ...good, payload: huge, signatureB64: sigOf(huge) }));
    assert.equal(f.code, 'SIGNATURE_PAYLOAD_TOO_LARGE');
    assert.equal(f.reason, 'payload is 10485760 bytes, over the 131072-byte limit');
  });

  it('rejects validly signed malformed JSON as malformed, not as verified', () => {
    for (const text of ['{"critical": {', '[]', '{"critical":{"identity":{},"image":{},"type":1}}']) {
      const p = Buffer.from(text);
      const f = failure(verifyCandidate({ ...good, payload: p, signatureB64: sigOf(p) }));
      assert.equal(f.code, 'SIGNATURE_PAYLOAD_MALFORMED', text);
    }
  });

  it('rejects a validly signed payload that names a field twice, whichever occurrence is the right one', () => {
    const text = buildPayload({ dockerReference: 'registry.example.com/app', digest }).toString();
    const field = (d: string) => `"docker-manifest-digest":"${d}"`;
    for (const doubled of [
      // Accepted before: JSON.parse keeps the last occurrence, the expected digest.
      text.replace(field(digest), `${field(otherDigest)},${field(digest)}`),
      text.replace(field(digest), `${field(digest)},${field(otherDigest)}`),
    ]) {
      const p = Buffer.from(doubled);
      const f = failure(verifyCandidate({ ...good, payload: p, signatureB64: sigOf(p) }));
      assert.equal(f.code, 'SIGNATURE_PAYLOAD_MALFORMED');
      assert.equal(f.reason, 'payload has duplicate key "critical.image.docker-manifest-digest"');
    }
    const twoCriticals = Buffer.from(
      text.replace(
        '{"critical":',
        `{"critical":${JSON.stringify(JSON.parse(text.replace(digest, otherDigest)).critical)},"critical":`,
      ),
    );
    const f = failure(verifyCandidate({ ...good, payload: twoCriticals, signatureB64: sigOf(twoCriticals) }));
    assert.equal(f.reason, 'payload has duplicate key "critical"');
  });

  it('requires the requested annotations', () => {
    assert.match(
      failure(verifyCandidate({ ...good, requiredAnnotations: { env: 'staging' } })).reason,
      /"env" is "prod", required "staging"/,
    );
    assert.equal(
      failure(verifyCandidate({ ...good, requiredAnnotations: { team: 'x' } })).code,
      'SIGNATURE_ANNOTATION_MISMATCH',
    );
  });

  it('treats an invalid expected digest or missing keys as a caller error', () => {
    assert.throws(
      () => verifyCandidate({ ...good, expectedDigest: 'sha256:nope' }),
      (e) => isSluiceError(e, 'DIGEST_INVALID'),
    );
    assert.equal(failure(verifyCandidate({ ...good, keys: { keys: [] } })).code, 'SIGNATURE_NO_KEYS');
  });

  it('never throws on arbitrary payloads and signatures', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 80 }), (p, s) => {
        const r = verifyCandidate({
          payload: p,
          signatureB64: Buffer.from(s).toString('base64'),
          keys,
          expectedDigest: digest,
        });
        assert.equal(r.ok, false);
      }),
      { numRuns: 300 },
    );
  });

  it('reports a rejection as a policy-violation SluiceError', () => {
    const f = verifyCandidate({ ...good, expectedDigest: otherDigest });
    assert.ok(!f.ok);
    const err = verifyFailureError(f, { digest: otherDigest });
    assert.equal(err.category, 'policy-violation');
    assert.equal(err.code, 'SIGNATURE_DIGEST_MISMATCH');
  });
});

describe('verifyCandidates', () => {
  const payload = buildPayload({ dockerReference: 'r.example/app', digest });
  it('sorts candidates into verified and rejected', () => {
    const r = verifyCandidates(
      [
        { payload, signatureB64: sigOf(payload, stranger.privateKey) },
        { payload, signatureB64: sigOf(payload) },
      ],
      { keys, expectedDigest: digest },
    );
    assert.equal(r.verified.length, 1);
    assert.deepEqual(
      r.rejected.map((x) => [x.index, x.code]),
      [[0, 'SIGNATURE_INVALID']],
    );
  });

  it(`refuses more than ${MAX_SIGNATURES_PER_IMAGE} signatures before verifying any`, () => {
    const many = Array.from({ length: MAX_SIGNATURES_PER_IMAGE + 1 }, () => ({ payload, signatureB64: 'x' }));
    assert.throws(
      () => verifyCandidates(many, { keys, expectedDigest: digest }),
      (e) => {
        assert.ok(isSluiceError(e, 'SIGNATURES_TOO_MANY'));
        assert.match(e.message, /1001 signatures found, over the limit of 1000/);
        return true;
      },
    );
    assert.equal(
      verifyCandidates(many.slice(1), { keys, expectedDigest: digest }).rejected.length,
      MAX_SIGNATURES_PER_IMAGE,
    );
  });
});

describe('DER signature shape', () => {
  it('accepts every signature node produces and rejects single-byte corruptions of structure', () => {
    for (let i = 0; i < 200; i++) {
      const der = sign('sha256', Buffer.from([i]), signer.privateKey);
      assert.equal(derSignatureProblem(der), undefined);
    }
    const der = sign('sha256', Buffer.from('x'), signer.privateKey);
    const badTag = Buffer.from(der);
    badTag[2] = 0x03;
    assert.match(derSignatureProblem(badTag) ?? '', /r is not an INTEGER/);
    const nonMinimal = Buffer.from([0x30, 0x08, 0x02, 0x02, 0x00, 0x01, 0x02, 0x02, 0x00, 0x01]);
    assert.match(derSignatureProblem(nonMinimal) ?? '', /not minimally encoded/);
    assert.match(derSignatureProblem(Buffer.from([0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x01])) ?? '', /r is zero/);
    assert.match(
      derSignatureProblem(Buffer.from([0x30, 0x06, 0x02, 0x01, 0x81, 0x02, 0x01, 0x01])) ?? '',
      /r is negative/,
    );
    assert.match(
      derSignatureProblem(Buffer.from([0x30, 0x81, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01])) ?? '',
      /long-form/,
    );
  });
});

/** A bundle shaped like the one `cosign sign --key` (cosign 3, new bundle format) attaches to an image. */
function cosignBundle(opts: {
  subjectDigest?: string;
  annotations?: Record<string, unknown>;
  predicateType?: string;
  payloadType?: string;
  key?: KeyObject;
  signPae?: boolean;
  tlogEntries?: unknown[];
  /** Edits the statement's JSON text before it is signed. */
  rewriteStatement?: (text: string) => string;
}): Record<string, unknown> {
  const [alg, hex] = (opts.subjectDigest ?? digest).split(':');
  const statement = {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ digest: { [alg ?? 'sha256']: hex }, annotations: opts.annotations ?? {} }],
    predicateType: opts.predicateType ?? COSIGN_SIGN_PREDICATE_TYPE,
    predicate: {},
  };
  const statementText = JSON.stringify(statement);
  const payload = Buffer.from(opts.rewriteStatement ? opts.rewriteStatement(statementText) : statementText);
  const payloadType = opts.payloadType ?? IN_TOTO_PAYLOAD_TYPE;
  const signed = opts.signPae === false ? payload : dssePae(payloadType, payload);
  return {
    mediaType: SIGSTORE_BUNDLE_V03,
    verificationMaterial: {
      publicKey: { hint: sigstoreKeyHint(signer.publicKey) },
      tlogEntries: opts.tlogEntries ?? [],
    },
    dsseEnvelope: { payload: payload.toString('base64'), payloadType, signatures: [{ sig: sigOf(signed, opts.key) }] },
  };
}
const verifyJson = (b: unknown, extra: Partial<Parameters<typeof verifyBundle>[1]> = {}) =>
  verifyBundle(JSON.stringify(b), { keys, expectedDigest: digest, ...extra });

describe('verifyBundle', () => {
  it('computes the DSSE PAE as the DSSE protocol defines it', () => {
    assert.equal(
      dssePae('application/example', Buffer.from('hello world')).toString(),
      'DSSEv1 19 application/example 11 hello world',
    );
    assert.equal(dssePae('t', Buffer.from('é')).toString('hex'), Buffer.from('DSSEv1 1 t 2 é').toString('hex'));
  });

  it('accepts a key-signed cosign 3 image bundle and returns its annotations', () => {
    const r = verifyJson(cosignBundle({ annotations: { env: 'prod' } }), { requiredAnnotations: { env: 'prod' } });
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.content, 'dsse-envelope');
    assert.equal(r.payload.type, COSIGN_SIGN_PREDICATE_TYPE);
    assert.deepEqual(r.payload.annotations, { env: 'prod' });
  });

  it('rejects a signature over the raw payload instead of the PAE', () => {
    assert.equal(failure(verifyJson(cosignBundle({ signPae: false }))).code, 'SIGNATURE_INVALID');
  });

  it('rejects another digest, another key, another predicate, another payload type', () => {
    const d = failure(verifyJson(cosignBundle({ subjectDigest: otherDigest })));
    assert.equal(d.code, 'SIGNATURE_DIGEST_MISMATCH');
    assert.equal(d.reason, `statement is signed for ${otherDigest}, not ${digest}`);
    assert.equal(failure(verifyJson(cosignBundle({ key: stranger.privateKey }))).code, 'SIGNATURE_INVALID');
    const p = failure(verifyJson(cosignBundle({ predicateType: 'https://slsa.dev/provenance/v1' })));
    assert.equal(p.code, 'SIGNATURE_WRONG_TYPE');
    assert.match(p.reason, /an attestation, not an image signature/);
    assert.equal(failure(verifyJson(cosignBundle({ payloadType: 'text/plain' }))).code, 'SIGNATURE_WRONG_TYPE');
    assert.equal(
      failure(verifyJson(cosignBundle({ annotations: { env: 1 } }), {})).code,
      'SIGNATURE_PAYLOAD_MALFORMED',
    );
    assert.equal(
      failure(verifyJson(cosignBundle({}), { requiredAnnotations: { env: 'prod' } })).code,
      'SIGNATURE_ANNOTATION_MISMATCH',
    );
  });

  it('rejects a validly signed statement that names a field twice', () => {
    const [, hex] = digest.split(':');
    const [, otherHex] = otherDigest.split(':');
    const cases: Array<[(t: string) => string, string]> = [
      [(t) => t.replace(`"sha256":"${hex}"`, `"sha256":"${otherHex}","sha256":"${hex}"`), 'subject[0].digest.sha256'],
      [
        (t) => t.replace('"predicateType":', '"predicateType":"https://slsa.dev/provenance/v1","predicateType":'),
        'predicateType',
      ],
      [(t) => t.replace('"env":"prod"', '"env":"dev","env":"prod"'), 'subject[0].annotations.env'],
      [(t) => t.replace('"subject":', `"subject":[{"digest":{"sha256":"${otherHex}"}}],"subject":`), 'subject'],
    ];
    for (const [rewriteStatement, path] of cases) {
      const b = cosignBundle({ annotations: { env: 'prod' }, rewriteStatement });
      const f = failure(verifyJson(b, { requiredAnnotations: { env: 'prod' } }));
      assert.equal(f.code, 'SIGNATURE_PAYLOAD_MALFORMED');
      assert.equal(f.reason, `DSSE payload has duplicate key "${path}"`);
    }
  });

  it('rejects a bundle that carries a field twice', () => {
    const good = JSON.stringify(cosignBundle({}));
    const forOther = cosignBundle({ subjectDigest: otherDigest });
    const cases: Array<[string, string]> = [
      [
        good.replace('"dsseEnvelope":', `"dsseEnvelope":${JSON.stringify(forOther.dsseEnvelope)},"dsseEnvelope":`),
        'dsseEnvelope',
      ],
      [
        good.replace('"verificationMaterial":', '"verificationMaterial":{"certificate":{}},"verificationMaterial":'),
        'verificationMaterial',
      ],
      [
        good.replace('"tlogEntries":[]', '"tlogEntries":[{"logIndex":"1"}],"tlogEntries":[]'),
        'verificationMaterial.tlogEntries',
      ],
      [good.replace('"payloadType":', '"payloadType":"text/plain","payloadType":'), 'dsseEnvelope.payloadType'],
    ];
    assert.ok(verifyBundle(good, { keys, expectedDigest: digest }).ok);
    for (const [doubled, path] of cases) {
      // The last occurrence is the good one: JSON.parse alone would accept every case.
      assert.ok(verifyBundle(JSON.stringify(JSON.parse(doubled)), { keys, expectedDigest: digest }).ok);
      const f = failure(verifyBundle(doubled, { keys, expectedDigest: digest }));
      assert.equal(f.code, 'SIGNATURE_BUNDLE_MALFORMED');
      assert.equal(f.reason, `bundle has duplicate key "${path}"`);
      assert.equal(failure(verifyBundle(Buffer.from(doubled), { keys, expectedDigest: digest })).reason, f.reason);
    }
  });

  it('refuses transparency-log material it cannot verify unless told to rely on the key alone', () => {
    const b = cosignBundle({ tlogEntries: [{ logIndex: '1', kindVersion: { kind: 'dsse', version: '0.0.1' } }] });
    const f = failure(verifyJson(b));
    assert.equal(f.code, 'SIGNATURE_BUNDLE_UNVERIFIABLE');
    assert.match(f.reason, /1 transparency-log entry and 0 timestamp\(s\)/);
    const r = verifyJson(b, { ignoreTransparencyLog: true });
    assert.ok(r.ok);
    assert.equal(r.unverifiedTlogEntries, 1);
  });

  it('refuses certificate (keyless) bundles, unsupported versions and malformed shapes', () => {
    const withCert = cosignBundle({});
    (withCert.verificationMaterial as Record<string, unknown>).certificate = { rawBytes: 'AAAA' };
    assert.match(failure(verifyJson(withCert)).reason, /signed with a certificate \(keyless signing\)/);
    assert.equal(
      failure(verifyJson({ ...cosignBundle({}), mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.1' }))
        .code,
      'SIGNATURE_BUNDLE_UNSUPPORTED',
    );
    const two = cosignBundle({});
    const env = two.dsseEnvelope as { signatures: unknown[] };
    env.signatures.push(env.signatures[0]);
    assert.match(failure(verifyJson(two)).reason, /exactly one signature \(has 2\)/);
    const both = { ...cosignBundle({}), messageSignature: {} };
    assert.match(failure(verifyJson(both)).reason, /exactly one of dsseEnvelope and messageSignature/);
    assert.equal(
      failure(verifyBundle('{not json', { keys, expectedDigest: digest })).code,
      'SIGNATURE_BUNDLE_MALFORMED',
    );
    assert.equal(
      failure(verifyBundle('x'.repeat(2 * 1024 * 1024), { keys, expectedDigest: digest })).code,
      'SIGNATURE_PAYLOAD_TOO_LARGE',
    );
  });

  it('verifies a real cosign-written DSSE signature (cosign testdata) up to its predicate type', () => {
    // pkg/cosign/testdata/oci-attestation.sigstore.json from sigstore/cosign: a keyless
    // attestation. Its certificate's key signed the DSSE PAE; re-labelled as a key bundle it
    // exercises our PAE and signature check against bytes cosign produced.
    const real = JSON.parse(readFileSync(fixture('cosign-oci-attestation.sigstore.json'), 'utf8')) as {
      verificationMaterial: { certificate: { rawBytes: string } };
      dsseEnvelope: { payload: string };
    };
    const cert = new X509Certificate(Buffer.from(real.verificationMaterial.certificate.rawBytes, 'base64'));
    const certKeys = publicKeySet([cert.publicKey]);
    const statement = JSON.parse(Buffer.from(real.dsseEnvelope.payload, 'base64').toString()) as {
      subject: Array<{ digest: { sha256: string } }>;
    };
    const subject = `sha256:${statement.subject[0]?.digest.sha256}`;

    assert.equal(
      failure(verifyBundle(JSON.stringify(real), { keys: certKeys, expectedDigest: subject })).code,
      'SIGNATURE_BUNDLE_UNVERIFIABLE',
    );

    const relabelled = { ...real, verificationMaterial: { publicKey: { hint: sigstoreKeyHint(cert.publicKey) } } };
    const f = failure(verifyBundle(JSON.stringify(relabelled), { keys: certKeys, expectedDigest: subject }));
    assert.equal(f.code, 'SIGNATURE_WRONG_TYPE', f.reason);
    assert.match(f.reason, /cosign.sigstore.dev\/attestation\/v1/);

    const tampered = structuredClone(relabelled);
    tampered.dsseEnvelope.payload = Buffer.from(
      Buffer.from(real.dsseEnvelope.payload, 'base64').toString().replace('"foo', '"fox'),
    ).toString('base64');
    assert.equal(
      failure(verifyBundle(JSON.stringify(tampered), { keys: certKeys, expectedDigest: subject })).code,
      'SIGNATURE_INVALID',
    );
  });

  it('verifies message-signature bundles against the artifact bytes', () => {
    const manifest = Buffer.from('{"schemaVersion":2}');
    const manifestDigest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
    const bundle = {
      mediaType: SIGSTORE_BUNDLE_V03,
      verificationMaterial: { publicKey: { hint: 'unrelated' } },
      messageSignature: {
        messageDigest: { algorithm: 'SHA2_256', digest: createHash('sha256').update(manifest).digest('base64') },
        signature: sigOf(manifest),
      },
    };
    const r = verifyJson(bundle, { expectedDigest: manifestDigest, artifact: manifest });
    assert.ok(r.ok && r.content === 'message-signature');
    assert.match(
      failure(verifyJson(bundle, { expectedDigest: manifestDigest })).reason,
      /image manifest bytes are needed/,
    );
    assert.equal(
      failure(verifyJson(bundle, { expectedDigest: digest, artifact: manifest })).code,
      'SIGNATURE_DIGEST_MISMATCH',
    );
    const forged = {
      ...bundle,
      messageSignature: { ...bundle.messageSignature, signature: sigOf(manifest, stranger.privateKey) },
    };
    assert.equal(
      failure(verifyJson(forged, { expectedDigest: manifestDigest, artifact: manifest })).code,
      'SIGNATURE_INVALID',
    );
  });

  it('never throws on arbitrary JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => {
        const r = verifyBundle(JSON.stringify(v), { keys, expectedDigest: digest });
        assert.equal(r.ok, false);
      }),
      { numRuns: 300 },
    );
  });
});
