import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  GLOBAL_ROLES,
  PERMISSIONS,
  READ_PERMISSIONS,
  ROLE_PERMISSIONS,
  authorize,
  generateToken,
  hashToken,
  isReadPermission,
  looksLikeToken,
  permissionsFor,
  validateTokenRequest,
} from '../../../src/auth/index.ts';
import { ROLES, defaultPolicy } from '../../../src/policy/index.ts';

const stages = defaultPolicy().stages;

describe('role → permission table', () => {
  it('covers every role of the policy', () => {
    assert.deepEqual(Object.keys(ROLE_PERMISSIONS).sort(), [...ROLES].sort());
  });
  it('names only known permissions, each once', () => {
    for (const [role, perms] of Object.entries(ROLE_PERMISSIONS)) {
      assert.equal(new Set(perms).size, perms.length, role);
      for (const p of perms) assert.ok((PERMISSIONS as readonly string[]).includes(p), `${role}: ${p}`);
    }
  });
  it('keeps auditors read-only, whatever the policy says', () => {
    for (const p of permissionsFor('auditor', stages)) assert.ok(isReadPermission(p), p);
    const policyNamingAuditor = stages.map((s) => ({ ...s, responsibleRole: 'auditor' as const }));
    assert.deepEqual(permissionsFor('auditor', policyNamingAuditor), [...ROLE_PERMISSIONS.auditor]);
  });
  it('gives platform administrators every static permission but no business approvals', () => {
    assert.deepEqual([...ROLE_PERMISSIONS['platform-admin']].sort(), [...PERMISSIONS].sort());
    assert.ok(!permissionsFor('platform-admin', stages).some((p) => p.startsWith('approve:')));
  });
  it('lets only administrators manage tokens and only operations and administrators sync registries', () => {
    assert.deepEqual(
      ROLES.filter((r) => ROLE_PERMISSIONS[r].includes('tokens:manage')),
      ['platform-admin'],
    );
    assert.deepEqual(
      ROLES.filter((r) => ROLE_PERMISSIONS[r].includes('inventory:sync')),
      ['operations', 'platform-admin'],
    );
    assert.deepEqual(
      ROLES.filter((r) => ROLE_PERMISSIONS[r].includes('retention:apply')),
      ['operations', 'platform-admin'],
    );
  });
  it('derives approvals from the stages: the responsible role and gate approvers', () => {
    const approvals = (role: (typeof ROLES)[number]) =>
      permissionsFor(role, stages).filter((p) => p.startsWith('approve:'));
    for (const s of stages) {
      const approvers = new Set([s.responsibleRole, ...s.gate.approvals.map((a) => a.role)]);
      for (const role of ROLES) {
        const expected = approvers.has(role) && role !== 'auditor';
        assert.equal(approvals(role).includes(`approve:${s.name}`), expected, `${role} approve:${s.name}`);
      }
    }
    assert.ok(approvals('release-manager').includes('approve:preprod'));
    assert.ok(approvals('operations').includes('approve:prod'));
    assert.ok(!approvals('developer').includes('approve:prod'));
  });
  it('reads are the listed read permissions', () => {
    assert.deepEqual([...READ_PERMISSIONS].sort(), ['audit:export', 'audit:read', 'images:read', 'jobs:read']);
  });
});

