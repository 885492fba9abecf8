/**
 * Carries out a retention plan against the registries, exactly and only what it lists, and
 * only what still holds: before anything is deleted from a repository, its tags are listed
 * again to the end and read again, and every planned deletion is checked against that fresh
 * view and against holds placed since the plan. Whatever changed is skipped and reported.
 *
 * Order within a repository is the plan's (referrers before subjects, indexes before their
 * children); the first failure stops that repository, so nothing is left referring to
 * something deleted, and a re-run of the same plan finishes the job.
 */
import { randomUUID } from 'node:crypto';
import type { Selectable } from 'kysely';
import { SluiceError, asSluiceError } from '../errors.ts';
import { refreshReference, type RegistryRef } from '../inventory/sync.ts';
import { CopyEngine, mapLimit } from '../oci/copy.ts';
import { subjectOfCosignTag } from '../oci/cosign.ts';
import { hasRole, type Actor } from '../promotion/actor.ts';
import { activeHolds } from '../promotion/records.ts';
import { parseRepositoryPath, stageByName } from '../policy/index.ts';
import { harborTagDeleter, quayTagDeleter, type TagDeleter } from '../registries/vendor.ts';
import { inventoryFor, type Runtime } from '../runtime.ts';
import type { TrashTable } from '../store/index.ts';
import { subjectOfReferrersTag } from './model.ts';
import type { RepositoryPlan, RetentionPlan } from './plan.ts';

export const TRASH_PREFIX = 'sluice-trash';
const DAY = 86_400_000;

export interface ApplyOptions {
  /** Run by the scheduler at a scheduled repository's time (otherwise scheduled repositories are skipped). */
  scheduled?: boolean;
  /** Say what would happen; change nothing (not even notices). */
  dryRun?: boolean;
}

export type ItemOutcome = 'deleted' | 'skipped' | 'failed' | 'not-attempted' | 'noticed';

export interface ItemReport {
  kind: 'tag' | 'manifest';
  /** Tag name or digest. */
  item: string;
  digest: string;
  outcome: ItemOutcome;
  detail: string;
}

export interface RepositoryApplyReport {
  registry: string;
  repository: string;
  mode: string;
  items: ItemReport[];
  bytesFreed: number;
}

export interface ApplyReport {
  fingerprint: string;
  repositories: RepositoryApplyReport[];
  totals: Record<ItemOutcome, number> & { bytesFreed: number };
  /** Reminders (Distribution only frees blob storage with its offline garbage-collect). */
  notes: string[];
}

/** The trash repository of a repository: same registry, so trashing is a mount, not a copy. */
export function trashRepositoryOf(repository: string): string {
  return `${TRASH_PREFIX}/${repository}`;
}

function tagDeleterFor(rt: Runtime, reg: RegistryRef): Promise<TagDeleter | undefined> {
  return (async () => {
    if (reg.kind !== 'quay' && reg.kind !== 'harbor') return undefined;
    const cred = await rt.credentials.lookup(reg.host);
    return reg.kind === 'quay' ? quayTagDeleter(reg.url, cred) : harborTagDeleter(reg.url, cred);
  })();
}

async function approved(rt: Runtime, fingerprint: string): Promise<{ by: string; at: number } | undefined> {
  const row = await rt.store.db
    .selectFrom('retention_approvals')
    .selectAll()
    .where('fingerprint', '=', fingerprint)
    .executeTakeFirst();
  return row ? { by: row.approved_by, at: row.approved_at } : undefined;
}

