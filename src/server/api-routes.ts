/** The core API routes: inventory, sync, audit, tokens, jobs, identity. Each calls one capability function. */
import { PassThrough } from 'node:stream';
import {
  AUDIT_RESULTS,
  auditHead,
  exportAudit,
  listAudit,
  parseAuditAnchor,
  verifyAudit,
  type AuditExportFormat,
  type ListOptions,
} from '../audit/index.ts';
import {
  actorOf,
  createToken,
  DEFAULT_TOKEN_LIFETIME,
  listTokens,
  permissionsFor,
  revokeToken,
} from '../auth/index.ts';
import { SluiceError } from '../errors.ts';
import { listImages, showImage, type ImageFilter } from '../inventory/query.ts';
import { refreshReference, syncRepository } from '../inventory/sync.ts';
import { ROLES, parseDuration, parseRepositoryPath } from '../policy/index.ts';
import { inventoryFor } from '../runtime.ts';
import { listJobs, registryOfSyncJob, syncJobName } from '../scheduler/index.ts';
import type { JsonSchema, RouteContext, RouteSpec } from './routes.ts';

const str = { type: 'string' } as const;
const strOrNull = { type: ['string', 'null'] } as const;
const DIGEST_PATTERN = '^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$';

const IMAGE_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    registry: str,
    repository: str,
    digest: str,
    tags: { type: 'array', items: str },
    team: strOrNull,
    stage: strOrNull,
    category: strOrNull,
    mediaType: str,
    platforms: { type: 'array', items: str },
    size: { type: 'integer' },
    created: strOrNull,
    labels: { type: 'object', additionalProperties: str },
    user: strOrNull,
    baseDigest: strOrNull,
    baseName: strOrNull,
    firstSeen: str,
  },
};

const AUDIT_RECORD_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    seq: { type: 'integer' },
    time: str,
    actor: str,
    action: str,
    repository: strOrNull,
    digest: strOrNull,
    tag: strOrNull,
    reason: strOrNull,
    result: { type: 'string', enum: AUDIT_RESULTS },
    details: { type: 'object' },
    prevHash: str,
    hash: str,
  },
};

const TOKEN_INFO_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    id: str,
    name: str,
    role: { type: 'string', enum: ROLES },
    teams: { type: 'array', items: str },
    createdAt: str,
    expiresAt: strOrNull,
    revokedAt: strOrNull,
    lastUsedAt: strOrNull,
    status: { type: 'string', enum: ['active', 'expired', 'revoked'] },
  },
};

const AUDIT_FILTER_PROPERTIES: Record<string, JsonSchema> = {
  since: { type: 'string', format: 'date-time', description: 'inclusive, ISO-8601' },
  until: { type: 'string', format: 'date-time', description: 'exclusive, ISO-8601' },
  actor: str,
  action: str,
  repository: { type: 'string', description: 'registry/namespace/name, exact' },
  digest: str,
  tag: str,
  result: { type: 'string', enum: AUDIT_RESULTS },
};

function auditFilter(q: Record<string, unknown>): ListOptions {
  const date = (name: string): Date | undefined => {
    const v = q[name];
    if (v === undefined) return undefined;
    const d = new Date(String(v));
    if (Number.isNaN(d.getTime()))
      throw new SluiceError(
        'REQUEST_INVALID',
        'invalid-input',
        `${name} "${String(v).slice(0, 40)}" is not an ISO-8601 time`,
      );
    return d;
  };
  const out: ListOptions = {};
  const since = date('since');
  const until = date('until');
  if (since) out.since = since;
  if (until) out.until = until;
  for (const k of ['actor', 'action', 'repository', 'digest', 'tag'] as const)
    if (typeof q[k] === 'string') out[k] = q[k];
  if (typeof q.result === 'string') out.result = q.result as ListOptions['result'];
  return out;
}

