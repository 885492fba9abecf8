/**
 * The retention decision: given the inventory, the rules and the facts of other capabilities,
 * which tags and manifests go, and why everything else stays. Pure and deterministic: the
 * same input and clock give the same plan, whatever order the input lists things in.
 *
 * How a repository is decided:
 *
 * 1. Every tag gets a rule decision: env tags are kept; version tags go through keepTags,
 *    keep-last (or the catalog cap), deleteTags and the age rules, keep winning; artifact
 *    tags (cosign `.sig/.att/.sbom`, referrers `sha256-<hex>`) wait for their subject.
 * 2. A manifest stays ("alive") when a kept tag points to it, a protection holds it, or it is
 *    untagged, free-standing and younger than maxAge; and then, transitively, its index
 *    children stay, and a subject and its signatures/attestations/SBOMs/referrers stay or go
 *    together, so no kept signature loses its subject and no signature outlives it. An
 *    artifact whose subject is not in the repository is kept: it may sign an image stored
 *    elsewhere (cosign's COSIGN_REPOSITORY), and a signature costs next to nothing.
 * 3. Tags are reconciled with what the registry can do. A tag whose rule says delete is kept
 *    when its manifest is held by a protection of its own (pulled, running, rollback, hold);
 *    on a registry that deletes manifests rather than tags it is kept whenever its manifest
 *    stays; on one that deletes tags it goes only if the manifest keeps another tag or a kept
 *    index, because registries collect untagged manifests by themselves.
 * 4. Freed bytes count only what nothing else in the same registry still references.
 */
import { SluiceError } from '../errors.ts';
import { isIndexType } from '../oci/mediatypes.ts';
import type { RetentionMode } from '../policy/index.ts';
import { cmp, Env, invalid, planRepository, tailHash, type RepositoryWork } from './decide.ts';
import type { ManifestRecord, RepositoryInventory, RetentionInput, TagKind } from './model.ts';
import type { ReasonCode } from './reasons.ts';
import type { DigestRow } from './rows.ts';

export type TagAction = 'keep' | 'delete';
/**
 * - `keep`: the manifest and all its tags stay.
 * - `untag-only`: the manifest stays, some of its tags are deleted (tag-deleting registries).
 * - `delete-manifest`: the manifest is deleted by digest, and every tag on it with it.
 */
export type DigestAction = 'keep' | 'untag-only' | 'delete-manifest';

export interface TagDecision {
  readonly tag: string;
  readonly digest: string;
  readonly kind: TagKind;
  readonly action: TagAction;
  readonly code: ReasonCode;
  readonly reason: string;
  /** ms since the tag was pushed or last moved. */
  readonly age: number;
  readonly lastPull?: number;
  /** Size of the manifest it points to (bytes, with its blobs). */
  readonly size: number;
}

export interface DigestDecision {
  readonly digest: string;
  readonly mediaType: string;
  readonly action: DigestAction;
  readonly code: ReasonCode;
  readonly reason: string;
  /** Other protections and reasons that also hold (kept digests only). */
  readonly also?: readonly ReasonCode[];
  /** Tags on the manifest, and how many of them the plan deletes. */
  readonly tags: number;
  readonly tagsDeleted: number;
  /** ms since the manifest appeared in the repository. */
  readonly age: number;
  readonly lastPull?: number;
  readonly size: number;
  /** Bytes this deletion frees (0 when kept or when everything it holds is still referenced). */
  readonly freed: number;
}

