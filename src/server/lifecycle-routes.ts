/**
 * API routes and scheduled jobs of the lifecycle capabilities: evidence, approvals, gates,
 * promotion, rollback, deployability, retention. Each route authorises, then calls one
 * capability function; the rules live in src/promotion and src/retention.
 */
import { actorOf, type Principal } from '../auth/index.ts';
import { SluiceError } from '../errors.ts';
import type { TagChange } from '../inventory/sync.ts';
import { parseReference } from '../oci/reference.ts';
import { parseRepositoryPath, stageByName, teamByName } from '../policy/index.ts';
import { actorFromPolicy, type Actor } from '../auth/actor.ts';
import { approveAndPromote, recordEvidenceAndPromote } from '../promotion/follow-ups.ts';
import { promotionHooks } from '../promotion/hooks.ts';
import { rollback, verifyDeployable } from '../promotion/operations.ts';
import { listPromotions } from '../promotion/records.ts';
import {
  autoPromote,
  checkGate,
  previousStageOf,
  promote,
  resolveStageImage,
  runScheduledPromotions,
} from '../promotion/service.ts';
import { applyPlan, purgeTrash, restore } from '../retention/apply.ts';
import { gatherRetentionInput } from '../retention/gather.ts';
import { planRetention } from '../retention/plan.ts';
import type { Runtime } from '../runtime.ts';
import { digestsIn, reportUsage } from '../usage/index.ts';
import type { JobSpec } from '../scheduler/index.ts';
import type { JsonSchema, RouteRequest, RouteSpec } from './routes.ts';

const str = { type: 'string' } as const;
const EXAMPLE_REF = 'acme-dev/api:1.0.0-1';

/** The actor a token acts as: its name, and its role for the teams it is scoped to. */
export function actorOfPrincipal(p: Principal): Actor {
  return {
    name: actorOf(p),
    rolesFor: (team) => (p.teams.length === 0 || p.teams.includes(team) ? [p.role] : []),
  };
}

/** The team owning the image a reference names (full, repository path, or team/repo). */
export function teamOfRef(rt: Runtime, text: unknown): string | null {
  if (typeof text !== 'string') return null;
  try {
    const defaultHost = rt.registries[0]?.host;
    const ref = parseReference(text, { defaultTag: false, ...(defaultHost ? { defaultRegistry: defaultHost } : {}) });
    const reg = rt.registryForHost(ref.registry);
    const owner = reg ? parseRepositoryPath(rt.policy, ref.repository, { registry: reg.name }) : undefined;
    if (owner) return owner.team;
    const [team] = ref.repository.split('/');
    return team && teamByName(rt.policy, team) ? team : null;
  } catch {
    return null;
  }
}

function body(req: RouteRequest): Record<string, unknown> {
  return (req.body ?? {}) as Record<string, unknown>;
}

function actor(ctx: { principal: Principal | null }): Actor {
  if (!ctx.principal) throw new SluiceError('UNAUTHORIZED', 'unauthorized', 'a bearer token is required');
  return actorOfPrincipal(ctx.principal);
}

const GATE_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    stage: str,
    digest: str,
    passed: { type: 'boolean' },
    requirements: { type: 'array', items: { type: 'object' } },
  },
};

