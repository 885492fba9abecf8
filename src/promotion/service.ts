/**
 * Promotion: moves one digest from a stage's repository into the next stage's repository
 * behind that stage's gate. The order of effects is what makes it safe:
 *
 *   resolve the digest once → evaluate the gate on that digest → take the target's lock →
 *   record the attempt → copy (version tag written last by the copy engine) → sign if the
 *   stage signs → move the stage tag → record success.
 *
 * A failure or crash at any point leaves no moved stage tag without the copy. A failed
 * attempt is closed as `failed`; one whose process died is closed as `abandoned` by the next
 * promotion into the target (or the scheduler's sweep, see interrupted.ts). A new attempt
 * gets a row of its own and completes the copy (copy and tagging are idempotent).
 */
import { randomUUID } from 'node:crypto';
import { SluiceError, asSluiceError, type ErrorCategory } from '../errors.ts';
import { CopyEngine } from '../oci/copy.ts';
import { parseReference, type Reference } from '../oci/reference.ts';
import {
  activeWindow,
  linearRegExp,
  nextRun,
  parseRepositoryPath,
  repositoryFor,
  stageByName,
  teamByName,
  type LifecyclePolicy,
  type Stage,
} from '../policy/index.ts';
import type { RegistryRef } from '../oci/registry-ref.ts';
import { inventoryFor, type Runtime } from '../runtime.ts';
import { refreshReference } from '../inventory/sync.ts';
import { hasRole, requireRole, systemActor, type Actor } from '../auth/actor.ts';
import { describeFailure, evaluateGate, type EvidenceRecord, type GateResult, type SignatureCheck } from './gate.ts';
import { abandonInterrupted } from './interrupted.ts';
import { activeHolds } from '../holds/records.ts';
import {
  acquireLock,
  changeAuthorsOf,
  enteredStageAt,
  evidenceFor,
  getPromotion,
  insertPromotion,
  listPromotions,
  lockOwner,
  readLock,
  releaseLock,
  renewLock,
  updatePromotion,
  type PromotionRow,
} from './records.ts';

export interface LifecycleNotice {
  type: 'promotion.succeeded' | 'promotion.failed' | 'gate.failed' | 'rollback.succeeded';
  subject: string;
  summary: string;
  data: Record<string, unknown>;
}

/** Capabilities the promotion engine calls out to; each is optional. */
export interface PromotionHooks {
  /** Verifies signatures of a digest with the given key references. */
  verifySignature?: (
    loc: { registry: string; repository: string; digest: string },
    keys: string[],
  ) => Promise<SignatureCheck>;
  /** Signs a digest with a key reference (stage `sign`). */
  sign?: (loc: { registry: string; repository: string; digest: string }, keyRef: string) => Promise<void>;
  /** Delivers a notice; resolves when delivery was attempted, never rejects. */
  notify?: (notice: LifecycleNotice) => Promise<unknown> | void;
}

/** An image the promotion engine acts on: a digest in a team's stage repository. */
export interface StageImage {
  registry: RegistryRef;
  repository: string;
  team: string;
  repo: string;
  stage: Stage;
  tag?: string;
  digest: string;
}

// Renewed every third of it while the promotion runs; a lock of a crashed replica elsewhere
// frees within this time (on the same host at once, see lockOwner).
const LOCK_TTL_MS = 2 * 60_000;

function stageIndex(policy: LifecyclePolicy, stage: Stage): number {
  return policy.stages.findIndex((s) => s.name === stage.name);
}

export function previousStageOf(policy: LifecyclePolicy, stage: Stage): Stage | undefined {
  return stage.from ? stageByName(policy, stage.from) : undefined;
}

function mustStage(policy: LifecyclePolicy, name: string): Stage {
  const stage = stageByName(policy, name);
  if (!stage) {
    throw new SluiceError(
      'STAGE_UNKNOWN',
      'invalid-input',
      `unknown stage "${name}" (stages: ${policy.stages.map((s) => s.name).join(', ')})`,
    );
  }
  return stage;
}