/** Records that a reviewed plan may be applied (manual mode): by the responsible role of every stage it deletes in. */
export async function approvePlan(rt: Runtime, actor: Actor, plan: RetentionPlan): Promise<void> {
  for (const rp of plan.repositories) {
    if (rp.mode !== 'manual' || rp.tagsDeleted + rp.manifestsDeleted === 0) continue;
    const stage = rp.stage ? stageByName(rt.policy, rp.stage) : undefined;
    const role = stage?.responsibleRole ?? 'platform-admin';
    if (!rp.team || !hasRole(actor, rp.team, role)) {
      throw new SluiceError(
        'FORBIDDEN',
        'forbidden',
        `${actor.name} may not approve deletions in ${rp.repository}: needs role ${role} of team ${rp.team ?? '(none)'}`,
      );
    }
  }
  await rt.store.transaction(async (tx) => {
    await tx.db
      .insertInto('retention_approvals')
      .values({
        fingerprint: plan.fingerprint,
        approved_by: actor.name,
        approved_at: rt.now(),
        scope: JSON.stringify(plan.scope),
      })
      .onConflict((oc) => oc.column('fingerprint').doNothing())
      .execute();
    await rt.audit(tx, {
      actor: actor.name,
      action: 'retention.approve',
      reason: `retention plan ${plan.fingerprint.slice(0, 16)} approved: ${plan.totals.tagsDeleted} tags, ${plan.totals.manifestsDeleted} manifests`,
      result: 'success',
      details: { fingerprint: plan.fingerprint, scope: plan.scope as Record<string, unknown> },
    });
  });
}

/** Items announced for deletion and when each may go. Records new notices as a side effect. */
async function notices(
  rt: Runtime,
  rp: RepositoryPlan,
  items: Array<{ digest: string; tag: string }>,
  now: number,
  dryRun: boolean,
): Promise<Map<string, number>> {
  const rows = await rt.store.db
    .selectFrom('retention_notices')
    .select(['digest', 'tag', 'delete_after'])
    .where('registry', '=', rp.registry)
    .where('repository', '=', rp.repository)
    .execute();
  const due = new Map(rows.map((r) => [`${r.digest}\u0000${r.tag}`, r.delete_after]));
  const fresh = items.filter((i) => !due.has(`${i.digest}\u0000${i.tag}`));
  const after = now + (rp.noticeDays ?? 7) * DAY;
  if (!dryRun && fresh.length) {
    await rt.store.transaction(async (tx) => {
      for (const i of fresh) {
        await tx.db
          .insertInto('retention_notices')
          .values({
            registry: rp.registry,
            repository: rp.repository,
            digest: i.digest,
            tag: i.tag,
            noticed_at: now,
            delete_after: after,
          })
          .onConflict((oc) => oc.doNothing())
          .execute();
      }
      await rt.audit(tx, {
        actor: 'system:retention',
        action: 'retention.notice',
        repository: rp.repository,
        reason: `${fresh.length} item(s) will be deleted after ${new Date(after).toISOString()}`,
        result: 'success',
        details: { items: fresh.slice(0, 100).map((i) => `${i.tag || i.digest}`) },
      });
    });
  }
  if (!dryRun && fresh.length) {
    const team = rp.team ? rt.policy.teams.find((t) => t.name === rp.team) : undefined;
    await rt.notify('retention.notice', {
      subject: rp.repository,
      summary: `${fresh.length} image(s) of ${rp.repository} will be deleted after ${new Date(after).toISOString().slice(0, 10)} (retention, notice of ${rp.noticeDays ?? 7} days)`,
      data: {
        team: rp.team ?? null,
        contact: team?.contact ?? null,
        deleteAfter: new Date(after).toISOString(),
        items: fresh.slice(0, 100).map((i) => i.tag || i.digest),
      },
    });
  }
  for (const i of fresh) due.set(`${i.digest}\u0000${i.tag}`, after);
  return due;
}

