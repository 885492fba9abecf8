/**
 * A registry whose content holds what PostgreSQL cannot store (NUL characters, unpaired
 * surrogates from JSON escapes, names no client could pull by), synced on both engines: the
 * inventory keeps what it can show, drops what is not a tag, and never fails on one engine
 * where it succeeds on the other.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { digestOf } from '../../../src/oci/digest.ts';
import { MediaType } from '../../../src/oci/mediatypes.ts';
import { RegistryPool } from '../../../src/oci/pool.ts';
import { describeEachEngine } from '../../helpers/db.ts';
import { startProxy, type ProxyHandle } from '../../helpers/proxy.ts';
import { startRegistry, type RegistryHandle } from '../../helpers/registry.ts';
import { createWorkspace, type Workspace } from '../../helpers/workspace.ts';

const NUL = '\u0000';
let reg: RegistryHandle;
let proxy: ProxyHandle;
let hostile: string;

/** Writes the image with the registry client, byte for byte as a hostile pusher would. */
async function pushHostileImage(): Promise<string> {
  const client = new RegistryPool().get(reg.host);
  const repository = 'acme-dev/hostile';
  // JSON escapes carry what no UTF-8 byte sequence could: NUL and a lone surrogate.
  const config = Buffer.from(
    '{"architecture":"amd64","os":"linux","variant":"v8\\u0000",' +
      '"config":{"User":"root\\u0000\\ud800","Labels":{"note\\u0000":"a\\u0000b\\udc00"}},' +
      '"rootfs":{"type":"layers","diff_ids":[]}}',
  );
  const layer = Buffer.from('not really a tarball');
  await client.pushBlobBytes(repository, config);
  await client.pushBlobBytes(repository, layer);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: digestOf(config), size: config.length },
      layers: [{ mediaType: `${MediaType.OciLayer}${NUL}`, digest: digestOf(layer), size: layer.length }],
      annotations: {
        'org.opencontainers.image.base.name': `ubi9${NUL}`,
        'org.opencontainers.image.base.digest': `sha256:${NUL}`,
      },
    }),
  );
  await client.putManifest(repository, '1.0.0-1', manifest, MediaType.OciManifest);
  return digestOf(manifest);
}

/** An image whose layer sizes are each a safe integer, and whose sum is not. */
async function pushHugeImage(): Promise<void> {
  const client = new RegistryPool().get(reg.host);
  const repository = 'acme-dev/huge';
  const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
  const layers = [Buffer.from('a'), Buffer.from('b')];
  for (const b of [config, ...layers]) await client.pushBlobBytes(repository, b);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: digestOf(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: MediaType.OciLayer, digest: digestOf(l), size: 2 ** 52 + 1 })),
    }),
  );
  await client.putManifest(repository, '1.0.0-1', manifest, MediaType.OciManifest);
}

const errorsOf = (report: { errors: Array<{ repository: string; code: string }> }, repository: string) =>
  report.errors.filter((e) => e.repository === repository);

before(async () => {
  reg = await startRegistry();
  proxy = await startProxy(reg);
  hostile = await pushHostileImage();
  await pushHugeImage();
});
after(async () => {
  await proxy?.close();
  await reg?.stop();
});

describeEachEngine('a hostile registry', (engine) => {
  let ws: Workspace;
  before(async () => {
    ws = await createWorkspace({ engine, registries: [{ name: 'local', url: proxy.url }] });
  });
  after(async () => {
    await ws?.cleanup();
  });

  test('text the store cannot hold is kept readable, and the repository syncs', async () => {
    const r = await ws.cli(['sync', '-o', 'json']);
    const [report] = JSON.parse(r.stdout);
    assert.deepEqual(errorsOf(report, 'acme-dev/hostile'), []);
    const rt = await ws.runtime();
    const m = await rt.store.db
      .selectFrom('manifests')
      .select(['config_user', 'base_name', 'base_digest', 'platforms', 'labels'])
      .where('digest', '=', hostile)
      .executeTakeFirstOrThrow();
    assert.equal(m.config_user, 'root\uFFFD\uFFFD');
    assert.equal(m.base_name, 'ubi9\uFFFD');
    assert.equal(m.base_digest, null, 'an annotation that is no digest is not kept as one');
    // JSON text escapes NUL and lone surrogates, so labels and platforms read back exactly.
    assert.deepEqual(JSON.parse(m.labels), { [`note${NUL}`]: `a${NUL}b\udc00` });
    assert.deepEqual(JSON.parse(m.platforms), [`linux/amd64/v8${NUL}`]);
    const blobs = await rt.store.db
      .selectFrom('manifest_blobs')
      .select('media_type')
      .where('manifest_digest', '=', hostile)
      .execute();
    assert.ok(blobs.some((b) => b.media_type === `${MediaType.OciLayer}\uFFFD`));
  });

  test('a listed name that is not a tag is skipped; the real tags are stored', async () => {
    // The registry lists a name with a NUL and claims it exists; no client could pull by it.
    const list = proxy.inject({
      kind: 'status',
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'acme-dev/hostile', tags: ['1.0.0-1', `evil${NUL}`] }),
      method: 'GET',
      path: /^\/v2\/acme-dev\/hostile\/tags\/list$/,
      times: Infinity,
    });
    const head = proxy.inject({
      kind: 'status',
      status: 200,
      headers: { 'docker-content-digest': hostile, 'content-type': MediaType.OciManifest, 'content-length': '0' },
      body: '',
      method: 'HEAD',
      path: /^\/v2\/acme-dev\/hostile\/manifests\/evil/,
      times: Infinity,
    });
    try {
      const r = await ws.cli(['sync', '-o', 'json']);
      assert.deepEqual(errorsOf(JSON.parse(r.stdout)[0], 'acme-dev/hostile'), []);
    } finally {
      list.remove();
      head.remove();
    }
    assert.ok(list.hits > 0, 'the forged listing was served');
    const rt = await ws.runtime();
    const tags = await rt.store.db
      .selectFrom('tags')
      .select('tag')
      .where('repository', '=', 'acme-dev/hostile')
      .execute();
    assert.deepEqual(
      tags.map((t) => t.tag),
      ['1.0.0-1'],
    );
  });

  test('sizes that add up beyond 2^53 fail that repository as a registry fault, on both engines', async () => {
    const r = await ws.cli(['sync', '-o', 'json']);
    const [report] = JSON.parse(r.stdout);
    assert.deepEqual(
      errorsOf(report, 'acme-dev/huge').map((e) => e.code),
      ['SIZE_INVALID'],
    );
    assert.match(
      report.errors.find((e: { repository: string }) => e.repository === 'acme-dev/huge').message,
      /add up to more than 9007199254740991 bytes/,
    );
    assert.deepEqual(errorsOf(report, 'acme-dev/hostile'), [], 'the other repositories are synced');
  });
});
