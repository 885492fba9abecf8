/**
 * The concrete FactSources: the inventory and holds in the store, the registry, and signature
 * verification. They take a few narrow dependencies rather than the whole Runtime, so the
 * webhook can be tested against a real store and registry without the rest of the server;
 * `admissionDepsFromRuntime` is the one place that knows how a Runtime provides them.
 */
import { activeHolds } from '../holds/records.ts';
import type { ManifestHead } from '../oci/client.ts';
import type { Reference } from '../oci/reference.ts';
import type { RegistryRef } from '../oci/registry-ref.ts';
import { stageByName } from '../policy/index.ts';
import type { LifecyclePolicy } from '../policy/schema.ts';
import { promotionHooks } from '../promotion/hooks.ts';
import type { PromotionHooks } from '../promotion/service.ts';
import type { Runtime } from '../runtime.ts';
import type { StoreHandle } from '../store/index.ts';
import type { Hold, ImageFacts, SignatureCheck, StageAdmission } from './decide.ts';
import type { FactSources } from './facts.ts';

export interface AdmissionDeps {
  store: StoreHandle;
  /** The policy registry an image reference's host names; undefined: not a registry of the policy. */
  registryForHost(host: string): Pick<RegistryRef, 'name' | 'host'> | undefined;
  /** HEAD of a manifest by tag or digest on the registry at `host`. */
  headManifest(
    host: string,
    repository: string,
    reference: string,
    signal: AbortSignal,
  ): Promise<ManifestHead | undefined>;
  /** Key references a stage's signatures must verify with; empty: the stage has none. */
  stageKeys(stage: string): readonly string[];
  verifySignature?: PromotionHooks['verifySignature'];
}

/** Which stages require signatures, for decideReview. */
export function stageAdmission(policy: LifecyclePolicy): Record<string, StageAdmission> {
  const out: Record<string, StageAdmission> = {};
  for (const s of policy.stages) {
    out[s.name] = { requireSignature: s.gate.signature.required || s.gate.require.includes('signature') };
  }
  return out;
}

export function admissionSources(deps: AdmissionDeps): FactSources {
  const registryName = (ref: Reference) => deps.registryForHost(ref.registry)?.name;
  return {
    allowedSource(ref) {
      if (registryName(ref) === undefined) {
        return { allowed: false, reason: `registry ${ref.registry} is not a registry of the Sluice policy` };
      }
      return { allowed: true };
    },
    async recordedDigest(ref) {
      const registry = registryName(ref);
      if (registry === undefined) return undefined;
      const row = await deps.store.db
        .selectFrom('tags')
        .select('digest')
        .where('registry', '=', registry)
        .where('repository', '=', ref.repository)
        .where('tag', '=', ref.tag ?? 'latest')
        .executeTakeFirst();
      return row?.digest;
    },
    async registryDigest(ref, signal) {
      const head = await deps.headManifest(ref.registry, ref.repository, ref.tag ?? 'latest', signal);
      return head?.digest;
    },
    async known(digest) {
      const row = await deps.store.db
        .selectFrom('manifests')
        .select('digest')
        .where('digest', '=', digest)
        .limit(1)
        .executeTakeFirst();
      return row !== undefined;
    },
    async stagesReached(digest) {
      const rows = await deps.store.db
        .selectFrom('repository_manifests as rm')
        .innerJoin('repositories as r', (j) =>
          j.onRef('r.registry', '=', 'rm.registry').onRef('r.name', '=', 'rm.repository'),
        )
        .select('r.stage')
        .distinct()
        .where('rm.digest', '=', digest)
        .where('r.stage', 'is not', null)
        .execute();
      return rows.map((r) => r.stage!).sort();
    },
    async holds(digest): Promise<Hold[]> {
      return (await activeHolds(deps.store, [digest])).map((h) => ({ kind: h.kind, reason: h.reason }));
    },
    async verifySignature(ref, digest, stage): Promise<SignatureCheck> {
      const keys = deps.stageKeys(stage);
      if (keys.length === 0)
        return { status: 'rejected', reason: `stage ${stage} requires signatures but names no key` };
      if (!deps.verifySignature) return { status: 'unavailable', reason: 'signature verification is not available' };
      const s = await deps.verifySignature({ registry: ref.registry, repository: ref.repository, digest }, [...keys]);
      return s.valid ? { status: 'verified', key: s.keyIds.join(', ') } : { status: 'rejected', reason: s.reason };
    },
    // The catalog does not record deprecations yet: nothing to warn about.
    async deprecation(): Promise<ImageFacts['deprecation']> {
      return undefined;
    },
  };
}

/** The composition: a Runtime's store, registries, pool and promotion hooks. */
export async function admissionDepsFromRuntime(rt: Runtime): Promise<AdmissionDeps> {
  const hooks = await promotionHooks(rt);
  const deps: AdmissionDeps = {
    store: rt.store,
    registryForHost: (host) => rt.registryForHost(host),
    headManifest: (host, repository, reference, signal) =>
      rt.pool.get(host).headManifest(repository, reference, signal),
    stageKeys: (stage) => stageByName(rt.policy, stage)?.gate.signature.keys ?? [],
  };
  if (hooks.verifySignature) deps.verifySignature = hooks.verifySignature;
  return deps;
}
