import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Actor } from '../../../src/auth/actor.ts';
import { appendAudit, listAudit } from '../../../src/audit/index.ts';
import {
  addWaiver,
  findingsForDigest,
  importReport,
  listFindings,
  listWaivers,
  parseReport,
  recordReport,
  revokeWaiver,
  type FindingsDeps,
} from '../../../src/findings/index.ts';
import type { ParsedReport, ReportedFinding } from '../../../src/findings/index.ts';
import type { Role, Severity, VulnerabilityPolicy } from '../../../src/policy/index.ts';
import type { Store } from '../../../src/store/index.ts';
import { SluiceError } from '../../../src/errors.ts';
import { forEachEngine } from '../../helpers/db.ts';

const H = 3_600_000;
const D = 24 * H;
const T0 = Date.parse('2026-03-01T00:00:00Z');
const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;

const vulnerabilities: VulnerabilityPolicy = {
  sla: { critical: D, high: 7 * D, medium: 30 * D, low: 'nextCycle', negligible: 'nextCycle', unknown: 30 * D },
  quarantine: { enabled: false, onSeverity: 'critical', tag: 'quarantine', removeFrom: ['prod'] },
  scanner: { kind: 'trivy' },
  waivers: { maxDuration: 90 * D },
};

function deps(store: Store): FindingsDeps {
  return { store, policy: { vulnerabilities }, audit: (h, input) => appendAudit(h, input) };
}

function actor(name: string, roles: Role[]): Actor {
  return { name, rolesFor: (team) => (team === 'payments' ? roles : []) };
}
const ci = actor('ci', ['developer']);
const sec = actor('sec', ['security']);

function report(scanner: ParsedReport['scanner'], findings: ReportedFinding[]): ParsedReport {
  return { format: scanner === 'grype' ? 'grype' : 'trivy', scanner, digests: [], findings, duplicates: 0 };
}
function f(
  id: string,
  severity: Severity = 'high',
  pkg = 'openssl',
  extra: Partial<ReportedFinding> = {},
): ReportedFinding {
  return { id, aliases: [], package: { name: pkg, version: '1.0' }, severity, state: 'open', ...extra };
}

/** Digest A in payments/api, tagged in prod; B in search/web, tagged in dev. */
async function inventory(store: Store): Promise<void> {
  await store.db
    .insertInto('registries')
    .values({ name: 'r', url: 'https://r.example', kind: 'distribution', created_at: T0 })
    .execute();
  const manifest = (digest: string) => ({
    registry: 'r',
    digest,
    media_type: 'application/vnd.oci.image.manifest.v1+json',
    size: 1,
    created: null,
    labels: '{}',
    config_user: null,
    platforms: '[]',
    base_digest: null,
    base_name: null,
    config_digest: null,
    first_seen: T0,
    last_seen: T0,
  });
  await store.db
    .insertInto('manifests')
    .values([manifest(A), manifest(B)])
    .execute();
  await store.db
    .insertInto('repositories')
    .values([
      {
        registry: 'r',
        name: 'prod/payments/api',
        team: 'payments',
        stage: 'prod',
        category: null,
        last_synced_at: null,
      },
      { registry: 'r', name: 'dev/search/web', team: 'search', stage: 'dev', category: null, last_synced_at: null },
    ])
    .execute();
  await store.db
    .insertInto('repository_manifests')
    .values([
      { registry: 'r', repository: 'prod/payments/api', digest: A, first_seen: T0, last_seen: T0 },
      { registry: 'r', repository: 'dev/search/web', digest: B, first_seen: T0, last_seen: T0 },
    ])
    .execute();
  await store.db
    .insertInto('tags')
    .values([
      { registry: 'r', repository: 'prod/payments/api', tag: 'prod', digest: A, updated_at: T0 },
      { registry: 'r', repository: 'dev/search/web', tag: 'dev', digest: B, updated_at: T0 },
    ])
    .execute();
}