/**
 * Reads an image reference: a full reference (`registry/acme-dev/api:1.4.0-7`), a repository
 * path in the default registry (`acme-dev/api:1.4.0-7`), or the short form `team/repo:tag`
 * meaning the image in `defaultStage`. The digest comes from the registry, once.
 */
export async function resolveStageImage(rt: Runtime, text: string, defaultStage: Stage): Promise<StageImage> {
  const policy = rt.policy;
  const defaultReg =
    rt.registries.find((r) => policy.registries.find((p) => p.name === r.name)?.default) ?? rt.registries[0]!;
  let ref: Reference = parseReference(text, { defaultRegistry: defaultReg.host, defaultTag: false });
  let reg = rt.registryForHost(ref.registry);
  let owner = reg ? parseRepositoryPath(policy, ref.repository, { registry: reg.name }) : undefined;
  if (!owner) {
    const parts = ref.repository.split('/');
    const team = parts.length === 2 ? teamByName(policy, parts[0]!) : undefined;
    if (team && ref.registry === defaultReg.host) {
      const loc = repositoryFor(policy, { team: team.name, stage: defaultStage, repo: parts[1]! });
      reg = rt.registryForHost(loc.registry.host)!;
      ref = { ...ref, registry: loc.registry.host, repository: loc.repository };
      owner = { team: team.name, stage: defaultStage.name, repo: parts[1]! };
    }
  }
  if (!reg)
    throw new SluiceError('REGISTRY_UNKNOWN', 'not-found', `registry ${ref.registry} is not in the policy`, {
      registry: ref.registry,
    });
  if (!owner) {
    throw new SluiceError(
      'REPOSITORY_UNOWNED',
      'invalid-input',
      `${ref.repository} is not a team stage repository (expected ${policy.stages[0]?.repository ?? '{team}-{stage}/{repo}'} with a team of the policy), nor team/repo`,
      { repository: ref.repository },
    );
  }
  const client = rt.pool.get(reg.host);
  let digest = ref.digest;
  if (!digest) {
    const tag = ref.tag ?? 'latest';
    const head = await client.headManifest(ref.repository, tag);
    if (!head) {
      throw new SluiceError('IMAGE_NOT_FOUND', 'not-found', `${reg.host}/${ref.repository}:${tag} does not exist`, {
        registry: reg.host,
        repository: ref.repository,
        reference: tag,
      });
    }
    digest = head.digest;
  }
  return {
    registry: reg,
    repository: ref.repository,
    team: owner.team,
    repo: owner.repo,
    stage: mustStage(policy, owner.stage),
    ...(ref.tag ? { tag: ref.tag } : {}),
    digest,
  };
}

/** The `<version>-<build>` tag of the digest in its repository (the one given, or the only one there). */
async function versionTagOf(rt: Runtime, img: StageImage): Promise<string> {
  const re = linearRegExp(rt.policy.naming.versionTag);
  if (img.tag && re.test(img.tag)) return img.tag;
  const client = rt.pool.get(img.registry.host);
  const tags = (await client.listTags(img.repository)).filter((t) => re.test(t));
  const matching: string[] = [];
  for (const t of tags) if ((await client.headManifest(img.repository, t))?.digest === img.digest) matching.push(t);
  if (matching.length === 1) return matching[0]!;
  throw new SluiceError(
    'VERSION_TAG_UNKNOWN',
    'invalid-input',
    matching.length === 0
      ? `no version tag matching ${rt.policy.naming.versionTag} points to ${img.digest} in ${img.repository}; promote by version tag`
      : `several version tags point to ${img.digest} (${matching.join(', ')}); promote by one of them`,
    { repository: img.repository, digest: img.digest },
  );
}

export interface GateEvaluation {
  image: StageImage;
  target: Stage;
  result: GateResult;
  evidence: EvidenceRecord[];
}

