import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MINIMAL, expectValid, lineOf, problemAt, problemsOf } from './fixtures.ts';

const LDAP = `  identity:
    ldap:
      url: ldaps://ldap.example.com:636
      caFile: /etc/sluice/ldap-ca.pem
      bindDN: cn=sluice,ou=services,dc=example,dc=org
      bindPassword: env:SLUICE_LDAP_PASSWORD
      userSearch: { base: "ou=people,dc=example,dc=org", filter: "(uid={username})" }
      groupSearch: { base: "ou=groups,dc=example,dc=org", filter: "(member={dn})" }
      groups:
        - { dn: "cn=acme-qa,ou=groups,dc=example,dc=org", team: acme, roles: [qa] }
        - { dn: "cn=security,ou=groups,dc=example,dc=org", roles: [security] }
`;

describe('spec.identity.ldap', () => {
  it('is absent by default', () => {
    assert.deepEqual(expectValid(MINIMAL).identity, {});
  });

  it("resolves the issue's example with defaults filled in", () => {
    const ldap = expectValid(MINIMAL + LDAP).identity.ldap;
    assert.deepEqual(ldap, {
      url: 'ldaps://ldap.example.com:636',
      startTLS: false,
      caFile: '/etc/sluice/ldap-ca.pem',
      bindDN: 'cn=sluice,ou=services,dc=example,dc=org',
      bindPassword: 'env:SLUICE_LDAP_PASSWORD',
      userSearch: {
        base: 'ou=people,dc=example,dc=org',
        filter: '(uid={username})',
        attributes: { displayName: 'cn', mail: 'mail' },
      },
      groupSearch: { base: 'ou=groups,dc=example,dc=org', filter: '(member={dn})' },
      groups: [
        { dn: 'cn=acme-qa,ou=groups,dc=example,dc=org', team: 'acme', roles: ['qa'] },
        { dn: 'cn=security,ou=groups,dc=example,dc=org', roles: ['security'] },
      ],
    });
  });

  it('names an unknown team and role where they are written', () => {
    const text = MINIMAL + LDAP.replace('team: acme, roles: [qa]', 'team: acne, roles: [tester]');
    const problems = problemsOf(text);
    const team = problemAt(problems, 'spec.identity.ldap.groups[0].team');
    assert.match(team.message, /unknown team `acne`/);
    assert.equal(team.line, lineOf(text, 'team: acne'));
    assert.equal(team.file, 'sluice.yaml');
    assert.ok(team.column > 1);
    assert.ok(problemAt(problems, 'spec.identity.ldap.groups[0].roles[0]'));
  });

  it('refuses a password written into the file, a filter without its placeholder and startTLS on ldaps', () => {
    const text =
      MINIMAL +
      LDAP.replace('env:SLUICE_LDAP_PASSWORD', 'hunter2')
        .replace('(uid={username})', '(uid=alice)')
        .replace('caFile:', 'startTLS: true\n      caFile:');
    const problems = problemsOf(text);
    assert.ok(!JSON.stringify(problems).includes('hunter2'), 'the password is not echoed');
    assert.match(problemAt(problems, 'spec.identity.ldap.bindPassword').message, /secret/);
    assert.match(problemAt(problems, 'spec.identity.ldap.userSearch.filter').expected, /\{username\}/);
    assert.match(problemAt(problems, 'spec.identity.ldap.startTLS').message, /ldaps/);
  });
});
