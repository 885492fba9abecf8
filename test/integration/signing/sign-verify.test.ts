/**
 * sign and verify against a real Distribution registry, end to end through the CLI where a
 * user would use it: keys from `sluice keygen`, signatures checked independently with openssl
 * over the bytes the registry serves, round trips through `sluice copy`, Vault transit
 * signing, Sigstore bundles stored as referrers.
 */
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../../helpers/cli.ts';
import { buildImage, buildIndex, pushImage, skopeoInspectRaw } from '../../helpers/images.ts';
import { startRegistry, type RegistryHandle } from '../../helpers/registry.ts';
import { cosignTag } from '../../../src/oci/cosign.ts';
import { parseManifest } from '../../../src/oci/manifest.ts';
import { MediaType } from '../../../src/oci/mediatypes.ts';
import { RegistryPool } from '../../../src/oci/pool.ts';
import { parseReference } from '../../../src/oci/reference.ts';
import type { SigningAuditEntry } from '../../../src/signing/audit.ts';
import { loadPublicKeys } from '../../../src/signing/keys.ts';
import { signImage } from '../../../src/signing/sign.ts';
import { FileSigner } from '../../../src/signing/signer.ts';
import { verifyImage } from '../../../src/signing/verify-image.ts';
import { FakeVault, serve } from '../../unit/signing/fake-vault.ts';
import {
  cosignBundle,
  openssl,
  payloadFor,
  putBundleReferrer,
  putSignatures,
  rawBlob,
  rawManifest,
  tempDir,
  testKey,
} from './fixtures.ts';

const PASSWORD = 'correct horse battery staple 7d1f';
const env = { SLUICE_SIGNING_PASSWORD: PASSWORD, COSIGN_PASSWORD: undefined };

let a: RegistryHandle;
let b: RegistryHandle;
let dir: string;
let key: string;
let pub: string;

before(async () => {
  [a, b] = await Promise.all([startRegistry(), startRegistry()]);
  dir = await tempDir();
  const r = await runCli(['keygen', '--output-key-prefix', path.join(dir, 'cosign')], env);
  assert.equal(r.code, 0, r.stderr);
  key = path.join(dir, 'cosign.key');
  pub = path.join(dir, 'cosign.pub');
});
after(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

type Verified = {
  digest: string;
  found: number;
  valid: Array<{ source: string; layout: string; keyId: string; claim: { annotations: Record<string, string> } }>;
  rejected: Array<{ source: string; code: string; reason: string }>;
};

async function verifyJson(
  ref: string,
  ...args: Array<string | Record<string, string | undefined>>
): Promise<{ code: number; out: Verified; stderr: string }> {
  const extra = args.find((x) => typeof x !== 'string') ?? {};
  const flags = args.filter((x): x is string => typeof x === 'string');
  const r = await runCli(['verify', ref, '-o', 'json', ...flags], { ...env, ...extra });
  return { code: r.code, out: JSON.parse(r.stdout || '{}') as Verified, stderr: r.stderr };
}

describe('keygen', () => {
  test('writes cosign.key (encrypted, 0600) and cosign.pub that openssl reads as P-256', async () => {
    const keyText = await readFile(key, 'utf8');
    assert.match(keyText, /^-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n/);
    assert.ok(!keyText.includes(PASSWORD));
    assert.equal((await stat(key)).mode & 0o777, 0o600);
    const o = openssl(['pkey', '-pubin', '-in', pub, '-noout', '-text']);
    assert.equal(o.status, 0, o.stderr);
    assert.match(o.stdout, /ASN1 OID: prime256v1/);
    const again = await runCli(['keygen', '--output-key-prefix', path.join(dir, 'cosign')], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists/);
  });

  test('without a password source and without a terminal, keygen refuses', async () => {
    const r = await runCli(['keygen', '--output-key-prefix', path.join(dir, 'nopw')], {
      SLUICE_SIGNING_PASSWORD: undefined,
      COSIGN_PASSWORD: undefined,
    });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no signing-key password: set SLUICE_SIGNING_PASSWORD/);
  });
});