export async function applyPlan(
  rt: Runtime,
  actor: Actor,
  plan: RetentionPlan,
  options: ApplyOptions = {},
): Promise<ApplyReport> {
  const report: ApplyReport = {
    fingerprint: plan.fingerprint,
    repositories: [],
    totals: { deleted: 0, skipped: 0, failed: 0, 'not-attempted': 0, noticed: 0, bytesFreed: 0 },
    notes: [],
  };
  const approval = await approved(rt, plan.fingerprint);
  let distributionTouched = false;
  for (const rp of plan.repositories) {
    if (rp.deletions.tags.length === 0 && rp.deletions.manifests.length === 0) continue;
    const reg = rt.registries.find((r) => r.name === rp.registry);
    if (!reg) continue;
    const out: RepositoryApplyReport = {
      registry: rp.registry,
      repository: rp.repository,
      mode: rp.mode,
      items: [],
      bytesFreed: 0,
    };
    report.repositories.push(out);
    const planned = planItems(rp);
    const skipAll = (why: string, outcome: ItemOutcome = 'skipped') => {
      for (const p of planned) out.items.push({ ...p, outcome, detail: why });
    };
    if (rp.incomplete) {
      skipAll(`inventory incomplete: ${rp.incomplete}`);
      continue;
    }
    const responsible = rp.stage ? stageByName(rt.policy, rp.stage)?.responsibleRole : undefined;
    if (rp.team && !actor.system && !hasRole(actor, rp.team, 'operations', ...(responsible ? [responsible] : []))) {
      skipAll(
        `${actor.name} may not apply retention for team ${rp.team} (needs ${responsible ?? 'operations'} or operations)`,
      );
      continue;
    }
    if (rp.mode === 'manual' && !approval) {
      skipAll(
        `mode manual: plan ${plan.fingerprint.slice(0, 16)} is not approved (sluice retention approve --plan FILE)`,
      );
      continue;
    }
    if (rp.mode === 'scheduled' && !options.scheduled) {
      skipAll(`mode scheduled: runs at ${rp.schedule ?? 'its schedule'} from the server's scheduler`);
      continue;
    }
    const now = rt.now();
    let due: Map<string, number> | undefined;
    if (rp.mode === 'notice') {
      due = await notices(
        rt,
        rp,
        planned.map((p) => ({ digest: p.digest, tag: p.kind === 'tag' ? p.item : '' })),
        now,
        !!options.dryRun,
      );
    }
    try {
      await applyRepository(rt, actor, reg, rp, planned, out, { now, dryRun: !!options.dryRun, due });
    } catch (err) {
      // Only infrastructure errors outside a single item get here (e.g. the fresh listing failed).
      const e = asSluiceError(err);
      for (const p of planned)
        if (!out.items.some((i) => i.item === p.item && i.kind === p.kind))
          out.items.push({ ...p, outcome: 'not-attempted', detail: e.message });
    }
    if (reg.kind === 'distribution' && out.items.some((i) => i.outcome === 'deleted' && i.kind === 'manifest'))
      distributionTouched = true;
  }
  for (const r of report.repositories) {
    for (const i of r.items) report.totals[i.outcome]++;
    report.totals.bytesFreed += r.bytesFreed;
  }
  if (!options.dryRun && report.totals.deleted > 0) {
    await rt.notify('retention.applied', {
      subject: plan.fingerprint,
      summary: `retention deleted ${report.totals.deleted} item(s), freeing ${report.totals.bytesFreed} bytes; ${report.totals.skipped} skipped, ${report.totals.failed} failed`,
      data: { totals: report.totals, repositories: report.repositories.map((r) => r.repository) },
    });
  }
  if (distributionTouched) {
    report.notes.push(
      'CNCF Distribution frees blob storage only in its offline garbage collection: put the registry in read-only mode (or stop it) and run `registry garbage-collect --delete-untagged=false <config>`.',
    );
  }
  return report;
}

interface PlannedItem {
  kind: 'tag' | 'manifest';
  item: string;
  digest: string;
  freed: number;
  /** Deletions this one hangs on (its deleted index, the subject it signs): all must go first. */
  after: readonly string[];
}

function planItems(rp: RepositoryPlan): PlannedItem[] {
  const tagDigest = new Map(rp.tags.map((t) => [t.tag, t.digest]));
  const freed = new Map(rp.digests.map((d) => [d.digest, d.freed]));
  return [
    ...rp.deletions.tags.map((t) => ({
      kind: 'tag' as const,
      item: t,
      digest: tagDigest.get(t) ?? '',
      freed: 0,
      after: [],
    })),
    ...rp.deletions.manifests.map((d, k) => ({
      kind: 'manifest' as const,
      item: d,
      digest: d,
      freed: freed.get(d) ?? 0,
      after: rp.deletions.after[k] ?? [],
    })),
  ];
}

