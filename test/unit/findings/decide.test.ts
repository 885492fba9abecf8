import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Actor } from '../../../src/auth/actor.ts';
import type { Role, Severity } from '../../../src/policy/index.ts';
import {
  LAST_SEEN_RESOLUTION_MS,
  diffFindings,
  validateWaiver,
  waivedUntil,
  waiverCovers,
  waiverValidAt,
  type DiffContext,
  type StoredFinding,
  type Waiver,
} from '../../../src/findings/decide.ts';
import type { ReportedFinding, Scanner } from '../../../src/findings/model.ts';
import { SluiceError } from '../../../src/errors.ts';

const H = 3_600_000;
const D = 24 * H;
const DIGEST = `sha256:${'a'.repeat(64)}`;
const T0 = Date.parse('2026-03-01T00:00:00Z');
const DUE: Record<Severity, number> = {
  critical: D,
  high: 7 * D,
  medium: 30 * D,
  low: 90 * D,
  negligible: 90 * D,
  unknown: 30 * D,
};

function ctx(now: number, scanner: Scanner = 'trivy'): DiffContext {
  return { digest: DIGEST, scanner, now, dueAt: (s, first) => first + DUE[s] };
}

function reported(
  id: string,
  pkg = 'openssl',
  version = '3.0.1',
  extra: Partial<ReportedFinding> = {},
): ReportedFinding {
  return { id, aliases: [], package: { name: pkg, version }, severity: 'high', state: 'open', ...extra };
}

/** Applies writes as the store would, so a sequence of scans can be followed. */
function apply(stored: StoredFinding[], r: ReturnType<typeof diffFindings>): StoredFinding[] {
  const key = (f: StoredFinding) => `${f.id}|${f.package.name}|${f.package.version}`;
  const m = new Map(stored.map((f) => [key(f), f]));
  for (const f of [...r.inserts, ...r.updates]) m.set(key(f), f);
  return [...m.values()];
}