/** Evaluates the gate of `target` for an image, without changing anything. */
export async function checkGate(
  rt: Runtime,
  image: StageImage,
  target: Stage,
  requester: string,
  hooks: PromotionHooks = {},
  options: { willSign?: boolean } = {},
): Promise<GateEvaluation> {
  const policy = rt.policy;
  const from = previousStageOf(policy, target);
  const evidence = await evidenceFor(rt.store, image.digest);
  const holds = await activeHolds(rt.store, [image.digest]);
  let signature: SignatureCheck | undefined;
  const gate = target.gate;
  if (gate.signature.required || gate.require.includes('signature')) {
    if (options.willSign && target.sign) {
      signature = { valid: true, reason: 'signed on promotion', keyIds: [target.sign.key] };
    } else if (hooks.verifySignature && gate.signature.keys.length > 0) {
      signature = await hooks.verifySignature(
        { registry: image.registry.host, repository: image.repository, digest: image.digest },
        gate.signature.keys,
      );
    } else if (gate.signature.keys.length === 0) {
      signature = {
        valid: false,
        reason: 'the gate requires a signature but names no keys (gate.signature.keys)',
        keyIds: [],
      };
    }
  }
  const enteredPrevious = from
    ? await enteredStageAt(rt.store, image.team, image.repo, from.name, image.digest)
    : undefined;
  const result = evaluateGate({
    policy,
    stage: target,
    digest: image.digest,
    now: rt.now(),
    evidence,
    changeAuthors: [requester, ...(await changeAuthorsOf(rt.store, image.digest, target.name))],
    ...(enteredPrevious !== undefined ? { enteredPreviousStageAt: enteredPrevious } : {}),
    requiresPreviousStage: !!from,
    holds: holds.map((h) => ({ kind: h.kind, reason: h.reason })),
    ...(signature ? { signature } : {}),
  });
  return { image, target, result, evidence };
}

export interface PromoteRequest {
  ref: string;
  to: string;
  dryRun?: boolean;
  /** Run a scheduled stage's promotion outside its maintenance window (operations only, audited). */
  force?: boolean;
  /** Resume or run a scheduled promotion row. */
  promotionId?: string;
}

/** Why a promotion may not run: the same for a dry run and a real one. */
export interface PromotionRefusal {
  code: SluiceError['code'];
  category: ErrorCategory;
  message: string;
}

export type PromoteOutcome =
  | {
      status: 'dry-run';
      gate: GateResult;
      target: string;
      versionTag: string;
      stageTags: string[];
      /** Present when the real run would be refused: nothing would be copied or tagged. */
      refused?: PromotionRefusal;
      /** Present when the real run would wait for the next maintenance window. */
      scheduledFor?: string;
      /** The real run would go ahead outside the maintenance window (`force`). */
      forced?: boolean;
    }
  | { status: 'scheduled'; id: string; gate: GateResult; scheduledFor: string }
  | {
      status: 'succeeded';
      id: string;
      gate: GateResult;
      digest: string;
      target: string;
      versionTag: string;
      stageTags: string[];
      previousDigest: string | null;
      copied: boolean;
    };

function nextWindowStart(stage: Stage, now: Date, timeZone: string): Date | undefined {
  let best: Date | undefined;
  for (const w of stage.maintenanceWindows) {
    const at = nextRun(w.cron, now, w.timeZone || timeZone);
    if (!best || at < best) best = at;
  }
  return best;
}

function inWindow(stage: Stage, now: Date): boolean {
  return stage.maintenanceWindows.some((w) => activeWindow(w, now) !== undefined);
}

/** Everything a promotion will do, and whether it may, decided before anything changes. */
interface PromotionPlan {
  image: StageImage;
  target: Stage;
  from: Stage | undefined;
  targetRegistry: RegistryRef;
  targetRepository: string;
  versionTag: string;
  stageTags: string[];
  gate: GateResult;
  /** The first check that refuses the promotion. */
  refusal?: SluiceError;
  /** Outside the stage's maintenance window and not forced: when it will run. */
  runsAt?: Date;
  /** Goes ahead outside the maintenance window because operations forced it. */
  forcedOutsideWindow: boolean;
}

/**
 * Every check of a promotion, in the order the real run applies them: path, role, version
 * tag, gate, immutable version tag, maintenance window. A dry run is this function and
 * nothing else, so it can never promise what the real run refuses. Malformed requests and
 * missing roles throw; refusals by policy or state are returned, for the caller to record.
 */