async function applyRepository(
  rt: Runtime,
  actor: Actor,
  reg: RegistryRef,
  rp: RepositoryPlan,
  planned: PlannedItem[],
  out: RepositoryApplyReport,
  ctx: { now: number; dryRun: boolean; due: Map<string, number> | undefined },
): Promise<void> {
  const client = rt.pool.get(reg.host);
  // The registry now, read to the end: a delete by digest must know every tag on it.
  const tags = await client.listTags(rp.repository);
  const heads = await mapLimit(
    tags,
    8,
    async (t) => [t, (await client.headManifest(rp.repository, t))?.digest] as const,
  );
  const live = new Map<string, string>();
  for (const [t, d] of heads) if (d) live.set(t, d);
  const plannedTagDeletes = new Set(
    rp.tags.filter((t) => t.action === 'delete').map((t) => `${t.tag}\u0000${t.digest}`),
  );
  const holds = new Set(
    (
      await activeHolds(
        rt.store,
        planned.map((p) => p.digest),
      )
    ).map((h) => h.digest),
  );
  const deleter = rp.tagDelete ? await tagDeleterFor(rt, reg) : undefined;
  let stopped: string | undefined;
  let trashSeq = 0;
  // Manifests gone from the repository in this run (or already before it).
  const gone = new Set<string>();

  for (const p of planned) {
    const record = (outcome: ItemOutcome, detail: string) =>
      out.items.push({ kind: p.kind, item: p.item, digest: p.digest, outcome, detail });
    if (stopped) {
      record('not-attempted', `stopped after an earlier failure: ${stopped}`);
      continue;
    }
    if (holds.has(p.digest)) {
      record('skipped', 'quarantined or under legal hold since the plan was made');
      continue;
    }
    if (ctx.due) {
      const at = ctx.due.get(`${p.digest}\u0000${p.kind === 'tag' ? p.item : ''}`) ?? Infinity;
      if (at > ctx.now) {
        record('noticed', `announced; deleted after ${new Date(at).toISOString()}`);
        continue;
      }
    }
    // Re-validate against the fresh listing.
    if (p.kind === 'tag') {
      if (live.get(p.item) !== p.digest) {
        record('skipped', live.has(p.item) ? `tag now points to ${live.get(p.item)}` : 'tag is already gone');
        continue;
      }
    } else {
      const waiting = p.after.filter((d) => !gone.has(d));
      if (waiting.length) {
        // What it hangs on stays (it gained a tag since the plan): so does it.
        record('skipped', `depends on ${waiting.map((d) => d.slice(0, 19)).join(', ')}, which was not deleted`);
        continue;
      }
      const holders = [...live].filter(([, d]) => d === p.digest).map(([t]) => t);
      const unplanned = holders.filter((t) => !plannedTagDeletes.has(`${t}\u0000${p.digest}`));
      if (unplanned.length) {
        record('skipped', `tag ${unplanned.join(', ')} now points to it`);
        continue;
      }
      if (!(await client.headManifest(rp.repository, p.digest))) {
        gone.add(p.digest);
        record('skipped', 'manifest is already gone');
        continue;
      }
    }
    if (ctx.dryRun) {
      if (p.kind === 'manifest') gone.add(p.digest);
      record('deleted', 'would be deleted (dry run)');
      continue;
    }
    try {
      const tagsOnIt = p.kind === 'tag' ? [p.item] : [...live].filter(([, d]) => d === p.digest).map(([t]) => t);
      if (rp.trash.enabled) {
        await trash(rt, actor, reg, rp, p, tagsOnIt, ctx.now, trashSeq++);
      }
      if (p.kind === 'tag') {
        if (deleter) await deleter.deleteTag(rp.repository, p.item, p.digest);
        else await client.deleteTag(rp.repository, p.item);
        live.delete(p.item);
      } else {
        await client.deleteManifest(rp.repository, p.digest);
        gone.add(p.digest);
        for (const t of tagsOnIt) live.delete(t);
      }
      out.bytesFreed += p.freed;
      record(
        'deleted',
        p.kind === 'tag'
          ? `tag removed; ${p.digest} stays`
          : `manifest deleted${tagsOnIt.length ? ` with tags ${tagsOnIt.join(', ')}` : ''}`,
      );
      await rt.audit(rt.store, {
        actor: actor.name,
        action: 'deletion',
        repository: `${reg.host}/${rp.repository}`,
        digest: p.digest,
        tag: p.kind === 'tag' ? p.item : (tagsOnIt[0] ?? null),
        reason: `retention: ${rp.digests.find((d) => d.digest === p.digest)?.reason ?? rp.tags.find((t) => t.tag === p.item)?.reason ?? 'planned'}`,
        result: 'success',
        details: { kind: p.kind, tags: tagsOnIt, trash: rp.trash.enabled },
      });
      await refreshReference(
        inventoryFor(rt, reg),
        reg,
        rp.repository,
        p.kind === 'tag' ? { tag: p.item } : { digest: p.digest },
        'retention deletion',
      ).catch(() => undefined);
    } catch (err) {
      const e = asSluiceError(err);
      stopped = e.message;
      record('failed', e.message);
      await rt
        .audit(rt.store, {
          actor: actor.name,
          action: 'deletion',
          repository: `${reg.host}/${rp.repository}`,
          digest: p.digest,
          tag: p.kind === 'tag' ? p.item : null,
          reason: e.message,
          result: 'failure',
        })
        .catch(() => undefined);
    }
  }
}

