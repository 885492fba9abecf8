/**
 * Retention against a real Distribution registry: plan, apply, trash, restore, faults, and
 * the modes. Time is moved forward with the runtime's clock (tags are synced now and planned
 * 40 days later); skopeo, an independent client, checks what stays pullable.
 */
import assert from 'node:assert/strict';
import { SluiceError } from '../../../src/errors.ts';
import { after, before, describe, test } from 'node:test';
import { buildImage, pushImage, skopeoDigest, skopeoListTags } from '../../helpers/images.ts';
import { startProxy, type ProxyHandle } from '../../helpers/proxy.ts';
import { startRegistry, type RegistryHandle } from '../../helpers/registry.ts';
import { createWorkspace, type Workspace } from '../../helpers/workspace.ts';
import { describeEachEngine } from '../../helpers/db.ts';
import { actorFromPolicy } from '../../../src/auth/actor.ts';
import { applyPlan, approvePlan, restore } from '../../../src/retention/apply.ts';
import { gatherRetentionInput } from '../../../src/retention/gather.ts';
import { planRetention } from '../../../src/retention/plan.ts';
import { openRuntime, type Runtime } from '../../../src/runtime.ts';
import { verifyAudit } from '../../../src/audit/index.ts';

const DAY = 86_400_000;
let reg: RegistryHandle;
let proxy: ProxyHandle;
let ws: Workspace;

type Node = { items: Array<{ set: (k: string, v: unknown) => void; get: (k: string, keep?: boolean) => unknown }> };

