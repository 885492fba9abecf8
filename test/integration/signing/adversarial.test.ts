/**
 * Hostile signature storage on a real registry, written with the registry client as an
 * attacker with push access (or a lying registry) would: every case must be rejected with a
 * precise reason, never accepted and never crash the verification of the others. Limits are
 * enforced before large reads; the proxy's request log shows what was (not) downloaded.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../../helpers/cli.ts';
import { buildImage, pushImage, type LocalImage } from '../../helpers/images.ts';
import { startProxy, type ProxyHandle } from '../../helpers/proxy.ts';
import { startRegistry, type RegistryHandle } from '../../helpers/registry.ts';
import { isSluiceError } from '../../../src/errors.ts';
import type { RegistryClient } from '../../../src/oci/client.ts';
import { cosignTag } from '../../../src/oci/cosign.ts';
import { digestOf } from '../../../src/oci/digest.ts';
import { parseManifest } from '../../../src/oci/manifest.ts';
import { RegistryPool } from '../../../src/oci/pool.ts';
import { parseReference } from '../../../src/oci/reference.ts';
import { loadPublicKeys, type PublicKeySet } from '../../../src/signing/keys.ts';
import { signImage } from '../../../src/signing/sign.ts';
import { FileSigner } from '../../../src/signing/signer.ts';
import { verifyImage, type VerifyImageResult } from '../../../src/signing/verify-image.ts';
import { payloadFor, putSignatures, rawManifest, sigOf, tempDir, testKey, type TestKey } from './fixtures.ts';

let reg: RegistryHandle;
let proxy: ProxyHandle;
let pool: RegistryPool;
/** Talks to the registry directly: the attacker's (and the test's) own client. */
let direct: RegistryClient;
let k: TestKey;
let stranger: TestKey;
let keys: PublicKeySet;

before(async () => {
  reg = await startRegistry();
  proxy = await startProxy(reg);
  pool = new RegistryPool();
  direct = pool.get(reg.host);
  const dir = await tempDir();
  k = await testKey(dir, 'release');
  stranger = await testKey(dir, 'stranger');
  keys = await loadPublicKeys(k.pubFile);
});
after(async () => {
  pool?.close();
  await proxy?.close();
  await reg?.stop();
});

/** Verifies through the proxy with a fresh client, so the request log holds exactly this verification. */
async function verifyViaProxy(
  ref: string,
  options: Parameters<typeof verifyImage>[3] = {},
): Promise<VerifyImageResult> {
  const p = new RegistryPool();
  try {
    proxy.reset();
    return await verifyImage(p, parseReference(`${proxy.host}/${ref}`), keys, options);
  } finally {
    p.close();
  }
}

async function image(repo: string, tag: string): Promise<LocalImage & { pushed: string }> {
  const img = await buildImage();
  const { digest } = await pushImage(img, reg, `${repo}:${tag}`);
  return { ...img, pushed: digest };
}

