/**
 * Applying registry events to the inventory (ADR 0004). Deliveries are deduplicated on the
 * event id through `events_seen`; push, mount and delete events are hints that make the
 * inventory re-read the named tag or digest from the registry; pulls are counted as reported.
 */
import { createHash } from 'node:crypto';
import { storableText, type StoreHandle } from '../store/index.ts';
import type { RegistryEvent } from './events.ts';
import { recordPull, refreshReference, type InventoryDeps, type TagChange } from './sync.ts';
import type { RegistryRef } from '../oci/registry-ref.ts';

/** Delivery ids are kept this long; a registry retrying later than this is not deduplicated. */
export const EVENTS_SEEN_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * Records that an event was received. True the first time, false for a duplicate delivery.
 * The insert decides (primary key on source and id), so concurrent duplicates on several
 * replicas are told apart by the database.
 */
export async function markEventSeen(h: StoreHandle, source: string, eventId: string, now: number): Promise<boolean> {
  const result = await h.db
    .insertInto('events_seen')
    .values({ source, event_id: seenKey(eventId), received_at: now })
    .onConflict((oc) => oc.columns(['source', 'event_id']).doNothing())
    .executeTakeFirst();
  return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
}

const MAX_EVENT_ID_CHARS = 512;

/**
 * The sender chooses event ids. A long one, or one holding what the store refuses (a NUL),
 * is kept as its hash: cutting it short would make two deliveries that share a prefix look like
 * duplicates, and could split a surrogate pair.
 */
function seenKey(eventId: string): string {
  if (eventId.length <= MAX_EVENT_ID_CHARS && storableText(eventId) === eventId) return eventId;
  // UTF-16 code units, so that ids differing only in an unpaired surrogate hash apart.
  return `sha256:${createHash('sha256').update(Buffer.from(eventId, 'utf16le')).digest('hex')}`;
}

/** Deletes delivery ids received before `now - olderThanMs`; returns how many. */
export async function purgeSeenEvents(
  h: StoreHandle,
  now: number,
  olderThanMs = EVENTS_SEEN_RETENTION_MS,
): Promise<number> {
  const result = await h.db
    .deleteFrom('events_seen')
    .where('received_at', '<', now - olderThanMs)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

export type EventOutcome =
  /** The registry was re-read; `changes` says what differed. */
  | 'refreshed'
  /**
   * The pushed digest is there but the tag does not name it yet: Distribution sends the push
   * event when the manifest is stored and links the tag just after. Apply again shortly.
   */
  | 'tag-pending'
  /** The event names something the registry does not have, in a repository the inventory does not know. */
  | 'absent'
  | 'pull-recorded'
  /** Nothing to do (scan events, pulls without a digest). */
  | 'skipped';

export interface AppliedEvent {
  outcome: EventOutcome;
  changes: TagChange[];
}

/**
 * Applies one event of registry `reg` (already authenticated, deduplicated and owned). With
 * `final: false`, a push whose tag does not name the pushed digest yet while the digest
 * exists yields `tag-pending` and changes nothing; the caller retries, and applies with
 * `final: true` (the default) last, which stores whatever the registry says then.
 */
export async function applyRegistryEvent(
  deps: InventoryDeps,
  reg: RegistryRef,
  ev: RegistryEvent,
  options: { final?: boolean } = {},
): Promise<AppliedEvent> {
  if (ev.action === 'pull') {
    let digest = ev.digest;
    if (!digest && ev.tag) {
      const row = await deps.store.db
        .selectFrom('tags')
        .select('digest')
        .where('registry', '=', reg.name)
        .where('repository', '=', ev.repository)
        .where('tag', '=', ev.tag)
        .executeTakeFirst();
      digest = row?.digest;
    }
    if (!digest) return { outcome: 'skipped', changes: [] };
    await recordPull(deps.store, reg.name, ev.repository, digest, ev.at);
    return { outcome: 'pull-recorded', changes: [] };
  }
  if (ev.action === 'scan') return { outcome: 'skipped', changes: [] };
  const ref = { ...(ev.tag ? { tag: ev.tag } : {}), ...(ev.digest ? { digest: ev.digest } : {}) };
  if (!ref.tag && !ref.digest) return { outcome: 'skipped', changes: [] };
  const client = deps.client(reg.host);
  if (options.final === false && ev.action === 'push' && ref.tag && ref.digest) {
    const tagged = await client.headManifest(ev.repository, ref.tag);
    if (tagged?.digest !== ref.digest && (await client.headManifest(ev.repository, ref.digest)))
      return { outcome: 'tag-pending', changes: [] };
  }
  const known = await deps.store.db
    .selectFrom('repositories')
    .select('name')
    .where('registry', '=', reg.name)
    .where('name', '=', ev.repository)
    .executeTakeFirst();
  if (!known) {
    // Nothing stored to correct: only what the registry really holds may create the repository,
    // so a forged or stale event for a repository that does not exist leaves no trace.
    if (ev.action === 'delete') return { outcome: 'absent', changes: [] };
    const head = await client.headManifest(ev.repository, (ref.tag ?? ref.digest)!);
    if (!head) return { outcome: 'absent', changes: [] };
  }
  const changes = await refreshReference(deps, reg, ev.repository, ref, `${ev.source} ${ev.action} event`);
  return { outcome: 'refreshed', changes };
}