export function lifecycleRoutes(rt: Runtime): RouteSpec[] {
  const hooks = promotionHooks(rt);
  const routes: RouteSpec[] = [
    {
      method: 'POST',
      path: '/api/v1/evidence',
      operationId: 'recordEvidence',
      summary: 'Record evidence (build, tests, scan report, change approval) for the digest a reference points to now',
      tag: 'promotion',
      auth: 'token',
      permission: 'evidence:write',
      team: (req) => teamOfRef(rt, body(req).ref),
      auditAction: 'evidence',
      body: {
        type: 'object',
        required: ['ref', 'type'],
        additionalProperties: false,
        properties: {
          ref: str,
          type: str,
          status: { type: 'string', enum: ['passed', 'failed'] },
          url: str,
          stage: str,
          change: str,
          details: { type: 'object' },
        },
      },
      responses: { 201: { description: 'recorded; automatic promotions that followed are listed' } },
      example: { body: { ref: EXAMPLE_REF, type: 'unit-tests', status: 'passed' } },
      async handler(req, reply, ctx) {
        const b = body(req);
        const { evidence, promoted } = await recordEvidenceAndPromote(
          rt,
          actor(ctx),
          {
            ref: String(b.ref),
            type: String(b.type),
            ...(b.status ? { status: b.status as 'passed' | 'failed' } : {}),
            ...(b.url ? { url: String(b.url) } : {}),
            ...(b.stage ? { stage: String(b.stage) } : {}),
            ...(b.change ? { change: String(b.change) } : {}),
            ...(b.details ? { details: b.details as Record<string, unknown> } : {}),
            source: 'api',
          },
          { hooks: await hooks },
        );
        reply.code(201);
        return { evidence, promoted };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/gate',
      operationId: 'checkGate',
      summary: 'Evaluate the gate of a stage for an image (passed or the missing requirements)',
      tag: 'promotion',
      auth: 'token',
      permission: 'images:read',
      query: { type: 'object', required: ['ref', 'stage'], properties: { ref: str, stage: str } },
      responses: { 200: { description: 'the gate evaluation', schema: GATE_SCHEMA } },
      example: { query: { ref: EXAMPLE_REF, stage: 'staging' } },
      async handler(req, _reply, ctx) {
        const stage = stageByName(rt.policy, String(req.query.stage));
        if (!stage)
          throw new SluiceError('STAGE_UNKNOWN', 'invalid-input', `unknown stage "${String(req.query.stage)}"`);
        const image = await resolveStageImage(rt, String(req.query.ref), previousStageOf(rt.policy, stage) ?? stage);
        return (await checkGate(rt, image, stage, actor(ctx).name, await hooks, { willSign: !!stage.sign })).result;
      },
    },
    {
      method: 'POST',
      path: '/api/v1/promotions',
      operationId: 'promote',
      summary: 'Promote the digest a reference points to into a stage, behind its gate',
      tag: 'promotion',
      auth: 'token',
      permission: 'promote',
      team: (req) => teamOfRef(rt, body(req).ref),
      auditAction: 'promotion',
      body: {
        type: 'object',
        required: ['ref', 'to'],
        additionalProperties: false,
        properties: { ref: str, to: str, dryRun: { type: 'boolean' }, force: { type: 'boolean' } },
      },
      responses: { 200: { description: 'promoted, scheduled, or the dry-run evaluation' } },
      example: { body: { ref: EXAMPLE_REF, to: 'staging', dryRun: true } },
      async handler(req, _reply, ctx) {
        const b = body(req);
        return promote(
          rt,
          actor(ctx),
          {
            ref: String(b.ref),
            to: String(b.to),
            ...(b.dryRun ? { dryRun: true } : {}),
            ...(b.force ? { force: true } : {}),
          },
          await hooks,
        );
      },
    },
    {
      method: 'GET',
      path: '/api/v1/promotions',
      operationId: 'listPromotions',
      summary: 'Promotion history, newest first',
      tag: 'promotion',
      auth: 'token',
      permission: 'images:read',
      query: {
        type: 'object',
        properties: {
          team: str,
          repo: str,
          stage: str,
          digest: str,
          status: str,
          limit: { type: 'integer', minimum: 1, maximum: 10000 },
        },
      },
      responses: { 200: { description: 'promotions' } },
      async handler(req) {
        const q = req.query as Record<string, string | number | undefined>;
        const rows = await listPromotions(rt.store, {
          ...(q.team ? { team: String(q.team) } : {}),
          ...(q.repo ? { repo: String(q.repo) } : {}),
          ...(q.stage ? { stage: String(q.stage) } : {}),
          ...(q.digest ? { digest: String(q.digest) } : {}),
          ...(q.status ? { status: String(q.status) } : {}),
          ...(q.limit ? { limit: Number(q.limit) } : {}),
        });
        return rows.map((r) => ({
          ...r,
          gate: r.gate ? (JSON.parse(r.gate) as unknown) : null,
          forced: r.forced === 1,
        }));
      },
    },
    {
      method: 'POST',
      path: '/api/v1/rollbacks',
      operationId: 'rollback',
      summary: 'Re-point a stage tag to the previously promoted digest',
      tag: 'promotion',
      auth: 'token',
      permission: 'rollback',
      team: (req) => (typeof body(req).image === 'string' ? (String(body(req).image).split('/')[0] ?? null) : null),
      auditAction: 'rollback',
      body: {
        type: 'object',
        required: ['image', 'stage'],
        additionalProperties: false,
        properties: { image: str, stage: str },
      },
      responses: { 200: { description: 'the stage tag moved back' } },
      example: { body: { image: 'acme/api', stage: 'prod' } },
      async handler(req, _reply, ctx) {
        const b = body(req);
        return rollback(rt, actor(ctx), { image: String(b.image), stage: String(b.stage) }, await hooks);
      },
    },
    {
      method: 'GET',
      path: '/api/v1/deployable',
      operationId: 'verifyDeployable',
      summary: 'Prove an image can be deployed: manifest and every blob present, not held, signature valid',
      tag: 'promotion',
      auth: 'token',
      permission: 'images:read',
      query: { type: 'object', required: ['ref'], properties: { ref: str } },
      responses: { 200: { description: 'the checks and the verdict (deployable: true|false)' } },
      example: { query: { ref: EXAMPLE_REF } },
      async handler(req) {
        return verifyDeployable(rt, String(req.query.ref), await hooks);
      },
    },
    {
      method: 'GET',
      path: '/api/v1/retention/plan',
      operationId: 'planRetention',
      summary: 'Compute a retention plan: every tag and digest with keep/delete and the deciding rule or protection',
      tag: 'retention',
      auth: 'token',
      permission: 'retention:plan',
      query: { type: 'object', properties: { stage: str, team: str } },
      responses: { 200: { description: 'the plan' } },
      async handler(req) {
        const input = await gatherRetentionInput(rt);
        const scope = {
          ...(req.query.stage ? { stage: String(req.query.stage) } : {}),
          ...(req.query.team ? { team: String(req.query.team) } : {}),
        };
        return planRetention(input, { scope });
      },
    },
    {
      method: 'POST',
      path: '/api/v1/retention/apply',
      operationId: 'applyRetention',
      summary: 'Plan now and apply; with a fingerprint, only if the plan is still the one reviewed',
      tag: 'retention',
      auth: 'token',
      permission: 'retention:apply',
      auditAction: 'retention.apply',
      body: {
        type: 'object',
        additionalProperties: false,
        properties: {
          stage: str,
          team: str,
          fingerprint: { type: 'string', pattern: '^[0-9a-f]{64}$' },
          dryRun: { type: 'boolean' },
        },
      },
      bodyOptional: true,
      responses: { 200: { description: 'what was deleted, skipped, noticed or failed, item by item' } },
      example: { body: { stage: 'dev', fingerprint: '0'.repeat(64) } },
      async handler(req, _reply, ctx) {
        const b = body(req);
        const scope = { ...(b.stage ? { stage: String(b.stage) } : {}), ...(b.team ? { team: String(b.team) } : {}) };
        const plan = planRetention(await gatherRetentionInput(rt), { scope });
        if (b.fingerprint && b.fingerprint !== plan.fingerprint) {
          throw new SluiceError(
            'PLAN_CHANGED',
            'conflict',
            `the plan is now ${plan.fingerprint}, not the reviewed ${String(b.fingerprint)}: review the new plan`,
          );
        }
        return applyPlan(rt, actor(ctx), plan, { ...(b.dryRun ? { dryRun: true } : {}) });
      },
    },
    {
      method: 'POST',
      path: '/api/v1/retention/restore',
      operationId: 'restoreFromTrash',
      summary: 'Put a deleted tag (or untagged digest) back from the trash, within its window',
      tag: 'retention',
      auth: 'token',
      permission: 'retention:apply',
      team: (req) => teamOfRef(rt, body(req).ref),
      auditAction: 'retention.restore',
      body: { type: 'object', required: ['ref'], additionalProperties: false, properties: { ref: str } },
      responses: { 200: { description: 'restored' } },
      example: { body: { ref: 'acme-dev/api:1.0.0-1' } },
      async handler(req, _reply, ctx) {
        const defaultHost = rt.registries[0]?.host;
        const ref = parseReference(String(body(req).ref), {
          defaultTag: false,
          ...(defaultHost ? { defaultRegistry: defaultHost } : {}),
        });
        const reg = rt.registryForHost(ref.registry);
        if (!reg)
          throw new SluiceError('REGISTRY_UNKNOWN', 'not-found', `registry ${ref.registry} is not in the policy`);
        return restore(rt, actor(ctx), {
          registry: reg,
          repository: ref.repository,
          ...(ref.tag ? { tag: ref.tag } : {}),
          ...(ref.digest ? { digest: ref.digest } : {}),
        });
      },
    },
    {
      method: 'POST',
      path: '/api/v1/usage',
      operationId: 'reportUsage',
      summary: "Report the digests a cluster's workloads run (replaces the cluster's previous report)",
      tag: 'inventory',
      auth: 'token',
      permission: 'usage:report',
      auditAction: 'usage.report',
      body: {
        type: 'object',
        required: ['cluster', 'images'],
        additionalProperties: false,
        properties: { cluster: str, images: { type: 'array', items: str, maxItems: 100000 } },
      },
      responses: { 200: { description: 'the number of digests now recorded for the cluster' } },
      example: { body: { cluster: 'prod-eu-1', images: [`quay.example/acme-prod/api@sha256:${'a'.repeat(64)}`] } },
      async handler(req) {
        const b = body(req);
        return reportUsage(rt.store, String(b.cluster), digestsIn(b.images as string[], 'images'), rt.now());
      },
    },
  ];
  // One approval route per stage that takes approvals, so the permission is the stage's own.
  for (const stage of rt.policy.stages) {
    if (stage.gate.approvals.length === 0) continue;
    routes.push({
      method: 'POST',
      path: `/api/v1/approvals/${stage.name}`,
      operationId: `approve_${stage.name.replace(/[^A-Za-z0-9]/g, '_')}`,
      summary: `Approve (or reject) promoting an image into ${stage.name}`,
      tag: 'promotion',
      auth: 'token',
      permission: `approve:${stage.name}`,
      team: (req) => teamOfRef(rt, body(req).ref),
      auditAction: 'approval',
      body: {
        type: 'object',
        required: ['ref'],
        additionalProperties: false,
        properties: { ref: str, type: str, reject: { type: 'boolean' }, comment: str, url: str },
      },
      responses: { 201: { description: 'recorded' } },
      example: { body: { ref: 'acme/api:1.0.0-1', comment: 'regression suite green' } },
      async handler(req, reply, ctx) {
        const b = body(req);
        const { evidence, promoted } = await approveAndPromote(
          rt,
          actor(ctx),
          {
            ref: String(b.ref),
            stage: stage.name,
            ...(b.type ? { type: String(b.type) } : {}),
            ...(b.reject ? { reject: true } : {}),
            ...(b.comment ? { comment: String(b.comment) } : {}),
            ...(b.url ? { url: String(b.url) } : {}),
          },
          await hooks,
        );
        reply.code(201);
        return { evidence, promoted };
      },
    });
  }
  return routes;
}

export const SCHEDULED_PROMOTIONS_JOB = 'promotions-scheduled';
export const TRASH_PURGE_JOB = 'retention-trash-purge';
export const RETENTION_JOB = 'retention';

export function lifecycleJobs(rt: Runtime): JobSpec[] {
  const hooks = promotionHooks(rt);
  const system: Actor = { name: 'system:scheduler', rolesFor: () => [], system: true };
  const jobs: JobSpec[] = [
    {
      name: SCHEDULED_PROMOTIONS_JOB,
      intervalMs: 60_000,
      async run({ confirmLease }) {
        const h = await hooks;
        await confirmLease();
        return { ran: await runScheduledPromotions(rt, (name) => actorFromPolicy(rt.policy, name), h) };
      },
    },
    {
      name: TRASH_PURGE_JOB,
      intervalMs: 24 * 3600_000,
      firstRunDelayMs: 5 * 60_000,
      async run({ confirmLease }) {
        await confirmLease();
        return purgeTrash(rt);
      },
    },
    {
      // Automatic and notice modes; manual repositories wait for an approved plan and
      // scheduled ones for their own cron jobs below.
      name: RETENTION_JOB,
      intervalMs: 24 * 3600_000,
      firstRunDelayMs: 10 * 60_000,
      async run({ confirmLease, signal }) {
        const plan = planRetention(await gatherRetentionInput(rt));
        // Gathering may have outlasted the lease; deleting under a lost one is what must not happen.
        await confirmLease();
        return summarize(await applyPlan(rt, system, plan, { signal }));
      },
    },
  ];
  for (const stage of rt.policy.stages) {
    if (stage.retention.mode !== 'scheduled' || !stage.retention.schedule) continue;
    jobs.push({
      name: `${RETENTION_JOB}:${stage.name}`,
      cron: stage.retention.schedule,
      timeZone: rt.policy.timeZone,
      async run({ confirmLease, signal }) {
        const plan = planRetention(await gatherRetentionInput(rt), { scope: { stage: stage.name } });
        await confirmLease();
        return summarize(await applyPlan(rt, system, plan, { scheduled: true, signal }));
      },
    });
  }
  return jobs;
}

function summarize(report: Awaited<ReturnType<typeof applyPlan>>) {
  return { fingerprint: report.fingerprint, totals: report.totals, notes: report.notes };
}

/** After events changed tags: automatic promotions may now be possible for the digests involved. */
export async function afterInventoryChanges(rt: Runtime, changes: readonly TagChange[]): Promise<void> {
  const digests = new Set(changes.filter((c) => c.change !== 'deleted').map((c) => c.digest));
  if (digests.size === 0) return;
  const hooks = await promotionHooks(rt);
  for (const d of digests) await autoPromote(rt, d, hooks);
}