describe('diffFindings', () => {
  it('opens new findings with first seen, last seen and due date at import time', () => {
    const r = diffFindings(
      [],
      [reported('CVE-1'), reported('CVE-2', 'zlib', '1.2', { severity: 'critical' })],
      ctx(T0),
    );
    assert.equal(r.opened, 2);
    assert.equal(r.inserts.length, 2);
    const crit = r.inserts.find((f) => f.id === 'CVE-2')!;
    assert.equal(crit.firstSeen, T0);
    assert.equal(crit.lastSeen, T0);
    assert.equal(crit.dueAt, T0 + D);
    assert.deepEqual(crit.scanners, ['trivy']);
    assert.equal(crit.state, 'open');
  });

  it('writes nothing for an unchanged rescan within the last-seen resolution', () => {
    const s = apply([], diffFindings([], [reported('CVE-1')], ctx(T0)));
    const r = diffFindings(s, [reported('CVE-1')], ctx(T0 + LAST_SEEN_RESOLUTION_MS - 1));
    assert.deepEqual([r.inserts, r.updates, r.unchanged], [[], [], 1]);
  });

  it('keeps of a rating only what the store keeps, so a re-read rating is not a change', () => {
    const rated = reported('CVE-1', 'openssl', '3.0.1', {
      cvss: { vector: 'CVSS:3.1/AV:N', score: 7.53, source: 'nvd' },
    });
    const first = diffFindings([], [rated], ctx(T0));
    assert.deepEqual(first.inserts[0]!.cvss, { vector: 'CVSS:3.1/AV:N', score: 7.5 });
    const again = diffFindings(apply([], first), [rated], ctx(T0 + 1));
    assert.equal(again.unchanged, 1);
  });

  it('refreshes last seen, never first seen, on a later rescan', () => {
    const s = apply([], diffFindings([], [reported('CVE-1')], ctx(T0)));
    const later = T0 + 3 * D;
    const r = diffFindings(s, [reported('CVE-1')], ctx(later));
    assert.equal(r.updates.length, 1);
    assert.equal(r.updates[0]!.firstSeen, T0);
    assert.equal(r.updates[0]!.lastSeen, later);
    assert.equal(r.updates[0]!.dueAt, T0 + 7 * D);
  });

  it('dedupes across scanners: one finding, both scanners, aliases merged', () => {
    const s = apply([], diffFindings([], [reported('CVE-1', 'openssl', '3.0.1', { aliases: ['GHSA-x'] })], ctx(T0)));
    const r = diffFindings(s, [reported('CVE-1', 'openssl', '3.0.1', { aliases: ['OSV-y'] })], ctx(T0 + 10, 'grype'));
    assert.equal(r.inserts.length, 0);
    assert.deepEqual(r.updates[0]!.scanners, ['grype', 'trivy']);
    assert.deepEqual(r.updates[0]!.aliases, ['GHSA-x', 'OSV-y']);
    assert.equal(r.updates[0]!.firstSeen, T0);
  });

  it('a different version of the same package is another finding', () => {
    const s = apply([], diffFindings([], [reported('CVE-1', 'openssl', '3.0.1')], ctx(T0)));
    const r = diffFindings(
      s,
      [reported('CVE-1', 'openssl', '3.0.1'), reported('CVE-1', 'openssl', '3.0.2')],
      ctx(T0 + 1),
    );
    assert.equal(r.inserts.length, 1);
    assert.equal(r.inserts[0]!.package.version, '3.0.2');
  });

  it('merges duplicated entries of one report into one finding', () => {
    const r = diffFindings(
      [],
      [reported('CVE-1', 'p', '1', { aliases: ['A'] }), reported('CVE-1', 'p', '1', { aliases: ['B'] })],
      ctx(T0),
    );
    assert.equal(r.inserts.length, 1);
    assert.deepEqual(r.inserts[0]!.aliases, ['A', 'B']);
  });

  it('fixes what the same scanner no longer reports, and only then', () => {
    const s = apply([], diffFindings([], [reported('CVE-1'), reported('CVE-2', 'zlib', '1')], ctx(T0)));
    const r = diffFindings(s, [reported('CVE-2', 'zlib', '1')], ctx(T0 + 2 * H));
    assert.equal(r.fixed, 1);
    const fixed = r.updates.find((f) => f.id === 'CVE-1')!;
    assert.equal(fixed.state, 'fixed');
    assert.equal(fixed.resolvedAt, T0 + 2 * H);
    assert.equal(fixed.firstSeen, T0);
  });

  it("another scanner's silence does not fix what this one reports", () => {
    const s = apply([], diffFindings([], [reported('CVE-1')], ctx(T0, 'trivy')));
    const r = diffFindings(s, [], ctx(T0 + 1, 'grype'));
    assert.deepEqual([r.fixed, r.updates.length, r.unchanged], [0, 0, 1]);
  });

  it('a finding two scanners report is fixed only when both stop reporting it', () => {
    let s = apply([], diffFindings([], [reported('CVE-1')], ctx(T0, 'trivy')));
    s = apply(s, diffFindings(s, [reported('CVE-1')], ctx(T0 + 1, 'grype')));
    const r1 = diffFindings(s, [], ctx(T0 + 2, 'trivy'));
    assert.equal(r1.fixed, 0);
    assert.equal(r1.updates[0]!.state, 'open');
    assert.deepEqual(r1.updates[0]!.scanners, ['grype']);
    s = apply(s, r1);
    const r2 = diffFindings(s, [], ctx(T0 + 3, 'grype'));
    assert.equal(r2.fixed, 1);
    assert.equal(r2.updates[0]!.state, 'fixed');
  });

  it('reopens a fixed finding that comes back, keeping its original clock', () => {
    let s = apply([], diffFindings([], [reported('CVE-1')], ctx(T0)));
    s = apply(s, diffFindings(s, [], ctx(T0 + D)));
    assert.equal(s[0]!.state, 'fixed');
    const r = diffFindings(s, [reported('CVE-1')], ctx(T0 + 2 * D));
    assert.equal(r.opened, 1);
    assert.equal(r.updates[0]!.state, 'open');
    assert.equal(r.updates[0]!.resolvedAt, undefined);
    assert.equal(r.updates[0]!.dueAt, T0 + 7 * D);
  });

  it('a VEX not-affected statement closes a finding; an unchanged one stays written once', () => {
    const s = apply([], diffFindings([], [reported('CVE-1')], ctx(T0)));
    const r = diffFindings(
      s,
      [reported('CVE-1', 'openssl', '3.0.1', { state: 'not-affected', detail: 'code_not_reachable' })],
      ctx(T0 + 1, 'cyclonedx'),
    );
    assert.equal(r.updates[0]!.state, 'not-affected');
    assert.equal(r.updates[0]!.resolvedAt, T0 + 1);
    assert.equal(r.updates[0]!.detail, 'code_not_reachable');
    const new_ = diffFindings([], [reported('CVE-9', 'x', '1', { state: 'not-affected' })], ctx(T0));
    assert.equal(new_.opened, 0);
    assert.equal(new_.inserts[0]!.state, 'not-affected');
  });

  it('a rescan by a scanner does not undo a VEX not-affected statement; a later statement does', () => {
    let s = apply([], diffFindings([], [reported('CVE-1')], ctx(T0)));
    s = apply(
      s,
      diffFindings(s, [reported('CVE-1', 'openssl', '3.0.1', { state: 'not-affected' })], ctx(T0 + 1, 'cyclonedx')),
    );
    const r = diffFindings(s, [reported('CVE-1')], ctx(T0 + 2 * H, 'trivy'));
    assert.equal(r.updates[0]!.state, 'not-affected');
    assert.equal(r.opened, 0);
    const back = diffFindings(s, [reported('CVE-1')], ctx(T0 + 2 * H, 'cyclonedx'));
    assert.equal(back.updates[0]!.state, 'open');
  });

  it('a changed severity moves the due date from the original first seen', () => {
    const s = apply([], diffFindings([], [reported('CVE-1')], ctx(T0)));
    const r = diffFindings(s, [reported('CVE-1', 'openssl', '3.0.1', { severity: 'critical' })], ctx(T0 + 1));
    assert.equal(r.updated, 1);
    assert.equal(r.updates[0]!.dueAt, T0 + D);
  });

  it('an empty report of a scanner that found nothing before changes nothing', () => {
    const r = diffFindings([], [], ctx(T0));
    assert.deepEqual([r.inserts.length, r.updates.length, r.opened, r.fixed], [0, 0, 0, 0]);
  });
});

