/** Inventory sync against a real registry, on both store engines. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { buildImage, buildIndex, pushImage, skopeoDelete } from '../../helpers/images.ts';
import { startProxy, type ProxyHandle } from '../../helpers/proxy.ts';
import { startRegistry, type RegistryHandle } from '../../helpers/registry.ts';
import { ENGINES, POSTGRES_DISABLED } from '../../helpers/db.ts';
import { createWorkspace } from '../../helpers/workspace.ts';
import { verifyAudit } from '../../../src/audit/index.ts';

let reg: RegistryHandle;
let proxy: ProxyHandle;

before(async () => {
  reg = await startRegistry();
  proxy = await startProxy(reg);
  const base = await buildImage({
    layers: 2,
    labels: { version: '1.4.0', 'org.opencontainers.image.base.name': 'ubi9:9.4' },
    user: '1001',
  });
  await pushImage(base, reg, 'acme-dev/api:1.4.0-7');
  await pushImage(base, reg, 'acme-dev/api:dev');
  await pushImage(await buildIndex({ platforms: ['amd64', 'arm64'] }), reg, 'acme-staging/web:2.0.0-1');
  await pushImage(await buildImage({ layers: 1, labels: { 'sluice.dev/category': 'tool' } }), reg, 'stray/thing:1');
});
after(async () => {
  await proxy?.close();
  await reg?.stop();
});

for (const engine of ENGINES) {
  test(
    `sync reads the registry, is incremental, and follows deletions [${engine}]`,
    { skip: engine === 'postgres' && POSTGRES_DISABLED },
    async () => {
      // Each engine's run deletes this tag, so each pushes it first.
      await pushImage(await buildImage({ layers: 1, seed: 'old-api' }), reg, 'acme-dev/api:1.3.0-2');
      const ws = await createWorkspace({ registries: [{ name: 'local', url: proxy.url }], engine });
      try {
        const first = await ws.cli(['sync', '-o', 'json']);
        assert.equal(first.code, 0, first.stderr);
        const [report] = JSON.parse(first.stdout);
        assert.equal(report.repositories, 3);
        assert.equal(report.tags, 5);
        assert.equal(report.created, 5);
        assert.ok(report.manifestsFetched >= 5, 'api x2 + index + 2 children + stray');

        const ls = JSON.parse((await ws.cli(['images', 'ls', '-o', 'json'])).stdout) as Array<Record<string, unknown>>;
        const api = ls.find((r) => (r.tags as string[]).includes('1.4.0-7'))!;
        assert.deepEqual(api.tags, ['1.4.0-7', 'dev']);
        assert.equal(api.team, 'acme');
        assert.equal(api.stage, 'dev');
        assert.equal(api.category, 'application');
        assert.equal(api.user, '1001');
        assert.equal(api.baseName, 'ubi9:9.4');
        const web = ls.find((r) => r.repository === 'acme-staging/web')!;
        assert.deepEqual((web.platforms as string[]).sort(), ['linux/amd64', 'linux/arm64']);
        assert.equal(web.stage, 'staging');
        const stray = ls.find((r) => r.repository === 'stray/thing')!;
        assert.equal(stray.team, null, 'a repository no team owns is tracked as unowned');
        assert.equal(stray.category, 'tool', 'the category label wins');

        const byLabel = JSON.parse((await ws.cli(['images', 'ls', '--label', 'version=1.4.0', '-o', 'json'])).stdout);
        assert.equal(byLabel.length, 1);
        const byStage = JSON.parse(
          (await ws.cli(['images', 'ls', '--team', 'acme', '--stage', 'staging', '-o', 'json'])).stdout,
        );
        assert.deepEqual(
          byStage.map((r: { repository: string }) => r.repository),
          ['acme-staging/web'],
        );

        // Second sync of an unchanged registry: HEADs only, no manifest GET.
        proxy.reset();
        const second = JSON.parse((await ws.cli(['sync', '-o', 'json'])).stdout)[0];
        assert.equal(second.manifestsFetched, 0);
        assert.equal(proxy.count({ method: 'GET', path: /\/manifests\// }), 0);
        assert.equal(second.created + second.moved + second.deleted, 0);

        // A deleted manifest takes its tags with it; the inventory follows.
        await skopeoDelete(reg, 'acme-dev/api:1.3.0-2');
        const third = JSON.parse((await ws.cli(['sync', '-o', 'json'])).stdout)[0];
        assert.equal(third.deleted, 1);
        const tags = JSON.parse((await ws.cli(['images', 'ls', '--all', '-o', 'json'])).stdout).flatMap(
          (r: { tags: string[] }) => r.tags,
        );
        assert.ok(!tags.includes('1.3.0-2'));

        const show = await ws.cli(['images', 'show', `${proxy.host}/acme-dev/api:dev`, '-o', 'json']);
        assert.equal(show.code, 0, show.stderr);
        const detail = JSON.parse(show.stdout);
        assert.deepEqual(detail.stagesReached, ['dev']);
        assert.deepEqual(detail.locations[0].tags, ['1.4.0-7', 'dev']);

        const rt = await ws.runtime();
        const v = await verifyAudit(rt.store);
        assert.equal(v.ok, true);
        assert.ok(v.count >= 5 + 1 + 3, 'tag creations, the deletion and three sync records');
      } finally {
        await ws.cleanup();
      }
    },
  );
}
