/**
 * Prometheus metrics of one server instance, in a registry of its own (never prom-client's
 * global one, so several servers in one process, as in tests, do not collide). Label values
 * come from bounded sets only: policy names (team, stage, category, registry), job names,
 * route patterns, HTTP methods and statuses, fixed result words. Never a tag, digest,
 * repository or raw URL.
 */
import { sql } from 'kysely';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { StoreHandle } from '../store/index.ts';

export const WEBHOOK_RESULTS = [
  'accepted',
  'duplicate',
  'ignored_unowned',
  'invalid',
  'unauthorized',
  'failed',
] as const;
export type WebhookResult = (typeof WEBHOOK_RESULTS)[number];

const NONE = 'none';

export class ServerMetrics {
  readonly registry = new Registry();
  readonly images: Gauge<'team' | 'stage' | 'category'>;
  readonly imageBytes: Gauge<'team' | 'stage' | 'category'>;
  readonly pullsToday: Gauge<'registry'>;
  readonly pullsTotal: Counter<'registry'>;
  readonly syncRuns: Counter<'registry' | 'result'>;
  readonly syncDuration: Histogram<'registry'>;
  readonly webhookEvents: Counter<'source' | 'result'>;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly jobsRunning: Gauge<'job'>;
  readonly jobRuns: Counter<'job' | 'result'>;
  readonly storeUp: Gauge;
  readonly buildInfo: Gauge<'version'>;
  readonly promotions: Gauge<'stage' | 'result'>;
  readonly gateFailures: Gauge<'stage' | 'requirement'>;
  readonly leadTime: Histogram;
  readonly admissionReviews: Counter<'webhook' | 'decision' | 'stage'>;
  readonly admissionDuration: Histogram<'webhook'>;

