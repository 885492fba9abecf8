/**
 * Builds the planner's input from the store: the inventory of every repository a team owns
 * (tags, manifests, children, referrers, blobs, pulls) and the facts of other capabilities
 * (holds, promotions, stage tags). Repositories no team owns are not governed by the policy
 * and are never part of a plan.
 */
import { parseRepositoryPath, resolveRetention, stageByName, type LifecyclePolicy } from '../policy/index.ts';
import type { Runtime } from '../runtime.ts';
import type { StoreHandle } from '../store/index.ts';
import { digestsInUse } from '../usage/index.ts';
import {
  classifyTag,
  emptyFacts,
  envTagNames,
  prodFacts,
  type ManifestRecord,
  type RepositoryInventory,
  type RetentionFacts,
  type RetentionInput,
  type StageDigests,
  type TagRecord,
} from './model.ts';

const DAY = 86_400_000;

/** Quay and Harbor delete a tag alone through their APIs; Distribution and unknown registries cannot. */
export function canDeleteTagAlone(kind: string): boolean {
  return kind === 'quay' || kind === 'harbor';
}

function isCatalogRepository(policy: LifecyclePolicy, repository: string): boolean {
  if (!policy.catalog.enabled) return false;
  const prefix = policy.catalog.repository.split('{repo}')[0] ?? '';
  return prefix !== '' && repository.startsWith(prefix);
}

async function gatherFacts(h: StoreHandle, policy: LifecyclePolicy, now: number): Promise<RetentionFacts> {
  const facts = { ...emptyFacts(), ...prodFacts(policy) };
  const holds = await h.db.selectFrom('holds').select(['digest', 'kind']).where('released_at', 'is', null).execute();
  const quarantined = new Set<string>();
  const legalHold = new Set<string>();
  for (const hold of holds) (hold.kind === 'quarantine' ? quarantined : legalHold).add(hold.digest);
  const promotions = await h.db
    .selectFrom('promotions')
    .select(['team', 'repo', 'to_stage', 'digest', 'previous_digest', 'finished_at', 'kind'])
    .where('status', '=', 'succeeded')
    .orderBy('finished_at')
    .execute();
  const reachedProd = new Map<string, number>();
  const lastPromotion = new Map<string, number>();
  const current = new Map<string, StageDigests>();
  for (const p of promotions) {
    const at = p.finished_at ?? 0;
    if (p.to_stage === facts.prodStage && p.kind === 'promotion' && !reachedProd.has(p.digest))
      reachedProd.set(p.digest, at);
    lastPromotion.set(p.digest, Math.max(lastPromotion.get(p.digest) ?? 0, at));
    // The latest succeeded promotion or rollback names what the stage tag points at and what it replaced.
    current.set(`${p.team}/${p.repo}/${p.to_stage}`, {
      stage: p.to_stage,
      team: p.team,
      repository: p.repo,
      current: p.digest,
      ...(p.previous_digest ? { previous: p.previous_digest } : {}),
    });
  }
  const inUse = await digestsInUse(h, now);
  return { ...facts, quarantined, legalHold, inUse, reachedProd, lastPromotion, stageDigests: [...current.values()] };
}

