/**
 * A retention run killed (SIGKILL) right after the registry performed a DELETE, before Sluice
 * could record it. The intent written before the call lets the re-run, or the next sync,
 * record the deletion as the killed run's: its actor, its run id. The kill is placed exactly:
 * the fault proxy sees the registry's 202 for the DELETE and kills the process before the
 * answer is passed on. And a DELETE the registry performed whose answers all got lost is
 * recorded as done, because the registry no longer holds what it deleted.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { buildImage, pushImage, skopeoListTags } from '../../helpers/images.ts';
import { ENGINES, POSTGRES_DISABLED, POSTGRES_SKIP_MESSAGE } from '../../helpers/db.ts';
import { startProxy, type ProxyHandle } from '../../helpers/proxy.ts';
import { startRegistry, type RegistryHandle } from '../../helpers/registry.ts';
import { createWorkspace, type Workspace } from '../../helpers/workspace.ts';
import { listAudit, verifyAudit, type AuditRecord } from '../../../src/audit/index.ts';
import type { Engine } from '../../../src/store/index.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');
let reg: RegistryHandle;
let proxy: ProxyHandle;

before(async () => {
  reg = await startRegistry();
  proxy = await startProxy(reg);
});
after(async () => {
  await proxy?.close();
  await reg?.stop();
});

/**
 * Runs `sluice retention apply` as its own process and SIGKILLs it the moment the registry
 * has answered 2xx to its DELETE of a manifest in `repository`.
 */
