import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Attribute, Change, Client } from 'ldapts';
import { isSluiceError } from '../../../src/errors.ts';
import { LdapDirectory, type LdapSettings } from '../../../src/identity/ldap.ts';
import { type GroupMapping, grantsFromGroups } from '../../../src/identity/roles.ts';
import {
  ADMIN_DN,
  ADMIN_PASSWORD,
  GROUPS,
  PEOPLE,
  SERVICE_DN,
  SERVICE_PASSWORD,
  type Slapd,
  USERS,
  groupDn,
  startSlapd,
  userDn,
} from '../../helpers/slapd.ts';

const mappings: GroupMapping[] = [
  { dn: groupDn('acme-developers'), team: 'acme', roles: ['developer'] },
  { dn: groupDn('acme-qa'), team: 'acme', roles: ['qa'] },
  { dn: groupDn('acme-release'), team: 'acme', roles: ['release-manager'] },
  { dn: groupDn('acme-operations'), team: 'acme', roles: ['operations'] },
  { dn: groupDn('beta-developers'), team: 'beta', roles: ['developer'] },
  { dn: groupDn('security'), roles: ['security'] },
  { dn: groupDn('platform-admins'), roles: ['platform-admin'] },
  { dn: groupDn('auditors'), roles: ['auditor'] },
];

function settings(url: string, extra: Partial<LdapSettings> = {}): LdapSettings {
  return {
    url,
    startTLS: false,
    bindDN: SERVICE_DN,
    bindPassword: SERVICE_PASSWORD,
    userSearch: { base: PEOPLE, filter: '(uid={username})', attributes: { displayName: 'cn', mail: 'mail' } },
    groupSearch: { base: GROUPS, filter: '(&(objectClass=groupOfNames)(member={dn}))' },
    timeoutMs: 3_000,
    ...extra,
  };
}

function password(uid: string): string {
  return USERS.find((u) => u.uid === uid)!.password;
}

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    assert.ok(isSluiceError(err), `expected a SluiceError, got ${String(err)}`);
    return { code: err.code, message: err.message };
  }
  assert.fail('expected the call to fail');
}

describe('LDAP login against slapd', () => {
  let slapd: Slapd;
  let dir: LdapDirectory;
  before(async () => {
    slapd = await startSlapd();
    dir = new LdapDirectory(settings(slapd.url));
  });
  after(async () => {
    await slapd.stop();
  });

  const expected: Record<string, unknown> = {
    dev: { teams: { acme: ['developer'] }, platform: [] },
    qa: { teams: { acme: ['qa'] }, platform: [] },
    release: { teams: { acme: ['release-manager'] }, platform: [] },
    ops: { teams: { acme: ['operations'] }, platform: [] },
    sec: { teams: {}, platform: ['security'] },
    admin: { teams: {}, platform: ['platform-admin'] },
    audit: { teams: {}, platform: ['auditor'] },
    dana: { teams: { acme: ['developer'], beta: ['developer'] }, platform: [] },
    nobody: { teams: {}, platform: [] },
  };
  for (const [uid, grants] of Object.entries(expected)) {
    it(`logs ${uid} in with the roles of its groups`, async () => {
      const user = await dir.authenticate(uid, password(uid));
      assert.equal(user.dn, userDn(uid));
      assert.equal(user.displayName, `User ${uid}`);
      assert.equal(user.mail, `${uid}@example.org`);
      assert.deepEqual(grantsFromGroups(user.groups, mappings), grants);
    });
  }

  it('gives a wrong password, an empty password and an unknown user the same answer', async () => {
    const wrong = await failure(dir.authenticate('dev', 'not-the-password'));
    const empty = await failure(dir.authenticate('dev', ''));
    const unknown = await failure(dir.authenticate('ghost', 'whatever'));
    assert.deepEqual(wrong, { code: 'LOGIN_FAILED', message: 'the user name or password is wrong' });
    assert.deepEqual(empty, wrong);
    assert.deepEqual(unknown, wrong);
    assert.ok(!wrong.message.includes('not-the-password'));
  });

  it('takes about as long for an unknown user as for a wrong password', async () => {
    const time = async (uid: string): Promise<number> => {
      const samples: number[] = [];
      for (let i = 0; i < 7; i++) {
        const t = performance.now();
        await dir.authenticate(uid, 'wrong').catch(() => undefined);
        samples.push(performance.now() - t);
      }
      return samples.sort((a, b) => a - b)[3]!;
    };
    const known = await time('dev');
    const unknown = await time('ghost');
    // Both make the same round trips; the median of each differs by scheduling noise only.
    assert.ok(Math.abs(known - unknown) < Math.max(15, known), `known ${known}ms, unknown ${unknown}ms`);
  });

  it('escapes filter injection attempts in the user name', async () => {
    for (const attempt of ['*)(uid=*))(|(uid=*', 'admin)(|(objectClass=*', '*', 'dev)(uid=qa']) {
      assert.equal((await failure(dir.authenticate(attempt, password('admin')))).code, 'LOGIN_FAILED', attempt);
      assert.equal((await failure(dir.lookup(attempt))).code, 'LOGIN_FAILED', attempt);
    }
  });

  it('loses a role on lookup once the user left the group', async () => {
    const before = await dir.lookup('qa');
    assert.deepEqual(grantsFromGroups(before.groups, mappings).teams, { acme: ['qa'] });
    const admin = new Client({ url: slapd.url, timeout: 3_000 });
    try {
      await admin.bind(ADMIN_DN, ADMIN_PASSWORD);
      // groupOfNames needs a member: add another before removing qa.
      await admin.modify(groupDn('acme-qa'), [
        new Change({ operation: 'add', modification: new Attribute({ type: 'member', values: [userDn('nobody')] }) }),
        new Change({ operation: 'delete', modification: new Attribute({ type: 'member', values: [userDn('qa')] }) }),
      ]);
    } finally {
      await admin.unbind();
    }
    const afterwards = await dir.lookup('qa');
    assert.deepEqual(grantsFromGroups(afterwards.groups, mappings), { teams: {}, platform: [] });
  });

  it('reports a refused service bind as unavailable without the password', async () => {
    const bad = new LdapDirectory(settings(slapd.url, { bindPassword: 'wrong-service-secret' }));
    const f = await failure(bad.authenticate('dev', password('dev')));
    assert.equal(f.code, 'LDAP_UNAVAILABLE');
    assert.ok(!f.message.includes('wrong-service-secret') && !f.message.includes(password('dev')), f.message);
  });
});