const image = { digest: DIGEST, teams: ['payments'], repositories: ['payments/api'] };
const finding = { id: 'CVE-2026-1', aliases: ['GHSA-aaaa'], package: { name: 'openssl', version: '3.0.1' } };
function waiver(extra: Partial<Waiver> = {}): Waiver {
  return {
    id: 'w1',
    vulnId: 'CVE-2026-1',
    team: 'payments',
    reason: 'r',
    createdBy: 'sec',
    createdAt: T0,
    expiresAt: T0 + 30 * D,
    ...extra,
  };
}

describe('waiver matching', () => {
  it('is valid from creation until expiry or revocation, exclusive', () => {
    assert.equal(waiverValidAt(waiver(), T0 - 1), false);
    assert.equal(waiverValidAt(waiver(), T0), true);
    assert.equal(waiverValidAt(waiver(), T0 + 30 * D - 1), true);
    assert.equal(waiverValidAt(waiver(), T0 + 30 * D), false);
    assert.equal(waiverValidAt(waiver({ revokedAt: T0 + D }), T0 + D), false);
    assert.equal(waiverValidAt(waiver({ revokedAt: T0 + D }), T0 + D - 1), true);
  });

  it('matches by id or alias, and by package when it names one', () => {
    assert.equal(waiverCovers(waiver(), finding, image, T0 + 1), true);
    assert.equal(waiverCovers(waiver({ vulnId: 'GHSA-aaaa' }), finding, image, T0 + 1), true);
    assert.equal(waiverCovers(waiver({ vulnId: 'CVE-2026-2' }), finding, image, T0 + 1), false);
    assert.equal(waiverCovers(waiver({ package: 'openssl' }), finding, image, T0 + 1), true);
    assert.equal(waiverCovers(waiver({ package: 'zlib' }), finding, image, T0 + 1), false);
  });

  it('is scoped to one digest, one repository, or the team', () => {
    assert.equal(waiverCovers(waiver({ digest: DIGEST }), finding, image, T0 + 1), true);
    assert.equal(waiverCovers(waiver({ digest: `sha256:${'b'.repeat(64)}` }), finding, image, T0 + 1), false);
    assert.equal(waiverCovers(waiver({ repository: 'payments/api' }), finding, image, T0 + 1), true);
    assert.equal(waiverCovers(waiver({ repository: 'payments/web' }), finding, image, T0 + 1), false);
    assert.equal(waiverCovers(waiver({ team: 'search' }), finding, image, T0 + 1), false);
  });

  it('waivedUntil takes the latest end among covering waivers, a revocation cutting one short', () => {
    const ws = [
      waiver({ id: 'a', expiresAt: T0 + 10 * D }),
      waiver({ id: 'b', expiresAt: T0 + 20 * D, revokedAt: T0 + 5 * D }),
    ];
    assert.equal(waivedUntil(ws, finding, image, T0 + D), T0 + 10 * D);
    assert.equal(waivedUntil(ws, finding, image, T0 + 11 * D), undefined);
    assert.equal(waivedUntil([], finding, image, T0), undefined);
  });
});

