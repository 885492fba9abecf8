/**
 * The RBAC matrix: every route of the server's route table × every role × (token of the
 * resource's team / token of another team / no token). Exactly the combinations the
 * permission table allows get past authentication and authorisation (a status other than
 * 401/403); every other one is refused, and refused mutating calls are audited as denied.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { listAudit } from '../../../src/audit/index.ts';
import { GLOBAL_ROLES, permissionsFor } from '../../../src/auth/index.ts';
import { defaultPolicy, ROLES, type Role } from '../../../src/policy/index.ts';
import { exampleUrl, isMutating, type RouteSpec } from '../../../src/server/index.ts';
import { ENGINES, POSTGRES_DISABLED } from '../../helpers/db.ts';
import { startRegistry, type RegistryHandle } from '../../helpers/registry.ts';
import { createWorkspace } from '../../helpers/workspace.ts';
import { apiToken, call, startTestServer } from './helpers.ts';

const SECRET = 'rbac-webhook-secret-0123456789';
let reg: RegistryHandle;

before(async () => {
  reg = await startRegistry();
});
after(async () => {
  await reg?.stop();
});

type Who = 'own-team' | 'other-team' | 'no-token';

/** The rule, restated from the table: permission held, and team-scoped roles only on their team. */
function allowedByTable(route: RouteSpec, role: Role, who: Who): boolean {
  if (who === 'no-token') return false;
  if (route.permission === undefined) return true;
  if (!(permissionsFor(role, defaultPolicy().stages) as readonly string[]).includes(route.permission)) return false;
  if (!route.team || GLOBAL_ROLES.includes(role)) return true;
  return who === 'own-team';
}

/** Hand-written expectations for the mutating routes, independent of the table. */
const MUTATING_ALLOWED: Record<string, Array<`${Role}/${'own-team' | 'other-team'}`>> = {
  'POST /api/v1/sync': [
    'operations/own-team',
    'operations/other-team',
    'platform-admin/own-team',
    'platform-admin/other-team',
  ],
  'POST /api/v1/inventory/refresh': [
    'developer/own-team',
    'qa/own-team',
    'release-manager/own-team',
    'operations/own-team',
    'platform-admin/own-team',
    'platform-admin/other-team',
  ],
  'POST /api/v1/tokens': ['platform-admin/own-team', 'platform-admin/other-team'],
  'POST /api/v1/evidence': [
    'developer/own-team',
    'qa/own-team',
    'release-manager/own-team',
    'operations/own-team',
    'security/own-team',
    'platform-admin/own-team',
    'platform-admin/other-team',
  ],
  'POST /api/v1/promotions': [
    'release-manager/own-team',
    'operations/own-team',
    'platform-admin/own-team',
    'platform-admin/other-team',
  ],
  'POST /api/v1/rollbacks': [
    'release-manager/own-team',
    'operations/own-team',
    'platform-admin/own-team',
    'platform-admin/other-team',
  ],
  // The preprod gate's approver (qa) and the stage's responsible role; administrators run the
  // platform but do not approve business changes.
  'POST /api/v1/approvals/preprod': ['qa/own-team', 'release-manager/own-team'],
  // Not bound to one team: the plan spans teams, and apply skips repositories of teams the
  // caller does not act for.
  'POST /api/v1/retention/apply': [
    'operations/own-team',
    'operations/other-team',
    'platform-admin/own-team',
    'platform-admin/other-team',
  ],
  'POST /api/v1/usage': [
    'operations/own-team',
    'operations/other-team',
    'platform-admin/own-team',
    'platform-admin/other-team',
  ],
  'POST /api/v1/findings/reports': [
    'developer/own-team',
    'security/own-team',
    'platform-admin/own-team',
    'platform-admin/other-team',
  ],
  // Past the route, the capability grants waivers to the team's security role only.
  'POST /api/v1/waivers': ['security/own-team', 'platform-admin/own-team', 'platform-admin/other-team'],
  // The waiver's team is read by the capability, which checks the security role for it.
  'DELETE /api/v1/waivers/{id}': [
    'security/own-team',
    'security/other-team',
    'platform-admin/own-team',
    'platform-admin/other-team',
  ],
  'POST /api/v1/retention/restore': ['operations/own-team', 'platform-admin/own-team', 'platform-admin/other-team'],
  'DELETE /api/v1/tokens/{id}': ['platform-admin/own-team', 'platform-admin/other-team'],
};

