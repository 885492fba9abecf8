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
import { refreshReference } from '../inventory/sync.ts';
import type { RegistryRef } from '../oci/registry-ref.ts';
import { CopyEngine } from '../oci/copy.ts';
import { mapLimit } from '../util/concurrency.ts';
import { subjectOfCosignTag } from '../oci/cosign.ts';
import { hasRole, type Actor } from '../auth/actor.ts';
import { activeHolds } from '../holds/records.ts';
import { parseRepositoryPath, stageByName } from '../policy/index.ts';
import { harborTagDeleter, quayTagDeleter, type TagDeleter } from '../registries/vendor.ts';
import { inventoryFor, type Runtime } from '../runtime.ts';
import { reconcileIntents, intentTargetGone } from '../inventory/intents.ts';
import { recordIntent, settleIntent, settleSuperseded, type OperationIntent } from '../audit/index.ts';
import type { StoreTx, TrashTable } from '../store/index.ts';
import { subjectOfReferrersTag } from './model.ts';
import type { RepositoryPlan, RetentionPlan } from './plan.ts';

export const TRASH_PREFIX = 'sluice-trash';
const DAY = 86_400_000;

export interface ApplyOptions {
  /** Run by the scheduler at a scheduled repository's time (otherwise scheduled repositories are skipped). */
  scheduled?: boolean;
  /** Say what would happen; change nothing (not even notices). */
  dryRun?: boolean;
  /**
   * Aborted when the run must stop (the scheduler lost its lease): no further deletion starts,
   * and the items left are reported `not-attempted` with the reason.
   */
  signal?: AbortSignal;
}

export type ItemOutcome = 'deleted' | 'skipped' | 'failed' | 'not-attempted' | 'noticed';

/**
 * Why an item was skipped (or not attempted), for scripts and for the exit code: `gone` means
 * what the plan wanted is already true; every other cause means it was not done.
 */
export type SkipCause =
  'forbidden' | 'not-approved' | 'scheduled' | 'incomplete' | 'held' | 'changed' | 'gone' | 'stopped' | 'error';

