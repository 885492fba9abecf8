/**
 * The route table. Every API route is one `RouteSpec`: method, path, who may call it
 * (public, webhook secret, or a bearer token holding a permission, optionally scoped to the
 * team that owns the resource), request schemas, responses and the handler. The Fastify
 * registration, the authorisation checks and the OpenAPI document are all generated from
 * the same table, and the RBAC test walks it; a capability adds its routes by adding specs.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import type { Permission, Principal } from '../auth/index.ts';
import type { ErrorCategory } from '../errors.ts';
import type { Runtime } from '../runtime.ts';
import type { Scheduler } from '../scheduler/index.ts';
import type { ServerMetrics } from './metrics.ts';
import type { WebhookReceiver } from './webhooks.ts';

export type JsonSchema = Record<string, unknown>;
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * - `public`: no credentials (OpenAPI document).
 * - `webhook`: the route checks the sender itself in `authenticate` (shared secret).
 * - `token`: a bearer API token; with `permission`, its role must hold it.
 * - `admission`: the Kubernetes API server, which sends no credentials; it authenticates
 *   Sluice through the webhook configuration's caBundle, and learns only a decision about the
 *   object it sent.
 */
export type RouteAuth = 'public' | 'webhook' | 'token' | 'admission';

export interface RouteRequest {
  params: Record<string, string>;
  query: Record<string, unknown>;
  body: unknown;
  headers: IncomingHttpHeaders;
  raw: FastifyRequest;
}

/** What handlers get besides the request. */
export interface RouteContext {
  rt: Runtime;
  scheduler: Scheduler;
  metrics: ServerMetrics;
  webhooks: WebhookReceiver;
  log: FastifyBaseLogger;
  /** The authenticated caller (token routes). */
  principal: Principal | null;
}

export interface RouteResponse {
  description: string;
  schema?: JsonSchema;
  /** Default application/json. */
  contentType?: string;
}

/** A request the RBAC test and the OpenAPI examples use. */
export interface RouteExample {
  params?: Record<string, string>;
  query?: Record<string, string>;
  body?: unknown;
}

export interface RouteSpec {
  method: HttpMethod;
  /** OpenAPI-style path; `{name+}` as the last segment matches the rest of the path, slashes included. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  auth: RouteAuth;
  /** For `token` routes: the permission needed; absent means any valid token. */
  permission?: Permission;
  /**
   * For team-bound resources: the team owning what the request acts on (null when no team
   * owns it). Runs after the body is parsed and validated.
   */
  team?(req: RouteRequest, ctx: RouteContext): string | null;
  /** Sender check of `webhook` routes; runs before the body is read. Throws to refuse. */
  authenticate?(raw: FastifyRequest, ctx: RouteContext): void;
  /** Audit action recorded when a call of this mutating route is denied; default `api.request`. */
  auditAction?: string;
  params?: JsonSchema;
  query?: JsonSchema;
  body?: JsonSchema;
  /** The body may be absent (validated against `body` only when present). */
  bodyOptional?: boolean;
  /** Bytes; default 1 MiB. */
  bodyLimit?: number;
  /** Media types of the request body; default application/json. */
  consumes?: string[];
  /** Success responses by status (the first one is the default status). */
  responses: Record<number, RouteResponse>;
  example?: RouteExample;
  handler(req: RouteRequest, reply: FastifyReply, ctx: RouteContext): Promise<unknown>;
}

export function isMutating(route: Pick<RouteSpec, 'method'>): boolean {
  return route.method !== 'GET';
}

const GREEDY = /\{([A-Za-z_][A-Za-z0-9_]*)\+\}$/;

/** `/a/{x}/{y+}` → `/a/:x/*`. */
export function fastifyUrl(path: string): string {
  return path.replace(GREEDY, '*').replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, ':$1');
}

/** The name of the greedy last parameter, if the path has one. */
export function greedyParam(path: string): string | undefined {
  return GREEDY.exec(path)?.[1];
}

/** `/a/{x}/{y+}` → `/a/{x}/{y}`. */
export function openApiPath(path: string): string {
  return path.replace(GREEDY, '{$1}');
}

/** A concrete URL for a route and example parameters. */
export function expandPath(path: string, params: Record<string, string> = {}): string {
  return path.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\+?\}/g, (_, name: string) => {
    const v = params[name];
    if (v === undefined) throw new Error(`no value for path parameter ${name}`);
    return v.split('/').map(encodeURIComponent).join('/');
  });
}

export const ERROR_CATEGORIES: readonly ErrorCategory[] = [
  'usage',
  'invalid-input',
  'not-found',
  'unauthorized',
  'forbidden',
  'conflict',
  'policy-violation',
  'integrity',
  'unavailable',
  'internal',
];