export interface RepositoryPlan {
  registry: string;
  repository: string;
  team?: string;
  stage?: string;
  catalog: boolean;
  tagDelete: boolean;
  /** How apply must carry the plan out; from the repository's rules. */
  mode: RetentionMode;
  noticeDays?: number;
  schedule?: string;
  trash: { enabled: boolean; window: number };
  incomplete?: string;
  /**
   * By tag name. The planner's decisions are compact objects whose fields are getters (see
   * rows.ts): read them or `JSON.stringify` them; spreading or `structuredClone` copies the
   * internal representation instead.
   */
  tags: TagDecision[];
  /** By digest; same representation as `tags`. */
  digests: DigestDecision[];
  /**
   * The deletions in a safe order for apply. `tags`: tags removed from manifests that stay
   * (tag-deleting registries only). `manifests`: digests to delete (on a tag-deleting
   * registry: its tags, then the manifest), each index before its children and each subject
   * before its signatures and referrers. `after[k]`: the deletions `manifests[k]` hangs on
   * (the deleted indexes it is a child of, the deleted subject it signs or refers to), all
   * earlier in the list. Apply deletes `manifests[k]` only once everything in `after[k]` is
   * deleted: when it skips one (it gained a tag since the plan), what hangs on it stays, and
   * nothing kept ever loses a child or a signature. (Only data with a cycle of such relations,
   * which content addressing rules out, can list a prerequisite later; the rule then skips it.)
   */
  deletions: { tags: string[]; manifests: string[]; after: (readonly string[])[] };
  tagsDeleted: number;
  manifestsDeleted: number;
  bytesFreed: number;
}

export type Accounting = 'blobs' | 'manifests' | 'mixed';

export interface PlanScope {
  stage?: string;
  team?: string;
}

export interface RetentionPlan {
  formatVersion: 1;
  now: number;
  scope: PlanScope;
  /** How `bytesFreed` was counted; `accountingNote` says it in words. */
  accounting: Accounting;
  accountingNote: string;
  /** By registry, then repository. */
  repositories: RepositoryPlan[];
  totals: {
    repositories: number;
    tags: number;
    tagsDeleted: number;
    manifests: number;
    manifestsDeleted: number;
    bytesFreed: number;
  };
  /**
   * SHA-256 (hex) of the canonical JSON of the decisions, `{"scope":[stage,team],"repositories":[...]}`
   * with one entry per repository in plan order:
   * `[registry, repository, tagDelete, mode, [[digest, action, code, [[tag, action, code]...]]...]]`,
   * digests in digest order and each digest's tags in name order. Ages and sentences are left
   * out, so re-planning the same inventory later gives the same fingerprint as long as every
   * decision is the same.
   */
  fingerprint: string;
}

export interface PlanOptions {
  /**
   * Decide only repositories of this stage/team. The others are still read, so that bytes
   * they keep referencing are not counted as freed; they get no decisions.
   */
  scope?: PlanScope;
}

// ---------------------------------------------------------------------------------------

function inScope(repo: RepositoryInventory, scope: PlanScope): boolean {
  return (
    (scope.stage === undefined || repo.stage === scope.stage) && (scope.team === undefined || repo.team === scope.team)
  );
}

/** Deleted things whose bytes may be freed, per registry: digest → slot in the arrays. */
class Candidates {
  readonly slot = new Map<string, number>();
  readonly size: number[] = [];
  readonly decision: DigestRow[] = [];
  readonly plan: RepositoryPlan[] = [];
  add(digest: string, size: number, decision: DigestRow, plan: RepositoryPlan): void {
    if (this.slot.has(digest)) return;
    this.slot.set(digest, this.size.length);
    this.size.push(size);
    this.decision.push(decision);
    this.plan.push(plan);
  }
}

/**
 * How often each (hashed) digest occurs in a registry, saturating at 2. A count of 1 proves
 * that nothing else in the registry references the digest, which spares most deletions an
 * exact lookup; 2 means "maybe shared" and sends it to the exact path.
 */
class Occurrences {
  private table = new Uint8Array(0);
  private mask = 0;
  size = 0;
  allocate(): void {
    let n = 1024;
    while (n < 8 * this.size && n < 1 << 25) n *= 2;
    this.table = new Uint8Array(n);
    this.mask = n - 1;
  }
  add(digest: string): void {
    const x = tailHash(digest) & this.mask;
    if (this.table[x]! < 2) this.table[x]!++;
  }
  unique(digest: string): boolean {
    return this.table[tailHash(digest) & this.mask] === 1;
  }
}

