import assert from 'node:assert/strict';
import { SluiceError } from '../../../src/errors.ts';
import { hashToken } from '../../../src/auth/tokens.ts';
import type { Grants } from '../../../src/identity/roles.ts';
import { authenticateSession, createSession, logout } from '../../../src/identity/sessions.ts';
import { forEachEngine } from '../../helpers/db.ts';

let now = Date.UTC(2026, 0, 1);
const clock = (): Date => new Date(now);
const options = { clock };

const qa: Grants = { teams: { acme: ['qa'] }, platform: [] };
const who = { username: 'qa', dn: 'uid=qa,ou=people,dc=example,dc=org', displayName: 'User qa', grants: qa };
const times = { lifetimeMs: 3_600_000, refreshIntervalMs: 60_000 };
const never = async (): Promise<Grants> => assert.fail('the directory must not be asked');

forEachEngine(
  'a session stores only the token hash and authenticates until it expires',
  async ({ store }) => {
    now = Date.UTC(2026, 0, 1);
    const { token, session } = await createSession(store, who, times);
    assert.match(token, /^slcs_[A-Za-z0-9_-]{43}$/);
    const row = await store.db.selectFrom('login_sessions').selectAll().executeTakeFirstOrThrow();
    assert.equal(row.token_hash, hashToken(token));
    assert.ok(!JSON.stringify(row).includes(token));
    assert.deepEqual(await authenticateSession(store, token, never, times), session);
    now += 3_600_000;
    await assert.rejects(authenticateSession(store, token, never, times), { code: 'SESSION_INVALID' });
    await assert.rejects(authenticateSession(store, 'slcs_unknown', never, times), { code: 'SESSION_INVALID' });
  },
  options,
);

forEachEngine(
  'a refresh re-reads the roles; losing every role or the account ends the session',
  async ({ store }) => {
    now = Date.UTC(2026, 0, 1);
    const { token } = await createSession(store, who, times);
    now += 60_000;
    const more: Grants = { teams: { acme: ['developer', 'qa'] }, platform: [] };
    const s = await authenticateSession(store, token, async () => more, times);
    assert.deepEqual(s.grants, more);
    assert.equal(s.refreshedAt, now);
    // Within the interval the stored roles are used without asking.
    now += 30_000;
    assert.deepEqual((await authenticateSession(store, token, never, times)).grants, more);
    now += 30_000;
    await assert.rejects(
      authenticateSession(store, token, async () => ({ teams: {}, platform: [] }), times),
      { code: 'SESSION_INVALID' },
    );
    await assert.rejects(authenticateSession(store, token, never, times), { code: 'SESSION_INVALID' });

    const second = await createSession(store, who, times);
    now += 60_000;
    const gone = async (): Promise<Grants> => {
      throw new SluiceError('LOGIN_FAILED', 'unauthorized', 'the user name or password is wrong');
    };
    await assert.rejects(authenticateSession(store, second.token, gone, times), { code: 'SESSION_INVALID' });
  },
  options,
);

forEachEngine(
  'a directory outage keeps the session and its roles',
  async ({ store }) => {
    now = Date.UTC(2026, 0, 1);
    const { token } = await createSession(store, who, times);
    now += 120_000;
    const down = async (): Promise<Grants> => {
      throw new SluiceError('LDAP_UNAVAILABLE', 'unavailable', 'down');
    };
    const s = await authenticateSession(store, token, down, times);
    assert.deepEqual(s.grants, qa);
    assert.equal(s.refreshedAt, Date.UTC(2026, 0, 1));
  },
  options,
);

forEachEngine(
  'logout ends the session once',
  async ({ store }) => {
    now = Date.UTC(2026, 0, 1);
    const { token } = await createSession(store, who, times);
    const other = await createSession(store, who, times);
    assert.equal(await logout(store, token), true);
    assert.equal(await logout(store, token), false);
    await assert.rejects(authenticateSession(store, token, never, times), { code: 'SESSION_INVALID' });
    assert.equal((await authenticateSession(store, other.token, never, times)).username, 'qa');
  },
  options,
);
