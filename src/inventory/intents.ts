/**
 * Reconciling intents that interrupted runs left (src/audit/intents.ts) with what the
 * registry holds now: a target that is gone was removed by the call the intent announced,
 * so the outcome is recorded with the intent's actor and run; a target still there long
 * after its intent was written was never removed. Runs this before deciding anything from
 * the registry's state: a re-run of retention, and every sync.
 */
import { pendingIntents, settleIntent, type OperationIntent } from '../audit/index.ts';
import type { RegistryClient } from '../oci/client.ts';
import type { StoreTx } from '../store/index.ts';
import type { InventoryDeps } from './sync.ts';
import type { RegistryRef } from '../oci/registry-ref.ts';

/**
 * How long an intent whose target is still there may belong to a call in flight. Longer than
 * any one registry call with its retries; after it, the call was never made.
 */
export const INTENT_STALE_MS = 15 * 60_000;

/** Whether the registry no longer holds what the intent was about to delete. Throws when it cannot say. */
export async function intentTargetGone(client: RegistryClient, intent: OperationIntent): Promise<boolean> {
  const reference = intent.target === 'tag' ? intent.tag : intent.digest;
  if (reference === null) return false;
  return (await client.headManifest(intent.repository, reference)) === undefined;
}

export interface ReconcileOptions {
  /** Who records what interrupted runs left: the re-running actor, `system:sync`. */
  by: string;
  /** Outcome actions to reconcile (`deletion`, `retention.purge`). */
  actions: readonly string[];
  repository?: string;
  staleAfterMs?: number;
  /** Store changes that belong to a performed outcome (trash entries purged), in its transaction. */
  onPerformed?: (tx: StoreTx, intent: OperationIntent) => Promise<void>;
  /** Re-reads a removed target into the inventory, once its removal is recorded. */
  refresh?: (intent: OperationIntent, reason: string) => Promise<unknown>;
}

export interface Reconciled {
  intent: OperationIntent;
  performed: boolean;
}

export async function reconcileIntents(
  deps: InventoryDeps,
  reg: RegistryRef,
  options: ReconcileOptions,
): Promise<Reconciled[]> {
  const pending = await pendingIntents(deps.store, {
    registry: reg.name,
    actions: options.actions,
    ...(options.repository !== undefined ? { repository: options.repository } : {}),
  });
  if (pending.length === 0) return [];
  const client = deps.client(reg.host);
  const stale = options.staleAfterMs ?? INTENT_STALE_MS;
  const out: Reconciled[] = [];
  for (const intent of pending) {
    let gone: boolean;
    try {
      gone = await intentTargetGone(client, intent);
    } catch {
      // The registry cannot say now; the intent waits for the next run.
      continue;
    }
    const what = intent.target === 'tag' ? `tag ${intent.tag}` : `manifest ${intent.digest}`;
    if (gone) {
      const effects = options.onPerformed;
      const settled = await settleIntent(
        deps.store,
        deps.audit,
        intent,
        { performed: true, recordedBy: options.by },
        effects ? (tx) => effects(tx, intent) : undefined,
      );
      if (!settled) continue;
      out.push({ intent, performed: true });
      await options
        .refresh?.(intent, `${intent.action} by ${intent.actor} (run ${intent.runId}), recorded by ${options.by}`)
        .catch(() => undefined);
    } else if (deps.now() - intent.createdAt > stale) {
      const settled = await settleIntent(deps.store, deps.audit, intent, {
        performed: false,
        reason: `run ${intent.runId} was interrupted before the registry acted: ${intent.repository} still holds ${what}`,
        recordedBy: options.by,
      });
      if (settled) out.push({ intent, performed: false });
    }
  }
  return out;
}
