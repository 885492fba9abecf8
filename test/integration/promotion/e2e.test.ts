/**
 * The lifecycle end to end on a real Distribution registry with the default policy: an image
 * pushed to acme-dev/api:1.4.0-7 goes to staging automatically on evidence, waits for a QA
 * approval into preprod, and reaches prod (signed on the way) only inside a maintenance
 * window. skopeo, an independent client, confirms the same digest in all four repositories.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { buildImage, pushImage, skopeoDigest, skopeoListTags, type LocalImage } from '../../helpers/images.ts';
import { describeEachEngine } from '../../helpers/db.ts';
import { startRegistry, type RegistryHandle } from '../../helpers/registry.ts';
import { createWorkspace, type Workspace } from '../../helpers/workspace.ts';
import { writeKeyPair } from '../../../src/signing/keys.ts';
import { verifyAudit } from '../../../src/audit/index.ts';

const PASSWORD = 'correct horse battery staple';
// Built once; each engine's suite pushes it to a registry of its own, since the flow fills
// every stage's repositories and the second run must start from the same empty registry.
let img: LocalImage;

function trivyReport(image: string, d: string, severities: string[]): string {
  // Shape of Trivy's JSON output (SchemaVersion 2), as in its integration golden files.
  return JSON.stringify({
    SchemaVersion: 2,
    CreatedAt: '2026-11-21T10:00:00Z',
    ArtifactName: image,
    ArtifactType: 'container_image',
    Metadata: {
      OS: { Family: 'debian', Name: '12.8' },
      ImageID: 'sha256:' + '0'.repeat(64),
      RepoTags: [image],
      RepoDigests: [`${image.split(':')[0]}@${d}`],
    },
    Results: [
      {
        Target: `${image} (debian 12.8)`,
        Class: 'os-pkgs',
        Type: 'debian',
        Vulnerabilities: severities.map((s, i) => ({
          VulnerabilityID: `CVE-2026-${1000 + i}`,
          PkgName: `pkg${i}`,
          InstalledVersion: '1.0',
          FixedVersion: '1.1',
          Status: 'fixed',
          Severity: s,
          Title: 'test finding',
        })),
      },
    ],
  });
}

before(async () => {
  img = await buildImage({ layers: 3, labels: { version: '1.4.0', maintainer: 'acme' } });
});

describeEachEngine('the lifecycle end to end', (engine) => {
  let reg: RegistryHandle;
  let ws: Workspace;
  let digest: string;

  before(async () => {
    reg = await startRegistry();
    ws = await createWorkspace({
      engine,
      registries: [{ name: 'local', url: reg.url }],
      edit: (doc) => {
        const stages = doc.getIn(['spec', 'stages']) as { items: Array<{ set: (k: string, v: unknown) => void }> };
        // prod signs on promotion with the team's key; the window is open all the time here.
        stages.items[3]!.set('sign', { key: 'file:cosign.key' });
        stages.items[3]!.set('maintenanceWindows', [{ cron: '* * * * *', duration: '1h', timeZone: 'Europe/Berlin' }]);
      },
      env: { SLUICE_SIGNING_PASSWORD: PASSWORD },
    });
    await writeKeyPair(PASSWORD, { prefix: path.join(ws.dir, 'cosign') });
    ({ digest } = await pushImage(img, reg, 'acme-dev/api:1.4.0-7'));
  });
  after(async () => {
    await ws?.cleanup();
    await reg?.stop();
  });

  const as = (user: string, args: string[]) => ws.cli(args, { SLUICE_USER: user });

  test('dev → staging automatically, preprod on approval, prod in the window', async () => {
    const ref = `${reg.host}/acme-dev/api:1.4.0-7`;
    for (const type of ['build', 'unit-tests']) {
      const r = await as('alice', ['evidence', 'add', ref, '--type', type, '--url', 'https://ci.example/run/7']);
      assert.equal(r.code, 0, r.stderr);
    }
    assert.deepEqual((await skopeoListTags(reg, 'acme-dev/api')).sort(), ['1.4.0-7'], 'dev gate not complete yet');
    const cq = await as('alice', ['evidence', 'add', ref, '--type', 'code-quality', '-o', 'json']);
    assert.equal(cq.code, 0, cq.stderr);
    assert.equal(JSON.parse(cq.stdout).promoted[0].status, 'succeeded');
    assert.deepEqual(
      (await skopeoListTags(reg, 'acme-dev/api')).sort(),
      ['1.4.0-7', 'dev'],
      'dev admitted automatically',
    );

    // A report for another digest is refused: evidence for A never counts for B.
    const other = path.join(ws.dir, 'other.json');
    await writeFile(other, trivyReport(`${reg.host}/acme-dev/api:1.4.0-7`, 'sha256:' + 'f'.repeat(64), []));
    const mismatch = await as('alice', ['evidence', 'add', ref, '--type', 'scan', '--file', other]);
    assert.equal(mismatch.code, 2);
    assert.match(mismatch.stderr, /describes sha256:f+, not sha256:/);

    const report = path.join(ws.dir, 'trivy.json');
    await writeFile(report, trivyReport(`${reg.host}/acme-dev/api:1.4.0-7`, digest, ['MEDIUM', 'LOW']));
    for (const args of [
      ['--type', 'scan', '--file', report],
      ['--type', 'integration-tests'],
    ]) {
      const r = await as('bob', ['evidence', 'add', ref, ...args]);
      assert.equal(r.code, 0, r.stderr);
    }
    assert.equal(
      (await ws.cli(['ls', `${reg.host}/acme-staging/api`])).code,
      2,
      'staging not reached before performance tests',
    );
    const perf = await as('bob', ['evidence', 'add', ref, '--type', 'performance-tests']);
    assert.equal(perf.code, 0, perf.stderr);
    assert.deepEqual((await skopeoListTags(reg, 'acme-staging/api')).sort(), ['1.4.0-7', 'staging']);

    // preprod is manual and needs a QA approval: refused first, with what is missing.
    const refused = await as('carol', ['promote', 'acme/api:1.4.0-7', '--to', 'preprod']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /qa-approval: missing/);
    assert.match(refused.stderr, /change-approval: missing/);
    const dry = await as('carol', ['promote', 'acme/api:1.4.0-7', '--to', 'preprod', '--dry-run']);
    assert.equal(dry.code, 1);
    assert.match(dry.stdout, /REQUIREMENT\s+STATUS/);
    const notQa = await as('alice', ['approve', 'acme/api:1.4.0-7', '--stage', 'preprod']);
    assert.equal(notQa.code, 1);
    assert.match(notQa.stderr, /alice may not approve qa-approval for preprod.*needs role qa/);
    assert.equal(
      (await as('bob', ['approve', 'acme/api:1.4.0-7', '--stage', 'preprod', '--comment', 'regression suite green']))
        .code,
      0,
    );
    for (const type of ['change-approval', 'smoke-tests', 'rollback-plan']) {
      assert.equal((await as('carol', ['evidence', 'add', 'acme-staging/api:1.4.0-7', '--type', type])).code, 0);
    }
    const check = await as('carol', ['gate', 'check', 'acme/api:1.4.0-7', '--stage', 'preprod', '-o', 'json']);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    const pre = await as('carol', ['promote', 'acme/api:1.4.0-7', '--to', 'preprod', '-o', 'json']);
    assert.equal(pre.code, 0, pre.stderr);
    assert.equal(JSON.parse(pre.stdout).status, 'succeeded');

    // prod: operations only, in the window, signed on the way.
    for (const type of ['maintenance-window', 'monitoring-alerts', 'rollback-verified']) {
      assert.equal((await as('dave', ['evidence', 'add', 'acme-preprod/api:1.4.0-7', '--type', type])).code, 0);
    }
    const wrongRole = await as('carol', ['promote', 'acme/api:1.4.0-7', '--to', 'prod']);
    assert.equal(wrongRole.code, 1);
    assert.match(wrongRole.stderr, /needs role operations/);
    const prod = await as('dave', ['promote', 'acme/api:1.4.0-7', '--to', 'prod', '-o', 'json']);
    assert.equal(prod.code, 0, prod.stderr);
    assert.equal(JSON.parse(prod.stdout).status, 'succeeded');

    for (const stage of ['dev', 'staging', 'preprod', 'prod']) {
      assert.equal(await skopeoDigest(reg, `acme-${stage}/api:1.4.0-7`), digest, `${stage} holds the same digest`);
      assert.equal(await skopeoDigest(reg, `acme-${stage}/api:${stage}`), digest, `${stage} tag moved`);
    }
    const prodTags = await skopeoListTags(reg, 'acme-prod/api');
    assert.ok(prodTags.includes(`sha256-${digest.slice(7)}.sig`), `signature tag in prod: ${prodTags}`);

    const deployable = await ws.cli(['verify-deployable', `${reg.host}/acme-prod/api:prod`, '-o', 'json']);
    assert.equal(deployable.code, 0, deployable.stdout + deployable.stderr);
    assert.ok(
      JSON.parse(deployable.stdout).checks.some((c: { check: string; ok: boolean }) => c.check === 'signature' && c.ok),
    );

    const history = JSON.parse((await ws.cli(['promotions', 'ls', '--team', 'acme', '-o', 'json'])).stdout) as Array<{
      to_stage: string;
      status: string;
    }>;
    assert.deepEqual(
      history
        .filter((p) => p.status === 'succeeded')
        .map((p) => p.to_stage)
        .reverse(),
      ['dev', 'staging', 'preprod', 'prod'],
    );
    assert.ok(history.some((p) => p.status === 'refused' && p.to_stage === 'preprod'));

    const show = JSON.parse((await ws.cli(['images', 'show', `${reg.host}/acme-prod/api:prod`, '-o', 'json'])).stdout);
    assert.deepEqual(
      show.promotions.map((p: { stage: string }) => p.stage),
      ['dev', 'staging', 'preprod', 'prod'],
    );
    assert.ok(show.promotions.at(-1).sinceStart >= 0);
    const text = (await ws.cli(['images', 'show', `${reg.host}/acme-prod/api:prod`])).stdout;
    assert.match(text, /Promotions:\s+dev .* -> staging .* -> preprod .* -> prod .*lead time/);

    const rt = await ws.runtime();
    const audit = await verifyAudit(rt.store);
    assert.equal(audit.ok, true);
    const verify = await ws.cli(['audit', 'verify', '-o', 'json']);
    assert.equal(verify.code, 0, verify.stderr);
    assert.equal(JSON.parse(verify.stdout).ok, true);
  });
});
