/**
 * Who is acting, and with which roles for which team. The CLI acts as the OS user (or
 * SLUICE_USER) with the roles the policy gives that user; the server acts as the bearer of
 * an API token. Either way, rules ask the same question: does this actor hold role R for
 * team T?
 */
import { userInfo } from 'node:os';
import { SluiceError } from '../errors.ts';
import type { LifecyclePolicy, Role } from '../policy/index.ts';

export interface Actor {
  name: string;
  /** Roles for one team (global roles such as platform-admin included). */
  rolesFor(team: string): Role[];
  /** Automatic triggers act as the system, which holds every stage's responsible role. */
  system?: boolean;
}

/** Roles that apply to every team when held in any of them. */
const GLOBAL_ROLES: readonly Role[] = ['platform-admin', 'auditor'];

export function actorFromPolicy(policy: LifecyclePolicy, name: string): Actor {
  const global = new Set<Role>();
  for (const team of policy.teams) {
    for (const m of team.members)
      if (m.user === name) for (const r of m.roles) if (GLOBAL_ROLES.includes(r)) global.add(r);
  }
  return {
    name,
    rolesFor(teamName) {
      const team = policy.teams.find((t) => t.name === teamName);
      const own = team?.members.find((m) => m.user === name)?.roles ?? [];
      return [...new Set<Role>([...own, ...global])];
    },
  };
}

/**
 * The name the CLI acts under: SLUICE_USER when set, else the OS user. Not verified: whoever
 * runs the CLI against the database can claim any name, which is why the server takes tokens.
 */
export function cliUserName(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SLUICE_USER) return env.SLUICE_USER;
  try {
    return userInfo().username;
  } catch {
    // A uid without a passwd entry (containers run under arbitrary uids).
    return env.USER || env.LOGNAME || 'unknown';
  }
}

export function cliActor(policy: LifecyclePolicy, env: NodeJS.ProcessEnv = process.env): Actor {
  return actorFromPolicy(policy, cliUserName(env));
}

export function systemActor(name = 'system:auto-promote'): Actor {
  return { name, rolesFor: () => [], system: true };
}

export function hasRole(actor: Actor, team: string, ...roles: Role[]): boolean {
  if (actor.system) return true;
  const held = actor.rolesFor(team);
  return held.includes('platform-admin') || roles.some((r) => held.includes(r));
}

export function requireRole(actor: Actor, team: string, what: string, ...roles: Role[]): void {
  if (hasRole(actor, team, ...roles)) return;
  throw new SluiceError(
    'FORBIDDEN',
    'forbidden',
    `${actor.name} may not ${what} for team ${team}: needs role ${roles.join(' or ')} (has ${actor.rolesFor(team).join(', ') || 'none'})`,
    { actor: actor.name, team },
  );
}