describe('sign', () => {
  test('writes cosign’s layout, and openssl verifies the signature over the payload bytes the registry serves', async () => {
    const img = await buildImage();
    const { digest } = await pushImage(img, a, 'acme/api:1.0.0');
    const r = await runCli(['sign', `${a.host}/acme/api:1.0.0`, '--key', key, '-a', 'env=prod', '-o', 'json'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes(PASSWORD) && !r.stderr.includes(PASSWORD));
    const [res] = JSON.parse(r.stdout) as Array<{ digest: string; signatureTag: string }>;
    assert.equal(res?.digest, digest);
    assert.equal(res?.signatureTag, cosignTag(digest, 'sig'));

    // Read back with skopeo and plain HTTP, not with Sluice.
    const raw = await skopeoInspectRaw(a, `acme/api:${cosignTag(digest, 'sig')}`);
    const m = JSON.parse(raw.toString()) as {
      mediaType: string;
      config: { mediaType: string };
      layers: Array<{ mediaType: string; digest: string; size: number; annotations: Record<string, string> }>;
    };
    assert.equal(m.mediaType, MediaType.OciManifest);
    assert.equal(m.config.mediaType, MediaType.OciConfig);
    assert.equal(m.layers.length, 1);
    const layer = m.layers[0]!;
    assert.equal(layer.mediaType, 'application/vnd.dev.cosign.simplesigning.v1+json');
    const payload = await rawBlob(a.url, 'acme/api', layer.digest);
    assert.equal(payload.length, layer.size);
    assert.deepEqual(JSON.parse(payload.toString()), {
      critical: {
        identity: { 'docker-reference': `${a.host}/acme/api` },
        image: { 'docker-manifest-digest': digest },
        type: 'cosign container image signature',
      },
      optional: { env: 'prod' },
    });
    const payloadFile = path.join(dir, 'payload.json');
    const sigFile = path.join(dir, 'payload.sig');
    await writeFile(payloadFile, payload);
    await writeFile(sigFile, Buffer.from(layer.annotations['dev.cosignproject.cosign/signature']!, 'base64'));
    const ok = openssl(['dgst', '-sha256', '-verify', pub, '-signature', sigFile, payloadFile]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /Verified OK/);
    // The check is not vacuous: one byte more and openssl refuses.
    await writeFile(payloadFile, Buffer.concat([payload, Buffer.from(' ')]));
    assert.notEqual(openssl(['dgst', '-sha256', '-verify', pub, '-signature', sigFile, payloadFile]).status, 0);
  });

  test('sign → verify; a second signature is appended, the first is kept byte for byte', async () => {
    const img = await buildImage();
    const { digest } = await pushImage(img, a, 'acme/append:1');
    const ref = `${a.host}/acme/append:1`;
    assert.equal((await runCli(['sign', ref, '--key', key], env)).code, 0);
    const first = parseManifest(await rawManifest(a.url, 'acme/append', cosignTag(digest, 'sig')));
    assert.equal((await runCli(['sign', ref, '--key', key, '-a', 'build=42'], env)).code, 0);
    const second = parseManifest(await rawManifest(a.url, 'acme/append', cosignTag(digest, 'sig')));
    assert.equal(second.layers.length, 2);
    assert.deepEqual(second.layers[0], first.layers[0]);

    const text = await runCli(['verify', ref, '--key', pub], env);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /Valid:\s+2/);
    assert.match(text.stdout, /"docker-manifest-digest":"sha256:[0-9a-f]{64}"/);
    const v = await verifyJson(ref, '--key', pub, '-a', 'build=42');
    assert.equal(v.code, 0);
    assert.equal(v.out.digest, digest);
    assert.equal(v.out.valid.length, 1);
    assert.deepEqual(v.out.valid[0]?.claim.annotations, { build: '42' });
    assert.equal(v.out.rejected[0]?.code, 'SIGNATURE_ANNOTATION_MISMATCH');
  });

  test('-a annotation mismatch is rejected with the reason, exit 1', async () => {
    const img = await buildImage();
    await pushImage(img, a, 'acme/anno:1');
    const ref = `${a.host}/acme/anno:1`;
    assert.equal((await runCli(['sign', ref, '--key', key, '-a', 'env=staging'], env)).code, 0);
    const v = await verifyJson(ref, '--key', pub, '-a', 'env=prod');
    assert.equal(v.code, 1);
    assert.equal(v.out.valid.length, 0);
    assert.equal(v.out.rejected[0]?.code, 'SIGNATURE_ANNOTATION_MISMATCH');
    assert.equal(v.out.rejected[0]?.reason, 'annotation "env" is "staging", required "prod"');
    const text = await runCli(['verify', ref, '--key', pub, '-a', 'team=core'], env);
    assert.equal(text.code, 1);
    assert.match(
      text.stdout,
      /REJECTED\s+sha256-[0-9a-f]{64}\.sig\[0\]\n\s+SIGNATURE_ANNOTATION_MISMATCH: required annotation "team" is missing/,
    );
    assert.match(text.stderr, /no valid signature for .*: 1 rejected/);
  });

  test('verify of an unsigned image exits 1 with "no signatures found"', async () => {
    const img = await buildImage();
    const { digest } = await pushImage(img, a, 'acme/unsigned:1');
    const r = await runCli(['verify', `${a.host}/acme/unsigned:1`, '--key', pub], env);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /No signatures found/);
    assert.match(r.stderr, new RegExp(`no signatures found for ${a.host}/acme/unsigned@${digest}`));
    const j = await runCli(['verify', `${a.host}/acme/unsigned:1`, '--key', pub, '-o', 'json'], env);
    assert.equal(JSON.parse(j.stderr).error.code, 'SIGNATURE_NOT_FOUND');
    assert.equal(JSON.parse(j.stderr).error.category, 'policy-violation');
  });

  test('a wrong password fails without echoing it; keys never reach output', async () => {
    const img = await buildImage();
    await pushImage(img, a, 'acme/pw:1');
    const wrong = 'not-the-password-91c3';
    const r = await runCli(['sign', `${a.host}/acme/pw:1`, '--key', key], { SLUICE_SIGNING_PASSWORD: wrong });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /incorrect password/);
    assert.ok(!r.stderr.includes(wrong) && !r.stdout.includes(wrong));
    const keyBody = (await readFile(key, 'utf8')).split('\n')[1]!;
    assert.ok(!r.stderr.includes(keyBody));
    const usage = await runCli(['sign', `${a.host}/acme/pw:1`, '--key', key, '--password', 'x'], env);
    assert.equal(usage.code, 2, 'there is no password flag');
  });

  test('an index: the index digest is signed; --recursive signs each platform manifest too', async () => {
    const idx = await buildIndex({ platforms: ['amd64', 'arm64'] });
    const { digest } = await pushImage(idx, a, 'acme/multi:1');
    const r = await runCli(['sign', `${a.host}/acme/multi:1`, '--key', key, '-o', 'json'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      (JSON.parse(r.stdout) as Array<{ digest: string }>).map((x) => x.digest),
      [digest],
    );
    for (const child of idx.children) {
      const v = await verifyJson(`${a.host}/acme/multi@${child.digest}`, '--key', pub);
      assert.equal(v.code, 1, 'children are not signed without --recursive');
    }
    const rec = await runCli(['sign', `${a.host}/acme/multi:1`, '--key', key, '--recursive', '-o', 'json'], env);
    assert.equal(rec.code, 0, rec.stderr);
    const signed = JSON.parse(rec.stdout) as Array<{ digest: string; child: boolean }>;
    assert.deepEqual(
      signed.map((x) => x.digest),
      [digest, ...idx.children.map((c) => c.digest)],
    );
    for (const child of idx.children) {
      const v = await verifyJson(`${a.host}/acme/multi@${child.digest}`, '--key', pub);
      assert.equal(v.code, 0);
      assert.equal(v.out.digest, child.digest);
    }
    const top = await verifyJson(`${a.host}/acme/multi:1`, '--key', pub);
    assert.equal(top.out.valid.length, 2, 'the index carries both signatures');
  });

  test('two signatures by two keys both verify with a key directory', async () => {
    const keysDir = await tempDir();
    for (const name of ['team-a', 'team-b']) {
      const r = await runCli(['keygen', '--output-key-prefix', path.join(keysDir, name)], env);
      assert.equal(r.code, 0, r.stderr);
    }
    const img = await buildImage();
    await pushImage(img, a, 'acme/two:1');
    const ref = `${a.host}/acme/two:1`;
    for (const name of ['team-a', 'team-b']) {
      assert.equal((await runCli(['sign', ref, '--key', path.join(keysDir, `${name}.key`)], env)).code, 0);
    }
    const pubDir = await tempDir();
    for (const name of ['team-a', 'team-b']) {
      await writeFile(path.join(pubDir, `${name}.pub`), await readFile(path.join(keysDir, `${name}.pub`)));
    }
    const v = await verifyJson(ref, '--key', pubDir);
    assert.equal(v.code, 0);
    const ids = (await loadPublicKeys(pubDir)).keys.map((k) => k.keyId).sort();
    assert.deepEqual(v.out.valid.map((x) => x.keyId).sort(), ids);
    const onlyA = await verifyJson(ref, '--key', path.join(pubDir, 'team-a.pub'));
    assert.equal(onlyA.out.valid.length, 1);
    assert.equal(onlyA.out.rejected[0]?.code, 'SIGNATURE_INVALID');
  });

  test('--referrer also stores the signature as an OCI referrer; verify reads both', async () => {
    const img = await buildImage();
    const { digest } = await pushImage(img, a, 'acme/ref:1');
    const r = await runCli(['sign', `${a.host}/acme/ref:1`, '--key', key, '--referrer', '-o', 'json'], env);
    assert.equal(r.code, 0, r.stderr);
    const [res] = JSON.parse(r.stdout) as Array<{ referrer: { digest: string; indexedBy: string } }>;
    assert.equal(res?.referrer.indexedBy, 'tag', 'Distribution 2.8 has no referrers API');
    const pool = new RegistryPool();
    try {
      const refs = await pool.get(a.host).referrers('acme/ref', digest);
      assert.deepEqual(
        refs.map((d) => [d.digest, d.artifactType]),
        [[res?.referrer.digest, MediaType.CosignSimpleSigning]],
      );
      const artifact = await pool.get(a.host).getManifest('acme/ref', res!.referrer.digest);
      assert.equal(artifact.subject?.digest, digest);
      assert.equal(artifact.artifactType, MediaType.CosignSimpleSigning);
    } finally {
      pool.close();
    }
    const v = await verifyJson(`${a.host}/acme/ref:1`, '--key', pub);
    assert.deepEqual(v.out.valid.map((x) => x.layout).sort(), ['cosign-sig', 'referrer']);
  });
});

