/**
 * Who may do what: roles (from the policy's team members and from API tokens) map to
 * permissions, and team-scoped roles act only on their teams' resources. Pure rules over
 * data, no I/O; the server checks every request against them and the promotion, retention,
 * scan and signing capabilities name the permissions their operations need.
 */
import { ROLES, type Role, type Stage } from '../policy/schema.ts';

/** Permissions that do not depend on the policy's stages. */
export const PERMISSIONS = [
  /** Read the inventory (images, tags, pulls). */
  'images:read',
  /** Read scheduled jobs and their last results. */
  'jobs:read',
  /** Read and verify the audit log. */
  'audit:read',
  /** Export the audit log for a SIEM. */
  'audit:export',
  /** Start a sync of whole registries. */
  'inventory:sync',
  /** Re-read one repository of a team from its registry. */
  'inventory:refresh',
  /** Create, list and revoke API tokens. */
  'tokens:manage',
  /** Record evidence (build, tests, scans, approvals by systems) for a team's digest. */
  'evidence:write',
  /** Promote a team's image to the next stage. */
  'promote',
  /** Re-point a stage tag to the previously promoted digest. */
  'rollback',
  /** Compute a retention plan. */
  'retention:plan',
  /** Apply a retention plan (deletes tags and manifests). */
  'retention:apply',
  /** Sign images. */
  'signing:sign',
  /** Start a vulnerability scan. */
  'scan:run',
  /** Quarantine and release images. */
  'quarantine:manage',
  /** Record a scanner's report of a team's image as its findings. */
  'findings:import',
  /** Grant and revoke vulnerability waivers. */
  'waivers:manage',
  /** Report the digests a cluster's workloads run (retention never deletes them). */
  'usage:report',
] as const;

export type StaticPermission = (typeof PERMISSIONS)[number];
/** `approve:<stage>`: give an approval that a gate into `<stage>` requires. */
export type ApprovalPermission = `approve:${string}`;
export type Permission = StaticPermission | ApprovalPermission;

/** Permissions that change nothing; everything else is a mutation. */
export const READ_PERMISSIONS: readonly StaticPermission[] = ['images:read', 'jobs:read', 'audit:read', 'audit:export'];

/** Roles that act across all teams. Every other role acts only on the teams it is scoped to. */
export const GLOBAL_ROLES: readonly Role[] = ['platform-admin', 'auditor'];

const READ: StaticPermission[] = ['images:read', 'jobs:read'];

/**
 * The table. Approvals are not listed here: a role may approve promotions into a stage when
 * the stage's gate names it as approver or the stage names it as responsible (see
 * {@link permissionsFor}). Platform administrators run the platform; they do not approve
 * business changes.
 */
export const ROLE_PERMISSIONS: Readonly<Record<Role, readonly StaticPermission[]>> = {
  developer: [...READ, 'inventory:refresh', 'evidence:write', 'findings:import', 'retention:plan'],
  qa: [...READ, 'inventory:refresh', 'evidence:write', 'scan:run', 'retention:plan'],
  'release-manager': [
    ...READ,
    'audit:read',
    'inventory:refresh',
    'evidence:write',
    'promote',
    'rollback',
    'retention:plan',
  ],
  operations: [
    ...READ,
    'usage:report',
    'audit:read',
    'inventory:sync',
    'inventory:refresh',
    'evidence:write',
    'promote',
    'rollback',
    'retention:plan',
    'retention:apply',
    'signing:sign',
    'scan:run',
  ],
  security: [
    ...READ,
    'audit:read',
    'audit:export',
    'evidence:write',
    'findings:import',
    'scan:run',
    'signing:sign',
    'quarantine:manage',
    'waivers:manage',
  ],
  'platform-admin': [...PERMISSIONS],
  auditor: [...READ, 'audit:read', 'audit:export'],
};

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

export function isGlobalRole(role: Role): boolean {
  return GLOBAL_ROLES.includes(role);
}

export function isReadPermission(p: Permission): boolean {
  return (READ_PERMISSIONS as readonly string[]).includes(p);
}

/** Every permission `role` holds under a policy with `stages` (approvals included). */
export function permissionsFor(
  role: Role,
  stages: readonly Pick<Stage, 'name' | 'responsibleRole' | 'gate'>[] = [],
): Permission[] {
  // A role read from a token row or a policy is checked again here: no table entry, no permission.
  if (!Object.hasOwn(ROLE_PERMISSIONS, role)) return [];
  const out: Permission[] = [...ROLE_PERMISSIONS[role]];
  // Reading is all an auditor does, whatever a policy says.
  if (role === 'auditor') return out;
  for (const s of stages) {
    if (s.responsibleRole === role || s.gate.approvals.some((a) => a.role === role)) out.push(`approve:${s.name}`);
  }
  return out;
}

/** Whoever a request acts for: an API token (later also an LDAP user). */
export interface Principal {
  /** Token id. */
  id: string;
  /** Name shown in the audit log. */
  name: string;
  role: Role;
  /** Teams a team-scoped role acts for; empty for global roles. */
  teams: string[];
}

/** How a principal appears as the audit log's actor. */
export function actorOf(p: Principal): string {
  return `token:${p.name}`;
}

/** What an operation acts on: the team owning it, or null when no team does. Absent: not team-bound. */
export interface Resource {
  team?: string | null;
}

export type Decision = { allowed: true } | { allowed: false; reason: string };

/**
 * The rule: the role must hold the permission, and a team-scoped role may act on a
 * team-bound resource only when the resource's team is one of its teams. A resource no team
 * owns is open to global roles only.
 */
export function authorize(
  principal: Pick<Principal, 'role' | 'teams'>,
  permission: Permission,
  resource: Resource = {},
  stages: readonly Pick<Stage, 'name' | 'responsibleRole' | 'gate'>[] = [],
): Decision {
  if (!permissionsFor(principal.role, stages).includes(permission)) {
    return { allowed: false, reason: `role ${principal.role} does not have permission ${permission}` };
  }
  if (resource.team === undefined || isGlobalRole(principal.role)) return { allowed: true };
  if (resource.team === null) {
    return {
      allowed: false,
      reason: `the resource belongs to no team; only ${GLOBAL_ROLES.join(' and ')} may act on it`,
    };
  }
  if (!principal.teams.includes(resource.team)) {
    const scope = principal.teams.length ? principal.teams.join(', ') : 'no team';
    return { allowed: false, reason: `role ${principal.role} acts for ${scope}, not for team ${resource.team}` };
  }
  return { allowed: true };
}