  constructor(options: {
    version: string;
    registries: readonly string[];
    jobs: readonly string[];
    defaultMetrics?: boolean;
  }) {
    const registers = [this.registry];
    this.images = new Gauge({
      name: 'sluice_images',
      help: 'Tagged images (repository and digest) in the inventory, by owning team, stage and category',
      labelNames: ['team', 'stage', 'category'],
      registers,
    });
    this.imageBytes = new Gauge({
      name: 'sluice_image_bytes',
      help: 'Bytes of tagged images in the inventory (manifest and blobs, shared layers counted per image)',
      labelNames: ['team', 'stage', 'category'],
      registers,
    });
    this.pullsToday = new Gauge({
      name: 'sluice_pulls_today',
      help: 'Pulls recorded for the current UTC day, all replicas, from the inventory',
      labelNames: ['registry'],
      registers,
    });
    this.pullsTotal = new Counter({
      name: 'sluice_pulls_total',
      help: 'Pull events recorded by this replica',
      labelNames: ['registry'],
      registers,
    });
    this.syncRuns = new Counter({
      name: 'sluice_sync_runs_total',
      help: 'Registry syncs run by this replica, by result (success, partial, failure)',
      labelNames: ['registry', 'result'],
      registers,
    });
    this.syncDuration = new Histogram({
      name: 'sluice_sync_duration_seconds',
      help: 'Duration of registry syncs run by this replica',
      labelNames: ['registry'],
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
      registers,
    });
    this.webhookEvents = new Counter({
      name: 'sluice_webhook_events_total',
      help: 'Registry notifications: events accepted, duplicates, ignored (no owning team), failed to apply; deliveries invalid or unauthorized',
      labelNames: ['source', 'result'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'sluice_http_request_duration_seconds',
      help: 'HTTP request durations by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.jobsRunning = new Gauge({
      name: 'sluice_jobs_running',
      help: 'Scheduled jobs running in this replica',
      labelNames: ['job'],
      registers,
    });
    this.jobRuns = new Counter({
      name: 'sluice_job_runs_total',
      help: 'Scheduled job runs in this replica, by job and result (success, failure)',
      labelNames: ['job', 'result'],
      registers,
    });
    this.storeUp = new Gauge({
      name: 'sluice_store_up',
      help: '1 when the database answered the last scrape, else 0',
      registers,
    });
    this.buildInfo = new Gauge({
      name: 'sluice_build_info',
      help: 'Sluice version',
      labelNames: ['version'],
      registers,
    });
    this.buildInfo.set({ version: options.version }, 1);
    this.promotions = new Gauge({
      name: 'sluice_promotions',
      help: 'Promotions recorded in the last 90 days, by target stage and result (succeeded, refused, failed, scheduled, running)',
      labelNames: ['stage', 'result'],
      registers,
    });
    this.gateFailures = new Gauge({
      name: 'sluice_gate_failures',
      help: 'Refused promotions in the last 90 days, by stage and the requirement that was not met',
      labelNames: ['stage', 'requirement'],
      registers,
    });
    this.admissionReviews = new Counter({
      name: 'sluice_admission_reviews_total',
      help: 'AdmissionReviews answered, by webhook (validate, mutate), decision (allowed, warned, denied, ungoverned, invalid) and stage (a policy stage, or none)',
      labelNames: ['webhook', 'decision', 'stage'],
      registers,
    });
    this.admissionDuration = new Histogram({
      name: 'sluice_admission_duration_seconds',
      help: 'Time to answer one AdmissionReview, from the parsed body to the verdict',
      labelNames: ['webhook'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.leadTime = new Histogram({
      name: 'sluice_promotion_lead_time_seconds',
      help: 'Time from entering the first stage to reaching the last one, per digest (last 90 days)',
      buckets: [3600, 6 * 3600, 24 * 3600, 3 * 86400, 7 * 86400, 14 * 86400, 30 * 86400, 90 * 86400],
      registers,
    });
    // Zero series up front, so rates work from the first scrape.
    for (const registry of options.registries) {
      this.pullsTotal.inc({ registry }, 0);
      for (const result of ['success', 'partial', 'failure']) this.syncRuns.inc({ registry, result }, 0);
    }
    for (const job of options.jobs) this.jobsRunning.set({ job }, 0);
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'sluice_process_' });
  }

  /** Reads inventory aggregates from the store (cheap GROUP BY queries). */
  async refreshInventory(store: StoreHandle, now: Date): Promise<void> {
    try {
      const rows = await store.db
        .selectFrom('repository_manifests as rm')
        .innerJoin('repositories as r', (j) =>
          j.onRef('r.registry', '=', 'rm.registry').onRef('r.name', '=', 'rm.repository'),
        )
        .innerJoin('manifests as m', (j) =>
          j.onRef('m.registry', '=', 'rm.registry').onRef('m.digest', '=', 'rm.digest'),
        )
        .where(({ exists, selectFrom }) =>
          exists(
            selectFrom('tags as t')
              .select(sql`1`.as('one'))
              .whereRef('t.registry', '=', 'rm.registry')
              .whereRef('t.repository', '=', 'rm.repository')
              .whereRef('t.digest', '=', 'rm.digest')
              // cosign signature, attestation and SBOM tags are parts of images, not images.
              .where('t.tag', 'not like', 'sha256-%'),
          ),
        )
        .select(['r.team', 'r.stage', 'r.category'])
        .select((eb) => [eb.fn.countAll().as('images'), eb.fn.sum<string | number>('m.size').as('bytes')])
        .groupBy(['r.team', 'r.stage', 'r.category'])
        .execute();
      const day = now.toISOString().slice(0, 10);
      const pulls = await store.db
        .selectFrom('pulls')
        .select(['registry'])
        .select((eb) => eb.fn.sum<string | number>('count').as('pulls'))
        .where('day', '=', day)
        .groupBy('registry')
        .execute();
      this.images.reset();
      this.imageBytes.reset();
      for (const r of rows) {
        const labels = { team: r.team ?? NONE, stage: r.stage ?? NONE, category: r.category ?? NONE };
        this.images.set(labels, Number(r.images));
        this.imageBytes.set(labels, Number(r.bytes ?? 0));
      }
      this.pullsToday.reset();
      for (const p of pulls) this.pullsToday.set({ registry: p.registry }, Number(p.pulls ?? 0));
      await this.refreshPromotions(store, now);
      this.storeUp.set(1);
    } catch {
      // The last values stay; the outage shows in sluice_store_up and /readyz.
      this.storeUp.set(0);
    }
  }

  /** Promotions by stage and result, gate failures by requirement, lead time to the last stage. */
  async refreshPromotions(store: StoreHandle, now: Date): Promise<void> {
    const since = now.getTime() - 90 * 86_400_000;
    const rows = await store.db
      .selectFrom('promotions')
      .select(['to_stage', 'status', 'gate', 'digest', 'finished_at', 'kind'])
      .where('requested_at', '>=', since)
      .execute();
    this.promotions.reset();
    this.gateFailures.reset();
    this.leadTime.reset();
    const counts = new Map<string, number>();
    const failures = new Map<string, number>();
    const entered = new Map<string, { first: number; stages: Set<string>; last?: number }>();
    for (const r of rows) {
      if (r.kind !== 'promotion') continue;
      const k = `${r.to_stage}\u0000${r.status}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
      if (r.status === 'refused' && r.gate) {
        try {
          const gate = JSON.parse(r.gate) as { requirements?: Array<{ requirement: string; status: string }> };
          for (const req of gate.requirements ?? []) {
            if (req.status === 'passed') continue;
            const f = `${r.to_stage}\u0000${req.requirement}`;
            failures.set(f, (failures.get(f) ?? 0) + 1);
          }
        } catch {
          /* a gate that is not JSON is not counted */
        }
      }
      if (r.status === 'succeeded' && r.finished_at !== null) {
        const e = entered.get(r.digest) ?? { first: r.finished_at, stages: new Set<string>() };
        e.first = Math.min(e.first, r.finished_at);
        e.stages.add(r.to_stage);
        entered.set(r.digest, e);
      }
    }
    for (const [k, n] of counts) {
      const [stage, result] = k.split('\u0000');
      this.promotions.set({ stage: stage!, result: result! }, n);
    }
    for (const [k, n] of failures) {
      const [stage, requirement] = k.split('\u0000');
      this.gateFailures.set({ stage: stage!, requirement: requirement! }, n);
    }
    // Lead time: from the first promotion of a digest to its promotion into the final stage seen.
    const last = this.finalStage;
    for (const [digest, e] of entered) {
      if (!last || !e.stages.has(last)) continue;
      const end = rows
        .filter((r) => r.digest === digest && r.to_stage === last && r.status === 'succeeded')
        .map((r) => r.finished_at ?? 0);
      if (end.length) this.leadTime.observe((Math.min(...end) - e.first) / 1000);
    }
  }

  /** Name of the policy's last stage (lead time ends there). */
  finalStage: string | undefined;
}