const codes = (r: VerifyImageResult) => r.rejected.map((x) => x.code);
const blobGets = (digest?: string) =>
  proxy.requests.filter((r) => r.method === 'GET' && /\/blobs\//.test(r.path) && (!digest || r.path.endsWith(digest)))
    .length;

describe('forged and misplaced signatures', () => {
  test('a payload naming another digest is rejected', async () => {
    const img = await image('adv/other', '1');
    const other = await image('adv/other', '2');
    await putSignatures(direct, 'adv/other', img.pushed, [
      { payload: payloadFor(`${reg.host}/adv/other`, other.pushed), key: k.privateKey },
    ]);
    const r = await verifyViaProxy('adv/other:1');
    assert.equal(r.valid.length, 0);
    assert.deepEqual(codes(r), ['SIGNATURE_DIGEST_MISMATCH']);
    assert.equal(r.rejected[0]?.reason, `payload is signed for ${other.pushed}, not ${img.pushed}`);
  });

  test('a signed payload naming two digests (another first, the image’s last) is rejected', async () => {
    const img = await image('adv/twice', '1');
    const other = await image('adv/twice', '2');
    const text = payloadFor(`${reg.host}/adv/twice`, img.pushed).toString();
    const field = (d: string) => `"docker-manifest-digest":"${d}"`;
    const lastWins = Buffer.from(text.replace(field(img.pushed), `${field(other.pushed)},${field(img.pushed)}`));
    await putSignatures(direct, 'adv/twice', img.pushed, [{ payload: lastWins, key: k.privateKey }]);
    const r = await verifyViaProxy('adv/twice:1');
    assert.equal(r.valid.length, 0);
    assert.deepEqual(codes(r), ['SIGNATURE_PAYLOAD_MALFORMED']);
    assert.equal(r.rejected[0]?.reason, 'payload has duplicate key "critical.image.docker-manifest-digest"');
  });

  test('a valid signature moved onto another image’s .sig tag is rejected', async () => {
    const signed = await image('adv/moved', 'signed');
    const victim = await image('adv/moved', 'victim');
    await putSignatures(direct, 'adv/moved', signed.pushed, [
      { payload: payloadFor(`${reg.host}/adv/moved`, signed.pushed), key: k.privateKey },
    ]);
    assert.equal((await verifyViaProxy('adv/moved:signed')).valid.length, 1);
    // Copy the exact .sig manifest bytes under the victim's .sig tag.
    const bytes = await rawManifest(reg.url, 'adv/moved', cosignTag(signed.pushed, 'sig'));
    await direct.putManifest('adv/moved', cosignTag(victim.pushed, 'sig'), bytes, parseManifest(bytes).mediaType);
    const r = await verifyViaProxy('adv/moved:victim');
    assert.equal(r.digest, victim.pushed);
    assert.deepEqual(codes(r), ['SIGNATURE_DIGEST_MISMATCH']);
    assert.match(r.rejected[0]!.reason, new RegExp(`signed for ${signed.pushed}, not ${victim.pushed}`));
  });

  test('a payload altered after signing is rejected', async () => {
    const img = await image('adv/altered', '1');
    const original = payloadFor(`${reg.host}/adv/altered`, img.pushed, { env: 'dev' });
    const altered = payloadFor(`${reg.host}/adv/altered`, img.pushed, { env: 'prod' });
    await putSignatures(direct, 'adv/altered', img.pushed, [
      { payload: altered, signature: sigOf(original, k.privateKey) },
    ]);
    const r = await verifyViaProxy('adv/altered:1', { requiredAnnotations: { env: 'prod' } });
    assert.deepEqual(codes(r), ['SIGNATURE_INVALID']);
    assert.match(r.rejected[0]!.reason, /does not verify over the payload with key [0-9a-f]{16}/);
  });

  test('a signature by another key is rejected, naming the key tried', async () => {
    const img = await image('adv/wrongkey', '1');
    await putSignatures(direct, 'adv/wrongkey', img.pushed, [
      { payload: payloadFor(`${reg.host}/adv/wrongkey`, img.pushed), key: stranger.privateKey },
    ]);
    const r = await verifyViaProxy('adv/wrongkey:1');
    assert.deepEqual(codes(r), ['SIGNATURE_INVALID']);
    assert.match(r.rejected[0]!.reason, new RegExp(`with key ${k.keyId.slice(0, 16)}`));
    const cli = await runCli(['verify', `${reg.host}/adv/wrongkey:1`, '--key', stranger.pubFile]);
    assert.equal(cli.code, 0, 'the right key accepts it');
  });

  test('truncated, non-DER, non-base64 and missing signatures are each rejected with the reason; the valid one still counts', async () => {
    const img = await image('adv/der', '1');
    // A distinct payload per layer, each correctly signed underneath the broken encoding.
    const payloads = [0, 1, 2, 3, 4].map((i) => payloadFor(`${reg.host}/adv/der`, img.pushed, { n: String(i) }));
    const der = payloads.map((p) => Buffer.from(sigOf(p, k.privateKey), 'base64'));
    // r||s as 64 raw bytes: the IEEE P1363 form some KMS return, not what cosign stores.
    const { sign } = await import('node:crypto');
    const raw = sign('sha256', payloads[1]!, { key: k.privateKey, dsaEncoding: 'ieee-p1363' });
    await putSignatures(direct, 'adv/der', img.pushed, [
      { payload: payloads[0]!, signature: der[0]!.subarray(0, der[0]!.length - 5).toString('base64') },
      { payload: payloads[1]!, signature: raw.toString('base64') },
      { payload: payloads[2]!, signature: `${der[2]!.toString('base64')}\n` },
      { payload: payloads[3]!, signature: '' },
      { payload: payloads[4]!, key: k.privateKey },
    ]);
    const r = await verifyViaProxy('adv/der:1');
    assert.equal(r.valid.length, 1);
    assert.equal(r.valid[0]?.source, `${cosignTag(img.pushed, 'sig')}[4]`);
    assert.deepEqual(codes(r), [
      'SIGNATURE_NOT_DER',
      'SIGNATURE_NOT_DER',
      'SIGNATURE_NOT_BASE64',
      'SIGNATURE_NOT_BASE64',
    ]);
    assert.match(r.rejected[0]!.reason, /DER signature is truncated/);
    assert.equal(r.rejected[1]!.reason, 'signature is 64 raw bytes (r||s), not ASN.1 DER');
    assert.equal(r.rejected[2]!.reason, 'signature is not standard padded base64');
    assert.equal(r.rejected[3]!.reason, 'signature is missing or empty');
    // Rejections that need no payload are decided before it is fetched: only the valid layer's is.
    for (const p of payloads.slice(0, 4)) assert.equal(blobGets(digestOf(p)), 0);
    assert.ok(blobGets(digestOf(payloads[4]!)) >= 1);
  });

  test('layers of another media type are not signatures', async () => {
    const img = await image('adv/mt', '1');
    await putSignatures(direct, 'adv/mt', img.pushed, [
      {
        payload: payloadFor(`${reg.host}/adv/mt`, img.pushed),
        key: k.privateKey,
        mediaType: 'application/vnd.in-toto+json',
      },
    ]);
    const r = await verifyViaProxy('adv/mt:1');
    assert.deepEqual(codes(r), ['SIGNATURE_LAYER_UNSUPPORTED']);
    assert.equal(blobGets(), 0);
  });
});

describe('floods and oversize content', () => {
  test('a .sig manifest with 10,000 layers is refused before any layer is read', async () => {
    const img = await image('adv/flood', '1');
    const payload = payloadFor(`${reg.host}/adv/flood`, img.pushed);
    const layer = { payload, key: k.privateKey };
    const { descriptors } = await putSignatures(
      direct,
      'adv/flood',
      img.pushed,
      Array.from({ length: 10_000 }, () => layer),
    );
    assert.equal(descriptors.length, 10_000);
    const err = await verifyViaProxy('adv/flood:1').catch((e: unknown) => e);
    assert.ok(isSluiceError(err, 'SIGNATURES_TOO_MANY'), String(err));
    assert.match(err.message, /has 10000 layers: over the limit of 1000 signatures per image; refusing to verify/);
    assert.equal(blobGets(), 0, 'no payload was downloaded');
    const cli = await runCli(['verify', `${reg.host}/adv/flood:1`, '--key', k.pubFile]);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /over the limit of 1000 signatures per image/);
    // Signing refuses to add to a tag verifiers would refuse to read.
    const signer = new FileSigner('test key', k.privateKey);
    const s = await signImage(pool, parseReference(`${reg.host}/adv/flood:1`), signer).catch((e: unknown) => e);
    assert.ok(isSluiceError(s, 'SIGNATURES_TOO_MANY'));
  });

  test('a 10 MiB payload is rejected without being downloaded; a size lie is caught before the body is read', async () => {
    const img = await image('adv/big', '1');
    const payload = payloadFor(`${reg.host}/adv/big`, img.pushed);
    // Valid JSON (trailing whitespace) and validly signed: only its size is wrong.
    const big = Buffer.concat([payload, Buffer.alloc(10 * 1024 * 1024 - payload.length, 0x20)]);
    const liar = Buffer.concat([payload, Buffer.alloc(10 * 1024 * 1024 - payload.length + 1, 0x20)]);
    await putSignatures(direct, 'adv/big', img.pushed, [
      { payload: big, key: k.privateKey },
      { payload: liar, key: k.privateKey, declaredSize: payload.length },
      { payload, key: k.privateKey },
    ]);
    const r = await verifyViaProxy('adv/big:1');
    assert.equal(r.valid.length, 1, 'the honest signature still verifies');
    assert.deepEqual(codes(r), ['SIGNATURE_PAYLOAD_TOO_LARGE', 'SIGNATURE_FETCH_FAILED']);
    assert.equal(
      r.rejected[0]!.reason,
      'payload is declared as 10485760 bytes, over the 131072-byte limit; not fetched',
    );
    assert.match(
      r.rejected[1]!.reason,
      new RegExp(`blob ${digestOf(liar)} is served with 10485761 bytes, the manifest says ${payload.length}`),
    );
    assert.equal(blobGets(digestOf(big)), 0, 'the 10 MiB blob was never requested');
    assert.ok(blobGets(digestOf(payload)) >= 1);
  });
});

