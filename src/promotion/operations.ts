/** Rollback, deployability checks and holds: the operations around promotion. */
import { SluiceError, asSluiceError } from '../errors.ts';
import { refreshReference } from '../inventory/sync.ts';
import type { RegistryClient } from '../oci/client.ts';
import { mapLimit } from '../util/concurrency.ts';
import { checkIndexFanOut } from '../oci/limits.ts';
import { blobsOf, formatPlatform } from '../oci/manifest.ts';
import { isForeignLayer } from '../oci/mediatypes.ts';
import { parseReference } from '../oci/reference.ts';
import { parseRepositoryPath, repositoryFor, stageByName, teamByName } from '../policy/index.ts';
import { inventoryFor, type Runtime } from '../runtime.ts';
import { requireRole, type Actor } from '../auth/actor.ts';
import type { SignatureCheck } from './gate.ts';
import { insertPromotion, listPromotions } from './records.ts';
import { activeHolds, type Hold } from '../holds/records.ts';
import type { PromotionHooks } from './service.ts';

export interface RollbackOutcome {
  id: string;
  stage: string;
  target: string;
  from: string;
  to: string;
}

/** Re-points a stage tag to the digest promoted before the current one. */
export async function rollback(
  rt: Runtime,
  actor: Actor,
  req: { image: string; stage: string },
  hooks: PromotionHooks = {},
): Promise<RollbackOutcome> {
  const stage = stageByName(rt.policy, req.stage);
  if (!stage) throw new SluiceError('STAGE_UNKNOWN', 'invalid-input', `unknown stage "${req.stage}"`);
  const [teamName, repo, ...rest] = req.image.split('/');
  const team = teamName ? teamByName(rt.policy, teamName) : undefined;
  if (!team || !repo || rest.length)
    throw new SluiceError(
      'ROLLBACK_IMAGE_INVALID',
      'invalid-input',
      `rollback takes team/repo (e.g. acme/api), got "${req.image}"`,
    );
  const loc = repositoryFor(rt.policy, { team: team.name, stage, repo });
  const reg = rt.registryForHost(loc.registry.host)!;
  const client = rt.pool.get(reg.host);
  const current = (await client.headManifest(loc.repository, stage.stageTag))?.digest;
  if (!current)
    throw new SluiceError(
      'STAGE_TAG_MISSING',
      'not-found',
      `${loc.repository}:${stage.stageTag} does not exist; nothing to roll back`,
    );
  requireRole(actor, team.name, `roll back ${stage.name}`, stage.responsibleRole, 'operations');
  const history = await listPromotions(rt.store, {
    team: team.name,
    repo,
    stage: stage.name,
    status: 'succeeded',
    limit: 1000,
  });
  const idx = history.findIndex((p) => p.digest === current);
  const before = history.slice(idx >= 0 ? idx + 1 : 0).find((p) => p.digest !== current);
  if (!before)
    throw new SluiceError(
      'ROLLBACK_NO_TARGET',
      'not-found',
      `no earlier digest was promoted into ${stage.name} for ${team.name}/${repo}`,
    );
  const holds = await activeHolds(rt.store, [before.digest]);
  if (holds.length)
    throw new SluiceError(
      'ROLLBACK_TARGET_HELD',
      'conflict',
      `previous digest ${before.digest} is under ${holds[0]!.kind}: ${holds[0]!.reason}`,
    );
  const manifest = await client.getManifest(loc.repository, before.digest).catch((err) => {
    const e = asSluiceError(err);
    if (e.category === 'not-found') {
      throw new SluiceError(
        'ROLLBACK_TARGET_GONE',
        'not-found',
        `previous digest ${before.digest} is no longer in ${loc.repository}`,
        { digest: before.digest },
      );
    }
    throw e;
  });
  for (const tag of [stage.stageTag, ...stage.alsoTag])
    await client.putManifest(loc.repository, tag, manifest.bytes, manifest.mediaType);
  const now = rt.now();
  const id = await rt.store.transaction(async (tx) => {
    const pid = await insertPromotion(tx, {
      kind: 'rollback',
      team: team.name,
      repo,
      digest: before.digest,
      from_stage: stage.name,
      to_stage: stage.name,
      source_registry: reg.name,
      source_repository: loc.repository,
      target_registry: reg.name,
      target_repository: loc.repository,
      version_tag: before.version_tag,
      stage_tag: stage.stageTag,
      previous_digest: current,
      status: 'succeeded',
      requested_by: actor.name,
      requested_at: now,
      scheduled_for: null,
      started_at: now,
      finished_at: now,
      forced: 0,
      gate: null,
      error: null,
    });
    await rt.audit(tx, {
      actor: actor.name,
      action: 'rollback',
      repository: `${reg.host}/${loc.repository}`,
      digest: before.digest,
      tag: stage.stageTag,
      reason: `${stage.stageTag} re-pointed from ${current} to the previously promoted ${before.digest}`,
      result: 'success',
      details: { from: current, to: before.digest },
    });
    return pid;
  });
  await refreshReference(inventoryFor(rt, reg), reg, loc.repository, { tag: stage.stageTag }, 'rollback');
  await hooks.notify?.({
    type: 'rollback.succeeded',
    subject: `${reg.host}/${loc.repository}@${before.digest}`,
    summary: `${team.name}/${repo} ${stage.name} rolled back by ${actor.name}`,
    data: { from: current, to: before.digest },
  });
  return { id, stage: stage.name, target: `${reg.host}/${loc.repository}`, from: current, to: before.digest };
}

