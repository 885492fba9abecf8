/**
 * What the retention planner reads: one snapshot of the inventory (tags and manifests per
 * repository, with the rules that apply to each repository) plus facts owned by other
 * capabilities (quarantine, legal holds, promotions, stage digests) and the clock.
 *
 * The shape follows the store (tags, repository_manifests, manifests, manifest_children,
 * manifest_blobs, pulls) so that the store can fill it with a handful of range scans, and it
 * is plain data so that tests and benchmarks can generate it. Everything is keyed by digest
 * strings; callers should intern them (one string instance per digest) because a large
 * registry holds millions of references to a few hundred thousand digests.
 */
import type { LifecyclePolicy, RetentionRules } from '../policy/index.ts';
import { subjectOfCosignTag } from '../oci/cosign.ts';

/**
 * - `version`: every tag the rules apply to: release versions, and also branch or PR tags.
 * - `env`: a moving stage tag (`dev`, `staging`, `preprod`, `prod`, `latest`, ...), always kept.
 * - `artifact`: a machine-made tag that follows its subject: cosign `sha256-<hex>.sig|.att|.sbom`,
 *   or the referrers tag schema's `sha256-<hex>` index.
 */
export type TagKind = 'version' | 'env' | 'artifact';

export interface TagRecord {
  tag: string;
  digest: string;
  /** When the tag was pushed or last moved (ms): `tags.updated_at`. */
  pushed: number;
  kind: TagKind;
  /** For `artifact` tags: the digest the signature/attestation/SBOM/referrers index is about. */
  subject?: string;
}

export interface BlobRef {
  digest: string;
  size: number;
}

export interface ManifestRecord {
  digest: string;
  mediaType: string;
  /** Bytes of the manifest plus every blob it references (for an index: of every child). */
  size: number;
  /** When the digest appeared in this repository (ms): `repository_manifests.first_seen`. */
  pushed: number;
  /** Image creation time from the config, when known (informational). */
  created?: number;
  /** Index children (`manifest_children`), in any order. */
  children?: readonly string[];
  /** OCI 1.1 `subject`: this manifest is a referrer (signature, SBOM, attestation) of that digest. */
  subject?: string;
  /** Last pull of this digest from this repository (ms), from `pulls`. */
  lastPull?: number;
  /** A cluster reports a workload running this digest from this repository. */
  inUse?: boolean;
  /**
   * Blobs the manifest references (`manifest_blobs`: config and layers; nothing for an index).
   * When present, freed bytes are counted per blob, so layers shared with manifests that stay
   * are not counted as freed. Share one BlobRef object per blob digest between manifests:
   * base layers are referenced by thousands of them.
   */
  blobs?: readonly BlobRef[];
}

export interface RepositoryInventory {
  /** Policy registry name. */
  registry: string;
  /**
   * The registry can remove one tag and leave the manifest and its other tags (Quay, Harbor 2+).
   * False for CNCF Distribution and anything unknown: there, deleting a manifest by digest
   * removes every tag on it, so a manifest goes only when all its tags go.
   */
  tagDelete: boolean;
  /** Path inside the registry, e.g. `acme-dev/api`. */
  repository: string;
  team?: string;
  stage?: string;
  /** A curated catalog repository: the newest `catalogCap` versions are kept, the rest deleted. */
  catalog: boolean;
  /** From `resolveRetention(policy, { team, stage, repository })`. */
  rules: RetentionRules;
  /**
   * Set when the inventory of this repository is known to be incomplete (tag list not read
   * to the end, sync failed): nothing in it is deleted. The text says why.
   */
  incomplete?: string;
  tags: readonly TagRecord[];
  /** Every manifest in the repository, tagged or not (untagged index children included). */
  manifests: readonly ManifestRecord[];
}

export interface StageDigests {
  stage: string;
  team?: string;
  /** The application (`{repo}`) or repository path, for messages. */
  repository: string;
  current?: string;
  /** The rollback target: the digest the stage tag pointed at before `current`. */
  previous?: string;
}

/** Facts from other capabilities, keyed by digest; they apply in every repository holding the digest. */
export interface RetentionFacts {
  quarantined: ReadonlySet<string>;
  legalHold: ReadonlySet<string>;
  /** Digests reported running by a cluster, wherever they were pulled from. */
  inUse: ReadonlySet<string>;
  /** When the digest first reached the final stage (ms). */
  reachedProd: ReadonlyMap<string, number>;
  /** Name of the final stage, for messages. */
  prodStage: string;
  /** Retention period of the final stage (ms); absent = forever. */
  prodRetention?: number;
  stageDigests: readonly StageDigests[];
  /**
   * Last promotion of the digest out of a stage (ms). One time per digest: a later promotion
   * further down the chain only delays `maxAgeSincePromotion`, which errs toward keeping.
   */
  lastPromotion: ReadonlyMap<string, number>;
}

export interface RetentionInput {
  /** The clock (ms). The planner never reads the system time. */
  now: number;
  repositories: readonly RepositoryInventory[];
  facts: RetentionFacts;
}

export function emptyFacts(): RetentionFacts {
  return {
    quarantined: new Set(),
    legalHold: new Set(),
    inUse: new Set(),
    reachedProd: new Map(),
    prodStage: 'prod',
    stageDigests: [],
    lastPromotion: new Map(),
  };
}

const REFERRERS_TAG = /^(sha256|sha512)-([0-9a-f]{64}|[0-9a-f]{128})$/;

/** `sha256-<hex>` (referrers tag schema) → `sha256:<hex>`; undefined for any other tag. */
export function subjectOfReferrersTag(tag: string): string | undefined {
  const m = REFERRERS_TAG.exec(tag);
  if (!m) return undefined;
  const hex = m[2]!;
  if ((m[1] === 'sha256') !== (hex.length === 64)) return undefined;
  return `${m[1]}:${hex}`;
}

/** How the planner treats a tag: env tags by name, artifact tags by their digest-shaped names, the rest are versions. */
export function classifyTag(tag: string, envTags: ReadonlySet<string>): { kind: TagKind; subject?: string } {
  if (envTags.has(tag)) return { kind: 'env' };
  const cosign = subjectOfCosignTag(tag);
  if (cosign) return { kind: 'artifact', subject: cosign.digest };
  const referrers = subjectOfReferrersTag(tag);
  if (referrers) return { kind: 'artifact', subject: referrers };
  return { kind: 'version' };
}

/** Every stage tag and `alsoTag` of the policy, plus `latest`. */
export function envTagNames(policy: LifecyclePolicy): Set<string> {
  const names = new Set<string>(['latest']);
  for (const s of policy.stages) {
    names.add(s.stageTag);
    for (const t of s.alsoTag) names.add(t);
  }
  return names;
}

/**
 * Name and retention period of the final stage ("reached prod within the prod retention
 * period"). Overrides can lengthen the period for some teams; the longest one is taken, so
 * no team's production image loses the protection early.
 */
export function prodFacts(policy: LifecyclePolicy): Pick<RetentionFacts, 'prodStage' | 'prodRetention'> {
  const last = policy.stages[policy.stages.length - 1]!;
  let period = last.retention.maxAge;
  for (const o of last.retention.overrides) {
    if (period === undefined) break;
    if (o.rules.maxAge !== undefined) period = Math.max(period, o.rules.maxAge);
  }
  return period === undefined ? { prodStage: last.name } : { prodStage: last.name, prodRetention: period };
}