async function planPromotion(
  rt: Runtime,
  actor: Actor,
  req: PromoteRequest,
  hooks: PromotionHooks,
  now: Date,
): Promise<PromotionPlan> {
  const policy = rt.policy;
  const target = mustStage(policy, req.to);
  const from = previousStageOf(policy, target);
  const image = await resolveStageImage(rt, req.ref, from ?? target);
  const expected = from ?? target;
  if (image.stage.name !== expected.name) {
    throw new SluiceError(
      'PROMOTION_PATH_INVALID',
      'invalid-input',
      `${image.repository} is in stage ${image.stage.name}; promotion to ${target.name} takes an image from ${expected.name}`,
      { repository: image.repository },
    );
  }
  if (stageIndex(policy, target) < 0)
    throw new SluiceError('STAGE_UNKNOWN', 'invalid-input', `unknown stage ${req.to}`);
  requireRole(actor, image.team, `promote into ${target.name}`, target.responsibleRole);
  const versionTag = await versionTagOf(rt, image);
  const loc = repositoryFor(policy, { team: image.team, stage: target, repo: image.repo });
  const targetRegistry = rt.registryForHost(loc.registry.host)!;
  const plan: PromotionPlan = {
    image,
    target,
    from,
    targetRegistry,
    targetRepository: loc.repository,
    versionTag,
    stageTags: [target.stageTag, ...target.alsoTag],
    gate: (await checkGate(rt, image, target, actor.name, hooks, { willSign: !!target.sign && !!hooks.sign })).result,
    forcedOutsideWindow: false,
  };
  if (!plan.gate.passed) {
    return {
      ...plan,
      refusal: new SluiceError(
        'GATE_FAILED',
        'policy-violation',
        `gate of ${target.name} is not satisfied for ${image.digest}: ${describeFailure(plan.gate)}`,
        { digest: image.digest, stage: target.name, gate: plan.gate },
      ),
    };
  }
  if (target.immutableTags) {
    const existing = await rt.pool.get(targetRegistry.host).headManifest(loc.repository, versionTag);
    if (existing && existing.digest !== image.digest) {
      return {
        ...plan,
        refusal: new SluiceError(
          'TAG_IMMUTABLE',
          'conflict',
          `${loc.repository}:${versionTag} already points to ${existing.digest}; version tags in ${target.name} never move`,
          { repository: loc.repository, reference: versionTag, digest: existing.digest },
        ),
      };
    }
  }
  if (target.trigger === 'scheduled' && target.maintenanceWindows.length > 0 && !inWindow(target, now)) {
    if (req.force) {
      requireRole(
        actor,
        image.team,
        `force a promotion into ${target.name} outside its maintenance window`,
        'operations',
      );
      return { ...plan, forcedOutsideWindow: true };
    }
    const runsAt = nextWindowStart(target, now, policy.timeZone);
    if (!runsAt)
      throw new SluiceError('WINDOW_NONE', 'conflict', `stage ${target.name} has no upcoming maintenance window`);
    return { ...plan, runsAt };
  }
  return plan;
}