describe('signatures travel with the image', () => {
  test('sign → copy to another repository and another registry → verify there', async () => {
    const img = await buildImage({ layers: 2 });
    const { digest } = await pushImage(img, a, 'dev/app:2.0.0');
    const src = `${a.host}/dev/app:2.0.0`;
    assert.equal((await runCli(['sign', src, '--key', key, '-a', 'stage=dev', '--referrer'], env)).code, 0);
    for (const dst of [`${a.host}/prod/app:2.0.0`, `${b.host}/mirror/app:2.0.0`]) {
      const c = await runCli(['copy', src, dst], env);
      assert.equal(c.code, 0, c.stderr);
      const v = await verifyJson(dst, '--key', pub, '-a', 'stage=dev');
      assert.equal(v.code, 0, JSON.stringify(v.out));
      assert.equal(v.out.digest, digest);
      assert.deepEqual(v.out.valid.map((x) => x.layout).sort(), ['cosign-sig', 'referrer']);
    }
    // A signature added at the destination is kept when the source is copied again.
    const dst = `${b.host}/mirror/app:2.0.0`;
    assert.equal((await runCli(['sign', dst, '--key', key, '-a', 'stage=prod'], env)).code, 0);
    assert.equal((await runCli(['sign', src, '--key', key, '-a', 'stage=qa'], env)).code, 0);
    assert.equal((await runCli(['copy', src, dst], env)).code, 0);
    const all = await verifyJson(dst, '--key', pub);
    const stages = all.out.valid.filter((x) => x.layout === 'cosign-sig').map((x) => x.claim.annotations.stage);
    assert.deepEqual(stages.sort(), ['dev', 'prod', 'qa']);
  });
});