for (const engine of ENGINES) {
  test(
    `route table x roles x teams: exactly the allowed calls pass [${engine}]`,
    { skip: engine === 'postgres' && POSTGRES_DISABLED },
    async () => {
      const ws = await createWorkspace({
        registries: [{ name: 'local', url: reg.url }],
        engine,
        env: { RBAC_SECRET: SECRET },
        edit: (doc) => {
          doc.addIn(['spec', 'teams'], { name: 'other', contact: 'other@example.com', members: [] });
          doc.setIn(['spec', 'server', 'webhooks'], {
            distribution: { secret: 'env:RBAC_SECRET' },
            quay: { secret: 'env:RBAC_SECRET' },
            harbor: { secret: 'env:RBAC_SECRET' },
          });
        },
      });
      const ts = await startTestServer(ws);
      try {
        const tokens = new Map<string, string>();
        for (const role of ROLES) {
          if (GLOBAL_ROLES.includes(role)) {
            const t = await apiToken(ts.rt, role);
            tokens.set(`${role}/own-team`, t);
            tokens.set(`${role}/other-team`, t);
          } else {
            tokens.set(`${role}/own-team`, await apiToken(ts.rt, role, ['acme']));
            tokens.set(`${role}/other-team`, await apiToken(ts.rt, role, ['other']));
          }
        }
        const routes = ts.server.routes;
        const tokenRoutes = routes.filter((r) => r.auth === 'token');
        assert.ok(tokenRoutes.length >= 12, 'the core API is in the table');
        assert.ok(
          tokenRoutes.some((r) => r.team),
          'at least one team-scoped route exercises the team dimension',
        );

        const wrong: string[] = [];
        let deniedMutations = 0;
        let checked = 0;
        for (const route of tokenRoutes) {
          const url = exampleUrl(ts.url, route);
          const send = (token?: string) =>
            call(ts.url, route.method, url, {
              ...(token ? { token } : {}),
              ...(route.example?.body !== undefined
                ? { body: route.example.body }
                : route.method === 'POST'
                  ? { body: {} }
                  : {}),
            });
          const combos: Array<[Role | 'anonymous', Who]> = [['anonymous', 'no-token']];
          for (const role of ROLES) combos.push([role, 'own-team'], [role, 'other-team']);
          for (const [role, who] of combos) {
            const r = await send(role === 'anonymous' ? undefined : tokens.get(`${role}/${who}`));
            checked++;
            const expected = role === 'anonymous' ? false : allowedByTable(route, role, who);
            const passed = r.status !== 401 && r.status !== 403;
            if (passed !== expected)
              wrong.push(`${route.method} ${route.path} as ${role}/${who}: ${r.status} ${r.text.slice(0, 160)}`);
            if (!passed) {
              assert.equal(r.json?.error?.category, r.status === 401 ? 'unauthorized' : 'forbidden');
              if (isMutating(route)) deniedMutations++;
            }
            if (role === 'anonymous') assert.equal(r.status, 401, `${route.method} ${route.path} without a token`);
            if (isMutating(route) && role !== 'anonymous') {
              const key = `${route.method} ${route.path}`;
              assert.ok(MUTATING_ALLOWED[key], `hand-written expectation for ${key}`);
              assert.equal(
                passed,
                MUTATING_ALLOWED[key].includes(`${role}/${who}` as never),
                `${key} as ${role}/${who}: ${r.status}`,
              );
            }
          }
        }
        assert.deepEqual(wrong, []);
        assert.equal(checked, tokenRoutes.length * (ROLES.length * 2 + 1));

        // Auditors never change anything.
        for (const route of tokenRoutes.filter(isMutating))
          assert.ok(!allowedByTable(route, 'auditor', 'own-team'), `${route.path} for auditor`);

        const denied = await listAudit(ts.rt.store, { result: 'denied', limit: 10_000 });
        assert.equal(denied.length, deniedMutations, 'every refused mutating call is audited as denied');
        assert.ok(denied.some((d) => d.actor === 'anonymous' && d.action === 'token.create'));
        assert.ok(
          denied.some(
            (d) =>
              d.actor.startsWith('token:developer-') &&
              d.action === 'sync.request' &&
              /does not have permission inventory:sync/.test(d.reason ?? ''),
          ),
        );
        assert.ok(denied.some((d) => d.action === 'inventory.refresh' && /not for team acme/.test(d.reason ?? '')));

        // Public routes need nothing; webhooks take their secret, not an API token.
        for (const route of routes.filter((r) => r.auth === 'public')) {
          assert.equal((await call(ts.url, route.method, exampleUrl(ts.url, route))).status, 200, route.path);
        }
        for (const route of routes.filter((r) => r.auth === 'webhook')) {
          const url = exampleUrl(ts.url, route);
          assert.equal(
            (await call(ts.url, 'POST', url, { body: route.example?.body })).status,
            401,
            `${route.path} without secret`,
          );
          const admin = tokens.get('platform-admin/own-team')!;
          assert.equal(
            (await call(ts.url, 'POST', url, { token: admin, body: route.example?.body })).status,
            401,
            `${route.path} with an API token`,
          );
          assert.equal(
            (await call(ts.url, 'POST', url, { token: SECRET, body: route.example?.body })).status,
            202,
            `${route.path} with its secret`,
          );
        }
      } finally {
        await ts.close();
        await ws.cleanup();
      }
    },
  );
}
