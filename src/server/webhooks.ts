/**
 * Registry notification receivers (ADR 0004). Each source has a shared secret from the
 * policy (`server.webhooks.<source>.secret`), accepted as a bearer token, in the
 * `X-Sluice-Webhook-Secret` header, or as `?secret=` for Quay (which cannot set headers),
 * compared in constant time before the body is read. A source without a secret is refused
 * (fail closed). Valid deliveries are parsed, events of repositories no team owns are
 * ignored, duplicates are dropped through `events_seen`, and the rest is acknowledged with
 * 202 and applied in the background; per-event failures are logged and counted, never
 * returned, because the registry cannot do anything about them and the periodic sync
 * reconciles.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import { SluiceError, asSluiceError } from '../errors.ts';
import { applyRegistryEvent, markEventSeen } from '../inventory/apply.ts';
import type { TagChange } from '../inventory/sync.ts';
import {
  DISTRIBUTION_CONTENT_TYPES,
  MAX_EVENT_BODY_BYTES,
  parseDistributionEnvelope,
  parseHarborWebhook,
  parseQuayNotification,
  type RegistryEvent,
} from '../inventory/events.ts';
import type { RegistryRef } from '../oci/registry-ref.ts';
import {
  WEBHOOK_SOURCES,
  parseRepositoryPath,
  resolveSecretRef,
  type LifecyclePolicy,
  type WebhookSource,
} from '../policy/index.ts';
import { inventoryFor, type Runtime } from '../runtime.ts';
import { EventQueue } from './event-queue.ts';
import type { ServerMetrics } from './metrics.ts';
import type { RouteSpec } from './routes.ts';

export const WEBHOOK_SECRET_HEADER = 'x-sluice-webhook-secret';
export const CLOUDEVENTS_CONTENT_TYPE = 'application/cloudevents+json';

const PARSERS: Record<WebhookSource, (body: unknown, now: Date) => RegistryEvent[]> = {
  distribution: parseDistributionEnvelope,
  quay: parseQuayNotification,
  harbor: parseHarborWebhook,
};

/** Resolves the configured secrets (once, at start). A reference that cannot be read stops the start. */
export async function resolveWebhookSecrets(
  policy: LifecyclePolicy,
  env: NodeJS.ProcessEnv,
): Promise<Partial<Record<WebhookSource, string>>> {
  const out: Partial<Record<WebhookSource, string>> = {};
  for (const source of WEBHOOK_SOURCES) {
    const ref = policy.server.webhooks[source]?.secret;
    if (ref === undefined) continue;
    try {
      out[source] = await resolveSecretRef(ref, { baseDir: policy.baseDir, env });
    } catch (err) {
      const e = asSluiceError(err);
      throw new SluiceError(
        'WEBHOOK_SECRET_UNRESOLVED',
        'invalid-input',
        `server.webhooks.${source}.secret: ${e.message}`,
        { source },
      );
    }
  }
  return out;
}

function digestOf(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Constant-time comparison of two secrets of any length. */
export function secretsEqual(given: string, expected: string): boolean {
  return timingSafeEqual(digestOf(given), digestOf(expected));
}

/** The secret a request presents, from whichever place it uses. */
export function presentedSecret(req: Pick<FastifyRequest, 'headers' | 'query'>): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && auth !== '') {
    // Harbor's "Auth Header" sends the configured value verbatim, with or without a scheme.
    const m = /^Bearer\s+(.+)$/i.exec(auth);
    return (m ? m[1]! : auth).trim();
  }
  const header = req.headers[WEBHOOK_SECRET_HEADER];
  if (typeof header === 'string' && header !== '') return header;
  const q = (req.query as Record<string, unknown> | undefined)?.secret;
  if (typeof q === 'string' && q !== '') return q;
  return undefined;
}

export interface DeliveryResult {
  events: number;
  accepted: number;
  duplicates: number;
  ignored: number;
}

