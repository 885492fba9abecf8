/**
 * Where user text meets a lookup table, only own entries count: `--label constructor` (the
 * CLI, and `?label=` of the API, which share the query) finds no image without such a label.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { listImages } from '../../../src/inventory/query.ts';
import { buildImage, pushImage } from '../../helpers/images.ts';
import { startRegistry, type RegistryHandle } from '../../helpers/registry.ts';
import { createWorkspace, type Workspace } from '../../helpers/workspace.ts';

let reg: RegistryHandle;
let ws: Workspace;
before(async () => {
  reg = await startRegistry();
  ws = await createWorkspace({ registries: [{ name: 'local', url: reg.url }] });
  const plain = await buildImage({ layers: 1, labels: { version: '1.0.0' } });
  await pushImage(plain, reg, 'acme-dev/plain:1.0.0-1');
  const odd = await buildImage({ layers: 1, labels: { constructor: 'yes' } });
  await pushImage(odd, reg, 'acme-dev/odd:1.0.0-1');
  const synced = await ws.cli(['sync']);
  assert.equal(synced.code, 0, synced.stderr);
});
after(async () => {
  await ws?.cleanup();
  await reg?.stop();
});

test('a label filter named like an Object.prototype property matches own labels only', async () => {
  const repos = async (args: string[]) => {
    const r = await ws.cli(['-o', 'json', 'images', 'ls', ...args]);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as Array<{ repository: string }>).map((i) => i.repository).sort();
  };
  assert.deepEqual(await repos([]), ['acme-dev/odd', 'acme-dev/plain']);
  assert.deepEqual(await repos(['--label', 'constructor']), ['acme-dev/odd']);
  assert.deepEqual(await repos(['--label', 'constructor=yes']), ['acme-dev/odd']);
  for (const key of ['toString', 'hasOwnProperty', '__proto__', 'valueOf'])
    assert.deepEqual(await repos(['--label', key]), [], key);
  assert.deepEqual(await repos(['--label', 'version=1.0.0']), ['acme-dev/plain']);
  const rt = await ws.runtime();
  assert.deepEqual(await listImages(rt.store, { labels: ['toString'] }), []);
});