describe('LDAP over TLS', () => {
  let slapd: Slapd;
  before(async () => {
    slapd = await startSlapd({ tls: true });
  });
  after(async () => {
    await slapd.stop();
  });

  it('logs in over StartTLS with the CA file', async () => {
    const dir = new LdapDirectory(
      settings(slapd.url.replace('127.0.0.1', 'localhost'), { startTLS: true, ca: slapd.pki!.caPem }),
    );
    assert.equal((await dir.authenticate('dev', password('dev'))).dn, userDn('dev'));
  });

  it('logs in over ldaps with the CA file', async () => {
    const dir = new LdapDirectory(settings(slapd.ldapsUrl!, { ca: slapd.pki!.caPem }));
    assert.equal((await dir.authenticate('sec', password('sec'))).dn, userDn('sec'));
  });

  it('refuses a directory whose certificate the CA did not sign', async () => {
    const dir = new LdapDirectory(settings(slapd.ldapsUrl!));
    assert.equal((await failure(dir.authenticate('dev', password('dev')))).code, 'LDAP_UNAVAILABLE');
  });
});

describe('LDAP down', () => {
  it('gives LDAP_UNAVAILABLE when slapd is stopped before or during a login', async () => {
    const slapd = await startSlapd();
    const dir = new LdapDirectory(settings(slapd.url, { timeoutMs: 1_000 }));
    assert.equal((await dir.authenticate('dev', password('dev'))).dn, userDn('dev'));
    // Frozen: the TCP connection is accepted by the kernel but nothing answers, as a hung server.
    process.kill(slapd.daemon.pid, 'SIGSTOP');
    const t = performance.now();
    const hung = await failure(dir.authenticate('dev', password('dev')));
    assert.equal(hung.code, 'LDAP_UNAVAILABLE');
    assert.ok(performance.now() - t < 5_000, 'the timeout bounds a hung directory');
    await slapd.stop();
    const gone = await failure(dir.authenticate('dev', password('dev')));
    assert.equal(gone.code, 'LDAP_UNAVAILABLE');
    assert.match(gone.message, /ldap:\/\/127\.0\.0\.1/);
    assert.ok(!gone.message.includes(password('dev')));
  });
});