/** Keeps a deleted digest reachable from the trash repository until its window ends. */
async function trash(
  rt: Runtime,
  actor: Actor,
  reg: RegistryRef,
  rp: RepositoryPlan,
  p: PlannedItem,
  tags: string[],
  now: number,
  seq: number,
): Promise<void> {
  const trashRepository = trashRepositoryOf(rp.repository);
  const trashTag = `t${now}-${seq}`;
  const copy = await new CopyEngine(rt.pool).copy(
    {
      source: { registry: reg.host, repository: rp.repository, digest: p.digest },
      target: { registry: reg.host, repository: trashRepository, tag: trashTag },
    },
    { referrers: false },
  );
  await rt.store.transaction(async (tx) => {
    for (const tag of tags.length ? tags : [null]) {
      await tx.db
        .insertInto('trash')
        .values({
          id: randomUUID(),
          registry: rp.registry,
          repository: rp.repository,
          tag,
          digest: p.digest,
          media_type: copy.mediaType,
          trash_repository: trashRepository,
          trash_tag: trashTag,
          reason: 'retention',
          trashed_by: actor.name,
          trashed_at: now,
          purge_after: now + rp.trash.window,
          restored_at: null,
          restored_by: null,
          purged_at: null,
        })
        .execute();
    }
  });
}

export interface RestoredArtifact {
  /** `sha256-<hex>.sig|.att|.sbom`, the referrers tag, or null for an untagged OCI referrer. */
  tag: string | null;
  digest: string;
  /** The restored manifest this one signs, attests or refers to. */
  subject: string;
}

export interface RestoreResult {
  registry: string;
  repository: string;
  tag: string | null;
  digest: string;
  /** Signatures, attestations, SBOMs and referrers trashed with the image, back with it. */
  artifacts: RestoredArtifact[];
  /** Trashed artifacts left in the trash, and why (the repository holds a newer one under that tag). */
  artifactsLeft: Array<RestoredArtifact & { reason: string }>;
}

type TrashRow = Selectable<TrashTable>;

