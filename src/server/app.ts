/**
 * `sluice serve`: the Fastify app (API under /api/v1 from the route table, webhooks,
 * /healthz, /readyz, /metrics), the registry event queue and the scheduler, over one
 * Runtime. `startServer` is what the CLI calls and what tests start in-process on port 0.
 */
import type { Server as TlsServer } from 'node:tls';
import { isAbsolute, resolve } from 'node:path';
import { sql } from 'kysely';
import Fastify from 'fastify';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { actorOf, authenticateToken, authorize, type Principal } from '../auth/index.ts';
import type { CodeOf } from '../error-codes.ts';
import { SluiceError } from '../errors.ts';
import { MAX_CERTIFICATE_FILE_BYTES, readInputFile } from '../files.ts';
import { DISTRIBUTION_CONTENT_TYPES } from '../inventory/events.ts';
import type { WebhookSource } from '../policy/index.ts';
import type { Runtime } from '../runtime.ts';
import { Scheduler, registryOfSyncJob, serverJobs, type JobSpec, type SyncSummary } from '../scheduler/index.ts';
import { MIGRATIONS } from '../store/index.ts';
import { VERSION } from '../version.ts';
import { admissionRoutes } from './admission-routes.ts';
import { apiRoutes } from './api-routes.ts';
import { findingsRoutes } from './findings-routes.ts';
import { afterInventoryChanges, lifecycleJobs, lifecycleRoutes } from './lifecycle-routes.ts';
import { errorBody, statusOf, toSluiceError } from './errors.ts';
import { loggerConfig } from './logging.ts';
import { watchTlsFiles } from './tls-reload.ts';
import { ServerMetrics } from './metrics.ts';
import {
  expandPath,
  fastifyUrl,
  greedyParam,
  isMutating,
  openApiDocument,
  type RouteContext,
  type RouteRequest,
  type RouteSpec,
} from './routes.ts';
import { CLOUDEVENTS_CONTENT_TYPE, WebhookReceiver, resolveWebhookSecrets, webhookRoutes } from './webhooks.ts';

export const DEFAULT_LISTEN = '127.0.0.1:8080';
export const DEFAULT_BODY_LIMIT = 1024 * 1024;
export const OPENAPI_PATH = '/api/v1/openapi.json';

export interface ServerOptions {
  /** `HOST:PORT` (port 0 picks a free one); default the policy's `server.listen`. */
  listen?: string;
  /** Where JSON log lines go; default stderr. */
  logStream?: NodeJS.WritableStream;
  logLevel?: string;
  /** Run the job loop in this process; default true. Jobs are registered either way. */
  scheduler?: boolean;
  /** How often the scheduler looks for due jobs; default 2 s. */
  schedulerTickMs?: number;
  /** How often `server.tls` files are checked for a rotated certificate; default 2 s. */
  tlsPollMs?: number;
  /** Extra jobs (capabilities add theirs). */
  jobs?: JobSpec[];
  /** Extra routes (capabilities add theirs). */
  routes?: RouteSpec[];
  /** Environment for `env:` secret references; default the runtime's. */
  env?: NodeJS.ProcessEnv;
  /** Graceful shutdown limit for in-flight requests, the running job and queued events; default 10 s. */
  graceMs?: number;
  /** Registry event queue capacity; default 10 000. */
  eventQueueCapacity?: number;
  version?: string;
}

export interface ServerHandle {
  /** `http://HOST:PORT` as bound. */
  url: string;
  app: FastifyInstance;
  routes: readonly RouteSpec[];
  scheduler: Scheduler;
  metrics: ServerMetrics;
  webhooks: WebhookReceiver;
  log: FastifyBaseLogger;
  /** Resolves when every received registry event has been applied. */
  idle(): Promise<void>;
  /** Stops accepting, finishes in-flight requests, the running job and queued events within the grace period. Leaves the runtime open. */
  close(): Promise<void>;
}

/** The product version, as the OpenAPI document states it. */
export function sluiceVersion(): string {
  return VERSION;
}

/** `host:port`, `[v6]:port` → parts; throws a usage error naming the value. */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(listen.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new SluiceError(
      'LISTEN_INVALID',
      'invalid-input',
      `listen address "${listen.slice(0, 100)}" must be HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080`,
    );
  }
  return { host: m[1] ?? m[2]!, port };
}

