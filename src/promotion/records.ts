/** Store access for evidence, promotions, locks and holds. */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Selectable } from 'kysely';
import type { PromotionsTable, StoreHandle } from '../store/index.ts';
import type { EvidenceRecord, EvidenceStatus } from './gate.ts';

export interface NewEvidence {
  digest: string;
  type: string;
  status: EvidenceStatus;
  stage: string | null;
  team: string | null;
  recordedBy: string;
  recordedRoles: string[];
  recordedAt: number;
  url: string | null;
  source: string;
  details: Record<string, unknown>;
}

export async function insertEvidence(h: StoreHandle, e: NewEvidence): Promise<EvidenceRecord> {
  const id = randomUUID();
  await h.db
    .insertInto('evidence')
    .values({
      id,
      digest: e.digest,
      type: e.type,
      status: e.status,
      stage: e.stage,
      team: e.team,
      recorded_by: e.recordedBy,
      recorded_roles: JSON.stringify(e.recordedRoles),
      recorded_at: e.recordedAt,
      url: e.url,
      source: e.source,
      details: JSON.stringify(e.details),
    })
    .execute();
  return {
    id,
    digest: e.digest,
    type: e.type,
    status: e.status,
    stage: e.stage,
    recordedBy: e.recordedBy,
    recordedRoles: e.recordedRoles,
    recordedAt: e.recordedAt,
    url: e.url,
    details: e.details,
  };
}

export async function evidenceFor(h: StoreHandle, digest: string): Promise<EvidenceRecord[]> {
  const rows = await h.db
    .selectFrom('evidence')
    .selectAll()
    .where('digest', '=', digest)
    .orderBy('recorded_at')
    .orderBy('id')
    .execute();
  return rows.map((r) => ({
    id: r.id,
    digest: r.digest,
    type: r.type,
    status: r.status as EvidenceStatus,
    stage: r.stage,
    recordedBy: r.recorded_by,
    recordedRoles: JSON.parse(r.recorded_roles) as string[],
    recordedAt: r.recorded_at,
    url: r.url,
    details: JSON.parse(r.details) as Record<string, unknown>,
  }));
}

export type PromotionRow = Selectable<PromotionsTable>;

export async function insertPromotion(
  h: StoreHandle,
  row: Omit<PromotionRow, 'id'> & { id?: string },
): Promise<string> {
  const id = row.id ?? randomUUID();
  await h.db
    .insertInto('promotions')
    .values({ ...row, id })
    .execute();
  return id;
}

export async function updatePromotion(
  h: StoreHandle,
  id: string,
  set: Partial<Omit<PromotionRow, 'id'>>,
): Promise<void> {
  await h.db.updateTable('promotions').set(set).where('id', '=', id).execute();
}

export async function getPromotion(h: StoreHandle, id: string): Promise<PromotionRow | undefined> {
  return h.db.selectFrom('promotions').selectAll().where('id', '=', id).executeTakeFirst();
}

/** When the digest entered `stage` for team/repo (latest succeeded promotion), if ever. */
export async function enteredStageAt(
  h: StoreHandle,
  team: string,
  repo: string,
  stage: string,
  digest: string,
): Promise<number | undefined> {
  const row = await h.db
    .selectFrom('promotions')
    .select('finished_at')
    .where('team', '=', team)
    .where('repo', '=', repo)
    .where('to_stage', '=', stage)
    .where('digest', '=', digest)
    .where('status', '=', 'succeeded')
    .where('kind', '=', 'promotion')
    .orderBy('finished_at', 'asc')
    .executeTakeFirst();
  return row?.finished_at ?? undefined;
}

/**
 * Who had a hand in the change of promoting `digest` into `stage`: whoever requested it, in
 * any attempt, and whoever recorded its build. Under four eyes none of them may approve it.
 */
export async function changeAuthorsOf(h: StoreHandle, digest: string, stage: string): Promise<string[]> {
  const requesters = await h.db
    .selectFrom('promotions')
    .select('requested_by as name')
    .where('digest', '=', digest)
    .where('to_stage', '=', stage)
    .where('kind', '=', 'promotion')
    .execute();
  const builders = await h.db
    .selectFrom('evidence')
    .select('recorded_by as name')
    .where('digest', '=', digest)
    .where('type', '=', 'build')
    .execute();
  return [...new Set([...requesters, ...builders].map((r) => r.name))];
}

export interface PromotionFilter {
  team?: string;
  repo?: string;
  stage?: string;
  digest?: string;
  status?: string;
  limit?: number;
}