async function count(store: Store): Promise<{ findings: number; scans: number }> {
  const fs = await store.db
    .selectFrom('findings')
    .select((e) => e.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  const ss = await store.db
    .selectFrom('scans')
    .select((e) => e.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return { findings: Number(fs.n), scans: Number(ss.n) };
}

forEachEngine('a real Trivy report is recorded once; the same bytes again write nothing', async ({ store }) => {
  const text = readFileSync(new URL('../../fixtures/scanners/trivy-alpine-310.json', import.meta.url), 'utf8');
  const parsed = parseReport(text, { source: 'alpine.json' });
  const first = await recordReport(deps(store), { digest: A, report: parsed, reportText: text, actor: ci, now: T0 });
  assert.equal(first.opened, parsed.findings.length);
  assert.ok(first.opened > 0);
  const before = await count(store);
  assert.deepEqual(before, { findings: first.opened, scans: 1 });
  const again = await recordReport(deps(store), {
    digest: A,
    report: parsed,
    reportText: text,
    actor: ci,
    now: T0 + 5 * D,
  });
  assert.deepEqual(again, { opened: 0, updated: 0, fixed: 0, unchanged: first.opened });
  assert.deepEqual(await count(store), before);
  const rows = await findingsForDigest(deps(store), A, T0 + 5 * D);
  assert.ok(rows.every((r) => r.firstSeen === T0 && r.lastSeen === T0));
});

forEachEngine(
  'importReport: same bytes skip parsing and write nothing; a report for another digest is refused',
  async ({ store }) => {
    const d = deps(store);
    const text = JSON.stringify({
      SchemaVersion: 2,
      ArtifactName: `r.example/payments/api@${A}`,
      Results: [
        {
          Target: 't',
          Vulnerabilities: [{ VulnerabilityID: 'CVE-1', PkgName: 'p', InstalledVersion: '1', Severity: 'HIGH' }],
        },
      ],
    });
    const first = await importReport(d, { digest: A, text, actor: ci, now: T0 });
    assert.deepEqual([first.opened, first.scanner], [1, 'trivy']);
    const again = await importReport(d, { digest: A, text, actor: ci, now: T0 + D });
    assert.deepEqual(again, { opened: 0, updated: 0, fixed: 0, unchanged: 1, scanner: 'trivy' });
    assert.deepEqual(await count(store), { findings: 1, scans: 1 });
    await assert.rejects(
      importReport(d, { digest: B, text, source: 'other.json', actor: ci, now: T0 }),
      (e: unknown) => e instanceof SluiceError && e.code === 'SCAN_REPORT_MISMATCH',
    );
    const empty = JSON.stringify({ SchemaVersion: 2, ArtifactName: `r.example/payments/api@${B}`, Results: [] });
    const none = await importReport(d, { digest: B, text: empty, actor: ci, now: T0 });
    assert.equal(none.opened, 0);
    assert.deepEqual(await count(store), { findings: 1, scans: 2 });
  },
);

forEachEngine('rescans keep first seen, fix what disappeared, merge scanners', async ({ store }) => {
  await inventory(store);
  const d = deps(store);
  await recordReport(d, {
    digest: A,
    report: report('trivy', [f('CVE-1'), f('CVE-2', 'critical', 'zlib')]),
    actor: ci,
    now: T0,
  });
  const g = await recordReport(d, {
    digest: A,
    report: report('grype', [f('CVE-1', 'high', 'openssl', { aliases: ['GHSA-1'] })]),
    actor: ci,
    now: T0 + 2 * H,
  });
  assert.deepEqual([g.opened, g.updated], [0, 1]);
  const r = await recordReport(d, { digest: A, report: report('trivy', [f('CVE-1')]), actor: ci, now: T0 + 3 * D });
  assert.deepEqual([r.opened, r.fixed], [0, 1]);
  const rows = await findingsForDigest(d, A, T0 + 3 * D);
  const one = rows.find((x) => x.id === 'CVE-1')!;
  assert.equal(one.firstSeen, T0);
  assert.equal(one.lastSeen, T0 + 3 * D);
  assert.deepEqual(one.scanners, ['grype', 'trivy']);
  assert.deepEqual(one.aliases, ['GHSA-1']);
  assert.deepEqual(one.stages, ['prod']);
  assert.deepEqual(one.teams, ['payments']);
  const two = rows.find((x) => x.id === 'CVE-2')!;
  assert.equal(two.state, 'fixed');
  assert.equal(two.resolvedAt, T0 + 3 * D);
  assert.equal(two.clock, 'closed');
});

forEachEngine('listFindings: overdue, due within, severity, team and stage', async ({ store }) => {
  await inventory(store);
  const d = deps(store);
  await recordReport(d, {
    digest: A,
    report: report('trivy', [f('CVE-C', 'critical'), f('CVE-H', 'high'), f('CVE-M', 'medium')]),
    actor: ci,
    now: T0,
  });
  await recordReport(d, { digest: B, report: report('trivy', [f('CVE-C', 'critical')]), actor: ci, now: T0 + D });
  const now = T0 + 2 * D;
  const overdue = await listFindings(d, { overdue: true, now });
  assert.deepEqual(
    overdue.map((x) => `${x.id}@${x.digest.slice(7, 8)}`),
    ['CVE-C@a', 'CVE-C@b'],
  );
  assert.ok(overdue.every((x) => x.clock === 'breached'));
  const soon = await listFindings(d, { dueWithinMs: 6 * D, now });
  assert.deepEqual(
    soon.map((x) => x.id),
    ['CVE-C', 'CVE-C', 'CVE-H'],
  );
  assert.deepEqual((await listFindings(d, { team: 'payments', now })).map((x) => x.id).sort(), [
    'CVE-C',
    'CVE-H',
    'CVE-M',
  ]);
  assert.deepEqual(
    (await listFindings(d, { stage: 'dev', now })).map((x) => x.digest),
    [B],
  );
  assert.deepEqual(
    (await listFindings(d, { severity: 'medium', now })).map((x) => x.id),
    ['CVE-M'],
  );
  assert.deepEqual(await listFindings(d, { team: 'nobody', now }), []);
});

forEachEngine(
  'waivers: granted by security, audited, hide a finding from overdue while valid, revoked',
  async ({ store }) => {
    await inventory(store);
    const d = deps(store);
    await recordReport(d, {
      digest: A,
      report: report('trivy', [f('CVE-C', 'critical', 'openssl', { aliases: ['GHSA-c'] })]),
      actor: ci,
      now: T0,
    });
    const now = T0 + 2 * D;
    await assert.rejects(
      addWaiver(d, { vulnId: 'CVE-C', team: 'payments', reason: 'x', expiresAt: now + D, actor: ci, now }),
      (e: unknown) => e instanceof SluiceError && e.code === 'FORBIDDEN',
    );
    await assert.rejects(
      addWaiver(d, { vulnId: 'CVE-C', team: 'payments', reason: 'x', expiresAt: now + 91 * D, actor: sec, now }),
      (e: unknown) => e instanceof SluiceError && e.code === 'WAIVER_TOO_LONG',
    );
    await assert.rejects(
      addWaiver(d, { vulnId: 'CVE-C', digest: B, team: 'payments', reason: 'x', expiresAt: now + D, actor: sec, now }),
      (e: unknown) => e instanceof SluiceError && e.code === 'WAIVER_INVALID',
    );
    await assert.rejects(
      addWaiver(d, {
        vulnId: 'CVE-C',
        digest: `sha256:${'c'.repeat(64)}`,
        team: 'payments',
        reason: 'x',
        expiresAt: now + D,
        actor: sec,
        now,
      }),
      (e: unknown) => e instanceof SluiceError && e.code === 'IMAGE_NOT_IN_INVENTORY',
    );
    const w = await addWaiver(d, {
      vulnId: 'GHSA-c',
      repository: 'payments/api',
      team: 'payments',
      reason: 'not reachable',
      expiresAt: now + 10 * D,
      actor: sec,
      now,
    });
    assert.deepEqual(await listFindings(d, { overdue: true, now }), []);
    const waived = await listFindings(d, { state: 'waived', now });
    assert.equal(waived.length, 1);
    assert.equal(waived[0]!.waivedUntil, now + 10 * D);
    // Lapsed: the original due date applies again, so it is overdue at once.
    const after = await listFindings(d, { overdue: true, now: now + 10 * D });
    assert.deepEqual(
      after.map((x) => x.id),
      ['CVE-C'],
    );
    assert.deepEqual(
      (await listWaivers(d, { now })).map((x) => x.id),
      [w.id],
    );
    await assert.rejects(
      revokeWaiver(d, { id: w.id, actor: ci, now: now + 1 }),
      (e: unknown) => e instanceof SluiceError && e.code === 'FORBIDDEN',
    );
    await assert.rejects(
      revokeWaiver(d, { id: 'nope', actor: sec, now: now + 1 }),
      (e: unknown) => e instanceof SluiceError && e.code === 'WAIVER_NOT_FOUND',
    );
    const revoked = await revokeWaiver(d, { id: w.id, actor: sec, reason: 'fix shipped', now: now + 1 });
    assert.equal(revoked.revokedBy, 'sec');
    assert.deepEqual(await listWaivers(d, { now: now + 2 }), []);
    assert.equal((await listWaivers(d, { now: now + 2, all: true })).length, 1);
    assert.equal((await listFindings(d, { overdue: true, now: now + 2 })).length, 1);
    const audit = await listAudit(store, { order: 'asc' });
    assert.deepEqual(
      audit.map((a) => `${a.action}:${a.actor}:${a.result}`),
      ['waiver:sec:success', 'waiver.revoke:sec:success'],
    );
  },
);

forEachEngine('VEX not-affected closes a finding and survives a scanner rescan', async ({ store }) => {
  const d = deps(store);
  await recordReport(d, { digest: A, report: report('trivy', [f('CVE-1')]), actor: ci, now: T0 });
  const vex: ParsedReport = {
    format: 'cyclonedx',
    scanner: 'cyclonedx',
    digests: [],
    duplicates: 0,
    findings: [f('CVE-1', 'high', 'openssl', { state: 'not-affected' })],
  };
  await recordReport(d, { digest: A, report: vex, actor: sec, now: T0 + H });
  await recordReport(d, { digest: A, report: report('trivy', [f('CVE-1')]), actor: ci, now: T0 + 3 * H });
  const [row] = await findingsForDigest(d, A, T0 + 3 * D);
  assert.equal(row!.state, 'not-affected');
  assert.equal(row!.clock, 'closed');
  assert.deepEqual(await listFindings(d, { overdue: true, now: T0 + 30 * D }), []);
});