export async function promote(
  rt: Runtime,
  actor: Actor,
  req: PromoteRequest,
  hooks: PromotionHooks = {},
): Promise<PromoteOutcome> {
  const now = new Date(rt.now());
  const plan = await planPromotion(rt, actor, req, hooks, now);
  const { image, target, from, gate, versionTag, stageTags, targetRegistry: targetReg } = plan;
  const loc = { repository: plan.targetRepository };
  const targetName = `${targetReg.host}/${loc.repository}`;
  if (req.dryRun) {
    return {
      status: 'dry-run',
      gate,
      target: targetName,
      versionTag,
      stageTags,
      ...(plan.refusal
        ? { refused: { code: plan.refusal.code, category: plan.refusal.category, message: plan.refusal.message } }
        : {}),
      ...(plan.runsAt ? { scheduledFor: plan.runsAt.toISOString() } : {}),
      ...(plan.forcedOutsideWindow ? { forced: true } : {}),
    };
  }

  const subject = `${targetName}@${image.digest}`;
  // Every record of this promotion names the same actor, target and digest.
  const audit = (
    h: Parameters<Runtime['audit']>[0],
    action: string,
    result: 'success' | 'failure' | 'denied',
    reason: string,
    details: Record<string, unknown> = {},
  ) =>
    rt.audit(h, {
      actor: actor.name,
      action,
      repository: targetName,
      digest: image.digest,
      tag: versionTag,
      reason,
      result,
      details,
    });

  const base = {
    kind: 'promotion',
    team: image.team,
    repo: image.repo,
    digest: image.digest,
    from_stage: from?.name ?? null,
    to_stage: target.name,
    source_registry: image.registry.name,
    source_repository: image.repository,
    target_registry: targetReg.name,
    target_repository: loc.repository,
    version_tag: versionTag,
    stage_tag: target.stageTag,
    previous_digest: null,
    requested_by: actor.name,
    requested_at: now.getTime(),
    scheduled_for: null,
    started_at: null,
    finished_at: null,
    forced: req.force ? 1 : 0,
    gate: JSON.stringify(gate),
    error: null,
  };
  if (plan.refusal) {
    const refusal = plan.refusal;
    const byGate = refusal.code === 'GATE_FAILED';
    const error = byGate ? describeFailure(gate) : refusal.message;
    await rt.store.transaction(async (tx) => {
      // Every refused attempt is history (`promotions ls`); automatic triggers, which try
      // whenever evidence arrives, leave only the audit record.
      if (req.promotionId)
        await updatePromotion(tx, req.promotionId, {
          status: 'refused',
          finished_at: now.getTime(),
          gate: base.gate,
          error,
        });
      else if (!actor.system)
        await insertPromotion(tx, { ...base, status: 'refused', finished_at: now.getTime(), error });
      await audit(tx, 'promotion', 'denied', byGate ? `gate of ${target.name} failed: ${error}` : error, {
        from: from?.name ?? null,
        to: target.name,
        code: refusal.code,
      });
    });
    await hooks.notify?.(
      byGate
        ? {
            type: 'gate.failed',
            subject,
            summary: `gate of ${target.name} failed for ${image.repo}:${versionTag}`,
            data: { gate },
          }
        : {
            type: 'promotion.failed',
            subject,
            summary: `promotion of ${image.repo}:${versionTag} to ${target.name} refused: ${refusal.message}`,
            data: { code: refusal.code },
          },
    );
    throw refusal;
  }

  if (plan.runsAt) {
    const at = plan.runsAt;
    const id = req.promotionId ?? randomUUID();
    await rt.store.transaction(async (tx) => {
      if (!req.promotionId)
        await insertPromotion(tx, { ...base, id, status: 'scheduled', scheduled_for: at.getTime() });
      await audit(
        tx,
        'promotion.schedule',
        'success',
        `outside the maintenance window of ${target.name}; runs at ${at.toISOString()}`,
      );
    });
    return { status: 'scheduled', id, gate, scheduledFor: at.toISOString() };
  }

  const dst = rt.pool.get(targetReg.host);
  const lockTarget = `${targetReg.name}/${loc.repository}`;
  // Each attempt has its own row and actor; one that was interrupted is closed, not resumed
  // (copy and tagging are idempotent, so this attempt completes what it left).
  const id = req.promotionId ?? randomUUID();
  const owner = lockOwner();
  const lockBefore = await readLock(rt.store, lockTarget);
  if (!(await acquireLock(rt.store, lockTarget, owner, now.getTime(), LOCK_TTL_MS))) {
    throw new SluiceError(
      'PROMOTION_IN_PROGRESS',
      'conflict',
      `another promotion into ${lockTarget} is in progress; retry when it has finished`,
      {
        repository: loc.repository,
      },
    );
  }
  const renewal = setInterval(() => {
    void renewLock(rt.store, lockTarget, owner, rt.now(), LOCK_TTL_MS).catch(() => undefined);
  }, LOCK_TTL_MS / 3);
  renewal.unref();
  try {
    await abandonInterrupted(rt, { registry: targetReg.name, repository: loc.repository, lockBefore });
    await rt.store.transaction(async (tx) => {
      if (req.promotionId)
        await updatePromotion(tx, id, {
          status: 'running',
          started_at: now.getTime(),
          gate: base.gate,
          forced: base.forced,
        });
      else await insertPromotion(tx, { ...base, id, status: 'running', started_at: now.getTime() });
    });
    if (plan.forcedOutsideWindow) {
      await audit(rt.store, 'promotion.force', 'success', `forced outside the maintenance window of ${target.name}`);
    }
    const copy = await new CopyEngine(rt.pool).copy({
      source: { registry: image.registry.host, repository: image.repository, digest: image.digest },
      target: { registry: targetReg.host, repository: loc.repository, tag: versionTag },
    });
    if (target.sign && hooks.sign) {
      await hooks.sign({ registry: targetReg.host, repository: loc.repository, digest: image.digest }, target.sign.key);
      if ((target.gate.signature.required || target.gate.require.includes('signature')) && hooks.verifySignature) {
        const check = await hooks.verifySignature(
          { registry: targetReg.host, repository: loc.repository, digest: image.digest },
          target.gate.signature.keys,
        );
        if (!check.valid)
          throw new SluiceError(
            'SIGNATURE_INVALID',
            'policy-violation',
            `signature made on promotion does not verify: ${check.reason}`,
            { digest: image.digest },
          );
      }
    }
    // The stage tags move only now that the digest is fully present in the target.
    const previous = (await dst.headManifest(loc.repository, target.stageTag))?.digest ?? null;
    const manifest = await dst.getManifest(loc.repository, image.digest);
    for (const tag of stageTags) {
      const current = tag === target.stageTag ? previous : (await dst.headManifest(loc.repository, tag))?.digest;
      if (current !== image.digest) await dst.putManifest(loc.repository, tag, manifest.bytes, manifest.mediaType);
    }
    const finished = rt.now();
    const prev =
      previous === image.digest ? await priorDigest(rt, image.team, image.repo, target.name, image.digest) : previous;
    await rt.store.transaction(async (tx) => {
      await updatePromotion(tx, id, {
        status: 'succeeded',
        finished_at: finished,
        previous_digest: prev ?? null,
        error: null,
      });
      await audit(
        tx,
        'promotion',
        'success',
        `promoted from ${from?.name ?? '(push)'} to ${target.name}${req.force ? ' (forced)' : ''}`,
        {
          from: from?.name ?? null,
          to: target.name,
          stageTags,
          previous: prev ?? null,
          promotion: id,
          copiedBlobs: copy.blobs,
        },
      );
    });
    // Keep the inventory current so automatic triggers see the digest in its new stage.
    for (const tag of [versionTag, ...stageTags]) {
      await refreshReference(inventoryFor(rt, targetReg), targetReg, loc.repository, { tag }, 'promotion').catch(
        () => undefined,
      );
    }
    await hooks.notify?.({
      type: 'promotion.succeeded',
      subject,
      summary: `${image.team}/${image.repo}:${versionTag} promoted to ${target.name} by ${actor.name}`,
      data: { team: image.team, repo: image.repo, stage: target.name, digest: image.digest, actor: actor.name },
    });
    return {
      status: 'succeeded',
      id,
      gate,
      digest: image.digest,
      target: targetName,
      versionTag,
      stageTags,
      previousDigest: prev ?? null,
      copied: !copy.noop,
    };
  } catch (err) {
    const e = asSluiceError(err);
    await rt.store
      .transaction(async (tx) => {
        await updatePromotion(tx, id, { status: 'failed', finished_at: rt.now(), error: e.message });
        await audit(tx, 'promotion', 'failure', e.message, { to: target.name, promotion: id, code: e.code });
      })
      .catch(() => undefined);
    await hooks.notify?.({
      type: 'promotion.failed',
      subject,
      summary: `promotion of ${image.repo}:${versionTag} to ${target.name} failed: ${e.message}`,
      data: { code: e.code },
    });
    throw e;
  } finally {
    clearInterval(renewal);
    await releaseLock(rt.store, lockTarget, owner).catch(() => undefined);
  }
}

