import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SluiceError } from '../../../src/errors.ts';
import { digestOf } from '../../../src/oci/digest.ts';
import { MAX_MANIFEST_BYTES, parseImageConfig, parseManifest } from '../../../src/oci/manifest.ts';
import { MediaType } from '../../../src/oci/mediatypes.ts';

const d = (c: string) => 'sha256:' + c.repeat(64);
const image = {
  schemaVersion: 2,
  mediaType: MediaType.OciManifest,
  config: { mediaType: MediaType.OciConfig, digest: d('1'), size: 10 },
  layers: [{ mediaType: MediaType.OciLayerGzip, digest: d('2'), size: 20 }],
};
const index = {
  schemaVersion: 2,
  mediaType: MediaType.OciIndex,
  manifests: [
    {
      mediaType: MediaType.OciManifest,
      digest: d('3'),
      size: 30,
      platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
    },
  ],
};
const bytes = (o: unknown, indent?: number) => Buffer.from(JSON.stringify(o, null, indent));
function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as SluiceError).code;
  }
  return 'none';
}

describe('parseManifest', () => {
  it('keeps the exact bytes and their digest, whatever the formatting', () => {
    const raw = bytes(image, 3);
    const m = parseManifest(raw);
    assert.equal(m.kind, 'image');
    assert.equal(m.bytes, raw);
    assert.equal(m.digest, digestOf(raw));
    assert.equal(m.layers[0]!.size, 20);
  });
  it('parses an index with platforms', () => {
    const m = parseManifest(bytes(index));
    assert.equal(m.kind, 'index');
    assert.deepEqual(m.manifests[0]!.platform, { os: 'linux', architecture: 'arm64', variant: 'v8' });
  });
  it('checks the digest it was fetched by', () => {
    assert.equal(
      code(() => parseManifest(bytes(image), { expectedDigest: d('9') })),
      'DIGEST_MISMATCH',
    );
  });
  it('rejects documents that are both index and image (CVE-2021-41190)', () => {
    assert.match(String(code(() => parseManifest(bytes({ ...image, manifests: [] })))), /MANIFEST_INVALID/);
    assert.equal(
      code(() => parseManifest(bytes({ schemaVersion: 2, manifests: [], layers: [] }))),
      'MANIFEST_INVALID',
    );
  });
  it('rejects a Content-Type that contradicts the declared media type', () => {
    assert.equal(
      code(() => parseManifest(bytes(image), { contentType: MediaType.OciIndex })),
      'MANIFEST_INVALID',
    );
    assert.equal(parseManifest(bytes(image), { contentType: 'application/json' }).kind, 'image');
  });
  it('falls back to the Content-Type, then to the structure, when mediaType is absent', () => {
    const { mediaType: _m, ...noType } = image;
    assert.equal(
      parseManifest(bytes(noType), { contentType: MediaType.DockerManifest }).mediaType,
      MediaType.DockerManifest,
    );
    assert.equal(parseManifest(bytes(noType)).mediaType, MediaType.OciManifest);
  });
  it('names unsupported media types and schema 1', () => {
    const err = (() => {
      try {
        parseManifest(bytes({ ...image, mediaType: 'application/x-weird' }));
      } catch (e) {
        return e as SluiceError;
      }
    })();
    assert.equal(err?.code, 'MEDIA_TYPE_UNSUPPORTED');
    assert.match(err!.message, /application\/x-weird/);
    assert.equal(
      code(() => parseManifest(bytes({ schemaVersion: 1, name: 'x' }))),
      'MEDIA_TYPE_UNSUPPORTED',
    );
  });
  it('rejects malformed descriptors with the field path', () => {
    assert.throws(
      () => parseManifest(bytes({ ...image, layers: [{ mediaType: 'x', digest: 'sha256:zz', size: 1 }] })),
      /layers\[0\]\.digest/,
    );
    assert.throws(
      () => parseManifest(bytes({ ...image, layers: [{ mediaType: 'x', digest: d('2'), size: -1 }] })),
      /layers\[0\]\.size/,
    );
    assert.throws(() => parseManifest(Buffer.from('{not json')), /not valid JSON/);
  });
  it('refuses documents over 4 MiB', () => {
    const big = Buffer.alloc(MAX_MANIFEST_BYTES + 1, 0x20);
    assert.equal(
      code(() => parseManifest(big)),
      'MANIFEST_TOO_LARGE',
    );
  });
  it('reads subject and artifactType of OCI artifacts', () => {
    const m = parseManifest(
      bytes({
        ...image,
        artifactType: 'application/x-sbom',
        subject: { mediaType: MediaType.OciManifest, digest: d('4'), size: 5 },
      }),
    );
    assert.equal(m.artifactType, 'application/x-sbom');
    assert.equal(m.subject?.digest, d('4'));
  });
});

describe('parseImageConfig', () => {
  it('reads labels, user, created and platform', () => {
    const cfg = parseImageConfig(
      bytes({
        created: '2026-01-01T00:00:00Z',
        architecture: 'amd64',
        os: 'linux',
        config: { User: '1001', Labels: { version: '1.0.0' } },
        rootfs: { diff_ids: [d('5')] },
      }),
    );
    assert.deepEqual(cfg.labels, { version: '1.0.0' });
    assert.equal(cfg.user, '1001');
    assert.equal(cfg.architecture, 'amd64');
    assert.deepEqual(cfg.diffIds, [d('5')]);
  });
});
