/**
 * Promotion under stress: concurrent promotions, registry failures mid-copy, a killed process,
 * moved tags, immutable tags, rollback, maintenance windows, and deployability checks.
 * The policy here has no evidence requirements so each test exercises the mechanics alone.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildImage, pushImage, skopeoDigest, skopeoListTags } from '../../helpers/images.ts';
import { startProxy, type ProxyHandle } from '../../helpers/proxy.ts';
import { startRegistry, type RegistryHandle } from '../../helpers/registry.ts';
import { ENGINES, POSTGRES_DISABLED, POSTGRES_SKIP_MESSAGE } from '../../helpers/db.ts';
import { createWorkspace, type Workspace } from '../../helpers/workspace.ts';
import { actorFromPolicy } from '../../../src/auth/actor.ts';
import { listPromotions } from '../../../src/promotion/records.ts';
import { promote, runScheduledPromotions } from '../../../src/promotion/service.ts';
import { openRuntime } from '../../../src/runtime.ts';
import { isSluiceError } from '../../../src/errors.ts';

let reg: RegistryHandle;
let proxy: ProxyHandle;
let ws: Workspace;

type Node = { items: Array<{ set: (k: string, v: unknown) => void; get: (k: string) => unknown }> };

function editPolicy(doc: Parameters<NonNullable<Parameters<typeof createWorkspace>[0]['edit']>>[0]): void {
  const stages = doc.getIn(['spec', 'stages']) as Node;
  for (const s of stages.items) {
    s.set('gate', { require: [] });
    s.set('trigger', 'manual');
  }
  stages.items[3]!.set('trigger', 'scheduled');
  // A window that is never open now: 12 hours away from the current UTC hour.
  const hour = (new Date().getUTCHours() + 12) % 24;
  stages.items[3]!.set('maintenanceWindows', [{ cron: `0 ${hour} * * *`, duration: '1h', timeZone: 'UTC' }]);
}

const as = (user: string, args: string[], w: Workspace = ws) => w.cli(args, { SLUICE_USER: user });

async function image(repo: string, tag: string): Promise<string> {
  const img = await buildImage({ layers: 2 });
  return (await pushImage(img, reg, `${repo}:${tag}`)).digest;
}

async function toStaging(repo: string, tag: string, w: Workspace = ws): Promise<string> {
  const d = await image(`acme-dev/${repo}`, tag);
  for (const [user, stage] of [
    ['alice', 'dev'],
    ['bob', 'staging'],
  ] as const) {
    const r = await as(user, ['promote', `acme/${repo}:${tag}`, '--to', stage], w);
    assert.equal(r.code, 0, r.stderr);
  }
  return d;
}

// Every test runs on both engines, each with a registry of its own (version tags never move
// in preprod and prod, so two runs cannot share one).
for (const engine of ENGINES)
  describe(
    `promotion safety [${engine}]`,
    { skip: engine === 'postgres' && POSTGRES_DISABLED ? POSTGRES_SKIP_MESSAGE : false },
    () => {
      before(async () => {
        reg = await startRegistry();
        proxy = await startProxy(reg);
        ws = await createWorkspace({ registries: [{ name: 'local', url: proxy.url }], engine, edit: editPolicy });
      });
      after(async () => {
        await ws?.cleanup();
        await proxy?.close();
        await reg?.stop();
      });

      test('three promotions of the same tag to the same stage at once: one winner, consistent state', async () => {
        const d = await toStaging('race', '1.0.0-1');
        const results = await Promise.all(
          [1, 2, 3].map(() => as('carol', ['promote', 'acme/race:1.0.0-1', '--to', 'preprod', '-o', 'json'])),
        );
        assert.ok(
          results.some((r) => r.code === 0),
          results.map((r) => r.stderr).join('\n'),
        );
        for (const loser of results.filter((r) => r.code !== 0)) assert.match(loser.stderr, /PROMOTION_IN_PROGRESS/);
        assert.equal(await skopeoDigest(reg, 'acme-preprod/race:preprod'), d);
        assert.equal(await skopeoDigest(reg, 'acme-preprod/race:1.0.0-1'), d);
        const rt = await ws.runtime();
        const rows = await listPromotions(rt.store, { repo: 'race', stage: 'preprod' });
        assert.equal(rows.filter((r) => r.status === 'running').length, 0);
        assert.ok(rows.filter((r) => r.status === 'succeeded').length >= 1);
        assert.equal(
          await rt.store.db
            .selectFrom('promotion_locks')
            .selectAll()
            .execute()
            .then((l) => l.length),
          0,
          'no lock left',
        );
      });

      test('a lock held by a process that died is taken over; a live one is not', async () => {
        const rt = await ws.runtime();
        const dead = spawn('true');
        await new Promise((r) => dead.once('exit', r));
        const { hostname } = await import('node:os');
        const { acquireLock, lockOwner } = await import('../../../src/promotion/records.ts');
        const now = Date.now();
        await rt.store.db
          .insertInto('promotion_locks')
          .values({ target: 't1', owner: `${hostname()}:${dead.pid}:x`, expires_at: now + 60_000 })
          .execute();
        assert.equal(await acquireLock(rt.store, 't1', lockOwner(), now, 60_000), true, 'dead owner on this host');
        await rt.store.db
          .insertInto('promotion_locks')
          .values({ target: 't2', owner: `${hostname()}:${process.pid}:other`, expires_at: now + 60_000 })
          .execute();
        assert.equal(await acquireLock(rt.store, 't2', lockOwner(), now, 60_000), false, 'live owner');
        await rt.store.db
          .insertInto('promotion_locks')
          .values({ target: 't3', owner: 'elsewhere:1:x', expires_at: now + 60_000 })
          .execute();
        assert.equal(await acquireLock(rt.store, 't3', lockOwner(), now, 60_000), false, 'another host, not expired');
        assert.equal(
          await acquireLock(rt.store, 't3', lockOwner(), now + 61_000, 60_000),
          true,
          'another host, expired',
        );
      });

      test('a registry failure mid-copy leaves nothing tagged; a retry completes it', async () => {
        const d = await toStaging('flaky', '2.0.0-1');
        const fault = proxy.inject({
          kind: 'status',
          status: 500,
          method: 'PUT',
          path: /^\/v2\/acme-preprod\/flaky\/manifests\//,
          times: Infinity,
        });
        const failed = await as('carol', ['promote', 'acme/flaky:2.0.0-1', '--to', 'preprod']);
        fault.remove();
        assert.equal(failed.code, 1);
        assert.match(failed.stderr, /PUT manifest acme-preprod\/flaky/);
        assert.deepEqual(
          await skopeoListTags(reg, 'acme-preprod/flaky').catch(() => []),
          [],
          'no tag after a failed copy',
        );
        const retry = await as('carol', ['promote', 'acme/flaky:2.0.0-1', '--to', 'preprod', '-o', 'json']);
        assert.equal(retry.code, 0, retry.stderr);
        assert.equal(await skopeoDigest(reg, 'acme-preprod/flaky:preprod'), d);
        const rt = await ws.runtime();
        const rows = await listPromotions(rt.store, { repo: 'flaky', stage: 'preprod' });
        assert.deepEqual(
          rows.map((r) => r.status),
          ['succeeded', 'failed'],
          'the failed attempt is closed with its error; the retry is an attempt of its own',
        );
        assert.match(rows[1]!.error ?? '', /PUT manifest acme-preprod\/flaky/);
        assert.notEqual(rows[1]!.finished_at, null);
      });

      {
        test('a process killed mid-promotion leaves no stage tag; its attempt is abandoned and a new one by another actor completes it', async () => {
          const w = await createWorkspace({
            registries: [{ name: 'local', url: proxy.url }],
            engine,
            edit: editPolicy,
          });
          try {
            const repo = `crash-${engine}`;
            const d = await toStaging(repo, '3.0.0-1', w);
            // Hold every blob mount into the target so the process is surely inside the copy when killed.
            const stall = proxy.inject({
              kind: 'delay',
              ms: 30_000,
              method: 'POST',
              path: new RegExp(`^/v2/acme-preprod/${repo}/blobs/uploads/`),
              times: Infinity,
            });
            const child = spawn(
              process.execPath,
              [
                path.resolve(import.meta.dirname, '../../../bin/sluice.js'),
                '--config',
                w.configPath,
                'promote',
                `acme/${repo}:3.0.0-1`,
                '--to',
                'preprod',
              ],
              {
                env: { ...process.env, ...w.env, SLUICE_USER: 'carol' },
                stdio: 'ignore',
              },
            );
            for (let i = 0; i < 200 && stall.hits === 0; i++) await new Promise((r) => setTimeout(r, 50));
            assert.ok(stall.hits > 0, 'the promotion reached the copy');
            child.kill('SIGKILL');
            await new Promise((r) => child.once('exit', r));
            stall.remove();
            assert.deepEqual(
              await skopeoListTags(reg, `acme-preprod/${repo}`).catch(() => []),
              [],
              'nothing tagged by the killed run',
            );
            const rt = await w.runtime();
            const [killed] = await listPromotions(rt.store, { repo, stage: 'preprod' });
            assert.equal(killed?.status, 'running');
            assert.equal(killed?.requested_by, 'carol');

            // frank (platform-admin) promotes the same digest after the crash.
            const again = await as('frank', ['promote', `acme/${repo}:3.0.0-1`, '--to', 'preprod', '-o', 'json'], w);
            assert.equal(again.code, 0, again.stderr);
            assert.equal(await skopeoDigest(reg, `acme-preprod/${repo}:3.0.0-1`), d);
            assert.equal(await skopeoDigest(reg, `acme-preprod/${repo}:preprod`), d);
            const rows = await listPromotions(rt.store, { repo, stage: 'preprod' });
            assert.deepEqual(
              rows.map((r) => [r.status, r.requested_by]),
              [
                ['succeeded', 'frank'],
                ['abandoned', 'carol'],
              ],
            );
            assert.equal(rows[0]!.id, JSON.parse(again.stdout).id, 'the new attempt has a row of its own');
            assert.equal(rows[1]!.id, killed!.id);
            assert.match(rows[1]!.error ?? '', new RegExp(`interrupted: its process [^:]+:${child.pid} is gone`));

            const audit = JSON.parse(
              (await w.cli(['audit', 'ls', '--action', 'promotion.abandoned', '-o', 'json'])).stdout,
            );
            assert.equal(audit.length, 1, 'the abandoned attempt is audited once');
            assert.equal(audit[0].result, 'failure');
            assert.equal(audit[0].digest, d);
            assert.equal(audit[0].details.promotion, killed!.id);
            assert.equal(audit[0].details.requestedBy, 'carol');
            assert.match(audit[0].reason, /requested by carol, was interrupted/);
            const success = JSON.parse(
              (await w.cli(['audit', 'ls', '--action', 'promotion', '--result', 'success', '-o', 'json'])).stdout,
            ).filter((a: { tag: string; details: { to: string } }) => a.details.to === 'preprod');
            assert.deepEqual(
              success.map((a: { actor: string }) => a.actor),
              ['frank'],
              "the promotion into preprod is recorded as the new actor's",
            );
          } finally {
            await w.cleanup();
          }
        });
      }

      test('promotions ls closes attempts whose lock owner is dead or gone, and leaves a live one running', async () => {
        const rt = await ws.runtime();
        const { hostname } = await import('node:os');
        const { insertPromotion } = await import('../../../src/promotion/records.ts');
        const dead = spawn('true');
        await new Promise((r) => dead.once('exit', r));
        const now = Date.now();
        const attempt = (repository: string) => ({
          kind: 'promotion',
          team: 'acme',
          repo: 'sweep',
          digest: `sha256:${'1'.repeat(64)}`,
          from_stage: 'staging',
          to_stage: 'preprod',
          source_registry: 'local',
          source_repository: 'acme-staging/sweep',
          target_registry: 'local',
          target_repository: repository,
          version_tag: '1.0.0-1',
          stage_tag: 'preprod',
          previous_digest: null,
          status: 'running',
          requested_by: 'carol',
          requested_at: now,
          scheduled_for: null,
          started_at: now,
          finished_at: null,
          forced: 0,
          gate: null,
          error: null,
        });
        const deadOwner = await insertPromotion(rt.store, attempt('acme-preprod/sweep-dead'));
        const noLock = await insertPromotion(rt.store, attempt('acme-preprod/sweep-nolock'));
        const live = await insertPromotion(rt.store, attempt('acme-preprod/sweep-live'));
        await rt.store.db
          .insertInto('promotion_locks')
          .values([
            { target: 'local/acme-preprod/sweep-dead', owner: `${hostname()}:${dead.pid}:x`, expires_at: now + 60_000 },
            {
              target: 'local/acme-preprod/sweep-live',
              owner: `${hostname()}:${process.pid}:y`,
              expires_at: now + 60_000,
            },
          ])
          .execute();
        const ls = await ws.cli(['promotions', 'ls', '--repo', 'sweep', '-o', 'json']);
        assert.equal(ls.code, 0, ls.stderr);
        const status = new Map(
          (JSON.parse(ls.stdout) as Array<{ id: string; status: string }>).map((r) => [r.id, r.status]),
        );
        assert.equal(status.get(deadOwner), 'abandoned');
        assert.equal(status.get(noLock), 'abandoned');
        assert.equal(status.get(live), 'running', 'a live lock holder is left alone');
        await ws.cli(['promotions', 'ls', '--repo', 'sweep']);
        const audit = JSON.parse(
          (await ws.cli(['audit', 'ls', '--action', 'promotion.abandoned', '-o', 'json'])).stdout,
        );
        const sweep = audit.filter((a: { details: { promotion: string } }) =>
          [deadOwner, noLock, live].includes(a.details.promotion),
        );
        assert.equal(sweep.length, 2, 'each abandoned attempt is audited once, however often it is looked at');
        await rt.store.db.deleteFrom('promotion_locks').where('target', 'like', 'local/acme-preprod/sweep-%').execute();
      });

      test('evidence and promotions bind to the digest resolved first, not to a tag that moves', async () => {
        const wsStrict = await createWorkspace({ registries: [{ name: 'local', url: reg.url }] });
        try {
          const a = await image('acme-dev/moving', '1.0.0-1');
          for (const type of ['build', 'unit-tests', 'code-quality']) {
            assert.equal(
              (
                await wsStrict.cli(['evidence', 'add', 'acme/moving:1.0.0-1', '--type', type, '--no-auto'], {
                  SLUICE_USER: 'alice',
                })
              ).code,
              0,
            );
          }
          const b = await image('acme-dev/moving', '1.0.0-1');
          assert.notEqual(a, b);
          const r = await wsStrict.cli(['gate', 'check', 'acme/moving:1.0.0-1', '--stage', 'dev', '-o', 'json'], {
            SLUICE_USER: 'alice',
          });
          assert.equal(r.code, 1);
          const gate = JSON.parse(r.stdout);
          assert.equal(gate.digest, b);
          assert.ok(gate.requirements.every((x: { status: string }) => x.status === 'missing'));
          const byDigest = await wsStrict.cli(['gate', 'check', `acme-dev/moving@${a}`, '--stage', 'dev'], {
            SLUICE_USER: 'alice',
          });
          assert.equal(byDigest.code, 0, byDigest.stdout);
        } finally {
          await wsStrict.cleanup();
        }
      });

      test('version tags in preprod never move', async () => {
        const first = await toStaging('immut', '4.0.0-1');
        assert.equal((await as('carol', ['promote', 'acme/immut:4.0.0-1', '--to', 'preprod'])).code, 0);
        // A rebuild under the same version tag travels through dev and staging (mutable there)...
        const second = await toStaging('immut', '4.0.0-1');
        assert.notEqual(first, second);
        // ...but not into preprod, where the version tag is fixed.
        const r = await as('carol', ['promote', 'acme/immut:4.0.0-1', '--to', 'preprod']);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /already points to sha256:.*never move/);
        assert.equal(await skopeoDigest(reg, 'acme-preprod/immut:4.0.0-1'), first);
      });

      test('prod waits for its maintenance window unless operations forces it; rollback returns to the previous digest', async () => {
        const v1 = await toStaging('app', '5.0.0-1');
        assert.equal((await as('carol', ['promote', 'acme/app:5.0.0-1', '--to', 'preprod'])).code, 0);
        // The dry run says what the real run does: wait for the window.
        const dry = await as('dave', ['promote', 'acme/app:5.0.0-1', '--to', 'prod', '--dry-run']);
        assert.equal(dry.code, 0, dry.stderr);
        assert.match(dry.stdout, /would be scheduled for \S+ \(next maintenance window\)/);
        assert.doesNotMatch(dry.stdout, /would copy/);
        const scheduled = await as('dave', ['promote', 'acme/app:5.0.0-1', '--to', 'prod', '-o', 'json']);
        assert.equal(scheduled.code, 0, scheduled.stderr);
        const s = JSON.parse(scheduled.stdout);
        assert.equal(s.status, 'scheduled');
        assert.ok(new Date(s.scheduledFor).getTime() > Date.now());
        assert.deepEqual(await skopeoListTags(reg, 'acme-prod/app').catch(() => []), []);

        // When the window opens (a clock inside it), the scheduled promotion runs.
        const later = new Date(new Date(s.scheduledFor).getTime() + 60_000);
        const rt = await openRuntime({
          configPath: ws.configPath,
          env: { ...process.env, ...ws.env },
          clock: () => later,
        });
        try {
          const ran = await runScheduledPromotions(rt, (n) => actorFromPolicy(rt.policy, n));
          assert.deepEqual(
            ran.map((r) => r.status),
            ['succeeded'],
          );
        } finally {
          await rt.close();
        }
        assert.equal(await skopeoDigest(reg, 'acme-prod/app:prod'), v1);

        const notOps = await as('carol', ['promote', 'acme/app:5.0.0-1', '--to', 'prod', '--force']);
        assert.equal(notOps.code, 1);

        const v2 = await toStaging('app', '5.1.0-2');
        assert.equal((await as('carol', ['promote', 'acme/app:5.1.0-2', '--to', 'preprod'])).code, 0);
        const forced = await as('dave', ['promote', 'acme/app:5.1.0-2', '--to', 'prod', '--force', '-o', 'json']);
        assert.equal(forced.code, 0, forced.stderr);
        assert.equal(JSON.parse(forced.stdout).previousDigest, v1);
        assert.equal(await skopeoDigest(reg, 'acme-prod/app:prod'), v2);
        const audit = JSON.parse(
          (await ws.cli(['audit', 'ls', '--action', 'promotion.force', '-o', 'json'])).stdout || '[]',
        );
        assert.equal(audit.length, 1, 'the forced promotion is audited');
        assert.equal(audit[0].actor, 'dave');

        const rb = await as('dave', ['rollback', 'acme/app', '--stage', 'prod', '-o', 'json']);
        assert.equal(rb.code, 0, rb.stderr);
        assert.equal(JSON.parse(rb.stdout).to, v1);
        assert.equal(await skopeoDigest(reg, 'acme-prod/app:prod'), v1);
        assert.equal(await skopeoDigest(reg, 'acme-prod/app:5.1.0-2'), v2, 'rollback moves only the stage tag');
      });

      test('verify-deployable finds a missing blob and a quarantine', async () => {
        const d = await image('acme-dev/deploy', '6.0.0-1');
        const ok = await ws.cli(['verify-deployable', `${proxy.host}/acme-dev/deploy:6.0.0-1`, '-o', 'json']);
        assert.equal(ok.code, 0, ok.stdout);
        const hold = await as('erin', [
          'hold',
          'add',
          `${proxy.host}/acme-dev/deploy:6.0.0-1`,
          '--reason',
          'CVE-2026-9999 critical',
        ]);
        assert.equal(hold.code, 0, hold.stderr);
        const held = await ws.cli(['verify-deployable', `${proxy.host}/acme-dev/deploy:6.0.0-1`, '-o', 'json']);
        assert.equal(held.code, 1);
        assert.match(held.stdout, /CVE-2026-9999/);
        const denied = await as('alice', [
          'hold',
          'release',
          `${proxy.host}/acme-dev/deploy:6.0.0-1`,
          '--reason',
          'fixed',
        ]);
        assert.equal(denied.code, 1);
        assert.equal(
          (await as('erin', ['hold', 'release', `${proxy.host}/acme-dev/deploy:6.0.0-1`, '--reason', 'false positive']))
            .code,
          0,
        );
        // A layer deleted from the registry: the manifest still resolves, the pull would fail.
        const manifest = JSON.parse(
          (
            await import('../../helpers/images.ts').then((m) => m.skopeoInspectRaw(reg, `acme-dev/deploy@${d}`))
          ).toString(),
        );
        const layer = manifest.layers[0].digest as string;
        const del = await fetch(`${reg.url}/v2/acme-dev/deploy/blobs/${layer}`, { method: 'DELETE' });
        assert.equal(del.status, 202);
        const broken = await ws.cli(['verify-deployable', `${proxy.host}/acme-dev/deploy:6.0.0-1`, '-o', 'json']);
        assert.equal(broken.code, 1);
        assert.match(
          JSON.parse(broken.stdout).checks.find((c: { check: string }) => c.check.startsWith('blobs')).detail,
          new RegExp(`missing: ${layer}`),
        );
      });

      test('a malformed --limit is a usage error naming the flag', async () => {
        const r = await ws.cli(['promotions', 'ls', '--limit', 'many']);
        assert.equal(r.code, 2);
        assert.match(r.stderr, /--limit must be a positive integer \(got "many"\)/);
      });

      test('library: a promotion error is typed', async () => {
        const rt = await ws.runtime();
        await assert.rejects(
          promote(rt, actorFromPolicy(rt.policy, 'carol'), { ref: 'acme/nothing:1.0.0-1', to: 'preprod' }),
          (e: unknown) => isSluiceError(e, 'IMAGE_NOT_FOUND'),
        );
      });
    },
  );

test("a version tag moved behind Sluice's back in prod is flagged as a violation by sync", async () => {
  reg = await startRegistry();
  const wsv = await createWorkspace({ registries: [{ name: 'local', url: reg.url }] });
  try {
    await image('acme-prod/watched', '9.0.0-1');
    assert.equal((await wsv.cli(['sync'])).code, 0);
    await image('acme-prod/watched', '9.0.0-1');
    assert.equal((await wsv.cli(['sync'])).code, 0);
    const rt = await wsv.runtime();
    const { listAudit } = await import('../../../src/audit/index.ts');
    const violations = await listAudit(rt.store, { action: 'tag.immutability-violation' });
    assert.equal(violations.length, 1);
    assert.equal(violations[0]!.tag, '9.0.0-1');
    assert.equal(violations[0]!.result, 'failure');
    assert.match(violations[0]!.reason ?? '', /immutable/);
  } finally {
    await wsv.cleanup();
    await reg.stop();
  }
});
