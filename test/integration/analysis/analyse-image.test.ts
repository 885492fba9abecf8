import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { analyseImage, type LayerCache } from '../../../src/analysis/analyse.ts';
import type { LayerAnalysis } from '../../../src/analysis/walker.ts';
import { RegistryPool } from '../../../src/oci/pool.ts';
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

test('analyses a pushed image, reports a secret deleted later, and reads shared layers from the cache', async () => {
  const client = pool.get(reg.host);
  const key = 'ghp_' + 'Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2';
  const layers = [
    await layerOf({ 'var/lib/fake/db': 'left-pad 1.0.0\n' }),
    await layerOf({ 'root/.git-credentials': `token=${key}\n` }),
    await layerOf({ 'root/.wh..git-credentials': '' }),
  ];
  const descs = [];
  for (const l of layers) {
    const d = await client.pushBlobBytes('app', l);
    descs.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d.digest, size: d.size });
  }
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { User: '', ExposedPorts: { '8080/tcp': {} }, Env: ['PATH=/bin'] },
      rootfs: { type: 'layers', diff_ids: [] },
    }),
  );
  const c = await client.pushBlobBytes('app', config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: c.digest, size: c.size },
      layers: descs,
    }),
  );
  await client.putManifest('app', 'v1', manifest, 'application/vnd.oci.image.manifest.v1+json');

  const store = new Map<string, LayerAnalysis>();
  const cache: LayerCache = { get: async (d) => store.get(d), put: async (a) => void store.set(a.layer.digest, a) };
  const first = await analyseImage({ client, readers: [fakeDbReader], cache }, { repository: 'app', reference: 'v1' });
  assert.deepEqual(
    first.packages.map((p) => `${p.name}@${p.version}`),
    ['left-pad@1.0.0'],
  );
  assert.ok(first.secrets.some((f) => f.rule === 'github-token'));
  assert.ok(first.secrets.every((f) => f.layerIndex === 1 && f.path === 'root/.git-credentials'));
  assert.ok(!JSON.stringify(first).includes(key));
  assert.equal(first.hardening.runsAsRoot, true);
  assert.deepEqual(first.hardening.exposedPorts, ['8080/tcp']);
  assert.equal(first.layersDownloaded, 3);

  const second = await analyseImage({ client, readers: [fakeDbReader], cache }, { repository: 'app', reference: 'v1' });
  assert.equal(second.layersDownloaded, 0);
  assert.deepEqual(
    second.packages.map((p) => p.name),
    ['left-pad'],
  );
  assert.deepEqual(second.secrets, first.secrets);
});