export interface DeployableCheck {
  check: string;
  ok: boolean;
  detail: string;
}

export interface DeployableReport {
  reference: string;
  digest: string;
  deployable: boolean;
  checks: DeployableCheck[];
}

/** `what` for a single image, `what platform` for one platform of an index. */
function checkLabel(what: string, platform: string | undefined): string {
  return platform ? `${what} ${platform}` : what;
}

async function blobsPresent(
  client: RegistryClient,
  repository: string,
  digest: string,
  checks: DeployableCheck[],
  platform: string | undefined,
): Promise<string[]> {
  const m = await client.getManifest(repository, digest);
  // Only children of the top index get here: one of them that is an index is nested.
  if (platform) checkIndexFanOut(m, 1, client.limits, { registry: client.registry, repository });
  const blobs = blobsOf(m).filter((b) => !isForeignLayer(b.mediaType));
  const missing: string[] = [];
  await mapLimit(blobs, 8, async (b) => {
    const head = await client.headBlob(repository, b.digest);
    if (!head) missing.push(b.digest);
    else if (head.size >= 0 && head.size !== b.size)
      missing.push(`${b.digest} (size ${head.size}, manifest says ${b.size})`);
  });
  checks.push({
    check: checkLabel('blobs', platform),
    ok: missing.length === 0,
    detail: missing.length === 0 ? `${blobs.length} blobs present` : `missing: ${missing.join(', ')}`,
  });
  return missing;
}

/**
 * Proves an image can be deployed: the manifest and every blob of every platform are in the
 * registry, the digest is not held, and its signature verifies where the stage requires one.
 * Resolves the reference once and checks that digest only.
 */
export async function verifyDeployable(
  rt: Runtime,
  refText: string,
  hooks: PromotionHooks = {},
  options: { keys?: string[] } = {},
): Promise<DeployableReport> {
  const defaultHost = rt.registries[0]?.host;
  const ref = parseReference(refText, defaultHost ? { defaultRegistry: defaultHost } : {});
  const reg = rt.registryForHost(ref.registry);
  const client = rt.pool.get(ref.registry);
  const checks: DeployableCheck[] = [];
  const head = await client.headManifest(ref.repository, ref.digest ?? ref.tag ?? 'latest');
  if (!head) {
    return {
      reference: refText,
      digest: ref.digest ?? '',
      deployable: false,
      checks: [
        {
          check: 'manifest',
          ok: false,
          detail: `${ref.repository}:${ref.digest ?? ref.tag} does not exist (this is ImagePullBackOff)`,
        },
      ],
    };
  }
  const digest = head.digest;
  const top = await client.getManifest(ref.repository, digest);
  // Two requests per child and more per blob: an index listing thousands is refused up front.
  checkIndexFanOut(top, 0, client.limits, { registry: ref.registry, repository: ref.repository });
  checks.push({ check: 'manifest', ok: true, detail: `${top.mediaType} ${digest}` });
  const digests = [digest];
  if (top.kind === 'index') {
    for (const child of top.manifests) {
      const platform = (child.platform && formatPlatform(child.platform)) || child.digest;
      const present = await client.headManifest(ref.repository, child.digest);
      checks.push({
        check: checkLabel('manifest', platform),
        ok: !!present,
        detail: present ? child.digest : `child manifest ${child.digest} is missing`,
      });
      if (present) await blobsPresent(client, ref.repository, child.digest, checks, platform);
      digests.push(child.digest);
    }
  } else {
    await blobsPresent(client, ref.repository, digest, checks, undefined);
  }
  const holds: Hold[] = await activeHolds(rt.store, digests);
  checks.push({
    check: 'not held',
    ok: holds.length === 0,
    detail:
      holds.length === 0 ? 'not quarantined, no legal hold' : holds.map((h) => `${h.kind}: ${h.reason}`).join('; '),
  });
  let keys = options.keys;
  if (!keys && reg) {
    const owner = parseRepositoryPath(rt.policy, ref.repository, { registry: reg.name });
    const stage = owner ? stageByName(rt.policy, owner.stage) : undefined;
    if (stage && (stage.gate.signature.required || stage.gate.require.includes('signature')))
      keys = stage.gate.signature.keys;
  }
  if (keys && keys.length) {
    if (!hooks.verifySignature) {
      checks.push({ check: 'signature', ok: false, detail: 'signature verification is not available' });
    } else {
      const s: SignatureCheck = await hooks.verifySignature(
        { registry: ref.registry, repository: ref.repository, digest },
        keys,
      );
      checks.push({
        check: 'signature',
        ok: s.valid,
        detail: s.valid ? `verified (${s.keyIds.join(', ')})` : s.reason,
      });
    }
  }
  return { reference: refText, digest, deployable: checks.every((c) => c.ok), checks };
}