describe('Vault transit', () => {
  test('sign with vault://transit/keys/release; verify with the Vault key and with its PEM; the token never shows', async () => {
    const vault = new FakeVault();
    const address = await serve(vault);
    const token = 'hvs.static-token';
    const venv = { ...env, VAULT_ADDR: address, VAULT_TOKEN: token };
    const img = await buildImage();
    const { digest } = await pushImage(img, a, 'acme/vault:1');
    const ref = `${a.host}/acme/vault:1`;
    const r = await runCli(['sign', ref, '--key', 'vault://transit/keys/release', '-o', 'json'], venv);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes(token) && !r.stderr.includes(token));
    assert.deepEqual(
      vault.seen.map((s) => `${s.method} ${s.url}`),
      ['GET /v1/transit/keys/release', 'POST /v1/transit/sign/release/sha2-256'],
    );
    const signedInput = Buffer.from(String(vault.seen[1]?.body?.input), 'base64');
    const v = await verifyJson(ref, '--key', 'vault://transit/keys/release', venv);
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.out.digest, digest);
    const pemFile = path.join(await tempDir(), 'vault.pub');
    await writeFile(pemFile, vault.keys.get(2)!.publicKey.export({ type: 'spki', format: 'pem' }));
    const v2 = await verifyJson(ref, '--key', pemFile);
    assert.equal(v2.code, 0);
    // What Vault signed is exactly the payload stored in the registry.
    const m = parseManifest(await rawManifest(a.url, 'acme/vault', cosignTag(digest, 'sig')));
    assert.ok((await rawBlob(a.url, 'acme/vault', m.layers[0]!.digest)).equals(signedInput));
    const denied = await runCli(['sign', ref, '--key', 'vault://transit/keys/release'], {
      ...venv,
      VAULT_TOKEN: 'hvs.revoked-9f2',
    });
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /Vault GET \/v1\/transit\/keys\/release failed with 403/);
    assert.ok(!denied.stderr.includes('hvs.revoked-9f2'));
  });
});

