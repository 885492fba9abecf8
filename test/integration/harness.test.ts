/**
 * Proves the integration harness itself: every later integration test trusts these helpers,
 * so each capability is exercised against the real registry, skopeo and umoci here.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { httpRequest, registryRequest } from '../helpers/http.ts';
import {
  buildImage,
  buildIndex,
  DOCKER_MANIFEST,
  DOCKER_MANIFEST_LIST,
  isLargeImageCached,
  largeImage,
  OCI_INDEX,
  OCI_MANIFEST,
  pullImage,
  pushImage,
  skopeo,
  skopeoArgsFor,
  skopeoDelete,
  skopeoDigest,
  skopeoInspect,
  skopeoInspectConfig,
  skopeoInspectRaw,
  skopeoListTags,
  type LocalImage,
} from '../helpers/images.ts';
import { startEventSink } from '../helpers/event-sink.ts';
import { CommandError, makeTempDir, sleep } from '../helpers/proc.ts';
import { startBlobHost, startProxy } from '../helpers/proxy.ts';
import { garbageCollect, startRegistry, type RegistryHandle } from '../helpers/registry.ts';
import { getTestPki } from '../helpers/tls.ts';
import { libtrustKeyId, parseScope } from '../helpers/token-server.ts';

const ACCEPT_ALL =
  'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, ' +
  'application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json';

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function json(data: Buffer): Record<string, unknown> {
  return JSON.parse(data.toString('utf8')) as Record<string, unknown>;
}

async function rejectsWithStderr(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof CommandError, `expected CommandError, got ${String(error)}`);
    assert.match(error.stderr, pattern);
    return true;
  });
}

/** Small images shared by several tests; building them once keeps the file fast. */
let image: LocalImage;
let index: LocalImage;

before(async () => {
  image = await buildImage({
    layers: 3,
    labels: { 'org.opencontainers.image.source': 'https://example.test/sluice', team: 'platform' },
    user: '1000:1000',
    arch: 'arm64',
  });
  index = await buildIndex({ platforms: ['amd64', 'arm64/v8'], layers: 2 });
});

describe('images', () => {
  test('buildImage writes distinct layers, labels, user and architecture', () => {
    assert.equal(image.kind, 'image');
    assert.equal(image.mediaType, OCI_MANIFEST);
    assert.equal(image.layers.length, 3);
    assert.equal(new Set(image.layers.map((l) => l.digest)).size, 3, 'layer digests must differ');
    assert.equal(sha256(image.bytes), image.digest);
    assert.equal(image.platform?.architecture, 'arm64');
  });

  test('a seed makes builds reproducible and different seeds differ', async () => {
    const a = await buildImage({ layers: 2, seed: 'alpha' });
    const b = await buildImage({ layers: 2, seed: 'alpha' });
    const c = await buildImage({ layers: 2, seed: 'beta' });
    const unseeded = await buildImage({ layers: 2 });
    assert.equal(a.digest, b.digest);
    assert.notEqual(a.digest, c.digest);
    assert.notEqual(a.digest, unseeded.digest);
    assert.notEqual(a.layers[0]!.digest, c.layers[0]!.digest);
  });

  test('random layers are incompressible', async () => {
    const img = await buildImage({ layers: 1, layerBytes: 256 * 1024, random: true });
    assert.ok(img.layers[0]!.size > 256 * 1024, `gzip of random data should not shrink: ${img.layers[0]!.size}`);
    const text = await buildImage({ layers: 1, layerBytes: 256 * 1024 });
    assert.ok(text.layers[0]!.size < 16 * 1024, `text layers compress: ${text.layers[0]!.size}`);
  });

  test('buildIndex points a ref at an OCI index with one manifest per platform', () => {
    assert.equal(index.kind, 'index');
    assert.equal(index.mediaType, OCI_INDEX);
    assert.equal(sha256(index.bytes), index.digest);
    const platforms = index.children.map((c) => c.platform);
    assert.deepEqual(platforms, [
      { architecture: 'amd64', os: 'linux' },
      { architecture: 'arm64', os: 'linux', variant: 'v8' },
    ]);
    assert.notEqual(index.children[0]!.digest, index.children[1]!.digest);
  });
});

