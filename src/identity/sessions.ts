/**
 * Login sessions: a random token handed to the person once, stored only as its hash (as API
 * tokens are), with an absolute expiry. Roles are copied into the session at login and
 * re-read from the directory when the session is older than the refresh interval, so that
 * someone removed from a group loses the role within that interval. While the directory is
 * down, sessions keep the roles they have.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { SluiceError, isSluiceError } from '../errors.ts';
import { hashToken } from '../auth/tokens.ts';
import type { StoreHandle } from '../store/index.ts';
import type { Grants } from './roles.ts';

export const SESSION_PREFIX = 'slcs_';
export const DEFAULT_SESSION_LIFETIME_MS = 12 * 3_600_000;
export const DEFAULT_REFRESH_INTERVAL_MS = 5 * 60_000;

export interface Session {
  id: string;
  username: string;
  dn: string;
  displayName?: string;
  grants: Grants;
  createdAt: number;
  refreshedAt: number;
  expiresAt: number;
}

export interface SessionTimes {
  lifetimeMs?: number;
  refreshIntervalMs?: number;
}

function invalid(): SluiceError {
  return new SluiceError(
    'SESSION_INVALID',
    'unauthorized',
    'the session is unknown, expired or logged out; log in again',
  );
}

export async function createSession(
  store: StoreHandle,
  who: { username: string; dn: string; displayName?: string; grants: Grants },
  times: SessionTimes = {},
): Promise<{ token: string; session: Session }> {
  const now = store.clock().getTime();
  const token = SESSION_PREFIX + randomBytes(32).toString('base64url');
  const session: Session = {
    id: randomUUID(),
    username: who.username,
    dn: who.dn,
    grants: who.grants,
    createdAt: now,
    refreshedAt: now,
    expiresAt: now + (times.lifetimeMs ?? DEFAULT_SESSION_LIFETIME_MS),
  };
  if (who.displayName !== undefined) session.displayName = who.displayName;
  await store.db
    .insertInto('login_sessions')
    .values({
      id: session.id,
      token_hash: hashToken(token),
      username: session.username,
      dn: session.dn,
      display_name: who.displayName ?? null,
      grants: JSON.stringify(session.grants),
      created_at: now,
      refreshed_at: now,
      expires_at: session.expiresAt,
      ended_at: null,
    })
    .execute();
  return { token, session };
}

async function find(store: StoreHandle, token: string): Promise<Session> {
  if (!token.startsWith(SESSION_PREFIX) || token.length > 200) throw invalid();
  const row = await store.db
    .selectFrom('login_sessions')
    .selectAll()
    .where('token_hash', '=', hashToken(token))
    .executeTakeFirst();
  const now = store.clock().getTime();
  if (!row || row.ended_at !== null || Number(row.expires_at) <= now) throw invalid();
  const s: Session = {
    id: row.id,
    username: row.username,
    dn: row.dn,
    grants: JSON.parse(row.grants) as Grants,
    createdAt: Number(row.created_at),
    refreshedAt: Number(row.refreshed_at),
    expiresAt: Number(row.expires_at),
  };
  if (row.display_name !== null) s.displayName = row.display_name;
  return s;
}

/**
 * The session `token` stands for, with roles no older than the refresh interval: `reread`
 * asks the directory for the person's grants now. A person the directory no longer knows (or
 * who holds no role any more) ends the session; a directory that does not answer leaves the
 * session's roles as they were, so that an LDAP outage does not log everyone out.
 */
export async function authenticateSession(
  store: StoreHandle,
  token: string,
  reread: (username: string) => Promise<Grants>,
  times: SessionTimes = {},
): Promise<Session> {
  const s = await find(store, token);
  const now = store.clock().getTime();
  if (now - s.refreshedAt < (times.refreshIntervalMs ?? DEFAULT_REFRESH_INTERVAL_MS)) return s;
  let grants: Grants;
  try {
    grants = await reread(s.username);
  } catch (err) {
    if (isSluiceError(err, 'LDAP_UNAVAILABLE')) return s;
    if (isSluiceError(err, 'LOGIN_FAILED')) {
      await end(store, s.id, now);
      throw invalid();
    }
    throw err;
  }
  if (grants.platform.length === 0 && Object.keys(grants.teams).length === 0) {
    await end(store, s.id, now);
    throw invalid();
  }
  await store.db
    .updateTable('login_sessions')
    .set({ grants: JSON.stringify(grants), refreshed_at: now })
    .where('id', '=', s.id)
    .execute();
  return { ...s, grants, refreshedAt: now };
}

/** Ends the session; logging out twice, or with an unknown token, is not an error. */
export async function logout(store: StoreHandle, token: string): Promise<boolean> {
  const r = await store.db
    .updateTable('login_sessions')
    .set({ ended_at: store.clock().getTime() })
    .where('token_hash', '=', hashToken(token))
    .where('ended_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

async function end(store: StoreHandle, id: string, now: number): Promise<void> {
  await store.db.updateTable('login_sessions').set({ ended_at: now }).where('id', '=', id).execute();
}