function actor(roles: Role[], name = 'alice'): Actor {
  return { name, rolesFor: (team) => (team === 'payments' ? roles : []) };
}

function code(fn: () => void): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof SluiceError);
    return err.code;
  }
  return 'none';
}

describe('waiver validation', () => {
  const req = { vulnId: 'CVE-2026-1', team: 'payments', reason: 'no exploit path', expiresAt: T0 + 30 * D };
  const MAX = 90 * D;

  it('grants a waiver to the security role within the maximum duration', () => {
    assert.equal(
      code(() => validateWaiver(req, actor(['security']), T0, MAX)),
      'none',
    );
    assert.equal(
      code(() => validateWaiver({ ...req, expiresAt: T0 + MAX }, actor(['security']), T0, MAX)),
      'none',
    );
  });

  it('refuses every other role, platform-admin and the system included', () => {
    assert.equal(
      code(() => validateWaiver(req, actor(['developer']), T0, MAX)),
      'FORBIDDEN',
    );
    assert.equal(
      code(() => validateWaiver(req, actor(['platform-admin']), T0, MAX)),
      'FORBIDDEN',
    );
    assert.equal(
      code(() => validateWaiver({ ...req, team: 'search' }, actor(['security']), T0, MAX)),
      'FORBIDDEN',
    );
    assert.equal(
      code(() => validateWaiver(req, { name: 'system', rolesFor: () => ['security'], system: true }, T0, MAX)),
      'FORBIDDEN',
    );
  });

  it('refuses one past the maximum, one in the past, one without a reason or with two scopes', () => {
    assert.equal(
      code(() => validateWaiver({ ...req, expiresAt: T0 + MAX + 1 }, actor(['security']), T0, MAX)),
      'WAIVER_TOO_LONG',
    );
    assert.equal(
      code(() => validateWaiver({ ...req, expiresAt: T0 }, actor(['security']), T0, MAX)),
      'WAIVER_INVALID',
    );
    assert.equal(
      code(() => validateWaiver({ ...req, reason: '  ' }, actor(['security']), T0, MAX)),
      'WAIVER_INVALID',
    );
    assert.equal(
      code(() => validateWaiver({ ...req, digest: DIGEST, repository: 'payments/api' }, actor(['security']), T0, MAX)),
      'WAIVER_INVALID',
    );
    assert.equal(
      code(() => validateWaiver({ ...req, repository: 'search/api' }, actor(['security']), T0, MAX)),
      'WAIVER_INVALID',
    );
    assert.equal(
      code(() => validateWaiver({ ...req, vulnId: 'x; drop' }, actor(['security']), T0, MAX)),
      'WAIVER_INVALID',
    );
  });
});