/** The live trash entry to restore: the newest for the tag or digest asked for. */
async function trashEntry(
  rt: Runtime,
  where: { registry: RegistryRef; repository: string; tag?: string; digest?: string },
): Promise<TrashRow | undefined> {
  return rt.store.db
    .selectFrom('trash')
    .selectAll()
    .where('registry', '=', where.registry.name)
    .where('repository', '=', where.repository)
    .where('restored_at', 'is', null)
    .where('purged_at', 'is', null)
    .$if(where.tag !== undefined, (q) => q.where('tag', '=', where.tag!))
    .$if(where.digest !== undefined, (q) => q.where('digest', '=', where.digest!))
    .orderBy('trashed_at', 'desc')
    .executeTakeFirst();
}

/**
 * Trash entries that belong to a trashed manifest: its cosign signatures, attestations and
 * SBOMs (`sha256-<hex>.sig|.att|.sbom`), its referrers-tag index (`sha256-<hex>`), and OCI
 * referrers whose `subject` is it (known from the inventory). They were deleted because it
 * was (`follows:subject-deleted`), so they come back with it. The newest entry per tag.
 */
async function trashedArtifactsOf(rt: Runtime, row: TrashRow, subject: string): Promise<TrashRow[]> {
  const live = await rt.store.db
    .selectFrom('trash')
    .selectAll()
    .where('registry', '=', row.registry)
    .where('repository', '=', row.repository)
    .where('restored_at', 'is', null)
    .where('purged_at', 'is', null)
    .where('id', '!=', row.id)
    .orderBy('trashed_at', 'desc')
    .execute();
  const untagged = live.filter((r) => r.tag === null).map((r) => r.digest);
  const referrers = new Set(
    untagged.length === 0
      ? []
      : (
          await rt.store.db
            .selectFrom('manifests')
            .select('digest')
            .where('registry', '=', row.registry)
            .where('subject_digest', '=', subject)
            .where('digest', 'in', untagged)
            .execute()
        ).map((m) => m.digest),
  );
  const out: TrashRow[] = [];
  const seen = new Set<string>();
  for (const r of live) {
    const about =
      r.tag === null
        ? referrers.has(r.digest)
          ? subject
          : undefined
        : (subjectOfCosignTag(r.tag)?.digest ?? subjectOfReferrersTag(r.tag));
    if (about !== subject) continue;
    const key = r.tag ?? r.digest;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(r);
  }
  return out;
}

/**
 * Puts a trashed tag (or untagged digest) back, from the trash repository, within its window,
 * with the signatures, attestations and referrers that were trashed with it (and theirs).
 */