/** The route table of a server: core API, webhooks, then whatever capabilities add. */
export function serverRoutes(extra: readonly RouteSpec[] = []): RouteSpec[] {
  const routes = [...apiRoutes(), ...webhookRoutes(), ...extra];
  const seen = new Set<string>();
  for (const r of routes) {
    const key = `${r.method} ${fastifyUrl(r.path)}`;
    if (seen.has(key)) throw new Error(`route ${key} is declared twice`);
    seen.add(key);
    if (r.auth !== 'token' && r.permission) throw new Error(`route ${key}: a permission needs auth "token"`);
    if (isMutating(r) && r.auth === 'public') throw new Error(`route ${key}: mutating routes cannot be public`);
  }
  return routes;
}

function unauthorized(code: CodeOf<'unauthorized'>, message: string): SluiceError {
  return new SluiceError(code, 'unauthorized', message);
}

function bearerToken(req: FastifyRequest): string {
  const header = req.headers.authorization;
  if (header === undefined || header === '') {
    throw unauthorized(
      'TOKEN_MISSING',
      'this endpoint needs "Authorization: Bearer <token>" (create a token with `sluice token create`)',
    );
  }
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) throw unauthorized('TOKEN_INVALID', 'the Authorization header must be "Bearer <token>"');
  return m[1]!;
}

function parseJsonBody(text: string): unknown {
  if (text.trim() === '')
    throw new SluiceError('BODY_INVALID_JSON', 'invalid-input', 'request body is empty; expected JSON');
  try {
    // Own properties named __proto__ would turn into prototypes wherever the body is merged.
    return JSON.parse(text, (k, v: unknown) => (k === '__proto__' ? undefined : v));
  } catch (err) {
    throw new SluiceError(
      'BODY_INVALID_JSON',
      'invalid-input',
      `request body is not valid JSON: ${(err as Error).message}`,
    );
  }
}

