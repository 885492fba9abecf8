/** Store access for holds (quarantine, legal hold): active holds block deletion and promotion. */
import { randomUUID } from 'node:crypto';
import type { StoreHandle } from '../store/index.ts';

export interface Hold {
  id: string;
  digest: string;
  kind: 'quarantine' | 'legal-hold';
  reason: string;
  createdBy: string;
  createdAt: number;
}

export async function activeHolds(h: StoreHandle, digests: string[]): Promise<Hold[]> {
  if (digests.length === 0) return [];
  const rows = await h.db
    .selectFrom('holds')
    .selectAll()
    .where('digest', 'in', digests)
    .where('released_at', 'is', null)
    .orderBy('created_at')
    .execute();
  return rows.map((r) => ({
    id: r.id,
    digest: r.digest,
    kind: r.kind as Hold['kind'],
    reason: r.reason,
    createdBy: r.created_by,
    createdAt: r.created_at,
  }));
}

export async function insertHold(h: StoreHandle, hold: Omit<Hold, 'id'>): Promise<Hold> {
  const id = randomUUID();
  await h.db
    .insertInto('holds')
    .values({
      id,
      digest: hold.digest,
      kind: hold.kind,
      reason: hold.reason,
      created_by: hold.createdBy,
      created_at: hold.createdAt,
      released_by: null,
      released_at: null,
    })
    .execute();
  return { ...hold, id };
}

export async function releaseHolds(
  h: StoreHandle,
  digest: string,
  kind: Hold['kind'],
  by: string,
  at: number,
): Promise<number> {
  const res = await h.db
    .updateTable('holds')
    .set({ released_by: by, released_at: at })
    .where('digest', '=', digest)
    .where('kind', '=', kind)
    .where('released_at', 'is', null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}
