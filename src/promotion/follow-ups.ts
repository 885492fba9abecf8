/**
 * Recording evidence and what follows it, as one operation each, so the CLI and the API run
 * the same flow: store the evidence, announce it on the lifecycle event bus, then promote the
 * digest into every automatic stage whose gate now holds.
 *
 * Auto-promotion stays part of the operation rather than a fire-and-forget subscriber: its
 * outcomes are the operation's answer (`promoted` in the response) and a promotion that fails
 * for a reason other than an unmet gate fails the request, as it always has.
 */
import type { Actor } from '../auth/actor.ts';
import type { Runtime } from '../runtime.ts';
import {
  approve,
  recordEvidence,
  type ApprovalRequest,
  type EvidenceRequest,
  type RecordedEvidence,
} from './evidence.ts';
import { autoPromote, type PromoteOutcome, type PromotionHooks } from './service.ts';

export interface EvidenceOutcome extends RecordedEvidence {
  /** Automatic promotions the new evidence let through, in the order they ran. */
  promoted: PromoteOutcome[];
}

async function followUp(
  rt: Runtime,
  actor: Actor,
  rec: RecordedEvidence,
  hooks: PromotionHooks,
  auto: boolean,
): Promise<EvidenceOutcome> {
  await rt.events.publish('evidence.recorded', {
    registry: rec.image.registry.name,
    repository: rec.image.repository,
    digest: rec.image.digest,
    type: rec.evidence.type,
    status: rec.evidence.status,
    stage: rec.evidence.stage ?? null,
    actor: actor.name,
    autoPromote: auto,
  });
  const promoted = auto ? await autoPromote(rt, rec.image.digest, hooks) : [];
  return { ...rec, promoted };
}

/** Records evidence for an image; with `auto` (the default) automatic promotions follow. */
export async function recordEvidenceAndPromote(
  rt: Runtime,
  actor: Actor,
  req: EvidenceRequest,
  options: { hooks: PromotionHooks; auto?: boolean },
): Promise<EvidenceOutcome> {
  const rec = await recordEvidence(rt, actor, req);
  return followUp(rt, actor, rec, options.hooks, options.auto ?? true);
}

/** Records an approval (or rejection); automatic promotions follow. */
export async function approveAndPromote(
  rt: Runtime,
  actor: Actor,
  req: ApprovalRequest,
  hooks: PromotionHooks,
): Promise<EvidenceOutcome> {
  const rec = await approve(rt, actor, req);
  return followUp(rt, actor, rec, hooks, true);
}
