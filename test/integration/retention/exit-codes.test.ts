/**
 * `retention apply` that does not do what it was asked exits non-zero and says why: items
 * skipped for lack of permission, or nothing applied at all. A summary goes to stderr, and
 * with `-o json` the error carries the counts. Items already gone count as done.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { buildImage, pushImage, skopeoListTags } from '../../helpers/images.ts';
import { ENGINES, POSTGRES_DISABLED, POSTGRES_SKIP_MESSAGE } from '../../helpers/db.ts';
import { startRegistry } from '../../helpers/registry.ts';
import { createWorkspace } from '../../helpers/workspace.ts';

for (const engine of ENGINES) {
  const skip = engine === 'postgres' && POSTGRES_DISABLED ? POSTGRES_SKIP_MESSAGE : false;
  test(
    `retention apply exits non-zero when it skipped for permission or applied nothing [${engine}]`,
    { skip },
    async () => {
      // A registry of its own: the plans below count every repository of the stage.
      const reg = await startRegistry();
      const ws = await createWorkspace({
        registries: [{ name: 'local', url: reg.url }],
        engine,
        edit: (doc) => {
          const doomed = { maxAge: '30d', keepLast: 0, deleteTags: ['*-doomed'] };
          doc.setIn(['spec', 'stages', 0, 'retention'], { mode: 'automatic', ...doomed });
          doc.setIn(['spec', 'stages', 1, 'retention'], { mode: 'manual', ...doomed });
        },
      });
      try {
        const dev = `acme-dev/exit-${engine}`;
        const staging = `acme-staging/exit-${engine}`;
        await pushImage(await buildImage({ layers: 1 }), reg, `${dev}:1.0.0-1-doomed`);
        await pushImage(await buildImage({ layers: 1 }), reg, `${dev}:1.1.0-2`);
        await pushImage(await buildImage({ layers: 1 }), reg, `${staging}:1.0.0-1-doomed`);
        await pushImage(await buildImage({ layers: 1 }), reg, `${staging}:1.1.0-2`);
        assert.equal((await ws.cli(['sync'])).code, 0);

        // Someone with no role for team acme: every item skipped, and the exit code says so.
        const stranger = await ws.cli(['retention', 'apply', '--stage', 'dev', '--yes'], { SLUICE_USER: 'mallory' });
        assert.equal(stranger.code, 1, stranger.stdout);
        assert.match(
          stranger.stderr,
          /error: 1 item\(s\) skipped for lack of permission: mallory may not apply retention for team acme .*deleted 0 of 1 planned item\(s\), skipped 1 \(forbidden 1\)/,
        );
        const asJson = await ws.cli(['-o', 'json', 'retention', 'apply', '--stage', 'dev', '--yes'], {
          SLUICE_USER: 'grace',
        });
        assert.equal(asJson.code, 1);
        const err = JSON.parse(asJson.stderr).error;
        assert.equal(err.code, 'RETENTION_FORBIDDEN');
        assert.equal(err.category, 'forbidden');
        assert.deepEqual(
          [err.counts.planned, err.counts.deleted, err.counts.skipped, err.counts.skippedBy],
          [1, 0, 1, { forbidden: 1 }],
        );
        const report = JSON.parse(asJson.stdout);
        assert.equal(report.repositories[0].items[0].cause, 'forbidden');
        assert.equal(err.run, report.run);
        const dryRun = await ws.cli(['retention', 'apply', '--stage', 'dev', '--dry-run'], { SLUICE_USER: 'mallory' });
        assert.equal(dryRun.code, 1, 'a dry run tells the same');
        assert.deepEqual((await skopeoListTags(reg, dev)).sort(), ['1.0.0-1-doomed', '1.1.0-2']);

        // Manual mode, plan not approved: nothing applied.
        const unapproved = await ws.cli(['retention', 'apply', '--stage', 'staging', '--yes'], { SLUICE_USER: 'dave' });
        assert.equal(unapproved.code, 1, unapproved.stdout);
        assert.match(
          unapproved.stderr,
          /error: nothing applied: deleted 0 of 1 planned item\(s\), skipped 1 \(not-approved 1\)/,
        );
        assert.deepEqual((await skopeoListTags(reg, staging)).sort(), ['1.0.0-1-doomed', '1.1.0-2']);

        // Someone who may: deleted, exit 0. The same saved plan applied again finds it gone: done, exit 0.
        const planFile = path.join(ws.dir, 'plan.json');
        assert.equal((await ws.cli(['retention', 'plan', '--stage', 'dev', '--save', planFile])).code, 0);
        const done = await ws.cli(['retention', 'apply', '--plan', planFile, '--yes'], { SLUICE_USER: 'dave' });
        assert.equal(done.code, 0, done.stderr);
        assert.deepEqual(await skopeoListTags(reg, dev), ['1.1.0-2']);
        const again = await ws.cli(['-o', 'json', 'retention', 'apply', '--plan', planFile, '--yes'], {
          SLUICE_USER: 'dave',
        });
        assert.equal(again.code, 0, again.stderr);
        assert.equal(JSON.parse(again.stdout).repositories[0].items[0].cause, 'gone');
        // Nothing to delete is not a shortfall.
        assert.equal((await ws.cli(['sync'])).code, 0);
        const nothing = await ws.cli(['retention', 'apply', '--stage', 'dev', '--yes'], { SLUICE_USER: 'mallory' });
        assert.equal(nothing.code, 0, nothing.stderr);
      } finally {
        await ws.cleanup();
        await reg.stop();
      }
    },
  );
}
