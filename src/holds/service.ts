/** Placing and releasing holds: who may (the team's security role), on which digest, audited. */
import { SluiceError } from '../errors.ts';
import { requireRole, type Actor } from '../auth/actor.ts';
import { parseReference } from '../oci/reference.ts';
import { parseRepositoryPath } from '../policy/index.ts';
import type { Runtime } from '../runtime.ts';
import { insertHold, releaseHolds, type Hold } from './records.ts';

export async function addHold(
  rt: Runtime,
  actor: Actor,
  req: { ref: string; kind: Hold['kind']; reason: string },
): Promise<Hold> {
  const ref = parseReference(req.ref, { defaultRegistry: rt.registries[0]?.host, defaultTag: false });
  const reg = rt.registryForHost(ref.registry);
  const owner = reg ? parseRepositoryPath(rt.policy, ref.repository, { registry: reg.name }) : undefined;
  if (!owner)
    throw new SluiceError('REPOSITORY_UNOWNED', 'invalid-input', `${ref.repository} is not a team stage repository`);
  requireRole(actor, owner.team, `place a ${req.kind}`, 'security');
  const digest =
    ref.digest ?? (await rt.pool.get(ref.registry).headManifest(ref.repository, ref.tag ?? 'latest'))?.digest;
  if (!digest) throw new SluiceError('IMAGE_NOT_FOUND', 'not-found', `${req.ref} does not exist`);
  if (!req.reason.trim()) throw new SluiceError('HOLD_REASON_MISSING', 'invalid-input', 'a hold needs a reason');
  return rt.store.transaction(async (tx) => {
    const hold = await insertHold(tx, {
      digest,
      kind: req.kind,
      reason: req.reason,
      createdBy: actor.name,
      createdAt: rt.now(),
    });
    await rt.audit(tx, {
      actor: actor.name,
      action: req.kind === 'quarantine' ? 'quarantine' : 'hold',
      repository: `${ref.registry}/${ref.repository}`,
      digest,
      reason: req.reason,
      result: 'success',
    });
    return hold;
  });
}

export async function releaseHold(
  rt: Runtime,
  actor: Actor,
  req: { ref: string; kind: Hold['kind']; reason: string },
): Promise<number> {
  const ref = parseReference(req.ref, { defaultRegistry: rt.registries[0]?.host, defaultTag: false });
  const reg = rt.registryForHost(ref.registry);
  const owner = reg ? parseRepositoryPath(rt.policy, ref.repository, { registry: reg.name }) : undefined;
  if (!owner)
    throw new SluiceError('REPOSITORY_UNOWNED', 'invalid-input', `${ref.repository} is not a team stage repository`);
  requireRole(actor, owner.team, `release a ${req.kind}`, 'security');
  const digest =
    ref.digest ?? (await rt.pool.get(ref.registry).headManifest(ref.repository, ref.tag ?? 'latest'))?.digest;
  if (!digest) throw new SluiceError('IMAGE_NOT_FOUND', 'not-found', `${req.ref} does not exist`);
  return rt.store.transaction(async (tx) => {
    const n = await releaseHolds(tx, digest, req.kind, actor.name, rt.now());
    await rt.audit(tx, {
      actor: actor.name,
      action: req.kind === 'quarantine' ? 'quarantine.release' : 'hold.release',
      repository: `${ref.registry}/${ref.repository}`,
      digest,
      reason: req.reason,
      result: n > 0 ? 'success' : 'failure',
    });
    return n;
  });
}
