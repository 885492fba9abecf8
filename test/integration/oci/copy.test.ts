/**
 * Interop of inspect/ls/catalog/copy with a real Distribution registry and skopeo as the
 * independent client: what Sluice writes, skopeo reads byte-identically, and vice versa.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runBin, runCli } from '../../helpers/cli.ts';
import {
  buildImage,
  buildIndex,
  DOCKER_MANIFEST,
  DOCKER_MANIFEST_LIST,
  pushImage,
  skopeoDigest,
  skopeoInspectRaw,
  skopeoListTags,
} from '../../helpers/images.ts';
import { startProxy, type ProxyHandle } from '../../helpers/proxy.ts';
import { startRegistry, type RegistryHandle } from '../../helpers/registry.ts';
import { digestOf } from '../../../src/oci/digest.ts';
import { RegistryPool } from '../../../src/oci/pool.ts';
import { CopyEngine } from '../../../src/oci/copy.ts';
import { parseReference } from '../../../src/oci/reference.ts';

let a: RegistryHandle;
let b: RegistryHandle;

before(async () => {
  [a, b] = await Promise.all([startRegistry(), startRegistry()]);
});
after(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

describe('inspect, ls, catalog', () => {
  test('inspect reads what skopeo pushed: digest, labels, user, layers, platform', async () => {
    const img = await buildImage({
      layers: 3,
      labels: { version: '1.4.0', maintainer: 'acme' },
      user: '1001',
      arch: 'arm64',
    });
    const { digest } = await pushImage(img, a, 'acme-dev/api:1.4.0-7');
    const r = await runCli(['inspect', `${a.host}/acme-dev/api:1.4.0-7`, '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const d = JSON.parse(r.stdout);
    assert.equal(d.digest, digest);
    assert.deepEqual(d.labels, { version: '1.4.0', maintainer: 'acme' });
    assert.equal(d.user, '1001');
    assert.equal(d.platform, 'linux/arm64');
    assert.equal(d.layers.length, 3);
    const m = JSON.parse(img.bytes.toString()) as { config: { size: number }; layers: Array<{ size: number }> };
    assert.equal(d.size, img.bytes.length + m.config.size + m.layers.reduce((n, l) => n + l.size, 0));
    const text = await runCli(['inspect', `${a.host}/acme-dev/api@${digest}`]);
    assert.match(text.stdout, new RegExp(`Digest:\\s+${digest}`));
    assert.match(text.stdout, /version=1\.4\.0/);
  });

  test('inspect reads Docker schema 2 manifest lists and picks a platform', async () => {
    const idx = await buildIndex({ platforms: ['amd64', 'arm64'], layers: 1 });
    const { digest } = await pushImage(idx, a, 'acme-dev/multi:v2s2', { format: 'v2s2' });
    const r = await runCli(['inspect', `${a.host}/acme-dev/multi:v2s2`, '--platform', 'linux/arm64', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const d = JSON.parse(r.stdout);
    assert.equal(d.digest, digest);
    assert.equal(d.mediaType, DOCKER_MANIFEST_LIST);
    assert.deepEqual(d.platforms.map((p: { platform: string }) => p.platform).sort(), ['linux/amd64', 'linux/arm64']);
    assert.equal(d.platform, 'linux/arm64');
    const missing = await runCli(['inspect', `${a.host}/acme-dev/multi:v2s2`, '--platform', 'linux/s390x']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /has no platform linux\/s390x \(has: linux\/amd64, linux\/arm64\)/);
  });

  test('ls lists every tag with its digest; catalog lists repositories', async () => {
    const img = await buildImage({ layers: 1 });
    // One after another: concurrent pushes of the same layers into one repository race inside
    // Distribution (it rewrites link files in place) and skopeo fails now and then.
    const pushed: Array<{ digest: string }> = [];
    for (const t of ['1.0.0-1', '1.0.0-2', 'dev']) pushed.push(await pushImage(img, a, `acme-dev/ls:${t}`));
    const r = await runCli(['ls', `${a.host}/acme-dev/ls`, '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const entries = JSON.parse(r.stdout) as Array<{ tag: string; digest: string }>;
    assert.deepEqual(entries.map((e) => e.tag).sort(), ['1.0.0-1', '1.0.0-2', 'dev']);
    assert.ok(entries.every((e) => e.digest === pushed[0]!.digest));
    const names = await runCli(['ls', `${a.host}/acme-dev/ls`, '-o', 'name']);
    assert.match(names.stdout, new RegExp(`${a.host}/acme-dev/ls:dev`));
    const cat = await runCli(['catalog', a.host, '-o', 'json']);
    assert.ok((JSON.parse(cat.stdout) as string[]).includes('acme-dev/ls'));
  });

  test('the catalog is followed across Link pages', async () => {
    const pool = new RegistryPool();
    try {
      const all = await pool.get(a.host).catalog(1);
      const once = await pool.get(a.host).catalog(1000);
      assert.deepEqual(all, once);
      assert.ok(all.length >= 3);
    } finally {
      pool.close();
    }
  });
});

describe('copy', () => {
  test('same registry: blobs are mounted, digest is byte-identical for skopeo', async () => {
    const img = await buildImage({ layers: 4 });
    const { digest } = await pushImage(img, a, 'acme-dev/svc:1.0.0-1');
    const r = await runCli([
      'copy',
      `${a.host}/acme-dev/svc:1.0.0-1`,
      `${a.host}/acme-staging/svc:1.0.0-1`,
      '-o',
      'json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout);
    assert.equal(res.digest, digest);
    assert.equal(res.blobs.mounted, 5, 'config + 4 layers mounted');
    assert.equal(res.bytesTransferred, 0);
    const raw = await skopeoInspectRaw(a, 'acme-staging/svc:1.0.0-1');
    assert.equal(digestOf(raw), digest);
    assert.ok(raw.equals(img.bytes), 'manifest bytes are not re-serialised');
  });

  test('a repeated copy is a no-op in at most 3 requests', async () => {
    const img = await buildImage({ layers: 8 });
    await pushImage(img, a, 'acme-dev/noop:1.0.0-1');
    const proxy = await startProxy(a);
    const pool = new RegistryPool({ registries: { [proxy.host]: { referrers: 'tags' } } });
    try {
      const engine = new CopyEngine(pool);
      const req = {
        source: parseReference(`${proxy.host}/acme-dev/noop:1.0.0-1`),
        target: { registry: proxy.host, repository: 'acme-staging/noop', tag: '1.0.0-1' },
      };
      const first = await engine.copy(req);
      assert.equal(first.noop, false);
      const firstRequests = proxy.requests.length;
      assert.ok(
        firstRequests <= 13,
        `first copy took ${firstRequests} requests: ${proxy.requests.map((x) => `${x.method} ${x.path}`).join(', ')}`,
      );
      proxy.reset();
      const second = await engine.copy(req);
      assert.equal(second.noop, true);
      assert.equal(second.bytesTransferred, 0);
      assert.ok(proxy.requests.length <= 3, `no-op took ${proxy.requests.length} requests`);
      assert.equal(proxy.count({ method: 'PUT' }) + proxy.count({ method: 'POST' }), 0, 'a no-op writes nothing');
    } finally {
      pool.close();
      await proxy.close();
    }
  });

  test('across registries: streamed, then skopeo reads the same digest; DST without tag keeps the source tag', async () => {
    const img = await buildImage({ layers: 3, layerBytes: 300_000, random: true });
    const { digest } = await pushImage(img, a, 'mirror/src:2.0.0-1');
    const r = await runCli(['copy', `${a.host}/mirror/src:2.0.0-1`, `${b.host}/mirror/dst`, '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout);
    assert.equal(res.blobs.copied, 4);
    assert.ok(res.bytesTransferred >= 900_000);
    assert.equal(await skopeoDigest(b, 'mirror/dst:2.0.0-1'), digest);
    const again = JSON.parse(
      (await runCli(['copy', `${a.host}/mirror/src:2.0.0-1`, `${b.host}/mirror/dst`, '-o', 'json'])).stdout,
    );
    assert.equal(again.noop, true);
  });

  test('an index is copied children first, with the same index digest', async () => {
    const idx = await buildIndex({ platforms: ['amd64', 'arm64'], layers: 2 });
    const { digest } = await pushImage(idx, a, 'multi/app:3.0.0-1');
    const r = await runCli(['copy', `${a.host}/multi/app:3.0.0-1`, `${b.host}/multi/app:3.0.0-1`, '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).manifestsWritten, 3);
    assert.equal(await skopeoDigest(b, 'multi/app:3.0.0-1'), digest);
    for (const child of idx.children) assert.equal(await skopeoDigest(b, `multi/app@${child.digest}`), child.digest);
  });

  test('Docker schema 2 images keep their media type', async () => {
    const img = await buildImage({ layers: 1 });
    const { digest } = await pushImage(img, a, 'docker/fmt:1', { format: 'v2s2' });
    await runCli(['copy', `${a.host}/docker/fmt:1`, `${b.host}/docker/fmt:1`]);
    const raw = await skopeoInspectRaw(b, 'docker/fmt:1');
    assert.equal(digestOf(raw), digest);
    assert.equal(JSON.parse(raw.toString()).mediaType, DOCKER_MANIFEST);
  });

  test('chunked upload writes the same content', async () => {
    const img = await buildImage({ layers: 1, layerBytes: 200_000, random: true });
    const { digest } = await pushImage(img, a, 'chunked/src:1');
    const r = await runCli(['copy', `${a.host}/chunked/src:1`, `${b.host}/chunked/dst:1`, '--chunk-size', '65536']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), digest);
    assert.equal(await skopeoDigest(b, 'chunked/dst:1'), digest);
  });

  test('--batch copies many, several in flight, and reports each', async () => {
    const imgs = await Promise.all([1, 2, 3, 4].map(() => buildImage({ layers: 1 })));
    const digests = await Promise.all(imgs.map((img, i) => pushImage(img, a, `batch/app${i}:1.0.0-1`)));
    const { mkdtemp, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(`${tmpdir()}/sluice-batch-`);
    const file = `${dir}/pairs.txt`;
    await writeFile(
      file,
      imgs.map((_, i) => `${a.host}/batch/app${i}:1.0.0-1 ${a.host}/batch-staging/app${i}:1.0.0-1`).join('\n') +
        '\n# comment\n',
    );
    const r = await runCli(['copy', '--batch', file, '--concurrency', '3', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const results = JSON.parse(r.stdout) as Array<{ result: { digest: string } }>;
    assert.deepEqual(
      results.map((x) => x.result.digest),
      digests.map((d) => d.digest),
    );
    assert.deepEqual(await skopeoListTags(a, 'batch-staging/app3'), ['1.0.0-1']);
    await writeFile(file, 'only-one-field\n');
    const bad = await runCli(['copy', '--batch', file]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /pairs\.txt:1: expected "SRC DST"/);
  });

  test('the installed bin runs on Node 24 and prints the digest on stdout only', async () => {
    const img = await buildImage({ layers: 1 });
    const { digest } = await pushImage(img, a, 'bin/app:1');
    const r = await runBin(['copy', `${a.host}/bin/app:1`, `${a.host}/bin/app2:1`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${digest}\n`);
    assert.equal(r.stderr, '', 'nothing on stderr when it is not a terminal');
  });
});

describe('bad input', () => {
  test('malformed references exit 2 with the reason', async () => {
    const r = await runCli(['inspect', 'repo:v1/x']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /invalid reference "repo:v1\/x": tag contains '\/'/);
    const j = await runCli(['inspect', 'Bad Ref', '-o', 'json']);
    assert.equal(j.code, 2);
    assert.equal(JSON.parse(j.stderr).error.code, 'REFERENCE_INVALID');
    const usage = await runCli(['copy', `${a.host}/x:1`]);
    assert.equal(usage.code, 2);
  });

  test('an unknown image exits 2 naming it', async () => {
    const r = await runCli(['inspect', `${a.host}/nope/nothing:1`]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /nope\/nothing:1/);
  });

  test('an unreachable registry fails with exit 1 and names the host', async () => {
    const { getFreePort } = await import('../../helpers/ports.ts');
    const port = await getFreePort();
    const r = await runCli(['inspect', `127.0.0.1:${port}/x/y:1`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`cannot reach 127\\.0\\.0\\.1:${port}`));
  });
});

describe('proxy-observed behaviour', () => {
  let proxy: ProxyHandle;
  before(async () => {
    proxy = await startProxy(a);
  });
  after(async () => proxy?.close());

  test('skopeo-written index is read through Sluice with one GET per manifest', async () => {
    const idx = await buildIndex({ platforms: ['amd64', 'arm64'] });
    await pushImage(idx, a, 'obs/idx:1');
    proxy.reset();
    const r = await runCli(['inspect', `${proxy.host}/obs/idx:1`, '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(proxy.count({ method: 'GET', path: /\/manifests\// }), 3);
  });
});
