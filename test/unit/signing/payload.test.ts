import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isSluiceError } from '../../../src/errors.ts';
import {
  COSIGN_SIGN_V1_TYPE,
  MAX_PAYLOAD_BYTES,
  annotationMismatch,
  buildPayload,
  parsePayload,
  tryParsePayload,
} from '../../../src/signing/payload.ts';

const digest = `sha256:${createHash('sha256').update('manifest').digest('hex')}`;
const other = `sha256:${createHash('sha256').update('another manifest').digest('hex')}`;

describe('buildPayload', () => {
  it('writes exactly what cosign writes without annotations', () => {
    // Go's json.Marshal of sigstore's SimpleContainerImage: fields in struct order
    // (critical{identity,image,type}, optional), no whitespace, and a nil annotation map
    // as `null` (cosign leaves the map nil when no -a flag is given).
    const expected =
      '{"critical":{"identity":{"docker-reference":"registry.example.com/team/app"},' +
      `"image":{"docker-manifest-digest":"${digest}"},` +
      '"type":"cosign container image signature"},"optional":null}';
    assert.equal(buildPayload({ dockerReference: 'registry.example.com/team/app', digest }).toString('utf8'), expected);
  });

  it('writes annotations the way Go encodes a map[string]any', () => {
    // Derived by hand from encoding/json's rules: map keys sorted by their UTF-8 bytes ("～"
    // EF BD 9E sorts before "😀" F0 9F 98 80, the reverse of UTF-16 order), `&`, `<`, `>` and
    // U+2028 escaped as \u0026 \u003c \u003e \u2028, other non-ASCII written raw.
    const payload = buildPayload({
      dockerReference: 'registry.example.com/team/app',
      digest,
      annotations: {
        tag: 'v1.2.3',
        '😀': 'smile',
        'build-url': 'https://ci.example.com/job?id=1&run=2',
        '～': 'wave',
        note: '<b>\u2028',
      },
    });
    const expected =
      '{"critical":{"identity":{"docker-reference":"registry.example.com/team/app"},' +
      `"image":{"docker-manifest-digest":"${digest}"},` +
      '"type":"cosign container image signature"},' +
      '"optional":{"build-url":"https://ci.example.com/job?id=1\\u0026run=2","note":"\\u003cb\\u003e\\u2028",' +
      '"tag":"v1.2.3","～":"wave","😀":"smile"}}';
    assert.equal(payload.toString('utf8'), expected);
  });

  it('refuses invalid input', () => {
    assert.throws(
      () => buildPayload({ dockerReference: 'r', digest: 'sha256:abc' }),
      (e) => isSluiceError(e, 'SIGNATURE_PAYLOAD_INVALID'),
    );
    assert.throws(() => buildPayload({ dockerReference: '', digest }), /non-empty/);
    assert.throws(
      () => buildPayload({ dockerReference: 'r', digest, annotations: { k: '\ud800' } }),
      /lone UTF-16 surrogate/,
    );
    assert.throws(
      () => buildPayload({ dockerReference: 'r', digest, annotations: { k: 1 as unknown as string } }),
      /must be a string/,
    );
    assert.throws(
      () => buildPayload({ dockerReference: 'r', digest, annotations: { big: 'x'.repeat(MAX_PAYLOAD_BYTES) } }),
      /over the 131072-byte limit/,
    );
  });

  it('round-trips any string annotations through the strict parser', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), { maxKeys: 8 }),
        (annotations) => {
          const parsed = parsePayload(buildPayload({ dockerReference: 'example.com/repo', digest, annotations }));
          assert.equal(parsed.digest, digest);
          assert.deepEqual(parsed.annotations, { ...annotations });
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('tryParsePayload', () => {
  const base = () => ({
    critical: {
      identity: { 'docker-reference': 'example.com/repo' },
      image: { 'docker-manifest-digest': digest },
      type: 'cosign container image signature',
    },
    optional: { a: 'b' } as unknown,
  });
  const parse = (doc: unknown) => tryParsePayload(Buffer.from(JSON.stringify(doc)));
  const reason = (doc: unknown) => {
    const r = parse(doc);
    assert.equal(r.ok, false);
    return r.ok ? '' : r.reason;
  };

  it('accepts both cosign type strings and reports the fields', () => {
    const r = parse(base());
    assert.ok(r.ok);
    assert.deepEqual(r.payload, {
      dockerReference: 'example.com/repo',
      digest,
      type: 'cosign container image signature',
      annotations: { a: 'b' },
    });
    const v1 = base();
    v1.critical.type = COSIGN_SIGN_V1_TYPE;
    v1.optional = null;
    const r2 = parse(v1);
    assert.ok(r2.ok && r2.payload.type === COSIGN_SIGN_V1_TYPE && Object.keys(r2.payload.annotations).length === 0);
  });

  it('rejects what cosign payloads never contain', () => {
    assert.match(reason([1, 2]), /must be a JSON object/);
    assert.match(reason(null), /must be a JSON object/);
    assert.match(reason({ ...base(), extra: 1 }), /unknown top-level field "extra"/);
    const caseTwin = base() as unknown as { critical: Record<string, unknown> };
    caseTwin.critical.Image = { 'docker-manifest-digest': other };
    assert.match(reason(caseTwin), /unknown field "critical.Image"/);
    const upper = base() as unknown as { critical: { image: Record<string, unknown> } };
    upper.critical.image = { 'Docker-manifest-digest': digest };
    assert.match(reason(upper), /unknown field "critical.image.Docker-manifest-digest"/);
    const wrongType = base();
    wrongType.critical.type = 'atomic container signature';
    assert.match(reason(wrongType), /"critical.type" is "atomic container signature"/);
    const badDigest = base();
    badDigest.critical.image['docker-manifest-digest'] = 'sha256:../../etc';
    assert.match(reason(badDigest), /not a valid digest/);
    const numeric = base();
    numeric.optional = { timestamp: 1458239713 };
    assert.match(reason(numeric), /annotation "optional.timestamp" is not a string/);
    const arrayOptional = base();
    arrayOptional.optional = ['x'];
    assert.match(reason(arrayOptional), /"optional" must be an object or null/);
  });

  it('rejects a key written twice, at the top level and nested, however it is escaped', () => {
    const text = JSON.stringify(base());
    const digestField = `"docker-manifest-digest":"${digest}"`;
    const otherCritical = JSON.stringify({ ...base().critical, image: { 'docker-manifest-digest': other } });
    const cases: Array<[string, string]> = [
      [text.replace('{"critical":', `{"critical":${otherCritical},"critical":`), 'critical'],
      [text.replace('"image":', `"image":{"docker-manifest-digest":"${other}"},"image":`), 'critical.image'],
      [
        text.replace(digestField, `"docker-manifest-digest":"${other}",${digestField}`),
        'critical.image.docker-manifest-digest',
      ],
      [
        text.replace(digestField, `"docker\\u002dmanifest-digest":"${other}",${digestField}`),
        'critical.image.docker-manifest-digest',
      ],
      [text.replace('"type":', '"type":"atomic container signature","type":'), 'critical.type'],
      [
        text.replace('"docker-reference":', '"docker-reference":"evil.example/repo","docker-reference":'),
        'critical.identity.docker-reference',
      ],
      [text.replace('"a":"b"', '"a":"other","a":"b"'), 'optional.a'],
      [text.replace('"optional":', '"optional":{"env":"prod"},"optional":'), 'optional'],
    ];
    for (const [doubled, path] of cases) {
      // JSON.parse alone keeps the last occurrence: every case here would otherwise read as valid.
      const lastWins = JSON.parse(doubled) as ReturnType<typeof base>;
      assert.equal(lastWins.critical.image['docker-manifest-digest'], digest);
      const r = tryParsePayload(Buffer.from(doubled));
      assert.ok(!r.ok, `accepted: ${doubled}`);
      assert.equal(r.reason, `payload has duplicate key "${path}"`);
    }
    assert.throws(
      () => parsePayload(Buffer.from(cases[2]![0])),
      (err) => isSluiceError(err, 'SIGNATURE_PAYLOAD_MALFORMED'),
    );
  });

  it('rejects malformed bytes with a reason', () => {
    const r1 = tryParsePayload(Buffer.from('{"critical": '));
    assert.ok(!r1.ok && /not valid JSON/.test(r1.reason));
    const r2 = tryParsePayload(Buffer.from([0x7b, 0xff, 0x7d]));
    assert.ok(!r2.ok && /not valid UTF-8/.test(r2.reason));
    const r3 = tryParsePayload(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(base()))]));
    assert.ok(!r3.ok && /not valid JSON/.test(r3.reason), 'a BOM is rejected, as Go does');
    const r4 = tryParsePayload(Buffer.alloc(MAX_PAYLOAD_BYTES + 1, 0x20));
    assert.ok(!r4.ok && /over the 131072-byte limit/.test(r4.reason));
  });

  it('keeps a "__proto__" annotation as plain data', () => {
    const r = tryParsePayload(Buffer.from(JSON.stringify(base()).replace('"a":"b"', '"__proto__":"x"')));
    assert.ok(r.ok);
    assert.equal(Object.getPrototypeOf(r.payload.annotations), Object.prototype);
    assert.equal(Object.getOwnPropertyDescriptor(r.payload.annotations, '__proto__')?.value, 'x');
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        const r = tryParsePayload(bytes);
        assert.equal(typeof r.ok, 'boolean');
      }),
      { numRuns: 500 },
    );
  });
});

describe('annotationMismatch', () => {
  it('requires every listed annotation with the exact value', () => {
    assert.equal(annotationMismatch({ env: 'prod', team: 'a' }, { env: 'prod' }), undefined);
    assert.match(annotationMismatch({ env: 'staging' }, { env: 'prod' }) ?? '', /"env" is "staging", required "prod"/);
    assert.match(annotationMismatch({}, { env: 'prod' }) ?? '', /"env" is missing/);
    assert.match(annotationMismatch({}, { toString: 'x' }) ?? '', /"toString" is missing/);
  });
});