describe('anonymous registry', () => {
  let registry: RegistryHandle;
  before(async () => {
    registry = await startRegistry();
  });
  after(() => registry.stop());

  test('answers /v2/ and keeps the OCI digest on push', async () => {
    assert.equal(registry.auth, 'none');
    assert.match(registry.host, /^127\.0\.0\.1:\d+$/);
    const res = await httpRequest(`${registry.url}/v2/`);
    assert.equal(res.status, 200);
    const pushed = await pushImage(image, registry, 'team/app:1.0');
    assert.equal(pushed.digest, image.digest);
    assert.equal(await skopeoDigest(registry, 'team/app:1.0'), image.digest);
  });

  test('skopeo inspect shows labels, user and architecture', async () => {
    await pushImage(image, registry, 'team/app:inspect');
    const info = await skopeoInspect(registry, 'team/app:inspect');
    assert.deepEqual(info.Labels, {
      'org.opencontainers.image.source': 'https://example.test/sluice',
      team: 'platform',
    });
    assert.equal(info.Architecture, 'arm64');
    assert.equal(info.Os, 'linux');
    const config = await skopeoInspectConfig(registry, 'team/app:inspect');
    assert.equal((config.config as { User?: string }).User, '1000:1000');
  });

  test('an index pushed with --all keeps both platforms', async () => {
    const pushed = await pushImage(index, registry, 'team/multi:1.0');
    assert.equal(pushed.digest, index.digest);
    const raw = json(await skopeoInspectRaw(registry, 'team/multi:1.0'));
    assert.equal(raw.mediaType, OCI_INDEX);
    const manifests = raw.manifests as Array<{ platform: { architecture: string } }>;
    assert.deepEqual(
      manifests.map((m) => m.platform.architecture),
      ['amd64', 'arm64'],
    );
    // Every child really is in the registry, not only the index.
    for (const child of index.children) {
      const res = await httpRequest(`${registry.url}/v2/team/multi/manifests/${child.digest}`, {
        method: 'HEAD',
        headers: { accept: ACCEPT_ALL },
      });
      assert.equal(res.status, 200);
    }
  });

  test('format v2s2 yields Docker media types for images and indexes', async () => {
    const single = await pushImage(image, registry, 'team/docker:img', { format: 'v2s2' });
    const manifest = json(await skopeoInspectRaw(registry, 'team/docker:img'));
    assert.equal(manifest.mediaType, DOCKER_MANIFEST);
    assert.equal(
      (manifest.config as { mediaType: string }).mediaType,
      'application/vnd.docker.container.image.v1+json',
    );
    assert.notEqual(single.digest, image.digest);

    const list = await pushImage(index, registry, 'team/docker:list', { format: 'v2s2' });
    const raw = await skopeoInspectRaw(registry, 'team/docker:list');
    assert.equal(json(raw).mediaType, DOCKER_MANIFEST_LIST);
    assert.equal(sha256(raw), list.digest);
  });

  test('tags, delete, garbage-collect, kill and restart on the same storage', async () => {
    const throwaway = await buildImage({ layers: 1, layerBytes: 4096, random: true });
    await pushImage(throwaway, registry, 'gc/app:old');
    await pushImage(image, registry, 'gc/app:keep');
    assert.deepEqual((await skopeoListTags(registry, 'gc/app')).sort(), ['keep', 'old']);

    await skopeoDelete(registry, `gc/app@${throwaway.digest}`);
    assert.deepEqual(await skopeoListTags(registry, 'gc/app'), ['keep']);
    const layer = throwaway.layers[0]!.digest;
    const output = await garbageCollect(registry);
    assert.match(output, new RegExp(`blob eligible for deletion: ${layer}`));

    await registry.kill();
    assert.equal(registry.running(), false);
    await assert.rejects(httpRequest(`${registry.url}/v2/`), { code: 'ECONNREFUSED' });
    await registry.restart();
    assert.equal((await httpRequest(`${registry.url}/v2/gc/app/blobs/${layer}`, { method: 'HEAD' })).status, 404);
    assert.equal(await skopeoDigest(registry, 'gc/app:keep'), image.digest);
  });

  test('readonly and delete-disabled modes', async () => {
    await registry.restart({ readonly: true });
    try {
      await rejectsWithStderr(pushImage(image, registry, 'ro/app:1'), /405|not allowed|unsupported/i);
      const del = await httpRequest(`${registry.url}/v2/team/app/manifests/${image.digest}`, { method: 'DELETE' });
      assert.equal(del.status, 405);
    } finally {
      await registry.restart({ readonly: false, deleteEnabled: false });
    }
    const del = await httpRequest(`${registry.url}/v2/team/app/manifests/${image.digest}`, { method: 'DELETE' });
    assert.equal(del.status, 405);
    assert.match(del.body.toString(), /UNSUPPORTED/);
    await registry.restart({ deleteEnabled: true });
  });
});

