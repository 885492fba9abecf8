/**
 * The client against every authentication variant of a real registry (htpasswd, token auth
 * with a real token server, TLS with a generated CA) and against registries that misbehave:
 * wrong passwords, lies about digests, oversize and unknown manifests, redirects to another
 * host, transient failures, looping pagination.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runCli, writeAuthFile } from '../../helpers/cli.ts';
import { buildImage, pushImage, skopeoDigest, skopeoListTags } from '../../helpers/images.ts';
import { startBlobHost, startProxy } from '../../helpers/proxy.ts';
import { startRegistry, type RegistryHandle } from '../../helpers/registry.ts';
import { CopyEngine } from '../../../src/oci/copy.ts';
import { CredentialStore } from '../../../src/oci/credentials.ts';
import { RegistryPool } from '../../../src/oci/pool.ts';
import { parseReference } from '../../../src/oci/reference.ts';
import { isSluiceError } from '../../../src/errors.ts';

describe('htpasswd', () => {
  let reg: RegistryHandle;
  let digest: string;
  before(async () => {
    reg = await startRegistry({ auth: 'htpasswd' });
    ({ digest } = await pushImage(await buildImage({ layers: 2 }), reg, 'team/app:1'));
  });
  after(async () => reg?.stop());

  test('inspect and copy with credentials from an auth file', async () => {
    const authfile = await writeAuthFile({ [reg.host]: { user: 'alice', password: 'alice-secret' } });
    const r = await runCli([
      '--authfile',
      authfile,
      'copy',
      `${reg.host}/team/app:1`,
      `${reg.host}/team/copy:1`,
      '-o',
      'json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).digest, digest);
    assert.equal(await skopeoDigest(reg, 'team/copy:1'), digest);
  });

  test('a wrong password fails with exit 1, naming the user but never the password', async () => {
    const authfile = await writeAuthFile({ [reg.host]: { user: 'alice', password: 'not-the-password' } });
    const r = await runCli(['--authfile', authfile, 'inspect', `${reg.host}/team/app:1`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /authentication failed as alice/);
    assert.ok(!r.stderr.includes('not-the-password'));
    const anonymous = await runCli(['inspect', `${reg.host}/team/app:1`], { REGISTRY_AUTH_FILE: '/nonexistent' });
    assert.equal(anonymous.code, 1);
    assert.match(anonymous.stderr, /UNAUTHORIZED|authentication failed anonymously/);
  });
});

describe('token auth', () => {
  let reg: RegistryHandle;
  let digest: string;
  before(async () => {
    reg = await startRegistry({ auth: 'token', token: { anonymousPull: false } });
    ({ digest } = await pushImage(await buildImage({ layers: 3 }), reg, 'team/svc:1'));
  });
  after(async () => reg?.stop());

  test('the bearer challenge flow: one token per scope set, cached, mount with two scopes', async () => {
    const creds = new CredentialStore({
      env: {},
      explicit: { [reg.host]: { username: 'alice', password: 'alice-secret' } },
    });
    const pool = new RegistryPool({ credentials: creds, registries: { [reg.host]: { referrers: 'tags' } } });
    try {
      reg.tokenServer!.reset();
      const r = await new CopyEngine(pool).copy({
        source: parseReference(`${reg.host}/team/svc:1`),
        target: { registry: reg.host, repository: 'team/svc-staging', tag: '1' },
      });
      assert.equal(r.blobs.mounted, 4);
      const reqs = reg.tokenServer!.requests;
      assert.ok(reqs.every((q) => q.authenticated && q.user === 'alice'));
      assert.ok(
        reqs.some(
          (q) =>
            q.scopes.includes('repository:team/svc-staging:pull,push') && q.scopes.includes('repository:team/svc:pull'),
        ),
        'a mount asks for push on the target and pull on the source in one token',
      );
      assert.ok(reqs.length <= 4, `tokens are cached per scope set (${reqs.length} token requests)`);
      assert.equal(await skopeoDigest(reg, 'team/svc-staging:1'), digest);
    } finally {
      pool.close();
    }
  });

  test('an expired token is refreshed on 401 without failing the operation', async () => {
    const creds = new CredentialStore({
      env: {},
      explicit: { [reg.host]: { username: 'alice', password: 'alice-secret' } },
    });
    const pool = new RegistryPool({ credentials: creds });
    reg.tokenServer!.setLifetime(1);
    try {
      const client = pool.get(reg.host);
      assert.equal((await client.headManifest('team/svc', '1'))?.digest, digest);
      await new Promise((r) => setTimeout(r, 2200));
      reg.tokenServer!.reset();
      // The first token has expired; the one fetched now must outlive a slow machine's round trip.
      reg.tokenServer!.setLifetime(300);
      assert.equal((await client.headManifest('team/svc', '1'))?.digest, digest);
      assert.ok(reg.tokenServer!.requests.length >= 1, 'a fresh token was fetched');
    } finally {
      reg.tokenServer!.setLifetime(300);
      pool.close();
    }
  });

  test('a pull-only user cannot push: forbidden, and no tag is created', async () => {
    const creds = new CredentialStore({
      env: {},
      explicit: { [reg.host]: { username: 'reader', password: 'reader-secret' } },
    });
    const pool = new RegistryPool({ credentials: creds, registries: { [reg.host]: { referrers: 'tags' } } });
    try {
      await assert.rejects(
        new CopyEngine(pool).copy({
          source: parseReference(`${reg.host}/team/svc:1`),
          target: { registry: reg.host, repository: 'team/nope', tag: '1' },
        }),
        (err: unknown) => isSluiceError(err) && (err.category === 'unauthorized' || err.category === 'forbidden'),
      );
    } finally {
      pool.close();
    }
    assert.deepEqual(await skopeoListTags(reg, 'team/nope').catch(() => []), []);
  });
});

describe('TLS with a private CA', () => {
  let reg: RegistryHandle;
  before(async () => {
    reg = await startRegistry({ tls: true });
    await pushImage(await buildImage({ layers: 1 }), reg, 'tls/app:1');
  });
  after(async () => reg?.stop());

  test('untrusted without the CA, works with --ca-file', async () => {
    const untrusted = await runCli(['inspect', `${reg.host}/tls/app:1`]);
    assert.equal(untrusted.code, 1);
    assert.match(untrusted.stderr, /TLS certificate not trusted/);
    const trusted = await runCli(['--ca-file', reg.caFile!, 'inspect', `${reg.host}/tls/app:1`, '-o', 'json']);
    assert.equal(trusted.code, 0, trusted.stderr);
    assert.match(JSON.parse(trusted.stdout).digest, /^sha256:/);
  });
});

describe('misbehaving registries', () => {
  let reg: RegistryHandle;
  let target: RegistryHandle;
  let digest: string;
  let layer: string;
  before(async () => {
    [reg, target] = await Promise.all([startRegistry({ auth: 'htpasswd' }), startRegistry()]);
    const img = await buildImage({ layers: 2, layerBytes: 100_000, random: true });
    ({ digest } = await pushImage(img, reg, 'src/app:1'));
    layer = img.layers[0]!.digest;
  });
  after(async () => {
    await reg?.stop();
    await target?.stop();
  });

  async function viaProxy(
    setup: (p: Awaited<ReturnType<typeof startProxy>>) => void,
    args: (host: string) => string[],
  ) {
    const proxy = await startProxy(reg);
    setup(proxy);
    try {
      const authfile = await writeAuthFile({ [proxy.host]: { user: 'alice', password: 'alice-secret' } });
      return { proxy, result: await runCli(['--authfile', authfile, ...args(proxy.host), '-o', 'json']) };
    } finally {
      await proxy.close();
    }
  }

  test('a registry that lies about a digest: abort, nothing written to the target', async () => {
    const { result } = await viaProxy(
      (p) => p.inject({ kind: 'corrupt', method: 'GET', path: new RegExp(`/blobs/${layer}`), times: Infinity }),
      (host) => ['copy', `${host}/src/app:1`, `${target.host}/dst/lied:1`],
    );
    assert.equal(result.code, 1);
    assert.equal(JSON.parse(result.stderr).error.code, 'DIGEST_MISMATCH');
    assert.deepEqual(await skopeoListTags(target, 'dst/lied').catch(() => []), [], 'no tag');
    const blob = await fetch(`${target.url}/v2/dst/lied/blobs/${layer}`, { method: 'HEAD' });
    assert.equal(blob.status, 404, 'the corrupted blob was never committed');
  });

  test('a manifest over 4 MiB is refused', async () => {
    const big = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      annotations: { pad: 'x'.repeat(5 * 1024 * 1024) },
    });
    const { result } = await viaProxy(
      (p) => p.inject({ kind: 'replaceBody', body: big, method: 'GET', path: /\/manifests\/1$/, times: Infinity }),
      (host) => ['inspect', `${host}/src/app:1`],
    );
    assert.equal(result.code, 1);
    assert.equal(JSON.parse(result.stderr).error.code, 'MANIFEST_TOO_LARGE');
  });

  test('an unknown media type is named', async () => {
    const weird = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.example.thing.v1+json',
      layers: [],
      config: { mediaType: 'x', digest, size: 1 },
    });
    const { result } = await viaProxy(
      (p) =>
        p.inject({
          kind: 'replaceBody',
          body: weird,
          contentType: 'application/vnd.example.thing.v1+json',
          method: 'GET',
          path: /\/manifests\/1$/,
          times: Infinity,
        }),
      (host) => ['inspect', `${host}/src/app:1`],
    );
    assert.equal(result.code, 1);
    const err = JSON.parse(result.stderr).error;
    assert.equal(err.code, 'MEDIA_TYPE_UNSUPPORTED');
    assert.match(err.message, /application\/vnd\.example\.thing\.v1\+json/);
  });

  test('a blob download redirected to another host is followed without the Authorization header', async () => {
    const blobHost = await startBlobHost(reg);
    try {
      const { result } = await viaProxy(
        (p) => p.redirectBlobs(blobHost),
        (host) => ['copy', `${host}/src/app:1`, `${target.host}/dst/redirected:1`],
      );
      assert.equal(result.code, 0, result.stderr);
      assert.ok(blobHost.requests.length >= 2, 'blobs came from the other host');
      for (const r of blobHost.requests)
        assert.equal(r.headers.authorization, undefined, 'no credentials to another host');
      assert.equal(await skopeoDigest(target, 'dst/redirected:1'), digest);
    } finally {
      await blobHost.close();
    }
  });

  test('transient failures (503 with Retry-After, connection resets) are retried', async () => {
    const { result } = await viaProxy(
      (p) => {
        p.inject({
          kind: 'status',
          status: 503,
          headers: { 'retry-after': '1' },
          method: 'GET',
          path: /\/manifests\//,
          times: 1,
        });
        p.inject({ kind: 'reset', method: 'GET', path: /\/blobs\//, times: 2 });
      },
      (host) => ['copy', `${host}/src/app:1`, `${target.host}/dst/retried:1`],
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await skopeoDigest(target, 'dst/retried:1'), digest);
  });

  test('a tag list whose next link repeats is refused, never acted on', async () => {
    const { result } = await viaProxy(
      (p) =>
        p.inject({
          kind: 'replaceBody',
          body: JSON.stringify({ name: 'src/app', tags: ['1'] }),
          headers: { link: '</v2/src/app/tags/list?n=1&last=1>; rel="next"' },
          method: 'GET',
          path: /\/tags\/list$/,
          times: Infinity,
        }),
      (host) => ['ls', `${host}/src/app`],
    );
    assert.equal(result.code, 1);
    assert.equal(JSON.parse(result.stderr).error.code, 'PAGINATION_INVALID');
  });
});