interface QueuedEvent {
  reg: RegistryRef;
  event: RegistryEvent;
  /** 0 for the first try. */
  attempt: number;
}

/** Waits before re-applying a push whose tag the registry has not linked yet; the last try stores what the registry says. */
const RETRY_DELAYS_MS = [200, 1000, 3000];

export class WebhookReceiver {
  readonly #onChanges: ((changes: TagChange[]) => Promise<void>) | undefined;
  readonly #rt: Runtime;
  readonly #metrics: ServerMetrics;
  readonly #log: FastifyBaseLogger;
  readonly #secrets: Partial<Record<WebhookSource, string>>;
  readonly queue: EventQueue<QueuedEvent>;
  readonly #retries = new Set<NodeJS.Timeout>();
  #closed = false;

  constructor(options: {
    rt: Runtime;
    metrics: ServerMetrics;
    log: FastifyBaseLogger;
    secrets: Partial<Record<WebhookSource, string>>;
    capacity?: number;
    lanes?: number;
    /** Runs after an event changed tags (automatic promotions); its errors are logged, not returned. */
    onChanges?: (changes: TagChange[]) => Promise<void>;
  }) {
    this.#onChanges = options.onChanges;
    this.#rt = options.rt;
    this.#metrics = options.metrics;
    this.#log = options.log;
    this.#secrets = options.secrets;
    this.queue = new EventQueue<QueuedEvent>({
      capacity: options.capacity,
      lanes: options.lanes,
      handle: (item) => this.#apply(item),
      onError: (item, err) => {
        const e = asSluiceError(err);
        this.#metrics.webhookEvents.inc({ source: item.event.source, result: 'failed' });
        this.#log.warn(
          {
            source: item.event.source,
            registry: item.reg.name,
            eventId: item.event.id,
            action: item.event.action,
            repository: item.event.repository,
            err: { code: e.code, message: e.message },
          },
          `registry event could not be applied: ${e.message}`,
        );
      },
    });
  }

  configured(source: WebhookSource): boolean {
    return this.#secrets[source] !== undefined;
  }

  /** Refuses a request whose sender cannot be authenticated. Runs before the body is read. */
  authenticate(source: WebhookSource, req: FastifyRequest): void {
    const expected = this.#secrets[source];
    if (expected === undefined) {
      this.#metrics.webhookEvents.inc({ source, result: 'unauthorized' });
      throw new SluiceError(
        'WEBHOOK_NOT_CONFIGURED',
        'forbidden',
        `no secret is configured for ${source} notifications; set server.webhooks.${source}.secret in the policy (env:NAME or file:PATH) and send it as "Authorization: Bearer <secret>"`,
        { source },
      );
    }
    const given = presentedSecret(req);
    if (given === undefined || !secretsEqual(given, expected)) {
      this.#metrics.webhookEvents.inc({ source, result: 'unauthorized' });
      this.#log.warn(
        { source, remoteAddress: req.ip },
        `${source} notification refused: ${given === undefined ? 'no' : 'wrong'} webhook secret`,
      );
      throw new SluiceError(
        'WEBHOOK_UNAUTHORIZED',
        'unauthorized',
        given === undefined
          ? `${source} notification without a webhook secret; send "Authorization: Bearer <secret>" or "X-Sluice-Webhook-Secret"`
          : `${source} notification with a wrong webhook secret`,
        { source },
      );
    }
  }

  /** Parses, filters, deduplicates and queues one delivery. */
  async receive(source: WebhookSource, registryName: string, body: unknown): Promise<DeliveryResult> {
    const reg = this.#rt.registries.find((r) => r.name === registryName);
    if (!reg) {
      this.#metrics.webhookEvents.inc({ source, result: 'invalid' });
      throw new SluiceError(
        'REGISTRY_UNKNOWN',
        'not-found',
        `no registry named "${registryName.slice(0, 64)}" in the policy (registries: ${this.#rt.registries.map((r) => r.name).join(', ')})`,
        { registry: registryName.slice(0, 64) },
      );
    }
    let events: RegistryEvent[];
    try {
      events = PARSERS[source](body, new Date(this.#rt.now()));
    } catch (err) {
      this.#metrics.webhookEvents.inc({ source, result: 'invalid' });
      throw err;
    }
    const result: DeliveryResult = { events: events.length, accepted: 0, duplicates: 0, ignored: 0 };
    const owned: RegistryEvent[] = [];
    for (const ev of events) {
      if (!parseRepositoryPath(this.#rt.policy, ev.repository, { registry: reg.name })) {
        result.ignored++;
        this.#metrics.webhookEvents.inc({ source, result: 'ignored_unowned' });
        this.#log.info(
          { source, registry: reg.name, repository: ev.repository, action: ev.action },
          `ignoring ${source} ${ev.action} event: no team owns repository ${ev.repository}`,
        );
        continue;
      }
      owned.push(ev);
    }
    // Refuse before recording anything as seen, so the registry's retry is not taken for a duplicate.
    if (owned.length > this.queue.free()) {
      throw new SluiceError(
        'EVENT_QUEUE_FULL',
        'unavailable',
        `event queue is full (${this.queue.capacity} events); retry later`,
        { source },
      );
    }
    const now = this.#rt.now();
    for (const ev of owned) {
      if (!(await markEventSeen(this.#rt.store, source, `${reg.name}:${ev.id}`, now))) {
        result.duplicates++;
        this.#metrics.webhookEvents.inc({ source, result: 'duplicate' });
        continue;
      }
      result.accepted++;
      this.#metrics.webhookEvents.inc({ source, result: 'accepted' });
      this.queue.push(`${reg.name}/${ev.repository}`, { reg, event: ev, attempt: 0 });
    }
    return result;
  }

  async #apply(item: QueuedEvent): Promise<void> {
    const { reg, event, attempt } = item;
    const final = attempt >= RETRY_DELAYS_MS.length;
    const applied = await applyRegistryEvent(inventoryFor(this.#rt, reg), reg, event, { final });
    if (applied.outcome === 'tag-pending') {
      this.#retry(item, RETRY_DELAYS_MS[attempt]!);
      return;
    }
    if (applied.outcome === 'pull-recorded') this.#metrics.pullsTotal.inc({ registry: reg.name });
    if (applied.changes.length && this.#onChanges) {
      await this.#onChanges(applied.changes).catch((err: Error) =>
        this.#log.warn(
          { err: { message: err.message }, registry: reg.name, repository: event.repository },
          'follow-up of an event failed',
        ),
      );
    }
    this.#log.debug(
      {
        source: event.source,
        registry: reg.name,
        eventId: event.id,
        action: event.action,
        repository: event.repository,
        outcome: applied.outcome,
        changes: applied.changes.length,
      },
      `applied ${event.source} ${event.action} event`,
    );
  }

  #retry(item: QueuedEvent, delayMs: number): void {
    if (this.#closed) return;
    const timer = setTimeout(() => {
      this.#retries.delete(timer);
      if (!this.queue.push(`${item.reg.name}/${item.event.repository}`, { ...item, attempt: item.attempt + 1 })) {
        this.#log.warn(
          { eventId: item.event.id, repository: item.event.repository },
          'event queue full: dropping a retried event; the next sync reconciles it',
        );
      }
    }, delayMs);
    timer.unref();
    this.#retries.add(timer);
  }

  /** Resolves once every received event was applied (retries included). */
  async idle(): Promise<void> {
    while (this.queue.size > 0 || this.#retries.size > 0) {
      await this.queue.idle();
      if (this.#retries.size > 0) await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Accepts no more events and waits for the queued ones up to `graceMs`; pending retries are dropped. */
  close(graceMs: number): Promise<boolean> {
    this.#closed = true;
    for (const t of this.#retries) clearTimeout(t);
    this.#retries.clear();
    return this.queue.close(graceMs);
  }
}

const DELIVERY_SCHEMA = {
  type: 'object',
  properties: {
    events: {
      type: 'integer',
      description: 'events in the delivery Sluice handles (blob events and its own reads are dropped)',
    },
    accepted: { type: 'integer', description: 'queued for applying' },
    duplicates: { type: 'integer', description: 'seen before (same event id)' },
    ignored: { type: 'integer', description: 'about repositories no team owns' },
  },
};

const SOURCE_DOCS: Record<WebhookSource, { summary: string; consumes: string[]; example: unknown }> = {
  distribution: {
    summary: 'CNCF Distribution notifications (push, pull, mount, delete)',
    consumes: DISTRIBUTION_CONTENT_TYPES,
    example: {
      events: [
        {
          id: '6a5d2e2c-0c89-4c2b-9d4b-1f1d2b0a9e11',
          timestamp: '2025-03-01T12:00:00Z',
          action: 'push',
          target: {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            digest: `sha256:${'a'.repeat(64)}`,
            repository: 'acme-dev/api',
            tag: '1.0.0-1',
          },
          request: { host: 'registry.example', method: 'PUT', useragent: 'skopeo/1.9' },
        },
      ],
    },
  },
  quay: {
    summary: 'Quay repository notifications (repo_push); tags are resolved to digests by Sluice',
    consumes: ['application/json'],
    example: { repository: 'acme-dev/api', docker_url: 'quay.example/acme-dev/api', updated_tags: ['1.0.0-1'] },
  },
  harbor: {
    summary: 'Harbor webhooks, Default and CloudEvents formats',
    consumes: ['application/json', CLOUDEVENTS_CONTENT_TYPE],
    example: {
      type: 'PUSH_ARTIFACT',
      occur_at: 1740830400,
      operator: 'admin',
      event_data: {
        resources: [
          { digest: `sha256:${'a'.repeat(64)}`, tag: '1.0.0-1', resource_url: 'harbor.example/acme-dev/api:1.0.0-1' },
        ],
        repository: { name: 'api', namespace: 'acme-dev', repo_full_name: 'acme-dev/api' },
      },
    },
  },
};

/** One POST route per source: `/api/v1/webhooks/<source>/{registry}`. */
export function webhookRoutes(): RouteSpec[] {
  return WEBHOOK_SOURCES.map((source) => ({
    method: 'POST' as const,
    path: `/api/v1/webhooks/${source}/{registry}`,
    operationId: `webhook${source[0]!.toUpperCase()}${source.slice(1)}`,
    summary: SOURCE_DOCS[source].summary,
    description:
      'Authenticated by the shared secret of the source (policy `server.webhooks.' +
      source +
      '.secret`). Answers 202 once the delivery is recorded; events are applied in the background by re-reading the registry.',
    tag: 'webhooks',
    auth: 'webhook' as const,
    auditAction: 'webhook.receive',
    params: {
      type: 'object',
      required: ['registry'],
      properties: { registry: { type: 'string', description: 'registry name in the policy' } },
    },
    query: {
      type: 'object',
      properties: {
        secret: { type: 'string', description: 'the webhook secret, for senders that cannot set headers' },
      },
    },
    body: { type: 'object', description: `${source} notification payload` },
    bodyLimit: MAX_EVENT_BODY_BYTES,
    consumes: SOURCE_DOCS[source].consumes,
    responses: { 202: { description: 'delivery accepted', schema: DELIVERY_SCHEMA } },
    example: { params: { registry: 'local' }, body: SOURCE_DOCS[source].example },
    authenticate: (raw, ctx) => ctx.webhooks.authenticate(source, raw),
    handler: async (req, _reply, ctx) => ctx.webhooks.receive(source, req.params.registry!, req.body),
  }));
}