describe('Sigstore bundles (cosign 3) stored as referrers', () => {
  test('a key-signed bundle verifies; tlog material needs --insecure-ignore-tlog; attestations are not signatures', async () => {
    const keys = await tempDir();
    const k = await testKey(keys, 'bundle');
    const img = await buildImage();
    const { digest } = await pushImage(img, a, 'acme/bundle:1');
    const pool = new RegistryPool();
    const client = pool.get(a.host);
    const subject = { mediaType: img.mediaType, digest, size: img.size };
    try {
      await putBundleReferrer(
        client,
        'acme/bundle',
        subject,
        cosignBundle({ key: k.privateKey, subjectDigest: digest, annotations: { env: 'prod' } }),
      );
      const ok = await verifyJson(`${a.host}/acme/bundle:1`, '--key', k.pubFile, '-a', 'env=prod');
      assert.equal(ok.code, 0, JSON.stringify(ok.out));
      assert.equal(ok.out.valid[0]?.layout, 'sigstore-bundle');
      assert.equal(ok.out.valid[0]?.keyId, k.keyId);

      const tlogDigest = await putBundleReferrer(
        client,
        'acme/bundle',
        subject,
        cosignBundle({
          key: k.privateKey,
          subjectDigest: digest,
          tlogEntries: [{ logIndex: '7', kindVersion: { kind: 'dsse', version: '0.0.1' } }],
        }),
      );
      // An attestation by the same key: listed as a referrer, but never taken as an image signature.
      await putBundleReferrer(
        client,
        'acme/bundle',
        subject,
        cosignBundle({ key: k.privateKey, subjectDigest: digest, predicateType: 'https://slsa.dev/provenance/v1' }),
        'https://slsa.dev/provenance/v1',
      );
      // Mislabelled: the descriptor says image signature, the signed statement says provenance.
      await putBundleReferrer(
        client,
        'acme/bundle',
        subject,
        cosignBundle({
          key: k.privateKey,
          subjectDigest: digest,
          predicateType: 'https://slsa.dev/provenance/v1',
          annotations: { x: '1' },
        }),
      );
      const strict = await verifyJson(`${a.host}/acme/bundle:1`, '--key', k.pubFile);
      assert.equal(strict.out.found, 3);
      assert.equal(strict.out.valid.length, 1);
      const byCode = Object.fromEntries(strict.out.rejected.map((x) => [x.source, x]));
      assert.equal(byCode[`referrer ${tlogDigest}`]?.code, 'SIGNATURE_UNVERIFIABLE');
      assert.match(byCode[`referrer ${tlogDigest}`]?.reason ?? '', /1 transparency-log entry/);
      assert.ok(strict.out.rejected.some((x) => x.code === 'SIGNATURE_WRONG_TYPE'));
      const lax = await verifyJson(`${a.host}/acme/bundle:1`, '--key', k.pubFile, '--insecure-ignore-tlog');
      assert.equal(lax.out.valid.length, 2);
      const text = await runCli(
        ['verify', `${a.host}/acme/bundle:1`, '--key', k.pubFile, '--insecure-ignore-tlog'],
        env,
      );
      assert.match(text.stdout, /warning: 1 transparency-log entr\(ies\) and 0 timestamp\(s\) were NOT verified/);
    } finally {
      pool.close();
    }
  });

  test('legacy layers with Rekor or certificate material: refused like bundles, Rekor accepted with --insecure-ignore-tlog', async () => {
    const keys = await tempDir();
    const k = await testKey(keys, 'legacy');
    const img = await buildImage();
    const { digest } = await pushImage(img, a, 'acme/rekor:1');
    const pool = new RegistryPool();
    try {
      const payload = payloadFor(`${a.host}/acme/rekor`, digest);
      await putSignatures(pool.get(a.host), 'acme/rekor', digest, [
        {
          payload,
          key: k.privateKey,
          annotations: { 'dev.sigstore.cosign/bundle': '{"SignedEntryTimestamp":"AA==","Payload":{}}' },
        },
        {
          payload: payloadFor(`${a.host}/acme/rekor`, digest, { n: '2' }),
          key: k.privateKey,
          annotations: {
            'dev.sigstore.cosign/certificate': '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n',
          },
        },
      ]);
    } finally {
      pool.close();
    }
    const strict = await verifyJson(`${a.host}/acme/rekor:1`, '--key', k.pubFile);
    assert.equal(strict.code, 1);
    assert.deepEqual(
      strict.out.rejected.map((x) => x.code),
      ['SIGNATURE_UNVERIFIABLE', 'SIGNATURE_UNVERIFIABLE'],
    );
    assert.match(strict.out.rejected[0]!.reason, /Rekor transparency-log bundle that Sluice cannot verify/);
    assert.match(strict.out.rejected[1]!.reason, /certificate \(keyless signing\)/);
    const lax = await verifyJson(`${a.host}/acme/rekor:1`, '--key', k.pubFile, '--insecure-ignore-tlog');
    assert.equal(lax.code, 0);
    assert.equal(lax.out.valid.length, 1);
    assert.equal(lax.out.rejected[0]?.code, 'SIGNATURE_UNVERIFIABLE', 'certificates stay refused');
  });
});

