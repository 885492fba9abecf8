/**
 * Promotion attempts whose process died (killed, crashed, its host gone) stay `running` in the
 * store. Only the holder of a target's promotion lock runs a promotion into it, so an attempt is
 * interrupted once no living process holds that lock for it; such attempts are marked
 * `abandoned` with an audit record, and a later promotion starts an attempt of its own.
 */
import type { Runtime } from '../runtime.ts';
import { describeOwner, ownerIsDead, readLock, type PromotionLock, type PromotionRow } from './records.ts';

export const RECOVERY_ACTOR = 'system:promotion';

/** The key of the promotion lock a row's target is guarded by. */
export function lockTargetOf(row: Pick<PromotionRow, 'target_registry' | 'target_repository'>): string {
  return `${row.target_registry}/${row.target_repository}`;
}

/** Why a lock no longer protects the attempt it was taken for; undefined while its holder may be at work. */
export function lockLost(
  lock: PromotionLock | undefined,
  now: number,
  isDead: (owner: string) => boolean = ownerIsDead,
): string | undefined {
  if (!lock) return 'no process holds its promotion lock';
  if (isDead(lock.owner)) return `its process ${describeOwner(lock.owner)} is gone`;
  if (lock.expires_at < now) return `the promotion lock of ${describeOwner(lock.owner)} expired unrenewed`;
  return undefined;
}

export interface AbandonScope {
  /** Only attempts into this target; the caller holds its lock now. */
  registry: string;
  repository: string;
  /** The lock as it was before the caller took it: it names the process that was interrupted. */
  lockBefore: PromotionLock | undefined;
}

/**
 * Marks interrupted attempts `abandoned` and audits each. Without a scope it looks at every
 * running attempt and leaves those whose lock a living process holds; with one, the caller
 * holds the target's lock, so every running attempt into it is interrupted.
 */
export async function abandonInterrupted(rt: Runtime, scope?: AbandonScope): Promise<PromotionRow[]> {
  const running = await rt.store.db
    .selectFrom('promotions')
    .selectAll()
    .where('status', '=', 'running')
    .$if(scope !== undefined, (q) =>
      q.where('target_registry', '=', scope!.registry).where('target_repository', '=', scope!.repository),
    )
    .orderBy('requested_at')
    .execute();
  const abandoned: PromotionRow[] = [];
  const locks = new Map<string, PromotionLock | undefined>();
  for (const row of running) {
    const now = rt.now();
    let lock: PromotionLock | undefined;
    let why: string | undefined;
    if (scope) {
      lock = scope.lockBefore;
      why = lockLost(lock, now) ?? 'its process no longer holds the promotion lock';
    } else {
      const target = lockTargetOf(row);
      if (!locks.has(target)) locks.set(target, await readLock(rt.store, target));
      lock = locks.get(target);
      why = lockLost(lock, now);
    }
    if (!why) continue;
    const reason = `promotion ${row.id} into ${row.to_stage}, requested by ${row.requested_by}, was interrupted: ${why}`;
    const host = rt.registries.find((r) => r.name === row.target_registry)?.host ?? row.target_registry;
    const marked = await rt.store.transaction(async (tx) => {
      // Compare-and-set on the status: of two processes noticing it, one records it.
      const res = await tx.db
        .updateTable('promotions')
        .set({ status: 'abandoned', finished_at: now, error: `interrupted: ${why}` })
        .where('id', '=', row.id)
        .where('status', '=', 'running')
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) return false;
      await rt.audit(tx, {
        actor: RECOVERY_ACTOR,
        action: 'promotion.abandoned',
        repository: `${host}/${row.target_repository}`,
        digest: row.digest,
        tag: row.version_tag,
        reason,
        result: 'failure',
        details: {
          promotion: row.id,
          requestedBy: row.requested_by,
          to: row.to_stage,
          ...(lock ? { lockOwner: describeOwner(lock.owner) } : {}),
        },
      });
      return true;
    });
    if (marked) abandoned.push({ ...row, status: 'abandoned', finished_at: now, error: `interrupted: ${why}` });
  }
  return abandoned;
}