export async function startServer(rt: Runtime, options: ServerOptions = {}): Promise<ServerHandle> {
  const version = options.version ?? sluiceVersion();
  const graceMs = options.graceMs ?? 10_000;
  const { host, port } = parseListen(options.listen ?? rt.policy.server.listen ?? DEFAULT_LISTEN);
  const secrets = await resolveWebhookSecrets(rt.policy, options.env ?? rt.env);
  const routes = serverRoutes([
    ...lifecycleRoutes(rt),
    ...findingsRoutes(rt),
    ...admissionRoutes(rt),
    ...(options.routes ?? []),
  ]);
  const openapi = openApiDocument(routes, { version });

  let https: { cert: Buffer; key: Buffer } | undefined;
  const tls = rt.policy.server.tls;
  const tlsFiles = tls && {
    certFile: isAbsolute(tls.certFile) ? tls.certFile : resolve(rt.policy.baseDir, tls.certFile),
    keyFile: isAbsolute(tls.keyFile) ? tls.keyFile : resolve(rt.policy.baseDir, tls.keyFile),
  };
  const readTls = (path: string, what: 'certFile' | 'keyFile'): Promise<Buffer> =>
    readInputFile(path, {
      what: `server.tls.${what}`,
      limit: MAX_CERTIFICATE_FILE_BYTES,
      unreadable: (errno) =>
        new SluiceError('TLS_FILE_UNREADABLE', 'invalid-input', `server.tls.${what}: cannot read ${path} (${errno})`),
    });
  if (tlsFiles) {
    https = { cert: await readTls(tlsFiles.certFile, 'certFile'), key: await readTls(tlsFiles.keyFile, 'keyFile') };
  }

  const app = Fastify({
    logger: loggerConfig({ level: options.logLevel, stream: options.logStream }),
    bodyLimit: DEFAULT_BODY_LIMIT,
    // Requests on keep-alive connections during shutdown get our own 503 (below).
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
    ...(https ? { https } : {}),
  }) as unknown as FastifyInstance;
  const log = app.log;

  const jobs = [...serverJobs(rt), ...lifecycleJobs(rt), ...(options.jobs ?? [])];
  const metrics = new ServerMetrics({
    version,
    registries: rt.registries.map((r) => r.name),
    jobs: jobs.map((j) => j.name),
  });
  metrics.finalStage = rt.policy.stages.at(-1)?.name;
  const scheduler = new Scheduler({
    store: rt.store,
    tickMs: options.schedulerTickMs,
    log: log.child({ component: 'scheduler' }),
    onStart: (job) => metrics.jobsRunning.set({ job }, 1),
    onEnd: (job, outcome) => {
      metrics.jobsRunning.set({ job }, 0);
      metrics.jobRuns.inc({ job, result: outcome.ok ? 'success' : 'failure' });
      const registry = registryOfSyncJob(job);
      if (registry !== undefined) {
        const summary = outcome.result as SyncSummary | undefined;
        metrics.syncRuns.inc({
          registry,
          result: !outcome.ok ? 'failure' : summary && summary.errors > 0 ? 'partial' : 'success',
        });
        metrics.syncDuration.observe({ registry }, outcome.durationMs / 1000);
      }
    },
  });
  for (const job of jobs) scheduler.add(job);
  const webhooks = new WebhookReceiver({
    rt,
    metrics,
    log: log.child({ component: 'webhooks' }),
    secrets,
    capacity: options.eventQueueCapacity,
    onChanges: (changes) => afterInventoryChanges(rt, changes),
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    [...new Set(['application/json', ...DISTRIBUTION_CONTENT_TYPES, CLOUDEVENTS_CONTENT_TYPE])],
    { parseAs: 'string' },
    (_req, body, done) => {
      try {
        done(null, parseJsonBody(body as string));
      } catch (err) {
        done(err as Error, undefined);
      }
    },
  );

  const principals = new WeakMap<FastifyRequest, Principal>();
  const specs = new WeakMap<FastifyRequest, RouteSpec>();
  const contextOf = (req: FastifyRequest): RouteContext => ({
    rt,
    scheduler,
    metrics,
    webhooks,
    log: req.log,
    principal: principals.get(req) ?? null,
  });
  const routeRequest = (req: FastifyRequest, spec: RouteSpec): RouteRequest => {
    const params = { ...(req.params as Record<string, string>) };
    const greedy = greedyParam(spec.path);
    if (greedy !== undefined) {
      params[greedy] = params['*'] ?? '';
      delete params['*'];
    }
    return {
      params,
      query: (req.query ?? {}) as Record<string, unknown>,
      body: req.body,
      headers: req.headers,
      raw: req,
    };
  };

  /** A refused call of a mutating route is an operation attempt: audit it. */
  const auditDenied = async (req: FastifyRequest, spec: RouteSpec, err: SluiceError): Promise<void> => {
    if (!isMutating(spec) || spec.auth !== 'token') return;
    const principal = principals.get(req);
    try {
      await rt.audit(rt.store, {
        actor: principal ? actorOf(principal) : 'anonymous',
        action: spec.auditAction ?? 'api.request',
        reason: err.message,
        result: 'denied',
        details: {
          method: spec.method,
          route: spec.path,
          permission: spec.permission ?? null,
          status: statusOf(err),
          code: err.code,
          remoteAddress: req.ip,
        },
      });
    } catch (auditErr) {
      req.log.error({ err: { message: (auditErr as Error).message } }, 'could not audit a denied request');
    }
  };

  app.setErrorHandler((error: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const err = toSluiceError(error);
    const status = statusOf(err);
    const spec = specs.get(req);
    if (
      spec?.auth === 'webhook' &&
      ['PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE', 'BODY_INVALID_JSON', 'REQUEST_INVALID'].includes(err.code)
    ) {
      const source = spec.path.split('/')[4] as WebhookSource;
      metrics.webhookEvents.inc({ source, result: 'invalid' });
    }
    if (status >= 500) req.log.error({ err: error instanceof Error ? error : err, code: err.code }, err.message);
    else req.log.info({ code: err.code, status }, err.message);
    if (status === 401 && spec?.auth === 'token') reply.header('www-authenticate', 'Bearer realm="sluice"');
    if (status === 503) reply.header('retry-after', '5');
    void reply.code(status).type('application/json; charset=utf-8').send(errorBody(err, req.id));
  });

  app.setNotFoundHandler((req, reply) => {
    const err = new SluiceError(
      'ROUTE_NOT_FOUND',
      'not-found',
      `no route ${req.method} ${req.url.split('?')[0]!.slice(0, 200)}; see ${OPENAPI_PATH}`,
    );
    void reply.code(404).send(errorBody(err, req.id));
  });

  let closing = false;
  app.addHook('onRequest', async () => {
    if (closing)
      throw new SluiceError('SHUTTING_DOWN', 'unavailable', 'the server is shutting down; retry on another replica');
  });
  // Responses finishing during shutdown close their connection, so the server can close
  // without waiting for keep-alive connections to time out.
  app.addHook('onSend', async (_req, reply, payload) => {
    if (closing) void reply.header('connection', 'close');
    return payload;
  });

  app.addHook('onResponse', async (req, reply) => {
    metrics.httpDuration.observe(
      { method: req.method, route: req.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  for (const spec of routes) {
    const greedy = greedyParam(spec.path) !== undefined;
    const schema: Record<string, unknown> = {};
    if (spec.params && !greedy) schema.params = spec.params;
    if (spec.query) schema.querystring = spec.query;
    // Webhook bodies are checked by their parsers, which say precisely what is wrong.
    if (spec.body && spec.auth !== 'webhook') schema.body = spec.body;
    const defaultStatus = Number(Object.keys(spec.responses)[0] ?? 200);
    app.route({
      method: spec.method,
      url: fastifyUrl(spec.path),
      bodyLimit: spec.bodyLimit ?? DEFAULT_BODY_LIMIT,
      schema,
      onRequest: async (req) => {
        specs.set(req, spec);
        if (spec.auth === 'webhook') {
          spec.authenticate?.(req, contextOf(req));
          return;
        }
        if (spec.auth !== 'token') return;
        try {
          principals.set(req, await authenticateToken(rt.store, bearerToken(req)));
        } catch (e) {
          const err = toSluiceError(e);
          if (err.category === 'unauthorized') await auditDenied(req, spec, err);
          throw err;
        }
      },
      preValidation: async (req) => {
        if (spec.bodyOptional && req.body === undefined) req.body = {};
      },
      preHandler: async (req) => {
        if (spec.auth !== 'token' || spec.permission === undefined) return;
        const ctx = contextOf(req);
        const resource = spec.team ? { team: spec.team(routeRequest(req, spec), ctx) } : {};
        const decision = authorize(ctx.principal!, spec.permission, resource, rt.policy.stages);
        if (!decision.allowed) {
          const err = new SluiceError('FORBIDDEN', 'forbidden', decision.reason, {
            permission: spec.permission,
            ...(resource.team !== undefined ? { team: resource.team } : {}),
          });
          await auditDenied(req, spec, err);
          throw err;
        }
      },
      handler: async (req, reply) => {
        if (spec.path === OPENAPI_PATH) return openapi;
        const result = await spec.handler(routeRequest(req, spec), reply, contextOf(req));
        if (reply.statusCode === 200 && defaultStatus !== 200) reply.code(defaultStatus);
        return result;
      },
    });
  }

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    if (closing) throw new SluiceError('SHUTTING_DOWN', 'unavailable', 'the server is shutting down');
    const r = await sql<{
      version: number | string | null;
    }>`select max(version) as version from sluice_migrations`.execute(rt.store.db);
    const current = Number(r.rows[0]?.version ?? 0);
    if (current !== MIGRATIONS.length) {
      throw new SluiceError(
        'STORE_NOT_MIGRATED',
        'unavailable',
        `database ${rt.store.target} is at migration ${current}, this Sluice needs ${MIGRATIONS.length}`,
      );
    }
    void reply.header('cache-control', 'no-store');
    return { status: 'ready', database: rt.store.target, migration: current };
  });
  app.get('/metrics', async (_req, reply) => {
    await metrics.refreshInventory(rt.store, new Date(rt.now()));
    void reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  try {
    await scheduler.register();
  } catch (err) {
    await app.close().catch(() => {});
    throw err;
  }
  try {
    await app.listen({ host, port });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    await app.close().catch(() => {});
    throw new SluiceError(
      'LISTEN_FAILED',
      'unavailable',
      `cannot listen on ${host}:${port}: ${code === 'EADDRINUSE' ? 'address already in use' : (err as Error).message}`,
      {
        operation: 'listen',
      },
    );
  }
  const address = app.server.address();
  const boundPort = typeof address === 'object' && address !== null ? address.port : port;
  const url = `${https ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;
  if (options.scheduler !== false) await scheduler.start();
  const tlsWatcher = tlsFiles
    ? watchTlsFiles(app.server as unknown as TlsServer, tlsFiles, readTls, log.child({ component: 'tls' }), {
        intervalMs: options.tlsPollMs,
      })
    : undefined;

  let closed: Promise<void> | undefined;
  return {
    url,
    app,
    routes,
    scheduler,
    metrics,
    webhooks,
    log,
    idle: () => webhooks.idle(),
    close() {
      closed ??= (async () => {
        closing = true;
        tlsWatcher?.stop();
        const force = setTimeout(() => app.server.closeAllConnections(), graceMs);
        force.unref();
        const [, , drained] = await Promise.all([app.close(), scheduler.stop(graceMs), webhooks.close(graceMs)]);
        clearTimeout(force);
        if (!drained)
          log.warn(
            { pending: webhooks.queue.size },
            'registry events still queued at shutdown are dropped; the next sync reconciles them',
          );
        log.info('server stopped');
      })();
      return closed;
    },
  };
}

/** A URL for an example request of a route (RBAC test, docs). */
export function exampleUrl(baseUrl: string, route: RouteSpec): string {
  const url = new URL(expandPath(route.path, route.example?.params ?? {}), baseUrl);
  for (const [k, v] of Object.entries(route.example?.query ?? {})) url.searchParams.set(k, v);
  return url.toString();
}