describe('time of check, time of use', () => {
  test('verification binds to the digest it resolved, even if the tag moves before signatures are read', async () => {
    const signed = await image('adv/toctou', 'signed');
    const unsigned = await image('adv/toctou', 'unsigned');
    await putSignatures(direct, 'adv/toctou', signed.pushed, [
      { payload: payloadFor(`${reg.host}/adv/toctou`, signed.pushed), key: k.privateKey },
    ]);
    const moveTagTo = (img: LocalImage) => direct.putManifest('adv/toctou', 'live', img.bytes, img.mediaType);

    // 1) live → signed; moved to the unsigned image while the signatures are being looked up.
    await moveTagTo(signed);
    let moving: Promise<unknown> | undefined;
    proxy.inject({
      kind: 'delay',
      ms: 300,
      method: 'GET',
      path: /\/manifests\/sha256-[0-9a-f]{64}\.sig$/,
      when: () => ((moving = moveTagTo(unsigned)), true),
    });
    const r1 = await verifyViaProxy('adv/toctou:live');
    await moving;
    assert.equal(r1.digest, signed.pushed, 'the result names the digest that was verified');
    assert.equal(r1.valid.length, 1);
    assert.equal((await direct.headManifest('adv/toctou', 'live'))?.digest, unsigned.pushed, 'the tag did move');
    assert.equal(proxy.count({ path: /\/manifests\/live$/ }), 1, 'the tag was read exactly once');

    // 2) live → unsigned; moved to the signed image mid-way: its signatures must not be borrowed.
    proxy.inject({
      kind: 'delay',
      ms: 300,
      method: 'GET',
      path: /\/manifests\/sha256-[0-9a-f]{64}\.sig$/,
      when: () => ((moving = moveTagTo(signed)), true),
    });
    const r2 = await verifyViaProxy('adv/toctou:live');
    await moving;
    assert.equal(r2.digest, unsigned.pushed);
    assert.equal(r2.found, 0);
    assert.equal((await direct.headManifest('adv/toctou', 'live'))?.digest, signed.pushed);
  });

  test('signing binds to the digest it resolved, even if the tag moves before the signature is written', async () => {
    const first = await image('adv/signmove', 'a');
    const second = await image('adv/signmove', 'b');
    await direct.putManifest('adv/signmove', 'live', first.bytes, first.mediaType);
    let moving: Promise<unknown> | undefined;
    proxy.inject({
      kind: 'delay',
      ms: 300,
      method: 'POST',
      path: /\/blobs\/uploads\/$/,
      when: () => ((moving = direct.putManifest('adv/signmove', 'live', second.bytes, second.mediaType)), true),
    });
    const p = new RegistryPool();
    try {
      const [res] = await signImage(
        p,
        parseReference(`${proxy.host}/adv/signmove:live`),
        new FileSigner('k', k.privateKey),
      );
      await moving;
      assert.equal(res?.digest, first.pushed);
      assert.equal(JSON.parse(res!.payload).critical.image['docker-manifest-digest'], first.pushed);
    } finally {
      p.close();
    }
    assert.ok(await direct.headManifest('adv/signmove', cosignTag(first.pushed, 'sig')));
    assert.equal(await direct.headManifest('adv/signmove', cosignTag(second.pushed, 'sig')), undefined);
    assert.equal((await verifyViaProxy('adv/signmove:live')).found, 0, 'the image now under the tag is unsigned');
    assert.equal((await verifyViaProxy(`adv/signmove@${first.pushed}`)).valid.length, 1);
  });

  test('a registry that serves other bytes for the tag than it claims is caught at resolution', async () => {
    const img = await image('adv/lie', '1');
    const other = await image('adv/lie', '2');
    await putSignatures(direct, 'adv/lie', img.pushed, [
      { payload: payloadFor(`${reg.host}/adv/lie`, img.pushed), key: k.privateKey },
    ]);
    proxy.inject({ kind: 'replaceBody', method: 'GET', path: /\/manifests\/1$/, body: other.bytes });
    const err = await verifyViaProxy('adv/lie:1').catch((e: unknown) => e);
    assert.ok(isSluiceError(err, 'DIGEST_MISMATCH'), String(err));
    assert.match(
      err.message,
      new RegExp(`registry claims ${img.pushed} but the manifest bytes hash to ${other.pushed}`),
    );
  });
});