async function applyKilledAfterDelete(ws: Workspace, repository: string, user: string): Promise<void> {
  const child = spawn(
    process.execPath,
    [path.join(ROOT, 'bin/sluice.js'), '--config', ws.configPath, 'retention', 'apply', '--stage', 'dev', '--yes'],
    { env: { ...process.env, ...ws.env, SLUICE_USER: user }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  const fault = proxy.inject({
    // Response phase: the registry has already deleted the manifest when this runs.
    kind: 'stall',
    method: 'DELETE',
    path: new RegExp(`^/v2/${repository}/manifests/sha256:`),
    when: () => child.kill('SIGKILL'),
  });
  try {
    assert.equal(await exited, 'SIGKILL', `the run was to be killed mid-delete; it ended on its own:\n${output}`);
    assert.equal(fault.hits, 1);
  } finally {
    fault.remove();
  }
}

/** Dev deletes `*-doomed` tags at once (and trashes them first). */
function workspace(engine: Engine): Promise<Workspace> {
  return createWorkspace({
    registries: [{ name: 'local', url: proxy.url }],
    engine,
    edit: (doc) => {
      doc.setIn(['spec', 'stages', 0, 'retention'], {
        mode: 'automatic',
        maxAge: '30d',
        keepLast: 0,
        deleteTags: ['*-doomed'],
        trash: { enabled: true, window: '14d' },
      });
    },
  });
}

function only(records: AuditRecord[], what: string): AuditRecord {
  assert.equal(records.length, 1, `${what}: ${JSON.stringify(records, null, 1)}`);
  return records[0]!;
}

for (const engine of ENGINES) {
  const skip = engine === 'postgres' && POSTGRES_DISABLED ? POSTGRES_SKIP_MESSAGE : false;
  test(
    `a deletion the registry made just before Sluice was killed is audited as the killed run's [${engine}]`,
    { skip },
    async () => {
      const ws = await workspace(engine);
      try {
        // --- killed, then applied again ------------------------------------------------------
        const rerunRepo = `acme-dev/killed-${engine}`;
        const doomed = (await pushImage(await buildImage({ layers: 1 }), reg, `${rerunRepo}:1.0.0-1-doomed`)).digest;
        await pushImage(await buildImage({ layers: 1 }), reg, `${rerunRepo}:1.1.0-2`);
        assert.equal((await ws.cli(['sync'])).code, 0);

        await applyKilledAfterDelete(ws, rerunRepo, 'dave');
        assert.deepEqual(await skopeoListTags(reg, rerunRepo), ['1.1.0-2'], 'the registry did delete it');
        const rt = await ws.runtime();
        const intent = only(
          await listAudit(rt.store, { action: 'deletion.intent', digest: doomed }),
          'the intent written before the DELETE',
        );
        assert.equal(intent.actor, 'dave');
        const run = intent.details.run;
        assert.equal(typeof run, 'string');
        assert.deepEqual(
          await listAudit(rt.store, { action: 'deletion', digest: doomed }),
          [],
          'killed before recording',
        );

        // Someone else runs the same apply; it finds the manifest gone and says whose deletion it was.
        const rerun = await ws.cli(['-o', 'json', 'retention', 'apply', '--stage', 'dev', '--yes'], {
          SLUICE_USER: 'alice',
        });
        assert.equal(rerun.code, 0, rerun.stderr);
        const item = JSON.parse(rerun.stdout).repositories.find(
          (r: { repository: string }) => r.repository === rerunRepo,
        ).items[0];
        assert.equal(item.outcome, 'skipped');
        assert.equal(item.cause, 'gone');
        assert.match(item.detail, new RegExp(`already deleted by dave in run ${run}`));
        const deletion = only(await listAudit(rt.store, { action: 'deletion', digest: doomed }), 'the deletion');
        assert.equal(deletion.actor, 'dave', 'the original actor, not the one who re-ran');
        assert.equal(deletion.result, 'success');
        assert.equal(deletion.details.run, run);
        assert.equal(deletion.details.intent, intent.seq);
        assert.equal(deletion.details.recordedBy, 'alice');
        assert.equal(deletion.tag, '1.0.0-1-doomed');
        assert.match(deletion.reason ?? '', /matches deleteTags \*-doomed.*interrupted before recording it/);

        // --- killed, then only synced --------------------------------------------------------
        const syncRepo = `acme-dev/synced-${engine}`;
        const gone = (await pushImage(await buildImage({ layers: 1 }), reg, `${syncRepo}:2.0.0-1-doomed`)).digest;
        await pushImage(await buildImage({ layers: 1 }), reg, `${syncRepo}:2.1.0-2`);
        assert.equal((await ws.cli(['sync'])).code, 0);
        await applyKilledAfterDelete(ws, syncRepo, 'dave');
        const intent2 = only(await listAudit(rt.store, { action: 'deletion.intent', digest: gone }), 'second intent');
        assert.equal((await ws.cli(['sync'])).code, 0);
        const deletion2 = only(
          await listAudit(rt.store, { action: 'deletion', digest: gone }),
          'deletion seen by sync',
        );
        assert.deepEqual(
          [deletion2.actor, deletion2.result, deletion2.details.run, deletion2.details.recordedBy],
          ['dave', 'success', intent2.details.run, 'system:sync'],
        );
        // The sync's own observation of the vanished tag names the deletion, not the registry's doing.
        const observed = only(
          await listAudit(rt.store, { action: 'tag.delete', repository: `${proxy.host}/${syncRepo}` }),
          'the tag observed gone',
        );
        assert.equal(observed.tag, '2.0.0-1-doomed');
        assert.ok(observed.seq > deletion2.seq, "recorded as dave's before the inventory change");
        // PostgreSQL refuses the NUL-padded tag list of the inventory's refresh until that query
        // is fixed (issue 10, first section); the sync then observes the tag itself, after
        // dave's deletion record. Where the refresh works, its reason names the deletion.
        if (engine === 'sqlite') {
          assert.match(observed.reason ?? '', new RegExp(`deletion by dave \\(run ${intent2.details.run}\\)`));
        }

        // Nothing is left pending, and a third sync records nothing more about it.
        assert.equal((await ws.cli(['sync'])).code, 0);
        assert.equal((await listAudit(rt.store, { digest: gone, action: 'deletion' })).length, 1);
        assert.equal((await rt.store.db.selectFrom('operation_intents').selectAll().execute()).length, 0);
        assert.equal((await verifyAudit(rt.store)).ok, true);
      } finally {
        await ws.cleanup();
      }
    },
  );
}

for (const engine of ENGINES) {
  const skip = engine === 'postgres' && POSTGRES_DISABLED ? POSTGRES_SKIP_MESSAGE : false;
  test(
    `a DELETE the registry performed whose every answer was lost is recorded as done, not failed [${engine}]`,
    { skip },
    async () => {
      const ws = await workspace(engine);
      try {
        const rt = await ws.runtime();
        const lostRepo = `acme-dev/lost-${engine}`;
        const lost = (await pushImage(await buildImage({ layers: 1 }), reg, `${lostRepo}:3.0.0-1-doomed`)).digest;
        await pushImage(await buildImage({ layers: 1 }), reg, `${lostRepo}:3.1.0-2`);
        assert.equal((await ws.cli(['sync'])).code, 0);
        const deletes = new RegExp(`^/v2/${lostRepo}/manifests/sha256:`);
        const cut = proxy.inject({
          kind: 'stall',
          method: 'DELETE',
          path: deletes,
          when: (req) => {
            req.socket.destroy();
            return true;
          },
        });
        // The client's retries of the DELETE never reach the registry either.
        const retries = proxy.inject({
          kind: 'reset',
          method: 'DELETE',
          path: deletes,
          times: Infinity,
          when: () => cut.hits > 0,
        });
        let applied;
        try {
          applied = await ws.cli(['-o', 'json', 'retention', 'apply', '--stage', 'dev', '--yes'], {
            SLUICE_USER: 'dave',
          });
        } finally {
          cut.remove();
          retries.remove();
        }
        assert.ok(retries.hits >= 1, 'the DELETE was retried');
        assert.equal(applied.code, 0, applied.stderr);
        const lostItem = JSON.parse(applied.stdout).repositories.find(
          (r: { repository: string }) => r.repository === lostRepo,
        ).items[0];
        assert.equal(lostItem.outcome, 'deleted', JSON.stringify(lostItem));
        assert.match(lostItem.detail, /the registry's answer was lost/);
        const lostDeletion = only(
          await listAudit(rt.store, { action: 'deletion', digest: lost }),
          'the lost-answer deletion',
        );
        assert.deepEqual([lostDeletion.actor, lostDeletion.result], ['dave', 'success']);
        assert.equal(typeof lostDeletion.details.registryAnswer, 'string');

        assert.equal((await rt.store.db.selectFrom('operation_intents').selectAll().execute()).length, 0);
      } finally {
        await ws.cleanup();
      }
    },
  );
}
