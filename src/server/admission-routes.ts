/**
 * The admission webhook endpoints: `POST /admission/validate` and, when `admission.mutate` is
 * on, `POST /admission/mutate`. The API server authenticates Sluice through the caBundle of
 * the webhook configuration and sends no credentials of its own (route auth `admission`).
 */
import { performance } from 'node:perf_hooks';
import { SluiceError, asSluiceError } from '../errors.ts';
import { parseDuration } from '../policy/index.ts';
import type { Runtime } from '../runtime.ts';
import type { RouteContext, RouteRequest, RouteSpec } from './routes.ts';
import {
  auditKey,
  decideReview,
  governanceOf,
  imagesToLookUp,
  mutatingVerdict,
  validatingVerdict,
  type AdmissionAuditEntry,
  type GatheredFacts,
  type ReviewDecision,
} from '../admission/decide.ts';
import { FactsCache, gatherFacts, type FactSources } from '../admission/facts.ts';
import {
  admissionResponse,
  parseAdmissionReview,
  rejectionFor,
  type AdmissionRequest,
  type AdmissionReviewResponse,
} from '../admission/review.ts';
import { admissionDepsFromRuntime, admissionSources, stageAdmission } from '../admission/sources.ts';
import { reviewedWorkload, type ReviewedWorkload } from '../admission/workloads.ts';
import { ownValue } from '../util/own.ts';

/** A review is a few KiB; a Pod with hundreds of containers stays well below this. */
export const MAX_REVIEW_BODY_BYTES = 3 * 1024 * 1024;
/** The API server's default and maximum webhook timeouts. */
export const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_TIMEOUT_MS = 30_000;
/** The answer must also travel back and be parsed before the API server gives up. */
const MIN_MARGIN_MS = 100;
const MAX_MARGIN_MS = 1_000;
const MIN_BUDGET_MS = 50;
/** One audit record per workload, image and reason within this window. */
const AUDIT_DEDUP_MS = 60 * 60_000;
const AUDIT_DEDUP_MAX = 10_000;

/** Time for gathering facts: the API server's `?timeout=` (e.g. `10s`) minus a margin. */
export function budgetFor(timeout: unknown): number {
  let ms = DEFAULT_TIMEOUT_MS;
  if (typeof timeout === 'string' && timeout !== '') {
    try {
      ms = Math.min(MAX_TIMEOUT_MS, parseDuration(timeout));
    } catch {
      // A timeout we cannot read must not fail the review: the API server's default applies.
      ms = DEFAULT_TIMEOUT_MS;
    }
  }
  const margin = Math.min(MAX_MARGIN_MS, Math.max(MIN_MARGIN_MS, ms / 10));
  return Math.max(MIN_BUDGET_MS, ms - margin);
}

/** The namespace Sluice runs in (never governed); the Downward API sets POD_NAMESPACE. */
export function sluiceNamespaceOf(env: NodeJS.ProcessEnv): string {
  return env.SLUICE_NAMESPACE || env.POD_NAMESPACE || 'sluice';
}

type Webhook = 'validate' | 'mutate';

export interface AdmissionServiceOptions {
  sources?: FactSources;
  cache?: FactsCache;
  now?: () => number;
}

/** State shared by both endpoints of one server: the fact caches and the audit deduplication. */
export class AdmissionService {
  readonly rt: Runtime;
  readonly cache: FactsCache;
  readonly now: () => number;
  #sources: Promise<FactSources> | undefined;
  readonly #audited = new Map<string, number>();

  constructor(rt: Runtime, options: AdmissionServiceOptions = {}) {
    this.rt = rt;
    this.now = options.now ?? Date.now;
    this.cache = options.cache ?? new FactsCache({ now: this.now });
    if (options.sources) this.#sources = Promise.resolve(options.sources);
  }

  sources(): Promise<FactSources> {
    this.#sources ??= admissionDepsFromRuntime(this.rt).then(admissionSources);
    return this.#sources;
  }