/** The digest promoted into a stage before `current` (what a rollback returns to). */
async function priorDigest(
  rt: Runtime,
  team: string,
  repo: string,
  stage: string,
  current: string,
): Promise<string | undefined> {
  const rows = await listPromotions(rt.store, { team, repo, stage, status: 'succeeded', limit: 1000 });
  return rows.find((r) => r.digest !== current)?.digest;
}

/** Runs scheduled promotions whose window has opened. */
export async function runScheduledPromotions(
  rt: Runtime,
  actorFor: (name: string) => Actor,
  hooks: PromotionHooks = {},
): Promise<Array<{ id: string; status: string; error?: string }>> {
  // The server runs this every minute: attempts a crash left `running` are closed here too.
  await abandonInterrupted(rt);
  const due = await rt.store.db
    .selectFrom('promotions')
    .selectAll()
    .where('status', '=', 'scheduled')
    .where('scheduled_for', '<=', rt.now())
    .orderBy('scheduled_for')
    .execute();
  const out: Array<{ id: string; status: string; error?: string }> = [];
  for (const row of due) {
    try {
      const r = await promote(
        rt,
        actorFor(row.requested_by),
        {
          ref: `${rt.registries.find((x) => x.name === row.source_registry)?.host}/${row.source_repository}@${row.digest}`,
          to: row.to_stage,
          promotionId: row.id,
        },
        hooks,
      );
      out.push({ id: row.id, status: r.status });
    } catch (err) {
      const e = asSluiceError(err);
      // A refusal or a failed copy has already closed the row with its own status.
      await rt.store.db
        .updateTable('promotions')
        .set({ status: 'failed', error: e.message, finished_at: rt.now() })
        .where('id', '=', row.id)
        .where('status', 'in', ['scheduled', 'running'])
        .execute();
      const closed = await getPromotion(rt.store, row.id);
      out.push({ id: row.id, status: closed?.status ?? 'failed', error: e.message });
    }
  }
  return out;
}

