/**
 * API routes of the findings capability: importing a scanner's report for an image, reading
 * findings with their SLA clocks, and waivers. Each route authorises, then calls one function
 * of src/findings; the rules (who may waive, what a report must describe) live there.
 */
import { SluiceError } from '../errors.ts';
import {
  listFindings,
  listWaivers,
  MAX_REPORT_BYTES,
  REPORT_FORMATS,
  revokeWaiver,
  type FindingFilter,
  type FormatChoice,
  type ReadState,
} from '../findings/index.ts';
import { findingsOfImage, grantWaiver, importReportForImage } from '../findings/operations.ts';
import { parseDuration, SEVERITIES, type Severity } from '../policy/index.ts';
import type { Runtime } from '../runtime.ts';
import { actorOfPrincipal, teamOfRef } from './lifecycle-routes.ts';
import type { RouteContext, RouteRequest, RouteSpec } from './routes.ts';

const str = { type: 'string' } as const;
const EXAMPLE_REF = 'acme-dev/api:1.0.0-1';
const READ_STATES = ['open', 'fixed', 'not-affected', 'waived'];
// The report travels as a JSON string: its escaping may add a little to its own bound.
const REPORT_BODY_LIMIT = MAX_REPORT_BYTES + 1024 * 1024;

function body(req: RouteRequest): Record<string, unknown> {
  return (req.body ?? {}) as Record<string, unknown>;
}

function actor(ctx: Pick<RouteContext, 'principal'>) {
  if (!ctx.principal) throw new SluiceError('UNAUTHORIZED', 'unauthorized', 'a bearer token is required');
  return actorOfPrincipal(ctx.principal);
}

/** The team a waiver request is for: its image's, its repository's, or the one named. */
function waiverTeam(rt: Runtime, b: Record<string, unknown>): string | null {
  if (typeof b.image === 'string') return teamOfRef(rt, b.image);
  if (typeof b.repository === 'string') return b.repository.split('/')[0] || null;
  return typeof b.team === 'string' ? b.team : null;
}