  async review(webhook: Webhook, body: unknown, timeout: unknown, ctx: Pick<RouteContext, 'metrics' | 'log'>) {
    const started = performance.now();
    const policy = this.rt.policy;
    const settings = policy.admission;
    const sluiceNamespace = sluiceNamespaceOf(this.rt.env);
    let request: AdmissionRequest;
    let workload: ReviewedWorkload;
    try {
      request = parseAdmissionReview(body);
      workload = reviewedWorkload(request);
    } catch (err) {
      const e = asSluiceError(err);
      ctx.metrics.admissionReviews.inc({ webhook, decision: 'invalid', stage: 'none' });
      const rejection = e.code === 'ADMISSION_REVIEW_INVALID' ? rejectionFor(e) : undefined;
      if (rejection) return rejection;
      throw e;
    }
    const subject = {
      kind: workload.kind,
      name: workload.name,
      namespace: workload.namespace,
      toCheck: workload.toCheck,
    };
    const governance = governanceOf(settings, sluiceNamespace, workload.namespace);
    const facts = new Map<string, GatheredFacts>();
    const stages = stageAdmission(policy);
    if (governance.kind === 'governed') {
      const { stage } = governance.rule;
      const requireSignature = ownValue(stages, stage)?.requireSignature ?? true;
      const budgetMs = budgetFor(timeout);
      const sources = await this.sources();
      await Promise.all(
        imagesToLookUp({ settings, sluiceNamespace, workload: subject }).map(async (image) => {
          facts.set(image, await gatherFacts(sources, this.cache, { image, stage, requireSignature, budgetMs }));
        }),
      );
    }
    const decision = decideReview({ settings, sluiceNamespace, stages, workload: subject, facts });
    // The mutating webhook sees the same object first; auditing there would count it twice.
    if (webhook === 'validate') this.#audit(decision.audit, ctx);
    const verdict = webhook === 'validate' ? validatingVerdict(decision) : mutatingVerdict(decision);
    ctx.metrics.admissionReviews.inc({
      webhook,
      decision: decisionLabel(decision),
      stage: governance.kind === 'governed' ? governance.rule.stage : 'none',
    });
    ctx.metrics.admissionDuration.observe({ webhook }, (performance.now() - started) / 1000);
    return admissionResponse(request.uid, verdict);
  }

  /** Records each new (workload, image, reason); the answer never waits for the audit log. */
  #audit(entries: readonly AdmissionAuditEntry[], ctx: Pick<RouteContext, 'log'>): void {
    const now = this.now();
    for (const e of entries) {
      const key = auditKey(e);
      const until = this.#audited.get(key);
      if (until !== undefined && until > now) continue;
      this.#audited.delete(key);
      this.#audited.set(key, now + AUDIT_DEDUP_MS);
      while (this.#audited.size > AUDIT_DEDUP_MAX) this.#audited.delete(this.#audited.keys().next().value!);
      const at = e.image.lastIndexOf('@');
      const tagAt = e.image.lastIndexOf(':');
      const repository =
        at >= 0 ? e.image.slice(0, at) : tagAt > e.image.lastIndexOf('/') ? e.image.slice(0, tagAt) : e.image;
      this.rt
        .audit(this.rt.store, {
          actor: 'system:admission',
          action: `admission.${e.decision}`,
          repository,
          digest: e.digest ?? null,
          reason: e.message,
          result: e.decision === 'deny' ? 'denied' : 'success',
          details: {
            namespace: e.namespace,
            kind: e.kind,
            name: e.name,
            image: e.image,
            reason: e.reason,
            stage: e.stage,
            mode: e.mode,
          },
        })
        .catch((err: unknown) => {
          // Forget the key so the next review tries again.
          this.#audited.delete(key);
          ctx.log.warn({ err: asSluiceError(err).message, key: e.reason }, 'admission audit record failed');
        });
    }
  }
}

function decisionLabel(d: ReviewDecision): string {
  if (d.governance.kind !== 'governed') return 'ungoverned';
  if (!d.allowed) return 'denied';
  return d.audit.length > 0 ? 'warned' : 'allowed';
}

const REVIEW_SCHEMA = {
  type: 'object',
  description: 'AdmissionReview admission.k8s.io/v1 (the response echoes request.uid)',
};

export function admissionRoutes(rt: Runtime, options: AdmissionServiceOptions = {}): RouteSpec[] {
  const service = new AdmissionService(rt, options);
  const route = (webhook: Webhook, summary: string): RouteSpec => ({
    method: 'POST',
    path: `/admission/${webhook}`,
    operationId: webhook === 'validate' ? 'admissionValidate' : 'admissionMutate',
    summary,
    description:
      'Called by the Kubernetes API server (see `sluice admission manifests`). `?timeout=` is the webhook timeout the API server sends; the answer comes before it, from cached facts when the sources are slow. A malformed review with a readable uid is answered with allowed: false and code 400.',
    tag: 'admission',
    auth: 'admission',
    auditAction: 'admission.review',
    query: { type: 'object', properties: { timeout: { type: 'string', description: 'e.g. 10s' } } },
    body: REVIEW_SCHEMA,
    bodyLimit: MAX_REVIEW_BODY_BYTES,
    responses: { 200: { description: 'the AdmissionReview answer', schema: REVIEW_SCHEMA } },
    handler: async (req: RouteRequest, _reply, ctx): Promise<AdmissionReviewResponse> => {
      if (webhook === 'mutate' && !rt.policy.admission.mutate) {
        throw new SluiceError(
          'ADMISSION_MUTATE_DISABLED',
          'not-found',
          'the mutating webhook is off (policy admission.mutate: false)',
        );
      }
      return service.review(webhook, req.body, req.query.timeout, ctx);
    },
  });
  return [
    route('validate', 'Validating admission webhook: deny images that did not reach the namespace stage'),
    route('mutate', 'Mutating admission webhook: pin image tags to the digests Sluice admitted'),
  ];
}