describe('htpasswd registry', () => {
  let registry: RegistryHandle;
  before(async () => {
    registry = await startRegistry({ auth: 'htpasswd' });
  });
  after(() => registry.stop());

  test('the right password pushes, a wrong one and none are refused', async () => {
    assert.deepEqual(registry.users, { alice: 'alice-secret', reader: 'reader-secret' });
    await pushImage(image, registry, 'secure/app:1');
    assert.equal(await skopeoDigest(registry, 'secure/app:1'), image.digest);
    await rejectsWithStderr(
      skopeoInspectRaw(registry, 'secure/app:1', { password: 'wrong' }),
      /unauthorized|authentication required/i,
    );
    await rejectsWithStderr(
      skopeoInspectRaw(registry, 'secure/app:1', { anonymous: true }),
      /unauthorized|authentication required/i,
    );
    const res = await registryRequest(registry, '/v2/_catalog');
    assert.deepEqual(json(res.body), { repositories: ['secure/app'] });
  });
});

describe('token registry', () => {
  let registry: RegistryHandle;
  before(async () => {
    registry = await startRegistry({ auth: 'token' });
  });
  after(() => registry.stop());

  test('alice pushes, reader pulls but cannot push, and the token server saw it all', async () => {
    const tokens = registry.tokenServer!;
    tokens.reset();
    await pushImage(image, registry, 'tok/app:1');
    const pushRequests = tokens.requests.filter((r) => r.scopes.some((s) => s.includes('push')));
    assert.ok(pushRequests.length > 0, 'skopeo asked for a push token');
    assert.ok(pushRequests.every((r) => r.user === 'alice' && r.authorization && r.authenticated));
    assert.deepEqual(pushRequests.at(-1)!.granted, [
      { type: 'repository', name: 'tok/app', actions: ['pull', 'push'] },
    ]);
    assert.equal(pushRequests.at(-1)!.service, 'sluice-test-registry');

    tokens.reset();
    assert.equal(await skopeoDigest(registry, 'tok/app:1', { user: 'reader' }), image.digest);
    await rejectsWithStderr(
      pushImage(image, registry, 'tok/app:2', { access: { user: 'reader' } }),
      /unauthorized|authentication required|denied/i,
    );
    const readerRequests = tokens.requests.filter((r) => r.user === 'reader');
    assert.ok(readerRequests.length >= 2);
    assert.ok(readerRequests.every((r) => r.granted.every((g) => g.actions.join() === 'pull')));
  });

  test('bad credentials get 401 and anonymous gets no access without anonymousPull', async () => {
    const tokens = registry.tokenServer!;
    const bad = await httpRequest(`${tokens.realm}?service=${tokens.service}&scope=repository:tok/app:pull`, {
      headers: { authorization: `Basic ${Buffer.from('alice:nope').toString('base64')}` },
    });
    assert.equal(bad.status, 401);
    assert.equal(tokens.requests.at(-1)!.authenticated, false);
    await rejectsWithStderr(
      skopeoInspectRaw(registry, 'tok/app:1', { anonymous: true }),
      /unauthorized|authentication required/i,
    );
    assert.equal(tokens.requests.at(-1)!.authorization, false);
    assert.deepEqual(tokens.requests.at(-1)!.granted, []);
  });

  test('OAuth2 POST with password and refresh_token grants', async () => {
    const tokens = registry.tokenServer!;
    const form = (fields: Record<string, string>) => ({
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
    const first = await httpRequest(
      tokens.realm,
      form({
        grant_type: 'password',
        username: 'alice',
        password: 'alice-secret',
        service: tokens.service,
        client_id: 'sluice',
        access_type: 'offline',
        scope: 'repository:tok/app:pull repository:tok/other:pull,push',
      }),
    );
    assert.equal(first.status, 200);
    const body = json(first.body) as { access_token: string; refresh_token: string; expires_in: number };
    assert.ok(body.refresh_token);
    assert.equal(tokens.requests.at(-1)!.granted.length, 2);
    assert.equal(tokens.requests.at(-1)!.query.password?.[0], '<redacted>');

    const refreshed = await httpRequest(
      tokens.realm,
      form({
        grant_type: 'refresh_token',
        refresh_token: body.refresh_token,
        service: tokens.service,
        scope: 'repository:tok/app:pull',
      }),
    );
    assert.equal(refreshed.status, 200);
    assert.equal(tokens.requests.at(-1)!.user, 'alice');
    const res = await httpRequest(`${registry.url}/v2/tok/app/tags/list`, {
      headers: { authorization: `Bearer ${(json(refreshed.body) as { access_token: string }).access_token}` },
    });
    assert.equal(res.status, 200);

    const wrong = await httpRequest(
      tokens.realm,
      form({ grant_type: 'password', username: 'alice', password: 'x', service: tokens.service }),
    );
    assert.equal(wrong.status, 401);
  });

  test('a short lifetime really expires at the registry (leeway compensated)', async () => {
    const tokens = registry.tokenServer!;
    tokens.setLifetime(1);
    try {
      const url = `${tokens.realm}?service=${tokens.service}&scope=repository:tok/app:pull`;
      const issued = await httpRequest(url, {
        headers: { authorization: `Basic ${Buffer.from('reader:reader-secret').toString('base64')}` },
      });
      const { token, expires_in } = json(issued.body) as { token: string; expires_in: number };
      assert.equal(expires_in, 1);
      const use = () =>
        httpRequest(`${registry.url}/v2/tok/app/tags/list`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal((await use()).status, 200);
      await sleep(2100);
      const expired = await use();
      assert.equal(expired.status, 401);
      assert.match(String(expired.headers['www-authenticate']), /error="invalid_token"/);
    } finally {
      tokens.setLifetime(300);
    }
  });

  test('anonymousPull, RS256 and x5c-referenced keys work end to end', async () => {
    const other = await startRegistry({
      auth: 'token',
      token: { anonymousPull: true, alg: 'RS256', keyReference: 'x5c' },
    });
    try {
      await pushImage(image, other, 'pub/app:1');
      assert.equal(await skopeoDigest(other, 'pub/app:1', { anonymous: true }), image.digest);
      await rejectsWithStderr(
        pushImage(image, other, 'pub/app:2', { access: { anonymous: true } }),
        /unauthorized|authentication required|denied/i,
      );
      const anonymous = other.tokenServer!.requests.filter((r) => !r.authorization);
      assert.ok(anonymous.length > 0);
      assert.ok(anonymous.every((r) => r.granted.every((g) => g.actions.join() === 'pull')));
    } finally {
      await other.stop();
    }
  });

  test('scope parsing and libtrust key IDs', () => {
    assert.deepEqual(parseScope('repository:127.0.0.1:5000/team/app:pull,push'), {
      type: 'repository',
      name: '127.0.0.1:5000/team/app',
      actions: ['pull', 'push'],
    });
    assert.deepEqual(parseScope('repository(plugin):x/y:pull'), {
      type: 'repository',
      class: 'plugin',
      name: 'x/y',
      actions: ['pull'],
    });
    assert.equal(parseScope('nonsense'), undefined);
    assert.match(libtrustKeyId(Buffer.from('key')), /^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$/);
  });
});

describe('TLS registry', () => {
  let registry: RegistryHandle;
  before(async () => {
    registry = await startRegistry({ tls: true, auth: 'token' });
  });
  after(() => registry.stop());

  test('skopeo succeeds with the CA and fails without it', async () => {
    const pki = await getTestPki();
    assert.equal(registry.caFile, pki.caFile);
    assert.match(registry.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.match(registry.tokenServer!.realm, /^https:/);
    await pushImage(image, registry, 'tls/app:1');
    assert.equal(await skopeoDigest(registry, 'tls/app:1'), image.digest);
    await rejectsWithStderr(skopeoInspectRaw(registry, 'tls/app:1', { trustCa: false }), /x509|certificate/i);
    const direct = await httpRequest(`${registry.url}/v2/`, { caPem: pki.caPem });
    assert.equal(direct.status, 401);
    await assert.rejects(httpRequest(`${registry.url}/v2/`), /self-signed|unable to verify|certificate/i);
  });

  test('the certificate also covers 127.0.0.2 and localhost', async () => {
    const pki = await getTestPki();
    const res = await httpRequest(`https://localhost:${registry.port}/v2/`, { caPem: pki.caPem });
    assert.equal(res.status, 401);
    const blobHost = await startBlobHost(registry, { tls: true });
    try {
      assert.match(blobHost.url, /^https:\/\/127\.0\.0\.2:/);
      assert.equal((await httpRequest(`${blobHost.url}/nothing`, { caPem: pki.caPem })).status, 404);
    } finally {
      await blobHost.close();
    }
  });
});

describe('proxy', () => {
  let registry: RegistryHandle;
  before(async () => {
    registry = await startRegistry({ auth: 'htpasswd' });
    await pushImage(image, registry, 'px/app:1');
  });
  after(() => registry.stop());

  const manifestPath = () => `/v2/px/app/manifests/${image.digest}`;
  const blobPath = () => `/v2/px/app/blobs/${image.layers[0]!.digest}`;

  test('forwards, counts requests and rewrites upload Locations', async () => {
    const proxy = await startProxy(registry);
    try {
      assert.equal(await skopeoDigest(proxy, 'px/app:1'), image.digest);
      assert.ok(proxy.count({ method: 'GET', path: /\/manifests\// }) >= 1);
      assert.ok(proxy.requests.some((r) => r.path === '/v2/' && r.status === 401));
      proxy.reset();
      assert.equal(proxy.requests.length, 0);

      const upload = await registryRequest(proxy, '/v2/px/new/blobs/uploads/', { method: 'POST' });
      assert.equal(upload.status, 202);
      assert.ok(String(upload.headers.location).startsWith(`${proxy.url}/v2/px/new/blobs/uploads/`));
      assert.deepEqual(
        proxy.requests.map((r) => [r.method, r.path, r.status]),
        [['POST', '/v2/px/new/blobs/uploads/', 202]],
      );
    } finally {
      await proxy.close();
    }
  });

  test('injects statuses, resets, delays, stalls, corruption and replaced bodies', async () => {
    const proxy = await startProxy(registry);
    try {
      const get = (p: string, timeoutMs?: number) =>
        registryRequest(proxy, p, { headers: { accept: ACCEPT_ALL }, ...(timeoutMs ? { timeoutMs } : {}) });

      const unavailable = proxy.inject({ kind: 'status', status: 503, method: 'GET', path: /\/manifests\//, times: 2 });
      assert.equal((await get(manifestPath())).status, 503);
      assert.equal((await get(manifestPath())).status, 503);
      assert.equal((await get(manifestPath())).status, 200);
      assert.equal(unavailable.hits, 2);

      proxy.inject({ kind: 'status', status: 429, headers: { 'retry-after': '1' }, path: /\/manifests\// });
      const limited = await get(manifestPath());
      assert.equal(limited.status, 429);
      assert.equal(limited.headers['retry-after'], '1');
      assert.match(limited.body.toString(), /TOOMANYREQUESTS/);

      proxy.inject({ kind: 'reset', path: /\/blobs\// });
      await assert.rejects(get(blobPath()), { code: 'ECONNRESET' });
      assert.equal(proxy.requests.at(-1)!.fault, 'reset');

      const big = await buildImage({ layers: 1, layerBytes: 512 * 1024, random: true });
      await pushImage(big, registry, 'px/big:1');
      const bigBlob = `/v2/px/big/blobs/${big.layers[0]!.digest}`;
      proxy.inject({ kind: 'reset', afterBytes: 64 * 1024, path: /\/blobs\// });
      await assert.rejects(get(bigBlob), { code: 'ECONNRESET' });

      proxy.inject({ kind: 'stall', afterBytes: 1000, path: /\/blobs\// });
      await assert.rejects(get(bigBlob, 300), { code: 'ETIMEDOUT' });

      proxy.inject({ kind: 'delay', ms: 300, path: /\/manifests\// });
      const started = Date.now();
      assert.equal((await get(manifestPath())).status, 200);
      assert.ok(Date.now() - started >= 290);

      proxy.inject({ kind: 'corrupt', path: /\/blobs\// });
      const corrupted = await get(blobPath());
      assert.equal(corrupted.status, 200);
      assert.equal(corrupted.body.length, image.layers[0]!.size);
      assert.equal(corrupted.headers['docker-content-digest'], image.layers[0]!.digest);
      assert.notEqual(sha256(corrupted.body), image.layers[0]!.digest);
      assert.equal(sha256((await get(blobPath())).body), image.layers[0]!.digest, 'one request only');

      const replacement = Buffer.from(
        JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.example.unknown+json' }),
      );
      proxy.inject({
        kind: 'replaceBody',
        body: replacement,
        contentType: 'application/vnd.example.unknown+json',
        path: /\/manifests\//,
      });
      const replaced = await get(manifestPath());
      assert.deepEqual(replaced.body, replacement);
      assert.equal(replaced.headers['content-type'], 'application/vnd.example.unknown+json');
      assert.equal(replaced.headers['docker-content-digest'], image.digest, 'the lie keeps the original digest');

      // Rules apply only to successful responses for body faults, so auth challenges pass.
      proxy.inject({ kind: 'corrupt', path: /\/manifests\//, when: (req) => req.headers.authorization !== undefined });
      const unauthenticated = await httpRequest(`${proxy.url}${manifestPath()}`);
      assert.equal(unauthenticated.status, 401);
      assert.notEqual(sha256((await get(manifestPath())).body), image.digest);
    } finally {
      await proxy.close();
    }
  });

  test('redirects blob GETs to a blob host on 127.0.0.2 that never sees Authorization', async () => {
    const blobHost = await startBlobHost(registry);
    const proxy = await startProxy(registry);
    try {
      proxy.redirectBlobs(blobHost);
      const res = await registryRequest(proxy, blobPath());
      assert.equal(res.status, 307);
      const location = new URL(String(res.headers.location));
      assert.equal(location.hostname, '127.0.0.2');
      const blob = await httpRequest(location);
      assert.equal(blob.status, 200);
      assert.equal(sha256(blob.body), image.layers[0]!.digest);

      // skopeo (Go's http client) must drop credentials on the cross-origin hop.
      blobHost.reset();
      const pulled = await pullImage(proxy, 'px/app:1');
      assert.equal(pulled.digest, image.digest);
      assert.ok(blobHost.requests.length >= image.layers.length + 1, 'layers and config came from the blob host');
      assert.ok(blobHost.requests.every((r) => r.headers.authorization === undefined));
      assert.ok(proxy.requests.some((r) => r.fault === 'redirect'));
    } finally {
      await proxy.close();
      await blobHost.close();
    }
  });

  test('routes the token realm through the proxy when asked', async () => {
    const tokenRegistry = await startRegistry({ auth: 'token', tls: true });
    const proxy = await startProxy(tokenRegistry, { proxyAuthRealm: true });
    try {
      await pushImage(image, tokenRegistry, 'realm/app:1');
      assert.equal(await skopeoDigest(proxy, 'realm/app:1'), image.digest);
      assert.ok(proxy.count({ method: 'GET', path: /^\/__realm\/0\/token$/ }) >= 1);
      proxy.inject({ kind: 'status', status: 500, path: /^\/__realm\// });
      await rejectsWithStderr(skopeoInspectRaw(proxy, 'realm/app:1'), /500|token|internal/i);
    } finally {
      await proxy.close();
      await tokenRegistry.stop();
    }
  });
});

describe('notifications', () => {
  test('push events reach the configured endpoint with its headers, retried after failures', async () => {
    const sink = await startEventSink();
    const registry = await startRegistry({
      notifications: [
        { url: sink.url, headers: { Authorization: ['Bearer hook-secret'] }, ignoredActions: ['pull'], backoffMs: 50 },
      ],
    });
    try {
      sink.failNext(1);
      await pushImage(image, registry, 'events/app:1');
      const event = await sink.waitFor((e) => e.action === 'push' && e.target.tag === '1');
      assert.equal(event.target.repository, 'events/app');
      assert.equal(event.target.digest, image.digest);
      assert.equal(event.target.mediaType, OCI_MANIFEST);
      assert.ok(
        sink.envelopes.some((e) => e.status === 500),
        'the first delivery failed and was retried',
      );
      assert.ok(sink.envelopes.every((e) => e.headers.authorization === 'Bearer hook-secret'));
      assert.match(
        String(sink.envelopes[0]!.headers['content-type']),
        /application\/vnd\.docker\.distribution\.events\.v1\+json/,
      );
      await skopeoInspectRaw(registry, 'events/app:1');
      await sleep(100);
      assert.ok(
        sink.events().every((e) => e.action !== 'pull'),
        'pull events are ignored as configured',
      );
    } finally {
      await registry.stop();
      await sink.close();
    }
  });
});

describe('process hygiene', () => {
  test('a registry dies with a SIGKILLed test process', async () => {
    const dir = await makeTempDir('hygiene');
    const script = path.join(dir, 'child.ts');
    const registryModule = path.join(path.dirname(fileURLToPath(import.meta.url)), '../helpers/registry.ts');
    await writeFile(
      script,
      `import { startRegistry } from ${JSON.stringify(registryModule)};\n` +
        `const r = await startRegistry();\n` +
        `console.log(JSON.stringify({ pid: r.pid(), rootDir: r.rootDir }));\n` +
        `setInterval(() => {}, 1000);\n`,
    );
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const { pid, rootDir } = await new Promise<{ pid: number; rootDir: string }>((resolve, reject) => {
      child.stdout.once('data', (chunk: Buffer) =>
        resolve(JSON.parse(chunk.toString()) as { pid: number; rootDir: string }),
      );
      child.once('exit', (code) => reject(new Error(`child exited early with ${code}`)));
    });
    assert.ok(pid > 0);
    assert.ok(existsSync(rootDir));
    process.kill(pid, 0);
    child.kill('SIGKILL');
    const deadline = Date.now() + 5000;
    let alive = true;
    while (alive && Date.now() < deadline) {
      await sleep(25);
      try {
        process.kill(pid, 0);
      } catch {
        alive = false;
      }
    }
    assert.equal(alive, false, 'the watchdog killed the orphaned registry');
    for (let i = 0; i < 40 && existsSync(rootDir); i++) await sleep(25);
    assert.equal(existsSync(rootDir), false, 'and removed its temp dir');
  });

  test('skopeoArgsFor derives TLS and credential flags', () => {
    const plain = { host: '127.0.0.1:1', url: 'http://127.0.0.1:1', auth: 'htpasswd' as const, users: { bob: 'pw' } };
    assert.deepEqual(skopeoArgsFor(plain, 'dest'), ['--dest-tls-verify=false', '--dest-creds', 'bob:pw']);
    assert.deepEqual(skopeoArgsFor(plain, 'src', { anonymous: true }), ['--src-tls-verify=false', '--src-no-creds']);
    const secure = { host: '127.0.0.1:1', url: 'https://127.0.0.1:1', caDir: '/ca' };
    assert.deepEqual(skopeoArgsFor(secure, 'plain'), ['--tls-verify=true', '--cert-dir', '/ca']);
  });
});

describe('large image', { skip: process.env.SLUICE_LARGE_TESTS !== '1' && !isLargeImageCached() }, () => {
  test('≥ 256 MiB of random layers, cached, pushes', { timeout: 600_000 }, async () => {
    const large = await largeImage();
    const total = large.layers.reduce((sum, l) => sum + l.size, 0);
    assert.ok(total >= 256 * 1024 * 1024, `total ${total}`);
    const registry = await startRegistry();
    try {
      const pushed = await pushImage(large, registry, 'big/app:1');
      assert.equal(pushed.digest, large.digest);
      await skopeo(['inspect', '--raw', ...skopeoArgsFor(registry, 'plain'), `docker://${registry.host}/big/app:1`]);
    } finally {
      await registry.stop();
    }
  });
});