export async function listPromotions(h: StoreHandle, f: PromotionFilter = {}): Promise<PromotionRow[]> {
  return h.db
    .selectFrom('promotions')
    .selectAll()
    .$if(f.team !== undefined, (q) => q.where('team', '=', f.team!))
    .$if(f.repo !== undefined, (q) => q.where('repo', '=', f.repo!))
    .$if(f.stage !== undefined, (q) => q.where('to_stage', '=', f.stage!))
    .$if(f.digest !== undefined, (q) => q.where('digest', '=', f.digest!))
    .$if(f.status !== undefined, (q) => q.where('status', '=', f.status!))
    .orderBy('requested_at', 'desc')
    .orderBy('id')
    .limit(Math.min(f.limit ?? 100, 10_000))
    .execute();
}

/**
 * Lock owners name the process that holds them (`host:pid:nonce`), so a lock left by a
 * process that died on this host is taken over at once, and one left elsewhere when it
 * expires. The nonce keeps two attempts of the same process, or a resumed attempt and a live
 * one, apart.
 */
export function lockOwner(): string {
  return `${hostname()}:${process.pid}:${randomUUID()}`;
}

/** True only when the owner is a process of this host that no longer exists. */
export function ownerIsDead(owner: string): boolean {
  const [host, pidText] = owner.split(':');
  const pid = Number(pidText);
  if (host !== hostname() || !Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** `host:pid` of a lock owner, for messages (the nonce means nothing to a reader). */
export function describeOwner(owner: string): string {
  return owner.split(':').slice(0, 2).join(':');
}

export interface PromotionLock {
  owner: string;
  expires_at: number;
}

export async function readLock(h: StoreHandle, target: string): Promise<PromotionLock | undefined> {
  return h.db
    .selectFrom('promotion_locks')
    .select(['owner', 'expires_at'])
    .where('target', '=', target)
    .executeTakeFirst();
}

/** Takes the promotion lock of a target; true when this owner holds it now. */
export async function acquireLock(
  h: StoreHandle,
  target: string,
  owner: string,
  now: number,
  ttlMs: number,
): Promise<boolean> {
  const res = await h.db
    .insertInto('promotion_locks')
    .values({ target, owner, expires_at: now + ttlMs })
    .onConflict((oc) =>
      oc
        .column('target')
        .doUpdateSet({ owner, expires_at: now + ttlMs })
        .where('promotion_locks.expires_at', '<', now),
    )
    .executeTakeFirst();
  if (Number(res.numInsertedOrUpdatedRows ?? 0) > 0) return true;
  const row = await h.db.selectFrom('promotion_locks').select('owner').where('target', '=', target).executeTakeFirst();
  if (!row) return acquireLock(h, target, owner, now, ttlMs);
  if (row.owner === owner) return true;
  if (!ownerIsDead(row.owner)) return false;
  // Compare-and-set on the dead owner: of two processes taking over, one wins.
  const taken = await h.db
    .updateTable('promotion_locks')
    .set({ owner, expires_at: now + ttlMs })
    .where('target', '=', target)
    .where('owner', '=', row.owner)
    .executeTakeFirst();
  return Number(taken.numUpdatedRows) === 1;
}

/** Extends a held lock; false when it is no longer ours. */
export async function renewLock(
  h: StoreHandle,
  target: string,
  owner: string,
  now: number,
  ttlMs: number,
): Promise<boolean> {
  const res = await h.db
    .updateTable('promotion_locks')
    .set({ expires_at: now + ttlMs })
    .where('target', '=', target)
    .where('owner', '=', owner)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

export async function releaseLock(h: StoreHandle, target: string, owner: string): Promise<void> {
  await h.db.deleteFrom('promotion_locks').where('target', '=', target).where('owner', '=', owner).execute();
}

export interface PathStep {
  stage: string;
  at: number;
  team: string;
  repo: string;
  versionTag: string | null;
  by: string;
  /** ms since the digest entered the first stage it reached. */
  sinceStart: number;
  /** ms since the step before. */
  sincePrevious: number;
}

/** The way a digest went through the stages (succeeded promotions, oldest first) with lead times. */
export async function promotionPath(h: StoreHandle, digest: string): Promise<PathStep[]> {
  const rows = await h.db
    .selectFrom('promotions')
    .select(['to_stage', 'finished_at', 'team', 'repo', 'version_tag', 'requested_by'])
    .where('digest', '=', digest)
    .where('kind', '=', 'promotion')
    .where('status', '=', 'succeeded')
    .orderBy('finished_at')
    .execute();
  const start = rows[0]?.finished_at ?? 0;
  let previous = start;
  return rows.map((r) => {
    const at = r.finished_at ?? start;
    const step = {
      stage: r.to_stage,
      at,
      team: r.team,
      repo: r.repo,
      versionTag: r.version_tag,
      by: r.requested_by,
      sinceStart: at - start,
      sincePrevious: at - previous,
    };
    previous = at;
    return step;
  });
}