describe('authorize', () => {
  const dev = { role: 'developer' as const, teams: ['acme'] };
  it('needs the permission', () => {
    assert.deepEqual(authorize(dev, 'inventory:sync'), {
      allowed: false,
      reason: 'role developer does not have permission inventory:sync',
    });
    assert.deepEqual(authorize(dev, 'images:read'), { allowed: true });
  });
  it('scopes team roles to their teams', () => {
    assert.deepEqual(authorize(dev, 'evidence:write', { team: 'acme' }), { allowed: true });
    const other = authorize(dev, 'evidence:write', { team: 'other' });
    assert.equal(other.allowed, false);
    assert.match((other as { reason: string }).reason, /acts for acme, not for team other/);
    assert.equal(authorize({ role: 'qa', teams: [] }, 'evidence:write', { team: 'acme' }).allowed, false);
  });
  it('opens resources no team owns to global roles only', () => {
    assert.equal(authorize(dev, 'inventory:refresh', { team: null }).allowed, false);
    assert.equal(authorize({ role: 'platform-admin', teams: [] }, 'inventory:refresh', { team: null }).allowed, true);
  });
  it('lets global roles act for every team, within their permissions', () => {
    for (const role of GLOBAL_ROLES)
      assert.equal(authorize({ role, teams: [] }, 'images:read', { team: 'other' }).allowed, true);
    assert.equal(authorize({ role: 'auditor', teams: [] }, 'promote', { team: 'acme' }).allowed, false);
  });
  it('checks approvals against the stages', () => {
    assert.equal(
      authorize({ role: 'operations', teams: ['acme'] }, 'approve:prod', { team: 'acme' }, stages).allowed,
      true,
    );
    assert.equal(
      authorize({ role: 'developer', teams: ['acme'] }, 'approve:prod', { team: 'acme' }, stages).allowed,
      false,
    );
  });
});

describe('tokens', () => {
  it('are slc_ plus 32 random bytes, base64url', () => {
    const a = generateToken();
    const b = generateToken();
    assert.match(a, /^slc_[A-Za-z0-9_-]{43}$/);
    assert.notEqual(a, b);
    assert.equal(Buffer.from(a.slice(4), 'base64url').length, 32);
    assert.ok(looksLikeToken(a));
    assert.ok(!looksLikeToken('slc_short') && !looksLikeToken(`Bearer ${a}`) && !looksLikeToken(a + 'x'));
  });
  it('are stored as SHA-256', () => {
    const t = generateToken();
    assert.equal(hashToken(t), hashToken(t));
    assert.match(hashToken(t), /^[0-9a-f]{64}$/);
    assert.ok(!hashToken(t).includes(t.slice(4, 20)));
  });
  it('requests are validated with messages naming the problem', () => {
    const teams = ['acme', 'other'];
    assert.deepEqual(validateTokenRequest({ role: 'qa', teams: ['other', 'acme', 'acme'] }, teams), {
      role: 'qa',
      teams: ['acme', 'other'],
    });
    assert.deepEqual(validateTokenRequest({ role: 'auditor', lifetimeMs: 1000, name: 'siem' }, teams), {
      role: 'auditor',
      teams: [],
      name: 'siem',
      lifetimeMs: 1000,
    });
    const refuse = (req: Parameters<typeof validateTokenRequest>[0], code: string, message: RegExp) =>
      assert.throws(
        () => validateTokenRequest(req, teams),
        (e: Error & { code?: string }) => e.code === code && message.test(e.message),
      );
    refuse({ role: 'root' }, 'ROLE_UNKNOWN', /unknown role "root"; roles are developer, qa/);
    refuse(
      { role: 'developer', teams: ['nope'] },
      'TEAM_UNKNOWN',
      /unknown team "nope"; the policy declares acme, other/,
    );
    refuse({ role: 'developer' }, 'TOKEN_TEAMS_REQUIRED', /give at least one team/);
    refuse({ role: 'platform-admin', teams: ['acme'] }, 'TOKEN_TEAMS_NOT_APPLICABLE', /acts for every team/);
    refuse({ role: 'auditor', name: 'has space' }, 'TOKEN_NAME_INVALID', /letters, digits/);
    refuse({ role: 'auditor', lifetimeMs: 0 }, 'TOKEN_EXPIRY_INVALID', /positive/);
  });
});

describe('roles that are not in the table', () => {
  it('hold no permission, whatever Object.prototype has', () => {
    for (const role of ['constructor', 'toString', '__proto__', 'valueOf']) {
      assert.deepEqual(permissionsFor(role as never, stages), [], role);
      const d = authorize({ role: role as never, teams: ['acme'] }, 'images:read', { team: 'acme' }, stages);
      assert.equal(d.allowed, false, role);
    }
  });
});
