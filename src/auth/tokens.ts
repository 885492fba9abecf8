/**
 * API bearer tokens. A token is `slc_` + 32 random bytes (base64url); it is shown once, when
 * created, and only its SHA-256 is stored, so a copy of the database grants nothing. Tokens
 * carry one role and, for team-scoped roles, the teams they act for. Creation and revocation
 * are audited; the token itself never reaches the audit log, a log line or an error.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Selectable } from 'kysely';
import type { AuditInput } from '../audit/index.ts';
import type { CodeOf } from '../error-codes.ts';
import { SluiceError } from '../errors.ts';
import { ROLES, type Role } from '../policy/schema.ts';
import type { ApiTokensTable, Store, StoreHandle, StoreTx } from '../store/index.ts';
import { isGlobalRole, isRole, type Principal } from './permissions.ts';

/** Lifetime of a new API token unless one is given. */
export const DEFAULT_TOKEN_LIFETIME = '90d';

export const TOKEN_PREFIX = 'slc_';
const TOKEN_SHAPE = /^slc_[A-Za-z0-9_-]{43}$/;
const NAME_SHAPE = /^[A-Za-z0-9][A-Za-z0-9._@:-]{0,99}$/;
/** `last_used_at` is written at most this often per token (it costs a write per request). */
const LAST_USED_GRANULARITY_MS = 60_000;

export type TokenStatus = 'active' | 'expired' | 'revoked';

export interface TokenInfo {
  id: string;
  name: string;
  role: Role;
  teams: string[];
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
  status: TokenStatus;
}

export interface CreatedToken {
  /** The secret, shown once. */
  token: string;
  info: TokenInfo;
}

/** Appends an audit record inside the caller's transaction (the runtime's `audit`). */
export type AuditFn = (tx: StoreTx, input: AuditInput) => Promise<unknown>;

export interface TokenRequest {
  role: string;
  teams?: string[];
  name?: string;
  /** Lifetime in ms; undefined means the token never expires. */
  lifetimeMs?: number;
}

export function generateToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** True when `text` has the shape of a Sluice API token. */
export function looksLikeToken(text: string): boolean {
  return TOKEN_SHAPE.test(text);
}

function invalid(code: CodeOf<'invalid-input'>, message: string, context: Record<string, unknown> = {}): SluiceError {
  return new SluiceError(code, 'invalid-input', message, context);
}

/**
 * Checks a request against the rules (role known, teams declared, team-scoped roles have
 * teams and global roles none) and returns it normalised. Pure.
 */
export function validateTokenRequest(
  req: TokenRequest,
  knownTeams: readonly string[],
): { role: Role; teams: string[]; name?: string; lifetimeMs?: number } {
  if (!isRole(req.role)) {
    throw invalid('ROLE_UNKNOWN', `unknown role "${req.role.slice(0, 64)}"; roles are ${ROLES.join(', ')}`, {
      role: req.role.slice(0, 64),
    });
  }
  const role = req.role;
  const teams = [...new Set(req.teams ?? [])].sort();
  for (const t of teams) {
    if (!knownTeams.includes(t)) {
      throw invalid(
        'TEAM_UNKNOWN',
        `unknown team "${t.slice(0, 64)}"; the policy declares ${knownTeams.join(', ') || 'no teams'}`,
        {
          team: t.slice(0, 64),
        },
      );
    }
  }
  if (isGlobalRole(role) && teams.length > 0) {
    throw invalid('TOKEN_TEAMS_NOT_APPLICABLE', `role ${role} acts for every team; do not give teams`, { role });
  }
  if (!isGlobalRole(role) && teams.length === 0) {
    throw invalid('TOKEN_TEAMS_REQUIRED', `role ${role} acts for teams; give at least one team (--team NAME)`, {
      role,
    });
  }
  if (req.name !== undefined && !NAME_SHAPE.test(req.name)) {
    throw invalid(
      'TOKEN_NAME_INVALID',
      'token name must be 1-100 characters: letters, digits and . _ @ : - (starting with a letter or digit)',
    );
  }
  if (req.lifetimeMs !== undefined && (!Number.isSafeInteger(req.lifetimeMs) || req.lifetimeMs <= 0)) {
    throw invalid('TOKEN_EXPIRY_INVALID', 'token lifetime must be a positive duration');
  }
  return {
    role,
    teams,
    ...(req.name !== undefined ? { name: req.name } : {}),
    ...(req.lifetimeMs !== undefined ? { lifetimeMs: req.lifetimeMs } : {}),
  };
}