/** The planner's input for every team repository of the policy's registries. */
export async function gatherRetentionInput(rt: Runtime, now = rt.now()): Promise<RetentionInput> {
  const h = rt.store;
  const policy = rt.policy;
  const env = envTagNames(policy);
  const registries = new Map(rt.registries.map((r) => [r.name, r]));
  const repos = await h.db.selectFrom('repositories').selectAll().orderBy('registry').orderBy('name').execute();
  const tagRows = await h.db
    .selectFrom('tags')
    .select(['registry', 'repository', 'tag', 'digest', 'updated_at'])
    .execute();
  const held = await h.db
    .selectFrom('repository_manifests as rm')
    .innerJoin('manifests as m', (j) => j.onRef('m.registry', '=', 'rm.registry').onRef('m.digest', '=', 'rm.digest'))
    .select([
      'rm.registry',
      'rm.repository',
      'rm.digest',
      'rm.first_seen',
      'm.media_type',
      'm.size',
      'm.created',
      'm.subject_digest',
    ])
    .execute();
  const children = await h.db
    .selectFrom('manifest_children')
    .select(['registry', 'index_digest', 'child_digest'])
    .execute();
  const blobs = await h.db
    .selectFrom('manifest_blobs')
    .select(['registry', 'manifest_digest', 'blob_digest', 'size'])
    .execute();
  const pulls = await h.db.selectFrom('pulls').select(['registry', 'repository', 'digest', 'day']).execute();

  // One string instance per digest keeps a large inventory small.
  const intern = new Map<string, string>();
  const I = (s: string) => {
    let v = intern.get(s);
    if (v === undefined) intern.set(s, (v = s));
    return v;
  };
  const key = (registry: string, repository: string) => `${registry}\u0000${repository}`;
  const childrenOf = new Map<string, string[]>();
  for (const c of children) {
    const k = `${c.registry}\u0000${c.index_digest}`;
    const list = childrenOf.get(k) ?? [];
    list.push(I(c.child_digest));
    childrenOf.set(k, list);
  }
  const blobsOf = new Map<string, Array<{ digest: string; size: number }>>();
  for (const b of blobs) {
    const k = `${b.registry}\u0000${b.manifest_digest}`;
    const list = blobsOf.get(k) ?? [];
    list.push({ digest: I(b.blob_digest), size: b.size });
    blobsOf.set(k, list);
  }
  const lastPull = new Map<string, number>();
  for (const p of pulls) {
    // A pull on a day counts until the end of that day: the conservative reading.
    const at = Date.parse(`${p.day}T00:00:00Z`) + DAY - 1;
    const k = `${p.registry}\u0000${p.repository}\u0000${p.digest}`;
    lastPull.set(k, Math.max(lastPull.get(k) ?? 0, at));
  }
  const tagsBy = new Map<string, TagRecord[]>();
  for (const t of tagRows) {
    const k = key(t.registry, t.repository);
    const list = tagsBy.get(k) ?? [];
    list.push({ tag: t.tag, digest: I(t.digest), pushed: t.updated_at, ...classifyTag(t.tag, env) });
    tagsBy.set(k, list);
  }
  const manifestsBy = new Map<string, ManifestRecord[]>();
  for (const m of held) {
    const k = key(m.registry, m.repository);
    const list = manifestsBy.get(k) ?? [];
    const kids = childrenOf.get(`${m.registry}\u0000${m.digest}`);
    const bl = blobsOf.get(`${m.registry}\u0000${m.digest}`);
    const pulled = lastPull.get(`${m.registry}\u0000${m.repository}\u0000${m.digest}`);
    list.push({
      digest: I(m.digest),
      mediaType: m.media_type,
      size: m.size,
      pushed: m.first_seen,
      ...(m.created !== null ? { created: m.created } : {}),
      ...(kids ? { children: kids } : {}),
      ...(m.subject_digest ? { subject: I(m.subject_digest) } : {}),
      ...(pulled !== undefined ? { lastPull: pulled } : {}),
      ...(bl ? { blobs: bl } : {}),
    });
    manifestsBy.set(k, list);
  }

  const repositories: RepositoryInventory[] = [];
  for (const r of repos) {
    const reg = registries.get(r.registry);
    if (!reg) continue;
    const owner = parseRepositoryPath(policy, r.name, { registry: reg.name });
    if (!owner || !stageByName(policy, owner.stage)) continue;
    const k = key(r.registry, r.name);
    repositories.push({
      registry: r.registry,
      tagDelete: canDeleteTagAlone(reg.kind),
      repository: r.name,
      team: owner.team,
      stage: owner.stage,
      catalog: isCatalogRepository(policy, r.name),
      rules: resolveRetention(policy, { team: owner.team, stage: owner.stage, repository: r.name }),
      ...(r.last_synced_at === null ? { incomplete: 'never fully synced (run sluice sync)' } : {}),
      tags: tagsBy.get(k) ?? [],
      manifests: manifestsBy.get(k) ?? [],
    });
  }
  return { now, repositories, facts: await gatherFacts(h, policy, now) };
}