/**
 * Bytes freed by the plan. Registries store content once per registry, so a blob (or, without
 * blob data, a manifest) is freed only when no manifest that stays, in any repository of the
 * same registry, still references it; it is counted once, for the first deletion in plan order.
 */
function account(
  work: readonly RepositoryWork[],
  context: readonly RepositoryInventory[],
): { accounting: Accounting; note: string } {
  let withBlobs = 0;
  let without = 0;
  const occurrences = new Map<string, Occurrences>();
  const occurrencesIn = (registry: string) => {
    let o = occurrences.get(registry);
    if (!o) occurrences.set(registry, (o = new Occurrences()));
    return o;
  };
  const each = (fn: (registry: string, rec: ManifestRecord, row: DigestRow | undefined) => void) => {
    for (const w of work) {
      for (let i = 0; i < w.rows.length; i++) {
        const rec = w.records[i];
        if (rec) fn(w.plan.registry, rec, w.rows[i]);
      }
    }
    for (const repo of context) for (const rec of repo.manifests) fn(repo.registry, rec, undefined);
  };
  each((registry, rec) => {
    if (rec.blobs) withBlobs++;
    else without++;
    occurrencesIn(registry).size += 1 + (rec.blobs?.length ?? 0);
  });
  for (const o of occurrences.values()) o.allocate();
  each((registry, rec) => {
    const o = occurrences.get(registry)!;
    o.add(rec.digest);
    if (rec.blobs) for (const b of rec.blobs) o.add(b.digest);
  });

  const maybeShared = new Map<string, Candidates>();
  const free = (registry: string, digest: string, size: number, row: DigestRow, plan: RepositoryPlan) => {
    if (occurrences.get(registry)!.unique(digest)) {
      row.freed += size;
      plan.bytesFreed += size;
      return;
    }
    let c = maybeShared.get(registry);
    if (!c) maybeShared.set(registry, (c = new Candidates()));
    c.add(digest, size, row, plan);
  };
  for (const w of work) {
    for (let i = 0; i < w.rows.length; i++) {
      const rec = w.records[i];
      const row = w.rows[i]!;
      if (!rec || row.action !== 'delete-manifest') continue;
      if (rec.blobs) for (const b of rec.blobs) free(w.plan.registry, b.digest, b.size, row, w.plan);
      // An index's size is its children's; they are counted when they go.
      else if (!isIndexType(rec.mediaType)) free(w.plan.registry, rec.digest, rec.size, row, w.plan);
    }
  }
  if (maybeShared.size > 0) {
    const still = new Map<Candidates, Uint8Array>();
    for (const c of maybeShared.values()) still.set(c, new Uint8Array(c.size.length));
    each((registry, rec, row) => {
      if (row?.action === 'delete-manifest') return;
      const c = maybeShared.get(registry);
      if (!c) return;
      const used = still.get(c)!;
      const o = occurrences.get(registry)!;
      const mark = (digest: string) => {
        if (o.unique(digest)) return;
        const j = c.slot.get(digest);
        if (j !== undefined) used[j] = 1;
      };
      mark(rec.digest);
      if (rec.blobs) for (const b of rec.blobs) mark(b.digest);
    });
    for (const [c, used] of still) {
      for (let j = 0; j < used.length; j++) {
        if (used[j]) continue;
        c.decision[j]!.freed += c.size[j]!;
        c.plan[j]!.bytesFreed += c.size[j]!;
      }
    }
  }
  if (without === 0) {
    return {
      accounting: 'blobs',
      note: 'blob level: a blob is freed when no manifest that stays in the same registry references it',
    };
  }
  if (withBlobs === 0) {
    return {
      accounting: 'manifests',
      note: 'manifest level (no blob data): sizes of deleted image manifests that no other repository of the registry keeps; layers shared with kept images count as freed, so this is an upper bound',
    };
  }
  return {
    accounting: 'mixed',
    note: 'blob level where blob data exists, manifest level elsewhere; an estimate',
  };
}

/**
 * Plans retention for every repository of the input (or those in `options.scope`). Decisions
 * refer to the input's records for ages, sizes and last pulls rather than copying them (see
 * rows.ts), so the input must not be changed while the plan is in use.
 */