function registryNamed(ctx: RouteContext, name: string) {
  const reg = ctx.rt.registries.find((r) => r.name === name);
  if (!reg) {
    throw new SluiceError(
      'REGISTRY_UNKNOWN',
      'not-found',
      `no registry named "${name.slice(0, 64)}" in the policy (registries: ${ctx.rt.registries.map((r) => r.name).join(', ')})`,
      {
        registry: name.slice(0, 64),
      },
    );
  }
  return reg;
}

function actor(ctx: RouteContext): string {
  return ctx.principal ? actorOf(ctx.principal) : 'anonymous';
}

export function apiRoutes(): RouteSpec[] {
  return [
    {
      method: 'GET',
      path: '/api/v1/openapi.json',
      operationId: 'openapi',
      summary: 'This OpenAPI 3.1 document',
      tag: 'meta',
      auth: 'public',
      responses: { 200: { description: 'the document', schema: { type: 'object' } } },
      // Replaced by the server, which knows the whole route table.
      handler: async () => ({}),
    },
    {
      method: 'GET',
      path: '/api/v1/whoami',
      operationId: 'whoami',
      summary: 'The caller: token name, role, teams and permissions',
      tag: 'meta',
      auth: 'token',
      responses: {
        200: {
          description: 'the principal',
          schema: {
            type: 'object',
            properties: {
              id: str,
              name: str,
              role: str,
              teams: { type: 'array', items: str },
              permissions: { type: 'array', items: str },
            },
          },
        },
      },
      handler: async (_req, _reply, ctx) => {
        const p = ctx.principal!;
        return {
          id: p.id,
          name: p.name,
          role: p.role,
          teams: p.teams,
          permissions: permissionsFor(p.role, ctx.rt.policy.stages),
        };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/images',
      operationId: 'listImages',
      summary: 'Images in the inventory (one per repository and digest), filtered like `sluice images ls`',
      tag: 'inventory',
      auth: 'token',
      permission: 'images:read',
      query: {
        type: 'object',
        properties: {
          team: str,
          stage: str,
          category: str,
          registry: { type: 'string', description: 'registry name in the policy' },
          repository: str,
          label: { type: 'array', items: str, description: 'key=value or key (repeatable)' },
          all: { type: 'boolean', description: 'include untagged digests and signature artifacts' },
        },
        additionalProperties: false,
      },
      responses: { 200: { description: 'images', schema: { type: 'array', items: IMAGE_SCHEMA } } },
      example: { query: { team: 'acme' } },
      handler: async (req, _reply, ctx) => {
        const q = req.query;
        const filter: ImageFilter = {};
        for (const k of ['team', 'stage', 'category', 'registry', 'repository'] as const)
          if (typeof q[k] === 'string') filter[k] = q[k];
        if (Array.isArray(q.label)) filter.labels = q.label as string[];
        if (q.all === true) filter.all = true;
        return listImages(ctx.rt.store, filter);
      },
    },
    {
      method: 'GET',
      path: '/api/v1/images/{registry}/{repository+}',
      operationId: 'showImage',
      summary: 'One image by tag or digest: tags, stages reached, every repository holding the digest, pulls',
      tag: 'inventory',
      auth: 'token',
      permission: 'images:read',
      params: {
        type: 'object',
        required: ['registry', 'repository'],
        properties: {
          registry: { type: 'string', description: 'registry name in the policy' },
          repository: { type: 'string', description: 'repository path' },
        },
      },
      query: {
        type: 'object',
        properties: {
          tag: { type: 'string', description: 'default latest' },
          digest: { type: 'string', pattern: DIGEST_PATTERN },
        },
        additionalProperties: false,
      },
      responses: {
        200: {
          description: 'the image',
          schema: { ...IMAGE_SCHEMA, description: 'plus locations, stagesReached, children, pulls' },
        },
      },
      example: { params: { registry: 'local', repository: 'acme-dev/api' }, query: { tag: '1.0.0-1' } },
      handler: async (req, _reply, ctx) => {
        const reg = registryNamed(ctx, req.params.registry!);
        const q = req.query;
        return showImage(
          ctx.rt.store,
          {
            registry: reg.name,
            repository: req.params.repository!,
            ...(typeof q.tag === 'string' ? { tag: q.tag } : {}),
            ...(typeof q.digest === 'string' ? { digest: q.digest } : {}),
          },
          ctx.rt.policy.stages.map((s) => s.name),
        );
      },
    },
    {
      method: 'POST',
      path: '/api/v1/sync',
      operationId: 'requestSync',
      summary: 'Run the sync job of one registry (or all) now, on whichever replica takes it first',
      tag: 'inventory',
      auth: 'token',
      permission: 'inventory:sync',
      auditAction: 'sync.request',
      body: {
        type: 'object',
        properties: { registry: { type: 'string', description: 'registry name; all when absent' } },
        additionalProperties: false,
      },
      bodyOptional: true,
      responses: {
        202: {
          description: 'jobs made due',
          schema: { type: 'object', properties: { jobs: { type: 'array', items: str } } },
        },
      },
      example: { body: {} },
      handler: async (req, reply, ctx) => {
        const body = (req.body ?? {}) as { registry?: string };
        const names =
          body.registry !== undefined
            ? [syncJobName(registryNamed(ctx, body.registry).name)]
            : ctx.rt.registries.map((r) => syncJobName(r.name));
        const jobs = await ctx.scheduler.trigger(names);
        await ctx.rt.audit(ctx.rt.store, {
          actor: actor(ctx),
          action: 'sync.request',
          reason: 'sync requested through the API',
          result: 'success',
          details: { registries: jobs.map((j) => registryOfSyncJob(j)) },
        });
        reply.code(202);
        return { jobs };
      },
    },
    {
      method: 'POST',
      path: '/api/v1/inventory/refresh',
      operationId: 'refreshRepository',
      summary:
        'Re-read one repository (or one tag of it) from the registry now, e.g. from a pipeline right after a push',
      tag: 'inventory',
      auth: 'token',
      permission: 'inventory:refresh',
      auditAction: 'inventory.refresh',
      team: (req, ctx) => {
        const b = req.body as { registry: string; repository: string };
        return parseRepositoryPath(ctx.rt.policy, b.repository, { registry: b.registry })?.team ?? null;
      },
      body: {
        type: 'object',
        required: ['registry', 'repository'],
        properties: { registry: str, repository: str, tag: str },
        additionalProperties: false,
      },
      responses: {
        200: {
          description: 'what changed',
          schema: {
            type: 'object',
            properties: { registry: str, repository: str, changes: { type: 'array', items: { type: 'object' } } },
          },
        },
      },
      example: { body: { registry: 'local', repository: 'acme-dev/api' } },
      handler: async (req, _reply, ctx) => {
        const b = req.body as { registry: string; repository: string; tag?: string };
        const reg = registryNamed(ctx, b.registry);
        const deps = inventoryFor(ctx.rt, reg);
        const changes =
          b.tag !== undefined
            ? await refreshReference(deps, reg, b.repository, { tag: b.tag }, `refresh requested by ${actor(ctx)}`)
            : (await syncRepository(deps, reg, b.repository)).changes;
        await ctx.rt.audit(ctx.rt.store, {
          actor: actor(ctx),
          action: 'inventory.refresh',
          repository: `${reg.host}/${b.repository}`,
          tag: b.tag ?? null,
          reason: 'refresh requested through the API',
          result: 'success',
          details: { changes: changes.length },
        });
        return { registry: reg.name, repository: b.repository, changes };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/audit',
      operationId: 'listAudit',
      summary: 'Audit records, newest first, filtered like `sluice audit ls`',
      tag: 'audit',
      auth: 'token',
      permission: 'audit:read',
      query: {
        type: 'object',
        properties: {
          ...AUDIT_FILTER_PROPERTIES,
          limit: { type: 'integer', minimum: 1, maximum: 10_000, default: 100 },
          order: { type: 'string', enum: ['asc', 'desc'], default: 'desc' },
          afterSeq: { type: 'integer', minimum: 0 },
          beforeSeq: { type: 'integer', minimum: 1 },
        },
        additionalProperties: false,
      },
      responses: { 200: { description: 'records', schema: { type: 'array', items: AUDIT_RECORD_SCHEMA } } },
      example: { query: { limit: '10' } },
      handler: async (req, _reply, ctx) => {
        const q = req.query;
        const opts: ListOptions = { ...auditFilter(q), limit: q.limit as number, order: q.order as 'asc' | 'desc' };
        if (typeof q.afterSeq === 'number') opts.afterSeq = q.afterSeq;
        if (typeof q.beforeSeq === 'number') opts.beforeSeq = q.beforeSeq;
        return listAudit(ctx.rt.store, opts);
      },
    },
    {
      method: 'GET',
      path: '/api/v1/audit/verify',
      operationId: 'verifyAudit',
      summary: 'Walk the hash chain; name the first edited, removed, reordered or inserted record',
      tag: 'audit',
      auth: 'token',
      permission: 'audit:read',
      query: {
        type: 'object',
        properties: {
          expectHead: {
            type: 'string',
            pattern: '^[0-9]{1,15}:[0-9a-f]{64}$',
            description: 'SEQ:HASH of a head anchored elsewhere: also fail unless record SEQ is still there with HASH',
          },
        },
        additionalProperties: false,
      },
      responses: {
        200: {
          description: 'ok with count and head, or the first bad record',
          schema: {
            type: 'object',
            properties: {
              ok: { type: 'boolean' },
              count: { type: 'integer' },
              head: { type: 'object' },
              firstBad: { type: 'object' },
            },
          },
        },
      },
      handler: async (req, _reply, ctx) => {
        const expected = req.query.expectHead;
        return verifyAudit(
          ctx.rt.store,
          typeof expected === 'string' ? { expectHead: parseAuditAnchor(expected, 'expectHead') } : {},
        );
      },
    },
    {
      method: 'GET',
      path: '/api/v1/audit/head',
      operationId: 'auditHead',
      summary: 'The chain head (seq, hash, and SEQ:HASH to anchor elsewhere and pass to verify as expectHead)',
      tag: 'audit',
      auth: 'token',
      permission: 'audit:read',
      responses: {
        200: {
          description: 'the head',
          schema: {
            type: 'object',
            properties: { seq: { type: 'integer' }, hash: str, anchor: str, time: strOrNull },
          },
        },
      },
      handler: async (_req, _reply, ctx) => auditHead(ctx.rt.store),
    },
    {
      method: 'GET',
      path: '/api/v1/audit/export',
      operationId: 'exportAudit',
      summary: 'Stream matching records oldest first as JSON Lines or CEF, for a SIEM',
      tag: 'audit',
      auth: 'token',
      permission: 'audit:export',
      query: {
        type: 'object',
        required: ['format'],
        properties: { format: { type: 'string', enum: ['jsonl', 'cef'] }, ...AUDIT_FILTER_PROPERTIES },
        additionalProperties: false,
      },
      responses: {
        200: { description: 'one record per line', contentType: 'application/x-ndjson', schema: { type: 'string' } },
      },
      example: { query: { format: 'jsonl' } },
      handler: async (req, reply, ctx) => {
        const format = req.query.format as AuditExportFormat;
        const filter = auditFilter(req.query);
        // Fail cleanly (503) while headers can still say so.
        await ctx.rt.store.ping();
        const out = new PassThrough();
        const who = actor(ctx);
        exportAudit(ctx.rt.store, format, out, filter)
          .then(async (count) => {
            out.end();
            await ctx.rt.audit(ctx.rt.store, {
              actor: who,
              action: 'audit.export',
              reason: 'audit export through the API',
              result: 'success',
              details: { format, count, filter: { ...filter } },
            });
          })
          .catch((err: unknown) => {
            ctx.log.error({ err: { message: (err as Error).message } }, 'audit export failed mid-stream');
            out.destroy(err as Error);
          });
        reply.type(format === 'jsonl' ? 'application/x-ndjson; charset=utf-8' : 'text/plain; charset=utf-8');
        return out;
      },
    },
    {
      method: 'GET',
      path: '/api/v1/tokens',
      operationId: 'listTokens',
      summary: 'API tokens (never the tokens themselves)',
      tag: 'tokens',
      auth: 'token',
      permission: 'tokens:manage',
      query: {
        type: 'object',
        properties: { all: { type: 'boolean', description: 'include expired and revoked tokens' } },
        additionalProperties: false,
      },
      responses: { 200: { description: 'tokens', schema: { type: 'array', items: TOKEN_INFO_SCHEMA } } },
      handler: async (req, _reply, ctx) => listTokens(ctx.rt.store, { all: req.query.all === true }),
    },
    {
      method: 'POST',
      path: '/api/v1/tokens',
      operationId: 'createToken',
      summary: 'Create an API token; the response carries the token, which is shown only this once',
      tag: 'tokens',
      auth: 'token',
      permission: 'tokens:manage',
      auditAction: 'token.create',
      body: {
        type: 'object',
        required: ['role'],
        properties: {
          role: { type: 'string', enum: ROLES },
          teams: { type: 'array', items: str, description: 'required for team-scoped roles' },
          name: str,
          expires: { type: 'string', description: `lifetime (90d, 12h) or "never"; default ${DEFAULT_TOKEN_LIFETIME}` },
        },
        additionalProperties: false,
      },
      responses: {
        201: {
          description: 'created',
          schema: { ...TOKEN_INFO_SCHEMA, properties: { ...(TOKEN_INFO_SCHEMA.properties as object), token: str } },
        },
      },
      example: { body: { role: 'developer', teams: ['acme'], expires: '1h' } },
      handler: async (req, reply, ctx) => {
        const b = req.body as { role: string; teams?: string[]; name?: string; expires?: string };
        const expires = b.expires ?? DEFAULT_TOKEN_LIFETIME;
        const created = await createToken(
          ctx.rt.store,
          {
            role: b.role,
            teams: b.teams ?? [],
            ...(b.name ? { name: b.name } : {}),
            ...(expires === 'never' ? {} : { lifetimeMs: parseDuration(expires) }),
          },
          { actor: actor(ctx), audit: ctx.rt.audit, knownTeams: ctx.rt.policy.teams.map((t) => t.name) },
        );
        reply.code(201);
        return { ...created.info, token: created.token };
      },
    },
    {
      method: 'DELETE',
      path: '/api/v1/tokens/{id}',
      operationId: 'revokeToken',
      summary: 'Revoke an API token (idempotent)',
      tag: 'tokens',
      auth: 'token',
      permission: 'tokens:manage',
      auditAction: 'token.revoke',
      params: { type: 'object', required: ['id'], properties: { id: str } },
      responses: { 200: { description: 'the revoked token', schema: TOKEN_INFO_SCHEMA } },
      example: { params: { id: '000000000000' } },
      handler: async (req, _reply, ctx) =>
        revokeToken(ctx.rt.store, req.params.id!, { actor: actor(ctx), audit: ctx.rt.audit }),
    },
    {
      method: 'GET',
      path: '/api/v1/jobs',
      operationId: 'listJobs',
      summary: 'Scheduled jobs: schedule, next run, last run and result, whether a replica runs it now',
      tag: 'jobs',
      auth: 'token',
      permission: 'jobs:read',
      responses: { 200: { description: 'jobs', schema: { type: 'array', items: { type: 'object' } } } },
      handler: async (_req, _reply, ctx) => listJobs(ctx.rt.store),
    },
  ];
}