export function findingsRoutes(rt: Runtime): RouteSpec[] {
  return [
    {
      method: 'POST',
      path: '/api/v1/findings/reports',
      operationId: 'importFindingsReport',
      summary:
        "Record a scanner's report (Trivy, Grype, Clair, CycloneDX VEX) for the digest a reference points to now",
      tag: 'findings',
      auth: 'token',
      permission: 'findings:import',
      team: (req) => teamOfRef(rt, body(req).ref),
      auditAction: 'findings.import',
      bodyLimit: REPORT_BODY_LIMIT,
      body: {
        type: 'object',
        required: ['ref', 'report'],
        additionalProperties: false,
        properties: {
          ref: str,
          report: { type: 'string', description: "the report's JSON text, as the scanner wrote it" },
          format: { type: 'string', enum: ['auto', ...REPORT_FORMATS] },
        },
      },
      responses: { 201: { description: 'recorded: findings opened, updated, fixed and unchanged' } },
      example: { body: { ref: EXAMPLE_REF, report: '{"SchemaVersion":2,"Results":[]}', format: 'trivy' } },
      async handler(req, reply, ctx) {
        const b = body(req);
        const result = await importReportForImage(rt, actor(ctx), {
          ref: String(b.ref),
          text: String(b.report),
          ...(typeof b.format === 'string' ? { format: b.format as FormatChoice } : {}),
          source: 'request body',
          now: Date.now(),
        });
        reply.code(201);
        return result;
      },
    },
    {
      method: 'GET',
      path: '/api/v1/findings',
      operationId: 'listFindings',
      summary: 'Findings across images, most urgent first, filtered like `sluice findings ls`',
      tag: 'findings',
      auth: 'token',
      permission: 'images:read',
      query: {
        type: 'object',
        additionalProperties: false,
        properties: {
          team: str,
          stage: str,
          digest: str,
          severity: { type: 'string', enum: [...SEVERITIES] },
          state: { type: 'string', enum: READ_STATES },
          overdue: { type: 'boolean' },
          dueWithin: { type: 'string', description: 'e.g. 48h' },
          limit: { type: 'integer', minimum: 1, maximum: 10000 },
        },
      },
      responses: { 200: { description: 'findings with their SLA clocks' } },
      example: { query: { team: 'acme', dueWithin: '48h' } },
      async handler(req) {
        const q = req.query;
        const filter: FindingFilter = { now: Date.now() };
        if (typeof q.team === 'string') filter.team = q.team;
        if (typeof q.stage === 'string') filter.stage = q.stage;
        if (typeof q.digest === 'string') filter.digest = q.digest;
        if (typeof q.severity === 'string') filter.severity = q.severity as Severity;
        if (typeof q.state === 'string') filter.state = q.state as ReadState;
        if (q.overdue === true) filter.overdue = true;
        if (typeof q.dueWithin === 'string') filter.dueWithinMs = parseDuration(q.dueWithin);
        if (typeof q.limit === 'number') filter.limit = q.limit;
        return { findings: await listFindings(rt, filter) };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/findings/image',
      operationId: 'showImageFindings',
      summary: 'Every finding of the digest a reference points to now, with its SLA clock',
      tag: 'findings',
      auth: 'token',
      permission: 'images:read',
      query: { type: 'object', required: ['ref'], additionalProperties: false, properties: { ref: str } },
      responses: { 200: { description: 'the digest and its findings' } },
      example: { query: { ref: EXAMPLE_REF } },
      async handler(req) {
        return findingsOfImage(rt, String(req.query.ref), Date.now());
      },
    },
    {
      method: 'POST',
      path: '/api/v1/waivers',
      operationId: 'addWaiver',
      summary:
        "Waive a vulnerability for one image, one repository or every image of a team (the team's security role)",
      tag: 'findings',
      auth: 'token',
      permission: 'waivers:manage',
      team: (req) => waiverTeam(rt, body(req)),
      auditAction: 'waiver',
      body: {
        type: 'object',
        required: ['id', 'reason', 'expires'],
        additionalProperties: false,
        properties: {
          id: { type: 'string', description: 'CVE-..., GHSA-...' },
          package: str,
          image: { type: 'string', description: 'image reference: only the digest it points to now' },
          repository: { type: 'string', description: 'team/repo' },
          team: str,
          reason: str,
          expires: { type: 'string', description: 'e.g. 30d' },
        },
      },
      responses: { 201: { description: 'the waiver' } },
      example: { body: { id: 'CVE-2019-1549', image: EXAMPLE_REF, reason: 'not reachable', expires: '30d' } },
      async handler(req, reply, ctx) {
        const b = body(req);
        const opt = (k: string) => (typeof b[k] === 'string' ? { [k]: b[k] } : {});
        const waiver = await grantWaiver(rt, actor(ctx), {
          vulnId: String(b.id),
          ...opt('package'),
          ...opt('image'),
          ...opt('repository'),
          ...opt('team'),
          reason: String(b.reason),
          expires: String(b.expires),
          now: Date.now(),
        });
        reply.code(201);
        return waiver;
      },
    },
    {
      method: 'GET',
      path: '/api/v1/waivers',
      operationId: 'listWaivers',
      summary: 'Valid waivers (with all=true, expired and revoked ones too)',
      tag: 'findings',
      auth: 'token',
      permission: 'images:read',
      query: { type: 'object', additionalProperties: false, properties: { team: str, all: { type: 'boolean' } } },
      responses: { 200: { description: 'waivers' } },
      async handler(req) {
        const q = req.query;
        return {
          waivers: await listWaivers(rt, {
            now: Date.now(),
            ...(q.all === true ? { all: true } : {}),
            ...(typeof q.team === 'string' ? { team: q.team } : {}),
          }),
        };
      },
    },
    {
      method: 'DELETE',
      path: '/api/v1/waivers/{id}',
      operationId: 'revokeWaiver',
      // The waiver's team is known only once it is read: the capability checks the caller's
      // security role for that team.
      summary: "End a waiver now (the security role of the waiver's team)",
      tag: 'findings',
      auth: 'token',
      permission: 'waivers:manage',
      auditAction: 'waiver.revoke',
      params: { type: 'object', required: ['id'], properties: { id: str } },
      query: { type: 'object', additionalProperties: false, properties: { reason: str } },
      responses: { 200: { description: 'the revoked waiver' } },
      example: { params: { id: '00000000-0000-4000-8000-000000000000' } },
      async handler(req, _reply, ctx) {
        return revokeWaiver(rt, {
          id: req.params.id!,
          actor: actor(ctx),
          ...(typeof req.query.reason === 'string' ? { reason: req.query.reason } : {}),
          now: Date.now(),
        });
      },
    },
  ];
}