function statusOf(row: Selectable<ApiTokensTable>, now: number): TokenStatus {
  if (row.revoked_at !== null) return 'revoked';
  if (row.expires_at !== null && row.expires_at <= now) return 'expired';
  return 'active';
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function toInfo(row: Selectable<ApiTokensTable>, now: number): TokenInfo {
  return {
    id: row.id,
    name: row.name,
    role: row.role as Role,
    teams: JSON.parse(row.teams) as string[],
    createdAt: new Date(row.created_at).toISOString(),
    expiresAt: iso(row.expires_at),
    revokedAt: iso(row.revoked_at),
    lastUsedAt: iso(row.last_used_at),
    status: statusOf(row, now),
  };
}

/** Creates a token and its audit record in one transaction; returns the secret once. */
export async function createToken(
  store: Store,
  request: TokenRequest,
  options: { actor: string; audit: AuditFn; knownTeams: readonly string[] },
): Promise<CreatedToken> {
  const req = validateTokenRequest(request, options.knownTeams);
  const token = generateToken();
  const id = randomBytes(6).toString('hex');
  const name = req.name ?? `${req.role}-${id}`;
  return store.transaction(async (tx) => {
    const now = tx.clock().getTime();
    const clash = await tx.db
      .selectFrom('api_tokens')
      .select('id')
      .where('name', '=', name)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (clash) {
      throw new SluiceError(
        'TOKEN_NAME_TAKEN',
        'conflict',
        `an active token named "${name}" exists (id ${clash.id}); revoke it or choose another name`,
        {
          id: clash.id,
        },
      );
    }
    const row = {
      id,
      name,
      token_hash: hashToken(token),
      role: req.role,
      teams: JSON.stringify(req.teams),
      created_at: now,
      expires_at: req.lifetimeMs === undefined ? null : now + req.lifetimeMs,
      revoked_at: null,
      last_used_at: null,
    };
    await tx.db.insertInto('api_tokens').values(row).execute();
    const info = toInfo(row, now);
    await options.audit(tx, {
      actor: options.actor,
      action: 'token.create',
      reason: `API token ${name} created`,
      result: 'success',
      details: { id, name, role: req.role, teams: req.teams, expiresAt: info.expiresAt },
    });
    return { token, info };
  });
}

export async function listTokens(store: StoreHandle, options: { all?: boolean } = {}): Promise<TokenInfo[]> {
  const now = store.clock().getTime();
  const rows = await store.db.selectFrom('api_tokens').selectAll().orderBy('created_at').orderBy('id').execute();
  return rows.map((r) => toInfo(r, now)).filter((t) => options.all || t.status === 'active');
}

/** Revokes a token (idempotent) and audits it. */
export async function revokeToken(
  store: Store,
  id: string,
  options: { actor: string; audit: AuditFn },
): Promise<TokenInfo> {
  return store.transaction(async (tx) => {
    const now = tx.clock().getTime();
    const row = await tx.db.selectFrom('api_tokens').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row)
      throw new SluiceError('TOKEN_UNKNOWN', 'not-found', `no API token with id ${id.slice(0, 64)}`, {
        id: id.slice(0, 64),
      });
    if (row.revoked_at !== null) return toInfo(row, now);
    await tx.db.updateTable('api_tokens').set({ revoked_at: now }).where('id', '=', id).execute();
    await options.audit(tx, {
      actor: options.actor,
      action: 'token.revoke',
      reason: `API token ${row.name} revoked`,
      result: 'success',
      details: { id, name: row.name, role: row.role },
    });
    return toInfo({ ...row, revoked_at: now }, now);
  });
}

function unauthorized(code: CodeOf<'unauthorized'>, message: string): SluiceError {
  return new SluiceError(code, 'unauthorized', message);
}

/**
 * The principal a bearer token stands for. Throws `unauthorized` for anything but an active
 * token; the message never repeats what was presented.
 */
export async function authenticateToken(store: StoreHandle, token: string): Promise<Principal> {
  if (!looksLikeToken(token)) throw unauthorized('TOKEN_INVALID', 'the bearer token is not a Sluice API token (slc_…)');
  const row = await store.db
    .selectFrom('api_tokens')
    .selectAll()
    .where('token_hash', '=', hashToken(token))
    .executeTakeFirst();
  if (!row) throw unauthorized('TOKEN_INVALID', 'unknown API token');
  const now = store.clock().getTime();
  const status = statusOf(row, now);
  if (status === 'revoked') throw unauthorized('TOKEN_REVOKED', `API token ${row.id} was revoked`);
  if (status === 'expired')
    throw unauthorized('TOKEN_EXPIRED', `API token ${row.id} expired at ${new Date(row.expires_at!).toISOString()}`);
  if (!isRole(row.role)) throw unauthorized('TOKEN_INVALID', `API token ${row.id} has an unknown role`);
  if (row.last_used_at === null || now - row.last_used_at >= LAST_USED_GRANULARITY_MS) {
    await store.db.updateTable('api_tokens').set({ last_used_at: now }).where('id', '=', row.id).execute();
  }
  return { id: row.id, name: row.name, role: row.role, teams: JSON.parse(row.teams) as string[] };
}
