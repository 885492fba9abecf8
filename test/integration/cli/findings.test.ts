/**
 * Findings and waivers through the CLI on a real Distribution registry: a Trivy report
 * imported for the digest a tag points to, listed and shown as JSON, a waiver granted by the
 * team's security member and refused to a developer, then revoked.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { buildImage, pushImage } from '../../helpers/images.ts';
import { startRegistry, type RegistryHandle } from '../../helpers/registry.ts';
import { createWorkspace, type Workspace } from '../../helpers/workspace.ts';

const FIXTURE = path.join(import.meta.dirname, '../../fixtures/scanners/trivy-alpine-310.json');

let reg: RegistryHandle;
let ws: Workspace;
let digest: string;
let ref: string;
let report: string;

before(async () => {
  reg = await startRegistry();
  ws = await createWorkspace({ registries: [{ name: 'local', url: reg.url }] });
  const img = await buildImage({ layers: 1 });
  ({ digest } = await pushImage(img, reg, 'acme-dev/api:1.0.0-1'));
  ref = `${reg.host}/acme-dev/api:1.0.0-1`;
  const sync = await ws.cli(['sync']);
  assert.equal(sync.code, 0, sync.stderr);
  // The fixture names no digest of its own: the import binds it to the digest REF resolves to.
  report = path.join(ws.dir, 'trivy.json');
  const doc = JSON.parse(await readFile(FIXTURE, 'utf8')) as { Metadata: Record<string, unknown> };
  doc.Metadata.RepoDigests = [`${reg.host}/acme-dev/api@${digest}`];
  await writeFile(report, JSON.stringify(doc));
});
after(async () => {
  await ws?.cleanup();
  await reg?.stop();
});

const as = (user: string, args: string[]) => ws.cli(args, { SLUICE_USER: user });

test('a report for another digest is refused, and an auditor may not import', async () => {
  const other = path.join(ws.dir, 'other.json');
  const doc = JSON.parse(await readFile(FIXTURE, 'utf8')) as { Metadata: Record<string, unknown> };
  doc.Metadata.RepoDigests = [`${reg.host}/acme-dev/api@sha256:${'f'.repeat(64)}`];
  await writeFile(other, JSON.stringify(doc));
  const mismatch = await as('alice', ['findings', 'import', ref, '--file', other]);
  assert.equal(mismatch.code, 2, mismatch.stderr);
  assert.match(mismatch.stderr, /describes sha256:f+, not sha256:/);
  const auditor = await as('grace', ['findings', 'import', ref, '--file', report]);
  assert.equal(auditor.code, 1);
  assert.match(auditor.stderr, /grace may not import a scan report for team acme/);
  const badFormat = await as('alice', ['findings', 'import', ref, '--file', report, '--format', 'nessus']);
  assert.equal(badFormat.code, 2);
  assert.match(badFormat.stderr, /--format must be one of/);
});

test('import, ls, show, waive, revoke', async () => {
  const imported = await as('alice', ['findings', 'import', ref, '--file', report, '--format', 'trivy', '-o', 'json']);
  assert.equal(imported.code, 0, imported.stderr);
  const result = JSON.parse(imported.stdout);
  assert.equal(result.digest, digest);
  assert.equal(result.scanner, 'trivy');
  assert.ok(result.opened >= 2, imported.stdout);

  const again = await as('alice', ['findings', 'import', ref, '--file', report, '-o', 'json']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(JSON.parse(again.stdout).opened, 0, 'the same bytes write nothing');

  const shown = await ws.cli(['findings', 'show', ref, '-o', 'json']);
  assert.equal(shown.code, 0, shown.stderr);
  const show = JSON.parse(shown.stdout) as { digest: string; findings: Array<Record<string, unknown>> };
  assert.equal(show.digest, digest);
  const ids = new Set(show.findings.map((f) => f.id));
  assert.ok(ids.has('CVE-2019-1549') && ids.has('CVE-2019-1551'), shown.stdout);
  for (const f of show.findings) {
    assert.equal(f.digest, digest);
    assert.deepEqual(f.teams, ['acme']);
    assert.equal(f.effectiveState, 'open');
  }

  const listed = await ws.cli(['findings', 'ls', '--team', 'acme', '--state', 'open', '-o', 'json']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.equal(JSON.parse(listed.stdout).findings.length, show.findings.length);
  const otherTeam = await ws.cli(['findings', 'ls', '--team', 'nobody', '-o', 'json']);
  assert.deepEqual(JSON.parse(otherTeam.stdout).findings, []);
  const badSeverity = await ws.cli(['findings', 'ls', '--severity', 'dire']);
  assert.equal(badSeverity.code, 2);
  const table = await ws.cli(['findings', 'ls']);
  assert.match(table.stdout, /CVE-2019-1549/);

  const waive = [
    'waiver',
    'add',
    '--id',
    'CVE-2019-1549',
    '--image',
    ref,
    '--reason',
    'not reachable',
    '--expires',
    '30d',
  ];
  const refused = await as('alice', [...waive, '-o', 'json']);
  assert.equal(refused.code, 1);
  assert.equal(JSON.parse(refused.stderr).error.code, 'FORBIDDEN');
  const granted = await as('erin', [...waive, '-o', 'json']);
  assert.equal(granted.code, 0, granted.stderr);
  const w = JSON.parse(granted.stdout) as { id: string; digest: string; team: string; createdBy: string };
  assert.equal(w.digest, digest);
  assert.equal(w.team, 'acme');
  assert.equal(w.createdBy, 'erin');

  // Both packages with the vulnerability (libcrypto and libssl) are covered, nothing else.
  const waived = await ws.cli(['findings', 'ls', '--state', 'waived', '-o', 'json']);
  const waivedIds = (JSON.parse(waived.stdout).findings as Array<{ id: string }>).map((f) => f.id);
  assert.deepEqual(
    waivedIds,
    show.findings.filter((f) => f.id === 'CVE-2019-1549').map((f) => f.id),
  );
  assert.ok(waivedIds.length >= 1);
  const waivers = await ws.cli(['waiver', 'ls', '-o', 'json']);
  assert.deepEqual(
    (JSON.parse(waivers.stdout).waivers as Array<{ id: string }>).map((x) => x.id),
    [w.id],
  );

  const tooLong = await as('erin', [
    'waiver',
    'add',
    '--id',
    'CVE-2019-1551',
    '--repository',
    'acme/api',
    '--reason',
    'x',
    '--expires',
    '900d',
  ]);
  assert.equal(tooLong.code, 1, tooLong.stderr);
  assert.match(tooLong.stderr, /at most 90 days/);

  const devRevoke = await as('alice', ['waiver', 'revoke', w.id]);
  assert.equal(devRevoke.code, 1);
  const revoked = await as('erin', ['waiver', 'revoke', w.id, '--reason', 'fixed upstream', '-o', 'json']);
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.equal(JSON.parse(revoked.stdout).revokedBy, 'erin');
  const after = await ws.cli(['waiver', 'ls', '-o', 'json']);
  assert.deepEqual(JSON.parse(after.stdout).waivers, []);
  const reopened = await ws.cli(['findings', 'ls', '--state', 'waived', '-o', 'json']);
  assert.deepEqual(JSON.parse(reopened.stdout).findings, []);
});