export async function restore(
  rt: Runtime,
  actor: Actor,
  where: { registry: RegistryRef; repository: string; tag?: string; digest?: string },
): Promise<RestoreResult> {
  const row = await trashEntry(rt, where);
  if (!row) {
    throw new SluiceError(
      'TRASH_ENTRY_NOT_FOUND',
      'not-found',
      `nothing to restore for ${where.repository}${where.tag ? `:${where.tag}` : ''}${where.digest ? `@${where.digest}` : ''} (not trashed, already restored, or purged after its window)`,
    );
  }
  const owner = parseRepositoryPath(rt.policy, row.repository, { registry: row.registry });
  if (owner && !hasRole(actor, owner.team, 'platform-admin', 'release-manager', 'operations')) {
    throw new SluiceError('FORBIDDEN', 'forbidden', `${actor.name} may not restore images of team ${owner.team}`);
  }
  const host = where.registry.host;
  const engine = new CopyEngine(rt.pool);
  const client = rt.pool.get(host);
  const put = (r: TrashRow) =>
    engine.copy(
      {
        source: { registry: host, repository: r.trash_repository, digest: r.digest },
        target: { registry: host, repository: r.repository, ...(r.tag ? { tag: r.tag } : {}) },
      },
      { referrers: false },
    );
  await put(row);

  // The image first, then what refers to it: a signature never points at nothing.
  const restored: Array<{ row: TrashRow; subject: string }> = [];
  const left: RestoreResult['artifactsLeft'] = [];
  const visited = new Set<string>([row.id]);
  const queue = [row.digest];
  while (queue.length > 0) {
    const subject = queue.shift()!;
    for (const a of await trashedArtifactsOf(rt, row, subject)) {
      if (visited.has(a.id)) continue;
      visited.add(a.id);
      if (a.tag !== null) {
        // Re-signed since it was deleted: the repository's signatures are newer; keep them.
        const now = await client.headManifest(a.repository, a.tag);
        if (now && now.digest !== a.digest) {
          left.push({
            tag: a.tag,
            digest: a.digest,
            subject,
            reason: `${a.tag} exists again with ${now.digest}; left as it is`,
          });
          continue;
        }
      }
      await put(a);
      restored.push({ row: a, subject });
      queue.push(a.digest);
    }
  }

  await rt.store.transaction(async (tx) => {
    const at = rt.now();
    await tx.db
      .updateTable('trash')
      .set({ restored_at: at, restored_by: actor.name })
      .where('id', 'in', [row.id, ...restored.map((r) => r.row.id)])
      .execute();
    await rt.audit(tx, {
      actor: actor.name,
      action: 'retention.restore',
      repository: `${host}/${row.repository}`,
      digest: row.digest,
      tag: row.tag,
      reason: `restored from ${row.trash_repository}:${row.trash_tag}${restored.length ? ` with ${restored.length} signature(s), attestation(s) or referrer(s)` : ''}`,
      result: 'success',
      details: {
        artifacts: restored.slice(0, 100).map((r) => ({ tag: r.row.tag, digest: r.row.digest, subject: r.subject })),
        ...(left.length ? { left: left.slice(0, 100) } : {}),
      },
    });
    for (const r of restored) {
      await rt.audit(tx, {
        actor: actor.name,
        action: 'retention.restore',
        repository: `${host}/${r.row.repository}`,
        digest: r.row.digest,
        tag: r.row.tag,
        reason: `restored from ${r.row.trash_repository}:${r.row.trash_tag} with ${r.subject}, which it refers to`,
        result: 'success',
        details: { subject: r.subject },
      });
    }
  });
  const inventory = inventoryFor(rt, where.registry);
  for (const r of [row, ...restored.map((x) => x.row)]) {
    await refreshReference(
      inventory,
      where.registry,
      r.repository,
      r.tag ? { tag: r.tag } : { digest: r.digest },
      'restore',
    ).catch(() => undefined);
  }
  return {
    registry: where.registry.name,
    repository: row.repository,
    tag: row.tag,
    digest: row.digest,
    artifacts: restored.map((r) => ({ tag: r.row.tag, digest: r.row.digest, subject: r.subject })),
    artifactsLeft: left,
  };
}

/** Deletes trash entries whose window has ended; a trashed manifest goes when no live entry needs it. */
export async function purgeTrash(rt: Runtime): Promise<{ purged: number; kept: number }> {
  const now = rt.now();
  const expired = await rt.store.db
    .selectFrom('trash')
    .selectAll()
    .where('purged_at', 'is', null)
    .where('purge_after', '<=', now)
    .execute();
  let purged = 0;
  let kept = 0;
  for (const row of expired) {
    const reg = rt.registries.find((r) => r.name === row.registry);
    if (!reg) continue;
    const others = await rt.store.db
      .selectFrom('trash')
      .select('id')
      .where('trash_repository', '=', row.trash_repository)
      .where('digest', '=', row.digest)
      .where('purged_at', 'is', null)
      .where('restored_at', 'is', null)
      .where('purge_after', '>', now)
      .execute();
    if (others.length === 0) {
      // Deleting by digest removes every trash tag on it; only expired entries point there now.
      await rt.pool.get(reg.host).deleteManifest(row.trash_repository, row.digest);
    } else {
      kept++;
    }
    await rt.store.transaction(async (tx) => {
      await tx.db.updateTable('trash').set({ purged_at: now }).where('id', '=', row.id).execute();
      await rt.audit(tx, {
        actor: 'system:retention',
        action: 'retention.purge',
        repository: `${reg.host}/${row.repository}`,
        digest: row.digest,
        tag: row.tag,
        reason: `trash window ended ${new Date(row.purge_after).toISOString()}`,
        result: 'success',
      });
    });
    purged++;
  }
  return { purged, kept };
}