export function planRetention(input: RetentionInput, options: PlanOptions = {}): RetentionPlan {
  if (!Number.isFinite(input.now)) throw invalid('the clock (now) must be a finite number of milliseconds');
  const scope: PlanScope = {};
  if (options.scope?.stage !== undefined) scope.stage = options.scope.stage;
  if (options.scope?.team !== undefined) scope.team = options.scope.team;
  const env = new Env(input.now, input.facts);
  env.fingerprint.update(`{"scope":${JSON.stringify([scope.stage ?? null, scope.team ?? null])},"repositories":[`);
  const repos = [...input.repositories].sort((a, b) => cmp(a.registry, b.registry) || cmp(a.repository, b.repository));
  for (let k = 1; k < repos.length; k++) {
    if (repos[k]!.registry === repos[k - 1]!.registry && repos[k]!.repository === repos[k - 1]!.repository) {
      throw invalid(`repository ${repos[k]!.repository} of registry ${repos[k]!.registry} is listed twice`, {
        registry: repos[k]!.registry,
        repository: repos[k]!.repository,
      });
    }
  }
  const work: RepositoryWork[] = [];
  const context: RepositoryInventory[] = [];
  for (const repo of repos) {
    if (inScope(repo, scope)) work.push(planRepository(env, repo));
    else context.push(repo);
  }
  const { accounting, note } = account(work, context);
  const plans = work.map((w) => w.plan);
  const totals = {
    repositories: plans.length,
    tags: 0,
    tagsDeleted: 0,
    manifests: 0,
    manifestsDeleted: 0,
    bytesFreed: 0,
  };
  for (const p of plans) {
    totals.tags += p.tags.length;
    totals.tagsDeleted += p.tagsDeleted;
    totals.manifests += p.digests.length;
    totals.manifestsDeleted += p.manifestsDeleted;
    totals.bytesFreed += p.bytesFreed;
  }
  return {
    formatVersion: 1,
    now: input.now,
    scope,
    accounting,
    accountingNote: note,
    repositories: plans,
    totals,
    fingerprint: env.fingerprint.update(']}').digest('hex'),
  };
}

// ---------------------------------------------------------------------------------------

/**
 * The inventory as it is after the plan was carried out, as the registry would show it: a
 * deleted manifest takes every tag still on it. Apply uses it to re-validate; the property
 * tests use it to check that a second plan deletes nothing more. Throws RETENTION_PLAN_STALE
 * when the plan deletes a tag that no longer points where it did.
 */
export function applyPlanToInventory(input: RetentionInput, plan: RetentionPlan): RetentionInput {
  const plans = new Map<string, RepositoryPlan>();
  for (const p of plan.repositories) plans.set(`${p.registry}\u0000${p.repository}`, p);
  const repositories = input.repositories.map((repo) => {
    const p = plans.get(`${repo.registry}\u0000${repo.repository}`);
    if (!p) return repo;
    const current = new Map(repo.tags.map((t) => [t.tag, t.digest] as const));
    const deleteTags = new Set<string>();
    for (const t of p.tags) {
      if (t.action !== 'delete') continue;
      const now = current.get(t.tag);
      if (now !== undefined && now !== t.digest) {
        throw new SluiceError(
          'RETENTION_PLAN_STALE',
          'conflict',
          `tag ${t.tag} now points to ${now}, not ${t.digest} as planned; plan again`,
          { registry: repo.registry, repository: repo.repository, reference: t.tag, digest: t.digest },
        );
      }
      deleteTags.add(t.tag);
    }
    const deleteManifests = new Set<string>();
    for (const d of p.digests) if (d.action === 'delete-manifest') deleteManifests.add(d.digest);
    return {
      ...repo,
      tags: repo.tags.filter((t) => !deleteTags.has(t.tag) && !deleteManifests.has(t.digest)),
      manifests: repo.manifests.filter((m) => !deleteManifests.has(m.digest)),
    };
  });
  return { ...input, repositories };
}
