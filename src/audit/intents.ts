/**
 * Intents of destructive registry calls. A deletion is audited after the registry answers,
 * so a process killed in between leaves a registry that deleted something and an audit log
 * that never says who did: the next sync would attribute it to the registry. So before each
 * destructive call Sluice writes an intent, both as a row of `operation_intents` (for
 * finding it again) and as a `<action>.intent` audit record (the chain keeps it whatever
 * happens to the row), and settles it afterwards: the outcome record (`deletion`,
 * `retention.purge`) carries the actor and run of the intent, and `details.intent` names the
 * intent's seq.
 *
 * Whoever settles an intent deletes its row in the same transaction as appending the
 * outcome, and appends only if it deleted the row: the process that made the call and a
 * later run reconciling it can never both record it. Deciding whether the registry acted
 * (is the target gone?) needs a registry client and belongs to the caller
 * (src/inventory/intents.ts); this module is only the store side.
 */
import { randomUUID } from 'node:crypto';
import type { Selectable } from 'kysely';
import { inTransaction } from '../store/index.ts';
import type { OperationIntentsTable, Store, StoreHandle, StoreTx } from '../store/index.ts';
import type { AuditInput, AuditRecord } from './record.ts';

/** What a destructive call removes, which is also how to tell afterwards whether it did. */
export type IntentTarget = 'manifest' | 'tag';

export interface IntentInput {
  /** The run (one apply, one purge) the call belongs to. */
  runId: string;
  actor: string;
  /** Audit action of the outcome: `deletion`, `retention.purge`. */
  action: string;
  /** Policy registry name. */
  registry: string;
  /** Path inside the registry. */
  repository: string;
  target: IntentTarget;
  /** For `manifest`: the digest deleted; for `tag`: the digest the tag points to. */
  digest: string | null;
  tag: string | null;
  /** The outcome record's fields, written when it is settled. */
  record: {
    repository: string;
    digest?: string | null;
    tag?: string | null;
    reason: string;
    details?: Record<string, unknown>;
  };
}

export interface OperationIntent extends IntentInput {
  id: string;
  /** seq of the `<action>.intent` audit record. */
  seq: number;
  createdAt: number;
}

export type AuditAppend = (h: StoreTx, input: AuditInput) => Promise<unknown>;

export interface IntentOutcome {
  /** Whether the registry did what the intent said. */
  performed: boolean;
  /** Why it was not performed (the registry's error, or what was found). */
  reason?: string;
  /** Who settles it when it is not the process that made the call (a later run, `system:sync`). */
  recordedBy?: string;
  details?: Record<string, unknown>;
}

/**
 * Writes an intent (row and `<action>.intent` audit record, in one transaction) before a
 * destructive call.
 */
export async function recordIntent(
  store: Store,
  audit: (h: StoreTx, input: AuditInput) => Promise<AuditRecord>,
  input: IntentInput,
): Promise<OperationIntent> {
  return store.transaction(async (tx) => {
    const createdAt = tx.clock().getTime();
    const rec = await audit(tx, {
      actor: input.actor,
      action: `${input.action}.intent`,
      repository: input.record.repository,
      digest: input.record.digest ?? null,
      tag: input.record.tag ?? null,
      reason: `about to ${input.target === 'tag' ? 'delete tag' : 'delete manifest'}: ${input.record.reason}`,
      result: 'success',
      details: { run: input.runId, target: input.target },
    });
    const intent: OperationIntent = { ...input, id: randomUUID(), seq: rec.seq, createdAt };
    await tx.db
      .insertInto('operation_intents')
      .values({
        id: intent.id,
        run_id: input.runId,
        actor: input.actor,
        action: input.action,
        registry: input.registry,
        repository: input.repository,
        target: input.target,
        digest: input.digest,
        tag: input.tag,
        record: JSON.stringify(input.record),
        intent_seq: rec.seq,
        created_at: createdAt,
      })
      .execute();
    return intent;
  });
}

