/**
 * `retention restore` brings an image back with what was deleted because it was: its cosign
 * signature (`sha256-<hex>.sig`), its OCI referrer and the referrers-tag index that lists it.
 * skopeo checks that every tag is back with its original digest (Debian's skopeo is built
 * without sigstore verification, so the signature itself is checked with \`sluice verify\`).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { buildImage, pushImage, skopeoDigest, skopeoInspectRaw, skopeoListTags } from '../../helpers/images.ts';
import { ENGINES, POSTGRES_DISABLED, POSTGRES_SKIP_MESSAGE } from '../../helpers/db.ts';
import { startRegistry, type RegistryHandle } from '../../helpers/registry.ts';
import { createWorkspace } from '../../helpers/workspace.ts';
import { listAudit } from '../../../src/audit/index.ts';
import { cosignTag } from '../../../src/oci/cosign.ts';
import { actorFromPolicy } from '../../../src/auth/actor.ts';
import { applyPlan, restore } from '../../../src/retention/apply.ts';
import { gatherRetentionInput } from '../../../src/retention/gather.ts';
import { planRetention } from '../../../src/retention/plan.ts';
import { openRuntime } from '../../../src/runtime.ts';

const DAY = 86_400_000;
const PASSWORD = 'restore-artifacts-test-password';
let reg: RegistryHandle;

before(async () => {
  reg = await startRegistry();
});
after(async () => {
  await reg?.stop();
});

for (const engine of ENGINES) {
  const skip = engine === 'postgres' && POSTGRES_DISABLED ? POSTGRES_SKIP_MESSAGE : false;
  test(
    `a restored image comes back with its signature and referrers, and verifies again [${engine}]`,
    { skip },
    async () => {
      const repo = `acme-dev/signed-${engine}`;
      const ws = await createWorkspace({
        registries: [{ name: 'local', url: reg.url }],
        engine,
        env: { SLUICE_SIGNING_PASSWORD: PASSWORD },
        edit: (doc) => {
          doc.setIn(['spec', 'stages', 0, 'retention'], {
            mode: 'automatic',
            maxAge: '30d',
            keepLast: 1,
            trash: { enabled: true, window: '14d' },
          });
        },
      });
      try {
        const img = await buildImage({ layers: 1 });
        const old = (await pushImage(img, reg, `${repo}:1.0.0-1`)).digest;
        await pushImage(await buildImage({ layers: 1 }), reg, `${repo}:1.1.0-2`);
        const prefix = path.join(ws.dir, 'cosign');
        assert.equal((await ws.cli(['keygen', '--output-key-prefix', prefix])).code, 0);
        const signed = await ws.cli(['sign', `${reg.host}/${repo}:1.0.0-1`, '--key', `${prefix}.key`, '--referrer']);
        assert.equal(signed.code, 0, signed.stderr);
        const sigTag = cosignTag(old, 'sig');
        const referrersTag = old.replace(':', '-');
        const before = (await skopeoListTags(reg, repo)).sort();
        assert.deepEqual(before, ['1.0.0-1', '1.1.0-2', referrersTag, sigTag].sort());
        const sigDigest = await skopeoDigest(reg, `${repo}:${sigTag}`);
        const referrersDigest = await skopeoDigest(reg, `${repo}:${referrersTag}`);
        const referrerDigest = (
          JSON.parse((await skopeoInspectRaw(reg, `${repo}:${referrersTag}`)).toString('utf8')) as {
            manifests: Array<{ digest: string }>;
          }
        ).manifests[0]!.digest;
        assert.equal((await ws.cli(['sync'])).code, 0);

        const rt = await openRuntime({
          configPath: ws.configPath,
          env: { ...process.env, ...ws.env },
          clock: () => new Date(Date.now() + 40 * DAY),
        });
        try {
          const plan = planRetention(await gatherRetentionInput(rt), { scope: { stage: 'dev' } });
          const rp = plan.repositories.find((r) => r.repository === repo)!;
          assert.ok(rp.deletions.manifests.includes(old) && rp.deletions.manifests.includes(sigDigest));
          const report = await applyPlan(rt, actorFromPolicy(rt.policy, 'dave'), plan);
          const items = report.repositories.find((r) => r.repository === repo)!.items;
          assert.ok(
            items.every((i) => i.outcome === 'deleted'),
            JSON.stringify(items),
          );
        } finally {
          await rt.close();
        }
        assert.deepEqual(
          await skopeoListTags(reg, repo),
          ['1.1.0-2'],
          'the image went with its signature and referrers',
        );

        const restored = await ws.cli(['retention', 'restore', `${reg.host}/${repo}:1.0.0-1`], { SLUICE_USER: 'dave' });
        assert.equal(restored.code, 0, restored.stderr);
        assert.match(
          restored.stdout,
          new RegExp(`restored .*:1\\.0\\.0-1 \\(${old}\\) with .*${sigTag.replace('.', '\\.')}`),
        );

        // skopeo sees every tag back with its original digest, and the signature verifies again.
        assert.deepEqual((await skopeoListTags(reg, repo)).sort(), before);
        assert.equal(await skopeoDigest(reg, `${repo}:1.0.0-1`), old);
        assert.equal(await skopeoDigest(reg, `${repo}:${sigTag}`), sigDigest);
        assert.equal(await skopeoDigest(reg, `${repo}:${referrersTag}`), referrersDigest);
        assert.equal(await skopeoDigest(reg, `${repo}@${referrerDigest}`), referrerDigest);
        const verified = await ws.cli(['verify', `${reg.host}/${repo}:1.0.0-1`, '--key', `${prefix}.pub`]);
        assert.equal(verified.code, 0, verified.stdout + verified.stderr);

        const rt2 = await ws.runtime();
        const records = await listAudit(rt2.store, { action: 'retention.restore', order: 'asc' });
        const key = (r: { tag: string | null; digest: string | null }) => `${r.tag ?? '-'} ${r.digest}`;
        assert.deepEqual(
          records.map((r) => [r.actor, key(r)]).sort(),
          [
            ['dave', `1.0.0-1 ${old}`],
            ['dave', `${sigTag} ${sigDigest}`],
            ['dave', `${referrersTag} ${referrersDigest}`],
            ['dave', `- ${referrerDigest}`],
          ].sort(),
        );
        for (const r of records.slice(1)) assert.equal(r.details.subject, old, 'each artifact names its image');
        // Nothing of it is left to restore a second time.
        await assert.rejects(
          restore(rt2, actorFromPolicy(rt2.policy, 'dave'), {
            registry: rt2.registries[0]!,
            repository: repo,
            tag: sigTag,
          }),
          /nothing to restore/,
        );
      } finally {
        await ws.cleanup();
      }
    },
  );
}
