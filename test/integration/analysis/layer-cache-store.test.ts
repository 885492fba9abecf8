import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { analyseImage, type LayerCache } from '../../../src/analysis/analyse.ts';
import { DEFAULT_MAX_ROW_CHARS, storeLayerCache } from '../../../src/analysis/records.ts';
import type { LayerAnalysis } from '../../../src/analysis/walker.ts';
import { RegistryPool } from '../../../src/oci/pool.ts';
import { forEachEngine } from '../../helpers/db.ts';
import type { PackageReader } from '../../../src/analysis/model.ts';
import { fakeDbReader, layerOf } from '../../helpers/layers.ts';
import { startRegistry, type RegistryHandle } from '../../helpers/registry.ts';

let reg: RegistryHandle;
let pool: RegistryPool;

before(async () => {
  reg = await startRegistry();
  pool = new RegistryPool();
});
after(async () => {
  pool.close();
  await reg?.stop();
});

/** Pushes a three-layer image to `repository` and returns it as `repository:v1`. */
async function pushImage(repository: string): Promise<{ key: string; layerDigests: string[] }> {
  const client = pool.get(reg.host);
  const key = 'ghp_' + 'Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2';
  const layers = [
    // Bytes that are not UTF-8 and a NUL: the file content must come back byte for byte.
    await layerOf({
      'var/lib/fake/db': Buffer.concat([Buffer.from('left-pad 1.0.0\n\u0000'), Buffer.from([0xff, 0xfe, 0x0a])]),
    }),
    await layerOf({ 'root/.git-credentials': `token=${key}\n` }),
    await layerOf({ 'root/.wh..git-credentials': '' }),
  ];
  const descs = [];
  for (const l of layers) {
    const d = await client.pushBlobBytes(repository, l);
    descs.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d.digest, size: d.size });
  }
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { User: 'app', Env: ['PATH=/bin'] },
      rootfs: { type: 'layers', diff_ids: [] },
    }),
  );
  const c = await client.pushBlobBytes(repository, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: c.digest, size: c.size },
      layers: descs,
    }),
  );
  await client.putManifest(repository, 'v1', manifest, 'application/vnd.oci.image.manifest.v1+json');
  return { key, layerDigests: descs.map((d) => d.digest) };
}

forEachEngine(
  'a store-backed layer cache makes a second analysis download no layer, also after reopening',
  async ({ engine, store, reopen }) => {
    const repository = `cache-${engine}`;
    const { key, layerDigests } = await pushImage(repository);
    const client = pool.get(reg.host);
    const ref = { repository, reference: 'v1' };
    const puts: LayerAnalysis[] = [];
    const backed = storeLayerCache(store, { readers: [fakeDbReader] });
    const recording: LayerCache = { get: backed.get, put: async (a) => (puts.push(a), backed.put(a)) };

    const first = await analyseImage({ client, readers: [fakeDbReader], cache: recording }, ref);
    assert.equal(first.layersDownloaded, 3);
    assert.deepEqual(
      first.packages.map((p) => `${p.name}@${p.version}`),
      ['left-pad@1.0.0'],
    );
    assert.ok(first.secrets.some((f) => f.rule === 'github-token' && f.layerIndex === 1));
    assert.equal(puts.length, 3);

    // What comes back is what was put: Maps, file bytes, nested layer references.
    for (const put of puts) assert.deepEqual(await backed.get(put.layer.digest), put);

    const rows = await store.db.selectFrom('layer_analyses').select(['digest', 'analysis']).execute();
    assert.deepEqual(rows.map((r) => r.digest).sort(), [...layerDigests].sort());
    assert.ok(
      rows.every((r) => !r.analysis.includes(key)),
      'no secret value in the store',
    );

    const second = await analyseImage({ client, readers: [fakeDbReader], cache: backed }, ref);
    assert.equal(second.layersDownloaded, 0);
    assert.deepEqual(second.packages, first.packages);
    assert.deepEqual(second.secrets, first.secrets);
    assert.deepEqual(second.hardening, first.hardening);

    const reopened = await reopen();
    const third = await analyseImage(
      { client, readers: [fakeDbReader], cache: storeLayerCache(reopened, { readers: [fakeDbReader] }) },
      ref,
    );
    assert.equal(third.layersDownloaded, 0);
    assert.deepEqual(third.packages, first.packages);
    assert.deepEqual(third.secrets, first.secrets);

    // Another reader set made none of these rows: the layers are read again, not trusted.
    const other: PackageReader = { ...fakeDbReader, name: 'fake-v2' };
    const fourth = await analyseImage(
      { client, readers: [other], cache: storeLayerCache(reopened, { readers: [other] }) },
      ref,
    );
    assert.equal(fourth.layersDownloaded, 3);
    assert.deepEqual(
      fourth.packages.map((p) => p.name),
      ['left-pad'],
    );
  },
);

forEachEngine('a layer analysis beyond the row bound is not cached', async ({ store }) => {
  const cache = storeLayerCache(store, { readers: [fakeDbReader], maxRowChars: 100 });
  const layer = {
    index: 0,
    digest: 'sha256:' + 'a'.repeat(64),
    mediaType: 'application/vnd.oci.image.layer.v1.tar',
    size: 1,
  };
  const analysis: LayerAnalysis = {
    layer,
    files: new Map([
      [
        'fake',
        new Map([
          [
            'var/lib/fake/db',
            { path: 'var/lib/fake/db', size: 200, mode: 0o644, layer, content: Buffer.alloc(200, 1) },
          ],
        ]),
      ],
    ]),
    scanned: new Map(),
    whiteouts: [],
    opaqueDirs: [],
    secrets: [],
    notes: [],
    facts: {
      setuid: [],
      setgid: [],
      worldWritableDirs: [],
      worldWritableFiles: [],
      executables: [],
      entries: 1,
      uncompressedBytes: 200,
    },
  };
  await cache.put(analysis);
  assert.equal(await cache.get(layer.digest), undefined);
  assert.ok(DEFAULT_MAX_ROW_CHARS > 100);
  const roomy = storeLayerCache(store, { readers: [fakeDbReader] });
  await roomy.put(analysis);
  assert.deepEqual(await roomy.get(layer.digest), analysis);
  // The same row under another reader set is a miss.
  assert.equal(await storeLayerCache(store, { readers: [] }).get(layer.digest), undefined);
});
