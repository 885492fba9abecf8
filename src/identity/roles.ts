/**
 * What a person may do, from the two sources the policy allows: the LDAP groups they belong to
 * (mapped by `identity.ldap.groups`) and the member lists of `spec.teams`. The two combine by
 * union: a group mapping never takes away a role a member list gives, and the reverse. Pure
 * functions over data; src/identity/ldap.ts supplies the group DNs.
 */
import type { Role, Team } from '../policy/schema.ts';
import { isGlobalRole } from '../auth/permissions.ts';

/** One entry of `identity.ldap.groups`. */
export interface GroupMapping {
  dn: string;
  /** The team the roles act for; absent: the roles act across all teams. */
  team?: string;
  roles: Role[];
}

/** Roles per team, and roles that act across every team. Arrays are sorted and free of repeats. */
export interface Grants {
  teams: Record<string, Role[]>;
  platform: Role[];
}

export const NO_GRANTS: Grants = Object.freeze({ teams: {}, platform: [] }) as Grants;

/**
 * A DN in a form two spellings of the same name share: attribute types and values lowercased,
 * blanks around `,`, `+` and `=` dropped. Escapes (`\,`) are kept so that an escaped comma
 * never splits a value. Directory servers compare most naming attributes case-insensitively,
 * and `member`/`memberOf` values come back in whatever case the entry was written with.
 */
export function normalizeDn(dn: string): string {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < dn.length; i++) {
    const c = dn[i] as string;
    if (c === '\\' && i + 1 < dn.length) {
      current += c + (dn[i + 1] as string);
      i++;
    } else if (c === ',' || c === '+') {
      parts.push(normalizeRdn(current), c);
      current = '';
    } else {
      current += c;
    }
  }
  parts.push(normalizeRdn(current));
  return parts.join('');
}

function normalizeRdn(rdn: string): string {
  const eq = rdn.indexOf('=');
  if (eq < 0) return rdn.trim().toLowerCase();
  return `${rdn.slice(0, eq).trim().toLowerCase()}=${rdn
    .slice(eq + 1)
    .trim()
    .toLowerCase()}`;
}

function add(into: Map<string, Set<Role>>, key: string, role: Role): void {
  let set = into.get(key);
  if (!set) into.set(key, (set = new Set()));
  set.add(role);
}

function finish(teams: Map<string, Set<Role>>, platform: Set<Role>): Grants {
  const out: Grants = { teams: {}, platform: [...platform].sort() };
  for (const name of [...teams.keys()].sort()) {
    const roles = [...(teams.get(name) as Set<Role>)].sort();
    if (roles.length > 0) out.teams[name] = roles;
  }
  return out;
}

/**
 * Roles a person holds through the groups `groupDns` (as the directory returned them). A
 * global role (platform-admin, auditor) acts across all teams even when its mapping names a
 * team, as it does in a member list.
 */
export function grantsFromGroups(groupDns: readonly string[], mappings: readonly GroupMapping[]): Grants {
  const held = new Set(groupDns.map(normalizeDn));
  const teams = new Map<string, Set<Role>>();
  const platform = new Set<Role>();
  for (const m of mappings) {
    if (!held.has(normalizeDn(m.dn))) continue;
    for (const role of m.roles) {
      if (m.team === undefined || isGlobalRole(role)) platform.add(role);
      else add(teams, m.team, role);
    }
  }
  return finish(teams, platform);
}

/** Roles `user` holds through the member lists of `teams`. User names compare exactly. */
export function grantsFromPolicy(user: string, teams: readonly Pick<Team, 'name' | 'members'>[]): Grants {
  const byTeam = new Map<string, Set<Role>>();
  const platform = new Set<Role>();
  for (const t of teams) {
    for (const m of t.members) {
      if (m.user !== user) continue;
      for (const role of m.roles) {
        if (isGlobalRole(role)) platform.add(role);
        else add(byTeam, t.name, role);
      }
    }
  }
  return finish(byTeam, platform);
}

/** The union of grants. */
export function mergeGrants(...all: readonly Grants[]): Grants {
  const teams = new Map<string, Set<Role>>();
  const platform = new Set<Role>();
  for (const g of all) {
    for (const r of g.platform) platform.add(r);
    for (const [name, roles] of Object.entries(g.teams)) for (const r of roles) add(teams, name, r);
  }
  return finish(teams, platform);
}

/** Whether the grants give any role at all: a directory user with none may not log in. */
export function hasAnyRole(g: Grants): boolean {
  return g.platform.length > 0 || Object.keys(g.teams).length > 0;
}