// Each engine's suite has a registry of its own: applying retention deletes from it.
describeEachEngine('retention', (engine) => {
  before(async () => {
    reg = await startRegistry();
    proxy = await startProxy(reg);
    ws = await createWorkspace({
      engine,
      registries: [{ name: 'local', url: proxy.url }],
      edit: (doc) => {
        const stages = doc.getIn(['spec', 'stages']) as Node;
        stages.items[0]!.set('retention', {
          deleteTags: ['*-scratch'],
          mode: 'automatic',
          maxAge: '30d',
          keepLast: 1,
          pullProtectionWindow: '7d',
          trash: { enabled: true, window: '14d' },
        });
        stages.items[2]!.set('retention', { mode: 'manual', maxAge: '30d', keepLast: 1 });
      },
    });
  });
  after(async () => {
    await ws?.cleanup();
    await proxy?.close();
    await reg?.stop();
  });

  async function runtimeAt(offsetMs: number): Promise<Runtime> {
    return openRuntime({
      configPath: ws.configPath,
      env: { ...process.env, ...ws.env },
      clock: () => new Date(Date.now() + offsetMs),
    });
  }

  async function push(repo: string, tags: string[]): Promise<string> {
    const img = await buildImage({ layers: 1 });
    let digest = '';
    for (const t of tags) digest = (await pushImage(img, reg, `${repo}:${t}`)).digest;
    return digest;
  }

  describe('retention on a real registry', () => {
    let a: string;
    let b: string;
    let c: string;

    test('two tags share a digest, one expired and one kept: the image stays pullable under the kept tag', async () => {
      a = await push('acme-dev/app', ['1.0.0-1', '1.0.0-1-rc']);
      b = await push('acme-dev/app', ['1.1.0-2', 'dev']);
      c = await push('acme-dev/app', ['1.2.0-3']);
      assert.equal((await ws.cli(['sync'])).code, 0);

      const rt = await runtimeAt(40 * DAY);
      try {
        const plan = planRetention(await gatherRetentionInput(rt), { scope: { stage: 'dev' } });
        const repo = plan.repositories.find((r) => r.repository === 'acme-dev/app')!;
        const decision = (tag: string) => repo.tags.find((t) => t.tag === tag)!;
        assert.equal(decision('1.0.0-1').action, 'delete');
        assert.equal(decision('1.1.0-2').action, 'keep');
        assert.match(decision('1.1.0-2').code, /shared-digest|kept-tag/);
        assert.equal(decision('1.2.0-3').code, 'rule:keep-last');
        assert.deepEqual(repo.deletions.manifests, [a]);

        // The same inventory and clock give the same plan.
        const again = planRetention(await gatherRetentionInput(rt), { scope: { stage: 'dev' } });
        assert.equal(again.fingerprint, plan.fingerprint);

        // A run whose scheduler lease is gone starts no deletion, and says why.
        const lost = new SluiceError('JOB_LEASE_LOST', 'conflict', 'the lease of job retention was lost');
        const fenced = await applyPlan(rt, actorFromPolicy(rt.policy, 'dave'), plan, {
          signal: AbortSignal.abort(lost),
        });
        assert.deepEqual(
          fenced.repositories.flatMap((r) => r.items.map((i) => `${i.item}:${i.outcome}:${i.cause}`)),
          [`${a}:not-attempted:stopped`],
        );
        assert.match(
          fenced.repositories[0]!.items[0]!.detail,
          /^the run was stopped: the lease of job retention was lost/,
        );
        assert.equal(await skopeoDigest(reg, 'acme-dev/app:1.0.0-1'), a);

        const report = await applyPlan(rt, actorFromPolicy(rt.policy, 'dave'), plan);
        assert.deepEqual(
          report.repositories.flatMap((r) => r.items.map((i) => `${i.item}:${i.outcome}`)),
          [`${a}:deleted`],
        );
        assert.ok(report.notes.some((n) => /garbage-collect/.test(n)));
      } finally {
        await rt.close();
      }
      assert.equal(await skopeoDigest(reg, 'acme-dev/app:dev'), b);
      assert.equal(await skopeoDigest(reg, 'acme-dev/app:1.1.0-2'), b);
      assert.equal(await skopeoDigest(reg, 'acme-dev/app:1.2.0-3'), c);
      assert.deepEqual((await skopeoListTags(reg, 'acme-dev/app')).sort(), ['1.1.0-2', '1.2.0-3', 'dev']);
      assert.equal(
        (await skopeoListTags(reg, 'sluice-trash/acme-dev/app')).length,
        1,
        'the deleted digest waits in the trash',
      );

      // A second plan after the apply deletes nothing more.
      assert.equal((await ws.cli(['sync'])).code, 0);
      const rt2 = await runtimeAt(40 * DAY);
      try {
        const second = planRetention(await gatherRetentionInput(rt2), { scope: { stage: 'dev' } });
        assert.equal(second.repositories.find((r) => r.repository === 'acme-dev/app')?.manifestsDeleted ?? 0, 0);
      } finally {
        await rt2.close();
      }
    });

    test('a trashed tag is restored with the same digest', async () => {
      const rt = await runtimeAt(41 * DAY);
      try {
        const reg0 = rt.registries[0]!;
        const out = await restore(rt, actorFromPolicy(rt.policy, 'dave'), {
          registry: reg0,
          repository: 'acme-dev/app',
          tag: '1.0.0-1-rc',
        });
        assert.equal(out.digest, a);
        await assert.rejects(
          restore(rt, actorFromPolicy(rt.policy, 'dave'), {
            registry: reg0,
            repository: 'acme-dev/app',
            tag: '1.0.0-1-rc',
          }),
          /nothing to restore/,
        );
      } finally {
        await rt.close();
      }
      assert.equal(await skopeoDigest(reg, 'acme-dev/app:1.0.0-1-rc'), a);
    });

    test('registry errors mid-apply: the report says what was and was not deleted; a re-run finishes', async () => {
      const d1 = await push('acme-dev/flaky', ['1.0.0-1']);
      const d2 = await push('acme-dev/flaky', ['1.0.1-2']);
      const keep = await push('acme-dev/flaky', ['1.0.2-3', 'dev']);
      assert.equal((await ws.cli(['sync'])).code, 0);
      const rt = await runtimeAt(40 * DAY);
      try {
        const plan = planRetention(await gatherRetentionInput(rt), { scope: { stage: 'dev' } });
        const repo = plan.repositories.find((r) => r.repository === 'acme-dev/flaky')!;
        assert.deepEqual([...repo.deletions.manifests].sort(), [d1, d2].sort());
        const first = repo.deletions.manifests[0]!;
        const fault = proxy.inject({
          kind: 'status',
          status: 503,
          method: 'DELETE',
          path: new RegExp(`/v2/acme-dev/flaky/manifests/${first}`),
          times: Infinity,
        });
        const broken = await applyPlan(rt, actorFromPolicy(rt.policy, 'dave'), plan);
        fault.remove();
        const items = broken.repositories.find((r) => r.repository === 'acme-dev/flaky')!.items;
        assert.deepEqual(
          items.map((i) => i.outcome),
          ['failed', 'not-attempted'],
        );
        assert.match(items[0]!.detail, /DELETE manifest/);
        assert.equal(await skopeoDigest(reg, `acme-dev/flaky@${first}`), first, 'the failed one is still there');
        const rerun = await applyPlan(rt, actorFromPolicy(rt.policy, 'dave'), plan);
        assert.deepEqual(
          rerun.repositories.find((r) => r.repository === 'acme-dev/flaky')!.items.map((i) => i.outcome),
          ['deleted', 'deleted'],
        );
      } finally {
        await rt.close();
      }
      assert.deepEqual((await skopeoListTags(reg, 'acme-dev/flaky')).sort(), ['1.0.2-3', 'dev']);
      assert.equal(await skopeoDigest(reg, 'acme-dev/flaky:dev'), keep);
    });

    test('a saved plan is re-validated: a digest that gained a tag since is skipped, not deleted', async () => {
      const old = await push('acme-dev/moved', ['1.0.0-1']);
      await push('acme-dev/moved', ['2.0.0-2']);
      assert.equal((await ws.cli(['sync'])).code, 0);
      const rt = await runtimeAt(40 * DAY);
      try {
        const plan = JSON.parse(
          JSON.stringify(planRetention(await gatherRetentionInput(rt), { scope: { stage: 'dev' } })),
        );
        assert.ok(
          plan.repositories
            .find((r: { repository: string }) => r.repository === 'acme-dev/moved')
            .deletions.manifests.includes(old),
        );
        // Someone tags the old image again after the plan was made.
        await pushImage(
          await import('../../helpers/images.ts').then((m) => m.pullImage(reg, `acme-dev/moved@${old}`)),
          reg,
          'acme-dev/moved:hotfix',
        );
        const report = await applyPlan(rt, actorFromPolicy(rt.policy, 'dave'), plan);
        const item = report.repositories.find((r) => r.repository === 'acme-dev/moved')!.items[0]!;
        assert.equal(item.outcome, 'skipped');
        assert.match(item.detail, /tag hotfix now points to it/);
      } finally {
        await rt.close();
      }
      assert.equal(await skopeoDigest(reg, 'acme-dev/moved:hotfix'), old);
    });

    test('manual mode: nothing is deleted before the plan is approved by the responsible role', async () => {
      const d = await push('acme-preprod/rel', ['1.0.0-1']);
      await push('acme-preprod/rel', ['1.1.0-2']);
      assert.equal((await ws.cli(['sync'])).code, 0);
      const rt = await runtimeAt(40 * DAY);
      try {
        const plan = planRetention(await gatherRetentionInput(rt), { scope: { stage: 'preprod' } });
        const before = await applyPlan(rt, actorFromPolicy(rt.policy, 'dave'), plan);
        const item = before.repositories.find((r) => r.repository === 'acme-preprod/rel')!.items[0]!;
        assert.equal(item.outcome, 'skipped');
        assert.match(item.detail, /not approved/);
        await assert.rejects(approvePlan(rt, actorFromPolicy(rt.policy, 'alice'), plan), /needs role release-manager/);
        await approvePlan(rt, actorFromPolicy(rt.policy, 'carol'), plan);
        const afterApproval = await applyPlan(rt, actorFromPolicy(rt.policy, 'dave'), plan);
        assert.equal(
          afterApproval.repositories.find((r) => r.repository === 'acme-preprod/rel')!.items[0]!.outcome,
          'deleted',
        );
        assert.equal((await verifyAudit(rt.store)).ok, true);
      } finally {
        await rt.close();
      }
      assert.deepEqual(await skopeoListTags(reg, 'acme-preprod/rel'), ['1.1.0-2']);
      void d;
    });

    test('the CLI plan shows every decision with its reason and the bytes freed', async () => {
      const r = await ws.cli(['retention', 'plan', '--stage', 'dev']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /REPOSITORY\s+TAG\/DIGEST\s+DECISION\s+BECAUSE/);
      assert.match(r.stdout, /acme-dev\/app\s+dev\s+keep/);
      assert.match(r.stdout, /would be deleted, freeing/);
      const j = await ws.cli(['retention', 'plan', '-o', 'json']);
      assert.equal(JSON.parse(j.stdout).formatVersion, 1);
      // A tag deleteTags names goes now, whatever its age; apply asks before deleting it.
      await push('acme-dev/scratch', ['1.0.0-1-scratch']);
      await push('acme-dev/scratch', ['2.0.0-1']);
      assert.equal((await ws.cli(['sync'])).code, 0);
      const refused = await ws.cli(['retention', 'apply', '--stage', 'dev']);
      assert.equal(refused.code, 2);
      assert.match(refused.stderr, /nothing deleted: confirm on a terminal or pass --yes/);
      assert.deepEqual((await skopeoListTags(reg, 'acme-dev/scratch')).sort(), ['1.0.0-1-scratch', '2.0.0-1']);
      const applied = await ws.cli(['retention', 'apply', '--stage', 'dev', '--yes', '-o', 'json'], {
        SLUICE_USER: 'dave',
      });
      assert.equal(applied.code, 0, applied.stderr);
      assert.deepEqual(await skopeoListTags(reg, 'acme-dev/scratch'), ['2.0.0-1']);
    });
  });

  test('a digest a cluster reports running is never deleted, whatever its age', async () => {
    const running = await push('acme-dev/used', ['1.0.0-1']);
    await push('acme-dev/used', ['1.1.0-2']);
    assert.equal((await ws.cli(['sync'])).code, 0);
    const { mkdtemp, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const file = `${await mkdtemp(`${tmpdir()}/sluice-usage-`)}/images.txt`;
    await writeFile(file, `docker-pullable://${reg.host}/acme-dev/used@${running}\n`);
    const reported = await ws.cli(['usage', 'report', '--cluster', 'prod-eu-1', file]);
    assert.equal(reported.code, 0, reported.stderr);
    const bad = await ws.cli(['usage', 'report', '--cluster', 'prod-eu-1', '/dev/null']);
    assert.equal(bad.code, 0, 'an empty report is a report of nothing running');
    await ws.cli(['usage', 'report', '--cluster', 'prod-eu-1', file]);
    const rt = await runtimeAt(40 * DAY);
    try {
      // 40 days later the cluster still reports it (a report older than a week no longer counts).
      const { reportUsage, digestsIn } = await import('../../../src/usage/index.ts');
      await reportUsage(rt.store, 'prod-eu-1', digestsIn([`${reg.host}/acme-dev/used@${running}`]), rt.now());
      const plan = planRetention(await gatherRetentionInput(rt), { scope: { stage: 'dev' } });
      const repo = plan.repositories.find((r) => r.repository === 'acme-dev/used')!;
      const d = repo.digests.find((x) => x.digest === running)!;
      assert.equal(d.action, 'keep');
      assert.equal(d.code, 'protected:in-use');
    } finally {
      await rt.close();
    }
    const garbage = await ws.cli(['usage', 'report', '--cluster', 'Bad Name', file]);
    assert.equal(garbage.code, 2);
  });

  test('after the trash window the entry is purged and can no longer be restored', async () => {
    const gone = await push('acme-dev/purge', ['1.0.0-1']);
    await push('acme-dev/purge', ['1.1.0-2']);
    assert.equal((await ws.cli(['sync'])).code, 0);
    const rt = await runtimeAt(40 * DAY);
    try {
      const plan = planRetention(await gatherRetentionInput(rt), { scope: { stage: 'dev' } });
      await applyPlan(rt, actorFromPolicy(rt.policy, 'dave'), plan);
    } finally {
      await rt.close();
    }
    assert.equal(await skopeoDigest(reg, `sluice-trash/acme-dev/purge@${gone}`), gone, 'kept in the trash');
    const { purgeTrash } = await import('../../../src/retention/apply.ts');
    const early = await runtimeAt(50 * DAY);
    try {
      await purgeTrash(early);
      assert.equal(
        await skopeoDigest(reg, `sluice-trash/acme-dev/purge@${gone}`),
        gone,
        'its 14-day window is not over',
      );
    } finally {
      await early.close();
    }
    const late = await runtimeAt(55 * DAY);
    try {
      const out = await purgeTrash(late);
      assert.ok(out.purged >= 1);
      await assert.rejects(
        restore(late, actorFromPolicy(late.policy, 'dave'), {
          registry: late.registries[0]!,
          repository: 'acme-dev/purge',
          tag: '1.0.0-1',
        }),
        /nothing to restore/,
      );
    } finally {
      await late.close();
    }
    const head = await fetch(`${reg.url}/v2/sluice-trash/acme-dev/purge/manifests/${gone}`, {
      method: 'HEAD',
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    assert.equal(head.status, 404, 'the trashed manifest is gone from the registry');
  });
});