export const ERROR_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'category', 'message'],
      properties: {
        code: { type: 'string', description: 'stable error code, e.g. STORE_UNAVAILABLE' },
        category: { type: 'string', enum: ERROR_CATEGORIES },
        message: { type: 'string' },
      },
      additionalProperties: true,
      description: 'plus context: registry, repository, digest, operation, ...',
    },
  },
};

function parametersOf(route: RouteSpec): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  const greedy = greedyParam(route.path);
  const pathProps = (route.params?.properties ?? {}) as Record<string, JsonSchema>;
  for (const m of route.path.matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)\+?\}/g)) {
    const name = m[1]!;
    const schema = pathProps[name] ?? { type: 'string' };
    out.push({
      name,
      in: 'path',
      required: true,
      schema,
      ...(name === greedy
        ? { description: `${String(schema.description ?? name)} (may contain slashes)`, allowReserved: true }
        : {}),
    });
  }
  const q = route.query;
  const required = new Set((q?.required as string[] | undefined) ?? []);
  for (const [name, schema] of Object.entries((q?.properties ?? {}) as Record<string, JsonSchema>)) {
    out.push({
      name,
      in: 'query',
      required: required.has(name),
      schema,
      ...(schema.description ? { description: schema.description } : {}),
      ...(schema.type === 'array' ? { style: 'form', explode: true } : {}),
    });
  }
  return out;
}

function errorResponses(route: RouteSpec): Record<string, unknown> {
  const err = (description: string) => ({
    description,
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  });
  const out: Record<string, unknown> = { '400': err('invalid request') };
  if (route.auth === 'token') {
    out['401'] = err('missing, unknown, expired or revoked token');
    out['403'] = err('the token role lacks the permission, or the resource belongs to another team');
  }
  if (route.auth === 'webhook') {
    out['401'] = err('missing or wrong webhook secret');
    out['403'] = err('no webhook secret configured for this source');
    out['413'] = err('payload larger than the limit');
    out['415'] = err('unsupported content type');
  }
  out['404'] = err('not found');
  out['503'] = err('database or registry unavailable');
  out['500'] = err('internal error');
  return out;
}

export interface OpenApiInfo {
  title?: string;
  version: string;
  description?: string;
}

/** The OpenAPI 3.1 document of a route table. */
export function openApiDocument(routes: readonly RouteSpec[], info: OpenApiInfo): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const key = openApiPath(route.path);
    const op: Record<string, unknown> = {
      operationId: route.operationId,
      summary: route.summary,
      ...(route.description ? { description: route.description } : {}),
      tags: [route.tag],
      parameters: parametersOf(route),
      security:
        route.auth === 'token'
          ? [{ bearerAuth: [] }]
          : route.auth === 'webhook'
            ? [{ webhookBearer: [] }, { webhookHeader: [] }, { webhookQuery: [] }]
            : [],
      'x-sluice-auth': route.auth,
      ...(route.permission ? { 'x-sluice-permission': route.permission } : {}),
      ...(route.team ? { 'x-sluice-team-scoped': true } : {}),
      responses: {
        ...Object.fromEntries(
          Object.entries(route.responses).map(([status, r]) => [
            status,
            {
              description: r.description,
              ...(r.schema ? { content: { [r.contentType ?? 'application/json']: { schema: r.schema } } } : {}),
            },
          ]),
        ),
        ...errorResponses(route),
      },
    };
    if (route.body) {
      const media = route.consumes ?? ['application/json'];
      op.requestBody = {
        required: !route.bodyOptional,
        content: Object.fromEntries(
          media.map((m) => [
            m,
            { schema: route.body, ...(route.example?.body !== undefined ? { example: route.example.body } : {}) },
          ]),
        ),
      };
    }
    paths[key] = { ...paths[key], [route.method.toLowerCase()]: op };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: info.title ?? 'Sluice API',
      version: info.version,
      description:
        info.description ??
        'Container image lifecycle manager. Authenticate with `Authorization: Bearer <token>` (tokens from `sluice token create`); webhooks authenticate with their shared secret.',
    },
    paths,
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'API token (slc_…) from `sluice token create`' },
        webhookBearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'the webhook secret of the source as a bearer token',
        },
        webhookHeader: { type: 'apiKey', in: 'header', name: 'X-Sluice-Webhook-Secret' },
        webhookQuery: {
          type: 'apiKey',
          in: 'query',
          name: 'secret',
          description: 'for senders that cannot set headers (Quay)',
        },
      },
      schemas: { Error: ERROR_SCHEMA },
    },
  };
}
