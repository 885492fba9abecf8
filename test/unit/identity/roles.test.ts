import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type GroupMapping,
  NO_GRANTS,
  grantsFromGroups,
  grantsFromPolicy,
  hasAnyRole,
  mergeGrants,
  normalizeDn,
} from '../../../src/identity/roles.ts';

const mappings: GroupMapping[] = [
  { dn: 'cn=acme-qa,ou=groups,dc=example,dc=org', team: 'acme', roles: ['qa'] },
  { dn: 'cn=acme-dev,ou=groups,dc=example,dc=org', team: 'acme', roles: ['developer'] },
  { dn: 'cn=beta-dev,ou=groups,dc=example,dc=org', team: 'beta', roles: ['developer', 'release-manager'] },
  { dn: 'cn=security,ou=groups,dc=example,dc=org', roles: ['security'] },
  { dn: 'cn=admins,ou=groups,dc=example,dc=org', team: 'acme', roles: ['platform-admin'] },
];

describe('normalizeDn', () => {
  it('ignores case and blanks around separators', () => {
    assert.equal(normalizeDn('CN=Acme-QA, OU=Groups ,dc=Example,DC=org'), 'cn=acme-qa,ou=groups,dc=example,dc=org');
  });
  it('keeps escaped commas inside a value', () => {
    assert.equal(normalizeDn('cn=Doe\\, John,ou=people'), 'cn=doe\\, john,ou=people');
    assert.notEqual(normalizeDn('cn=a\\,ou=b'), normalizeDn('cn=a,ou=b'));
  });
  it('handles multi-valued RDNs', () => {
    assert.equal(normalizeDn('CN=x + UID=y,dc=z'), 'cn=x+uid=y,dc=z');
  });
});

describe('grantsFromGroups', () => {
  it('maps no groups to no grants', () => {
    assert.deepEqual(grantsFromGroups([], mappings), NO_GRANTS);
    assert.equal(hasAnyRole(grantsFromGroups(['cn=other,dc=example,dc=org'], mappings)), false);
  });
  it('maps a team group to the team and a teamless group to platform roles', () => {
    const g = grantsFromGroups(
      ['CN=acme-qa,ou=groups,dc=example,dc=org', 'cn=security,ou=groups,dc=example,dc=org'],
      mappings,
    );
    assert.deepEqual(g, { teams: { acme: ['qa'] }, platform: ['security'] });
    assert.equal(hasAnyRole(g), true);
  });
  it('gives a user in two teams the roles of both, sorted and once each', () => {
    const g = grantsFromGroups(
      [
        'cn=beta-dev,ou=groups,dc=example,dc=org',
        'cn=acme-dev,ou=groups,dc=example,dc=org',
        'cn=acme-qa,ou=groups,dc=example,dc=org',
        'cn=acme-qa,ou=groups,dc=example,dc=org',
      ],
      mappings,
    );
    assert.deepEqual(g, { teams: { acme: ['developer', 'qa'], beta: ['developer', 'release-manager'] }, platform: [] });
    assert.deepEqual(Object.keys(g.teams), ['acme', 'beta']);
  });
  it('treats a global role as platform-wide even when its mapping names a team', () => {
    assert.deepEqual(grantsFromGroups(['cn=admins,ou=groups,dc=example,dc=org'], mappings), {
      teams: {},
      platform: ['platform-admin'],
    });
  });
  it('does not match a group by a prefix or a suffix of its DN', () => {
    assert.deepEqual(
      grantsFromGroups(['cn=acme-qa,ou=groups,dc=example', 'x-cn=acme-qa,ou=groups,dc=example,dc=org'], mappings),
      NO_GRANTS,
    );
  });
});

describe('grantsFromPolicy', () => {
  const teams = [
    { name: 'acme', members: [{ user: 'alice', roles: ['developer' as const, 'auditor' as const] }] },
    {
      name: 'beta',
      members: [
        { user: 'alice', roles: ['qa' as const] },
        { user: 'bob', roles: ['qa' as const] },
      ],
    },
  ];
  it('collects a member across teams and lifts global roles', () => {
    assert.deepEqual(grantsFromPolicy('alice', teams), {
      teams: { acme: ['developer'], beta: ['qa'] },
      platform: ['auditor'],
    });
  });
  it('compares user names exactly and gives strangers nothing', () => {
    assert.deepEqual(grantsFromPolicy('Alice', teams), NO_GRANTS);
    assert.deepEqual(grantsFromPolicy('carol', teams), NO_GRANTS);
  });
});

describe('mergeGrants', () => {
  it('is the union of both sources', () => {
    const merged = mergeGrants(
      { teams: { acme: ['qa'] }, platform: ['security'] },
      { teams: { acme: ['developer', 'qa'], beta: ['developer'] }, platform: [] },
    );
    assert.deepEqual(merged, { teams: { acme: ['developer', 'qa'], beta: ['developer'] }, platform: ['security'] });
  });
  it('has no grants as its identity', () => {
    const g = { teams: { acme: ['qa' as const] }, platform: ['auditor' as const] };
    assert.deepEqual(mergeGrants(g, NO_GRANTS), g);
    assert.deepEqual(mergeGrants(), NO_GRANTS);
  });
});