/**
 * Automatic triggers: after new evidence or a push, promote the digest into every stage
 * whose trigger is automatic and whose gate now holds. Gate failures are expected here
 * (evidence arrives piece by piece) and are not recorded as refusals.
 */
export async function autoPromote(rt: Runtime, digest: string, hooks: PromotionHooks = {}): Promise<PromoteOutcome[]> {
  const out: PromoteOutcome[] = [];
  const actor = systemActor();
  for (let pass = 0; pass < rt.policy.stages.length; pass++) {
    let progressed = false;
    for (const stage of rt.policy.stages) {
      if (stage.trigger !== 'automatic') continue;
      const from = previousStageOf(rt.policy, stage) ?? stage;
      const holders = await rt.store.db
        .selectFrom('repository_manifests as rm')
        .innerJoin('repositories as r', (j) =>
          j.onRef('r.registry', '=', 'rm.registry').onRef('r.name', '=', 'rm.repository'),
        )
        .select(['rm.registry', 'rm.repository', 'r.team'])
        .where('rm.digest', '=', digest)
        .where('r.stage', '=', from.name)
        .execute();
      for (const h of holders) {
        const reg = rt.registries.find((r) => r.name === h.registry);
        if (!reg || !h.team) continue;
        const already = await enteredStageAt(
          rt.store,
          h.team,
          parseRepositoryPath(rt.policy, h.repository, { registry: reg.name })?.repo ?? '',
          stage.name,
          digest,
        );
        if (already !== undefined) continue;
        try {
          const r = await promote(rt, actor, { ref: `${reg.host}/${h.repository}@${digest}`, to: stage.name }, hooks);
          out.push(r);
          progressed = true;
        } catch (err) {
          const e = asSluiceError(err);
          if (e.code !== 'GATE_FAILED' && e.code !== 'VERSION_TAG_UNKNOWN') throw e;
        }
      }
    }
    if (!progressed) break;
  }
  return out;
}

export type { PromotionRow };
export { hasRole };