export interface ItemReport {
  kind: 'tag' | 'manifest';
  /** Tag name or digest. */
  item: string;
  digest: string;
  outcome: ItemOutcome;
  detail: string;
  /** For skipped and not-attempted items. */
  cause?: SkipCause;
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
  /** This run, as the audit records of its deletions name it (`details.run`). */
  run: string;
  actor: string;
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
    // The registry's own transport: its CA bundle and `insecure` setting apply to its REST API too.
    const transport = rt.pool.get(reg.host).transport;
    return reg.kind === 'quay' ? quayTagDeleter(reg.url, cred, transport) : harborTagDeleter(reg.url, cred, transport);
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
    await rt.events.publish('retention.notice', {
      repository: rp.repository,
      team: rp.team ?? null,
      items: fresh.length,
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
  const runId = randomUUID();
  const report: ApplyReport = {
    fingerprint: plan.fingerprint,
    run: runId,
    actor: actor.name,
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
    const skipAll = (why: string, cause: SkipCause) => {
      for (const p of planned)
        out.items.push({ kind: p.kind, item: p.item, digest: p.digest, outcome: 'skipped', detail: why, cause });
    };
    if (rp.incomplete) {
      skipAll(`inventory incomplete: ${rp.incomplete}`, 'incomplete');
      continue;
    }
    const responsible = rp.stage ? stageByName(rt.policy, rp.stage)?.responsibleRole : undefined;
    if (rp.team && !actor.system && !hasRole(actor, rp.team, 'operations', ...(responsible ? [responsible] : []))) {
      skipAll(
        `${actor.name} may not apply retention for team ${rp.team} (needs ${responsible ?? 'operations'} or operations)`,
        'forbidden',
      );
      continue;
    }
    if (rp.mode === 'manual' && !approval) {
      skipAll(
        `mode manual: plan ${plan.fingerprint.slice(0, 16)} is not approved (sluice retention approve --plan FILE)`,
        'not-approved',
      );
      continue;
    }
    if (rp.mode === 'scheduled' && !options.scheduled) {
      skipAll(`mode scheduled: runs at ${rp.schedule ?? 'its schedule'} from the server's scheduler`, 'scheduled');
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
      await applyRepository(rt, actor, reg, rp, planned, out, {
        now,
        dryRun: !!options.dryRun,
        due,
        runId,
        signal: options.signal,
      });
    } catch (err) {
      // Only infrastructure errors outside a single item get here (e.g. the fresh listing failed).
      const e = asSluiceError(err);
      for (const p of planned)
        if (!out.items.some((i) => i.item === p.item && i.kind === p.kind))
          out.items.push({
            kind: p.kind,
            item: p.item,
            digest: p.digest,
            outcome: 'not-attempted',
            detail: e.message,
            cause: 'error',
          });
    }
    if (reg.kind === 'distribution' && out.items.some((i) => i.outcome === 'deleted' && i.kind === 'manifest'))
      distributionTouched = true;
  }
  for (const r of report.repositories) {
    for (const i of r.items) report.totals[i.outcome]++;
    report.totals.bytesFreed += r.bytesFreed;
  }
  if (!options.dryRun && report.totals.deleted > 0) {
    await rt.events.publish('retention.applied', {
      fingerprint: plan.fingerprint,
      deleted: report.totals.deleted,
      failed: report.totals.failed,
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

/** Skipped items by cause, for summaries. */
export function skipCounts(report: ApplyReport): Partial<Record<SkipCause, number>> {
  const out: Partial<Record<SkipCause, number>> = {};
  for (const r of report.repositories) for (const i of r.items) if (i.cause) out[i.cause] = (out[i.cause] ?? 0) + 1;
  return out;
}

export interface ApplyShortfall {
  code: 'RETENTION_INCOMPLETE' | 'RETENTION_FORBIDDEN' | 'RETENTION_NOTHING_APPLIED';
  category: 'unavailable' | 'forbidden' | 'conflict';
  message: string;
  counts: ApplyReport['totals'] & { planned: number; skippedBy: Partial<Record<SkipCause, number>> };
}

/**
 * Whether an apply fell short of what it was asked to do, and how, so that callers (the
 * CLI's exit code) never report success for it: a deletion failed; items were skipped
 * because the actor lacks the role; or nothing planned was done (every item skipped, none of
 * them because it was already gone). Undefined when the apply did its job, including a plan
 * with nothing to delete.
 */
export function applyShortfall(report: ApplyReport): ApplyShortfall | undefined {
  const t = report.totals;
  const skippedBy = skipCounts(report);
  const planned = t.deleted + t.skipped + t.failed + t['not-attempted'] + t.noticed;
  const counts = { ...t, planned, skippedBy };
  const breakdown = Object.entries(skippedBy)
    .map(([cause, n]) => `${cause} ${n}`)
    .join(', ');
  const summary = `deleted ${t.deleted} of ${planned} planned item(s)${t.noticed ? `, noticed ${t.noticed}` : ''}, skipped ${t.skipped}${breakdown ? ` (${breakdown})` : ''}, failed ${t.failed}, not attempted ${t['not-attempted']}`;
  if (t.failed > 0) {
    return {
      code: 'RETENTION_INCOMPLETE',
      category: 'unavailable',
      message: `${t.failed} deletion(s) failed; run the same apply again to finish: ${summary}`,
      counts,
    };
  }
  if (skippedBy.forbidden) {
    const why = [
      ...new Set(
        report.repositories.flatMap((r) => r.items.filter((i) => i.cause === 'forbidden').map((i) => i.detail)),
      ),
    ];
    return {
      code: 'RETENTION_FORBIDDEN',
      category: 'forbidden',
      message: `${skippedBy.forbidden} item(s) skipped for lack of permission: ${why.slice(0, 3).join('; ')}${why.length > 3 ? `; and ${why.length - 3} more` : ''}: ${summary}`,
      counts,
    };
  }
  const done = t.deleted + t.noticed + (skippedBy.gone ?? 0);
  if (planned > 0 && done === 0) {
    return {
      code: 'RETENTION_NOTHING_APPLIED',
      category: 'conflict',
      message: `nothing applied: ${summary}`,
      counts,
    };
  }
  return undefined;
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
  ctx: { now: number; dryRun: boolean; due: Map<string, number> | undefined; runId: string; signal?: AbortSignal },
): Promise<void> {
  const client = rt.pool.get(reg.host);
  const inventory = inventoryFor(rt, reg);
  const refresh = (ref: { tag: string } | { digest: string }, reason: string) =>
    refreshReference(inventory, reg, rp.repository, ref, reason).catch(() => undefined);
  // What a killed run deleted without recording it is recorded as that run's first, so
  // "already gone" below can say by whom.
  const lateByItem = new Map<string, OperationIntent>();
  if (!ctx.dryRun) {
    const reconciled = await reconcileIntents(inventory, reg, {
      by: actor.name,
      actions: ['deletion'],
      repository: rp.repository,
      refresh: (i, reason) => refresh(i.target === 'tag' ? { tag: i.tag! } : { digest: i.digest! }, reason),
    });
    for (const r of reconciled) {
      if (r.performed)
        lateByItem.set(
          `${r.intent.target}\u0000${r.intent.target === 'tag' ? r.intent.tag : r.intent.digest}`,
          r.intent,
        );
    }
  }
  const alreadyGone = (p: PlannedItem): string => {
    const late = lateByItem.get(`${p.kind}\u0000${p.item}`);
    const what = p.kind === 'tag' ? 'tag' : 'manifest';
    return late
      ? `${what} already deleted by ${late.actor} in run ${late.runId}, which was interrupted before recording it (recorded now)`
      : `${what} is already gone`;
  };
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
    const record = (outcome: ItemOutcome, detail: string, cause?: SkipCause) =>
      out.items.push({ kind: p.kind, item: p.item, digest: p.digest, outcome, detail, ...(cause ? { cause } : {}) });
    if (ctx.signal?.aborted) {
      record('not-attempted', `the run was stopped: ${asSluiceError(ctx.signal.reason).message}`, 'stopped');
      continue;
    }
    if (stopped) {
      record('not-attempted', `stopped after an earlier failure: ${stopped}`, 'stopped');
      continue;
    }
    if (holds.has(p.digest)) {
      record('skipped', 'quarantined or under legal hold since the plan was made', 'held');
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
        if (live.has(p.item)) record('skipped', `tag now points to ${live.get(p.item)}`, 'changed');
        else record('skipped', alreadyGone(p), 'gone');
        continue;
      }
    } else {
      const waiting = p.after.filter((d) => !gone.has(d));
      if (waiting.length) {
        // What it hangs on stays (it gained a tag since the plan): so does it.
        record(
          'skipped',
          `depends on ${waiting.map((d) => d.slice(0, 19)).join(', ')}, which was not deleted`,
          'changed',
        );
        continue;
      }
      const holders = [...live].filter(([, d]) => d === p.digest).map(([t]) => t);
      const unplanned = holders.filter((t) => !plannedTagDeletes.has(`${t}\u0000${p.digest}`));
      if (unplanned.length) {
        record('skipped', `tag ${unplanned.join(', ')} now points to it`, 'changed');
        continue;
      }
      if (!(await client.headManifest(rp.repository, p.digest))) {
        gone.add(p.digest);
        record('skipped', alreadyGone(p), 'gone');
        continue;
      }
    }
    if (ctx.dryRun) {
      if (p.kind === 'manifest') gone.add(p.digest);
      record('deleted', 'would be deleted (dry run)');
      continue;
    }
    const tagsOnIt = p.kind === 'tag' ? [p.item] : [...live].filter(([, d]) => d === p.digest).map(([t]) => t);
    const intent = await recordIntent(rt.store, rt.audit, {
      runId: ctx.runId,
      actor: actor.name,
      action: 'deletion',
      registry: reg.name,
      repository: rp.repository,
      target: p.kind,
      digest: p.digest || null,
      tag: p.kind === 'tag' ? p.item : null,
      record: {
        repository: `${reg.host}/${rp.repository}`,
        digest: p.digest,
        tag: p.kind === 'tag' ? p.item : (tagsOnIt[0] ?? null),
        reason: `retention: ${rp.digests.find((d) => d.digest === p.digest)?.reason ?? rp.tags.find((t) => t.tag === p.item)?.reason ?? 'planned'}`,
        details: { kind: p.kind, tags: tagsOnIt, trash: rp.trash.enabled },
      },
    });
    // The registry's 404 to a DELETE: it was present a moment ago, so most likely an earlier
    // attempt of this very call deleted it and its answer was lost (the transport retries).
    let notFound = false;
    let lostAnswer: string | undefined;
    try {
      if (rp.trash.enabled) {
        await trash(rt, actor, reg, rp, p, tagsOnIt, ctx.now, trashSeq++);
      }
      if (p.kind === 'tag') {
        if (deleter) await deleter.deleteTag(rp.repository, p.item, p.digest);
        else notFound = !(await client.deleteTag(rp.repository, p.item));
      } else {
        notFound = !(await client.deleteManifest(rp.repository, p.digest));
      }
    } catch (err) {
      const e = asSluiceError(err);
      // An error is not proof that nothing happened (the answer can be lost after the
      // registry acted): what the registry holds now decides.
      const vanished = await intentTargetGone(client, intent).catch(() => undefined);
      if (vanished !== true) {
        stopped = e.message;
        if (vanished === false) {
          await settleIntent(rt.store, rt.audit, intent, { performed: false, reason: e.message }).catch(
            () => undefined,
          );
          record('failed', e.message);
        } else {
          record('failed', `${e.message}; whether the registry acted is unknown: the next apply or sync records it`);
        }
        continue;
      }
      lostAnswer = e.message;
    }
    let unrecorded: string | undefined;
    try {
      await settleIntent(rt.store, rt.audit, intent, {
        performed: true,
        ...(lostAnswer || notFound
          ? { details: { registryAnswer: lostAnswer ?? 'not found: an earlier attempt deleted it, its answer lost' } }
          : {}),
      });
      await settleSuperseded(rt.store, rt.audit, intent);
    } catch (err) {
      unrecorded = asSluiceError(err).message;
    }
    if (p.kind === 'tag') {
      live.delete(p.item);
    } else {
      gone.add(p.digest);
      for (const t of tagsOnIt) live.delete(t);
    }
    out.bytesFreed += p.freed;
    record(
      'deleted',
      (p.kind === 'tag'
        ? `tag removed; ${p.digest} stays`
        : `manifest deleted${tagsOnIt.length ? ` with tags ${tagsOnIt.join(', ')}` : ''}`) +
        (lostAnswer ? ` (the registry's answer was lost: ${lostAnswer})` : '') +
        (unrecorded ? `; recording it failed (${unrecorded}): the next apply or sync records it` : ''),
    );
    await refresh(p.kind === 'tag' ? { tag: p.item } : { digest: p.digest }, 'retention deletion');
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
export async function purgeTrash(rt: Runtime): Promise<{ purged: number; kept: number; run: string }> {
  const runId = randomUUID();
  const actor = 'system:retention';
  const now = rt.now();
  // Trash manifests a killed purge deleted without recording it: recorded as that run's, and
  // their entries purged, before anything else is decided.
  for (const reg of rt.registries) {
    await reconcileIntents(inventoryFor(rt, reg), reg, {
      by: actor,
      actions: ['retention.purge'],
      onPerformed: async (tx, intent) => {
        const entry = intent.record.details?.entry;
        if (typeof entry === 'string')
          await tx.db.updateTable('trash').set({ purged_at: now }).where('id', '=', entry).execute();
      },
    });
  }
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
    const outcome = {
      repository: `${reg.host}/${row.repository}`,
      digest: row.digest,
      tag: row.tag,
      reason: `trash window ended ${new Date(row.purge_after).toISOString()}`,
    };
    const markPurged = async (tx: StoreTx) => {
      await tx.db.updateTable('trash').set({ purged_at: now }).where('id', '=', row.id).execute();
    };
    if (others.length === 0) {
      // Deleting by digest removes every trash tag on it; only expired entries point there now.
      const intent = await recordIntent(rt.store, rt.audit, {
        runId,
        actor,
        action: 'retention.purge',
        registry: reg.name,
        repository: row.trash_repository,
        target: 'manifest',
        digest: row.digest,
        tag: null,
        record: { ...outcome, details: { entry: row.id, trashRepository: row.trash_repository } },
      });
      try {
        await rt.pool.get(reg.host).deleteManifest(row.trash_repository, row.digest);
      } catch (err) {
        const e = asSluiceError(err);
        const vanished = await intentTargetGone(rt.pool.get(reg.host), intent).catch(() => undefined);
        if (vanished !== true) {
          if (vanished === false)
            await settleIntent(rt.store, rt.audit, intent, { performed: false, reason: e.message }).catch(
              () => undefined,
            );
          throw e;
        }
      }
      await settleIntent(rt.store, rt.audit, intent, { performed: true }, markPurged);
    } else {
      kept++;
      await rt.store.transaction(async (tx) => {
        await markPurged(tx);
        await rt.audit(tx, {
          actor,
          action: 'retention.purge',
          ...outcome,
          result: 'success',
          details: { run: runId },
        });
      });
    }
    purged++;
  }
  return { purged, kept, run: runId };
}