describe('library API', () => {
  test('every signature created and every verification is audited, without secrets', async () => {
    const img = await buildImage();
    const { digest } = await pushImage(img, a, 'acme/audit:1');
    const entries: SigningAuditEntry[] = [];
    const audit = async (e: SigningAuditEntry) => void entries.push(e);
    const pool = new RegistryPool();
    try {
      const signer = await FileSigner.fromFile(key, PASSWORD);
      const ref = parseReference(`${a.host}/acme/audit:1`);
      const signed = await signImage(pool, ref, signer, { annotations: { env: 'prod' }, audit });
      assert.equal(signed.length, 1);
      const keys = await loadPublicKeys(pub);
      const ok = await verifyImage(pool, ref, keys, { requiredAnnotations: { env: 'prod' }, audit });
      assert.equal(ok.valid.length, 1);
      const bad = await verifyImage(pool, ref, keys, { requiredAnnotations: { env: 'dev' }, audit });
      assert.equal(bad.valid.length, 0);
      await assert.rejects(signImage(pool, parseReference(`${a.host}/acme/audit:missing`), signer, { audit }));
      assert.deepEqual(
        entries.map((e) => [e.action, e.result, e.digest]),
        [
          ['signature', 'success', digest],
          ['signature.verify', 'success', digest],
          ['signature.verify', 'failure', digest],
          ['signature', 'failure', ''],
        ],
      );
      assert.equal(entries[0]?.repository, `${a.host}/acme/audit`);
      assert.equal(entries[0]?.tag, '1');
      assert.equal((entries[0]?.details as { fingerprint: string }).fingerprint, signed[0]?.keyId);
      assert.deepEqual((entries[1]?.details as { trusted: string[] }).trusted, [signed[0]?.keyId]);
      assert.match(entries[2]!.reason, /no valid signature .*annotation "env" is "prod", required "dev"/);
      const all = JSON.stringify(entries);
      assert.ok(!all.includes(PASSWORD));
      assert.ok(!all.includes((await readFile(key, 'utf8')).split('\n')[1]!));
    } finally {
      pool.close();
    }
  });

  test('concurrent signers on one image: every signature ends up in the .sig manifest', async () => {
    const img = await buildImage();
    const { digest } = await pushImage(img, a, 'acme/race:1');
    const signer = await FileSigner.fromFile(key, PASSWORD);
    const n = 6;
    const pools = Array.from({ length: n }, () => new RegistryPool());
    try {
      const ref = parseReference(`${a.host}/acme/race:1`);
      const results = await Promise.all(
        pools.map((p, i) => signImage(p, ref, signer, { annotations: { signer: String(i) } })),
      );
      const m = parseManifest(await rawManifest(a.url, 'acme/race', cosignTag(digest, 'sig')));
      assert.equal(m.layers.length, n, `attempts: ${results.map((r) => r[0]?.signatures).join(',')}`);
      const v = await verifyImage(pools[0]!, ref, await loadPublicKeys(pub));
      assert.deepEqual(
        v.valid.map((x) => x.claim.annotations.signer).sort(),
        Array.from({ length: n }, (_, i) => String(i)),
      );
    } finally {
      for (const p of pools) p.close();
    }
  });
});