/**
 * Records the outcome of an intent with the intent's actor and run, and removes the intent.
 * `effects` run in the same transaction (store changes that belong to the outcome). Returns
 * false, recording nothing, when someone else settled it first.
 */
export async function settleIntent(
  store: Store | StoreTx,
  audit: AuditAppend,
  intent: OperationIntent,
  outcome: IntentOutcome,
  effects?: (tx: StoreTx) => Promise<void>,
): Promise<boolean> {
  return inTransaction(store, async (tx) => {
    const gone = await tx.db.deleteFrom('operation_intents').where('id', '=', intent.id).executeTakeFirst();
    if (Number(gone.numDeletedRows) === 0) return false;
    const r = intent.record;
    const late = outcome.recordedBy !== undefined;
    await audit(tx, {
      actor: intent.actor,
      action: intent.action,
      repository: r.repository,
      digest: r.digest ?? null,
      tag: r.tag ?? null,
      reason: outcome.performed
        ? late
          ? `${r.reason} (run ${intent.runId} was interrupted before recording it; recorded by ${outcome.recordedBy})`
          : r.reason
        : (outcome.reason ?? 'not performed'),
      result: outcome.performed ? 'success' : 'failure',
      details: {
        ...r.details,
        ...outcome.details,
        run: intent.runId,
        intent: intent.seq,
        ...(late ? { recordedBy: outcome.recordedBy } : {}),
      },
    });
    if (effects) await effects(tx);
    return true;
  });
}

function toIntent(row: Selectable<OperationIntentsTable>): OperationIntent {
  return {
    id: row.id,
    runId: row.run_id,
    actor: row.actor,
    action: row.action,
    registry: row.registry,
    repository: row.repository,
    target: row.target === 'tag' ? 'tag' : 'manifest',
    digest: row.digest,
    tag: row.tag,
    record: JSON.parse(row.record) as IntentInput['record'],
    seq: Number(row.intent_seq),
    createdAt: Number(row.created_at),
  };
}

/** Intents not settled yet, oldest first. */
export async function pendingIntents(
  store: StoreHandle,
  filter: { registry?: string; repository?: string; actions?: readonly string[]; excludeId?: string } = {},
): Promise<OperationIntent[]> {
  if (filter.actions !== undefined && filter.actions.length === 0) return [];
  const rows = await store.db
    .selectFrom('operation_intents')
    .selectAll()
    .$if(filter.registry !== undefined, (q) => q.where('registry', '=', filter.registry!))
    .$if(filter.repository !== undefined, (q) => q.where('repository', '=', filter.repository!))
    .$if(filter.actions !== undefined, (q) => q.where('action', 'in', [...filter.actions!]))
    .$if(filter.excludeId !== undefined, (q) => q.where('id', '!=', filter.excludeId!))
    .orderBy('created_at')
    .orderBy('intent_seq')
    .execute();
  return rows.map(toIntent);
}

/** Whether two intents are about the same registry object. */
export function sameTarget(a: OperationIntent, b: OperationIntent): boolean {
  return (
    a.registry === b.registry &&
    a.repository === b.repository &&
    a.target === b.target &&
    (a.target === 'tag' ? a.tag === b.tag : a.digest === b.digest)
  );
}

/**
 * After `intent`'s call removed its target, older intents for the same target (runs killed
 * before their call reached the registry) were not performed: settles them so. Returns how
 * many.
 */
export async function settleSuperseded(store: Store, audit: AuditAppend, intent: OperationIntent): Promise<number> {
  const older = (
    await pendingIntents(store, { registry: intent.registry, repository: intent.repository, excludeId: intent.id })
  ).filter((o) => sameTarget(o, intent) && o.createdAt <= intent.createdAt);
  let n = 0;
  for (const o of older) {
    const done = await settleIntent(store, audit, o, {
      performed: false,
      reason: `run ${o.runId} was interrupted before the registry acted; run ${intent.runId} deleted it`,
      recordedBy: intent.actor,
    });
    if (done) n++;
  }
  return n;
}
