/**
 * Sync: the registry is the truth, the store is its memory. A sync lists every repository and
 * every tag (fully paginated), HEADs each tag, and only GETs manifests whose digest the store
 * has never seen, so a second sync of an unchanged registry reads no manifest again. Tags
 * that disappeared are removed; every observed change is audited.
 */
import { SluiceError, asSluiceError } from '../errors.ts';
import { formatDuration } from '../policy/duration.ts';
import type { AuditInput } from '../audit/index.ts';
import type { RegistryClient } from '../oci/client.ts';
import { mapLimit } from '../util/concurrency.ts';
import type { RegistryRef } from '../oci/registry-ref.ts';
import { isValidTag } from '../oci/reference.ts';
import type { Store, StoreHandle, StoreTx } from '../store/index.ts';
import { loadManifest, readManifestTree, saveManifests, type ManifestRecord } from './ingest.ts';
import { reconcileIntents } from './intents.ts';

export interface RepositoryClass {
  team: string | null;
  stage: string | null;
  category: string | null;
}

/** What the inventory needs from the rest of Sluice; the composition root provides it. */
export interface InventoryDeps {
  store: Store;
  client: (registry: string) => RegistryClient;
  /** Team, stage and category of a repository, from the policy's repository template. */
  classify: (repository: string) => RepositoryClass;
  audit: (h: StoreTx, input: AuditInput) => Promise<void>;
  now: () => number;
  /** Why a change to this tag breaks immutability (a version tag in an immutable stage), if it does. */
  immutableTagViolation?: (repository: string, tag: string) => string | undefined;
  /** Alerting for such violations (notifications, metrics). */
  onViolation?: (v: {
    repository: string;
    tag: string;
    change: string;
    digest: string;
    previous: string | null;
    reason: string;
  }) => void;
}

/** A sync that has not finished in an hour is stuck on a registry that keeps answering. */
export const DEFAULT_SYNC_TIMEOUT_MS = 60 * 60_000;

export interface TagChange {
  repository: string;
  tag: string;
  change: 'created' | 'moved' | 'deleted';
  digest: string;
  previous?: string;
}

export interface RepositorySyncReport {
  repository: string;
  tags: number;
  manifestsFetched: number;
  changes: TagChange[];
  removed?: boolean;
}

export interface SyncReport {
  registry: string;
  repositories: number;
  tags: number;
  created: number;
  moved: number;
  deleted: number;
  manifestsFetched: number;
  durationMs: number;
  errors: Array<{ repository: string; code: string; message: string }>;
}

// Upserts, not read-then-write: a sync and an event handler may touch the same rows at once.
export async function ensureRegistry(h: StoreHandle, reg: RegistryRef, now: number): Promise<void> {
  await h.db
    .insertInto('registries')
    .values({ name: reg.name, url: reg.url, kind: reg.kind, created_at: now })
    .onConflict((oc) => oc.column('name').doUpdateSet({ url: reg.url, kind: reg.kind }))
    .execute();
}

async function ensureRepository(
  h: StoreHandle,
  reg: RegistryRef,
  repository: string,
  cls: RepositoryClass,
  syncedAt: number | null,
): Promise<void> {
  const values = { team: cls.team, stage: cls.stage, category: cls.category };
  await h.db
    .insertInto('repositories')
    .values({ registry: reg.name, name: repository, ...values, last_synced_at: syncedAt })
    .onConflict((oc) =>
      oc
        .columns(['registry', 'name'])
        .doUpdateSet(syncedAt === null ? values : { ...values, last_synced_at: syncedAt }),
    )
    .execute();
}

/** Every digest a set of digests needs (index children, recursively), from the store. */
async function closure(h: StoreHandle, registry: string, digests: Iterable<string>): Promise<Set<string>> {
  const out = new Set<string>();
  let frontier = [...digests];
  while (frontier.length) {
    for (const d of frontier) out.add(d);
    const rows = await h.db
      .selectFrom('manifest_children')
      .select('child_digest')
      .where('registry', '=', registry)
      .where('index_digest', 'in', frontier)
      .execute();
    frontier = rows.map((r) => r.child_digest).filter((d) => !out.has(d));
  }
  return out;
}

async function markHeld(
  h: StoreHandle,
  registry: string,
  repository: string,
  digests: Iterable<string>,
  now: number,
): Promise<void> {
  for (const digest of digests) {
    const known = await h.db
      .selectFrom('manifests')
      .select('digest')
      .where('registry', '=', registry)
      .where('digest', '=', digest)
      .executeTakeFirst();
    if (!known) continue;
    await h.db
      .insertInto('repository_manifests')
      .values({ registry, repository, digest, first_seen: now, last_seen: now })
      .onConflict((oc) => oc.columns(['registry', 'repository', 'digest']).doUpdateSet({ last_seen: now }))
      .execute();
  }
}

/** Reads manifests the store lacks; returns the new records. */
async function fetchUnknown(
  deps: InventoryDeps,
  reg: RegistryRef,
  client: RegistryClient,
  repository: string,
  digests: Iterable<string>,
  signal?: AbortSignal,
): Promise<ManifestRecord[]> {
  const fresh = new Map<string, ManifestRecord>();
  const known = async (d: string) => fresh.get(d) ?? (await loadManifest(deps.store, reg.name, d));
  for (const digest of digests) {
    if (await known(digest)) continue;
    for (const rec of await readManifestTree(client, repository, digest, known, signal)) fresh.set(rec.digest, rec);
  }
  return [...fresh.values()];
}

function auditTagChange(reg: RegistryRef, c: TagChange, reason: string): AuditInput {
  return {
    actor: `registry:${reg.name}`,
    action: c.change === 'created' ? 'tag.create' : c.change === 'moved' ? 'tag.update' : 'tag.delete',
    repository: `${reg.host}/${c.repository}`,
    digest: c.digest,
    tag: c.tag,
    reason,
    result: 'success',
    details: c.previous ? { previous: c.previous } : {},
  };
}

/** Applies the registry's current tag → digest map of one repository to the store. */
async function applyTagState(
  deps: InventoryDeps,
  tx: StoreTx,
  reg: RegistryRef,
  repository: string,
  current: Map<string, string>,
  scope: 'all' | Set<string>,
  reason: string,
): Promise<TagChange[]> {
  const now = deps.now();
  const stored = await tx.db
    .selectFrom('tags')
    .select(['tag', 'digest'])
    .where('registry', '=', reg.name)
    .where('repository', '=', repository)
    .$if(scope !== 'all', (q) => q.where('tag', 'in', [...(scope as Set<string>)]))
    .execute();
  const before = new Map(stored.map((r) => [r.tag, r.digest]));
  const changes: TagChange[] = [];
  for (const [tag, digest] of current) {
    const prev = before.get(tag);
    if (prev === digest) continue;
    if (prev === undefined) {
      await tx.db
        .insertInto('tags')
        .values({ registry: reg.name, repository, tag, digest, updated_at: now })
        .onConflict((oc) => oc.columns(['registry', 'repository', 'tag']).doUpdateSet({ digest, updated_at: now }))
        .execute();
      changes.push({ repository, tag, change: 'created', digest });
    } else {
      await tx.db
        .updateTable('tags')
        .set({ digest, updated_at: now })
        .where('registry', '=', reg.name)
        .where('repository', '=', repository)
        .where('tag', '=', tag)
        .execute();
      changes.push({ repository, tag, change: 'moved', digest, previous: prev });
    }
  }
  for (const [tag, digest] of before) {
    if (current.has(tag)) continue;
    await tx.db
      .deleteFrom('tags')
      .where('registry', '=', reg.name)
      .where('repository', '=', repository)
      .where('tag', '=', tag)
      .execute();
    changes.push({ repository, tag, change: 'deleted', digest });
  }
  for (const c of changes) await deps.audit(tx, auditTagChange(reg, c, reason));
  for (const c of changes) {
    const violation =
      c.change !== 'created' && !reason.startsWith('promotion')
        ? deps.immutableTagViolation?.(repository, c.tag)
        : undefined;
    if (violation) {
      // Someone moved or removed a version tag behind Sluice's back in an immutable stage.
      await deps.audit(tx, {
        actor: `registry:${reg.name}`,
        action: 'tag.immutability-violation',
        repository: `${reg.host}/${repository}`,
        digest: c.digest,
        tag: c.tag,
        reason: `${violation}: tag ${c.change}${c.previous ? ` from ${c.previous}` : ''}`,
        result: 'failure',
        details: { change: c.change, previous: c.previous ?? null },
      });
      deps.onViolation?.({
        repository,
        tag: c.tag,
        change: c.change,
        digest: c.digest,
        previous: c.previous ?? null,
        reason: violation,
      });
    }
  }
  return changes;
}

/** Syncs one repository completely. */
export async function syncRepository(
  deps: InventoryDeps,
  reg: RegistryRef,
  repository: string,
  signal?: AbortSignal,
): Promise<RepositorySyncReport> {
  const client = deps.client(reg.host);
  let tags: string[];
  let gone = false;
  try {
    tags = await client.listTags(repository, undefined, signal);
  } catch (err) {
    const e = asSluiceError(err);
    if (e.category !== 'not-found') throw e;
    tags = [];
    gone = true;
  }
  const heads = await mapLimit(
    // A name no client could pull by is not a tag; a hostile listing must not make the
    // repository's real tags unstorable (a NUL in one would fail the whole transaction).
    tags.filter(isValidTag),
    8,
    async (tag) => [tag, (await client.headManifest(repository, tag, signal))?.digest] as const,
  );
  const current = new Map<string, string>();
  for (const [tag, digest] of heads) if (digest) current.set(tag, digest);
  const records = await fetchUnknown(deps, reg, client, repository, new Set(current.values()), signal);

  // Digests this repository held untagged: still there? (Retention needs to know.)
  const held = await deps.store.db
    .selectFrom('repository_manifests')
    .select('digest')
    .where('registry', '=', reg.name)
    .where('repository', '=', repository)
    .execute();
  const tagged = new Set(current.values());
  const childrenOfTagged = new Set<string>();
  for (const r of records) for (const c of r.children) childrenOfTagged.add(c.digest);
  const untagged = held.map((r) => r.digest).filter((d) => !tagged.has(d) && !childrenOfTagged.has(d));
  const stillThere = new Set<string>();
  await mapLimit(untagged, 8, async (d) => {
    if (!gone && (await client.headManifest(repository, d, signal))) stillThere.add(d);
  });
  // A deadline that passed while the last request was answered must not let a late write in.
  signal?.throwIfAborted();

  const now = deps.now();
  return deps.store.transaction(async (tx) => {
    await ensureRegistry(tx, reg, now);
    await ensureRepository(tx, reg, repository, deps.classify(repository), now);
    await saveManifests(tx, reg.name, records, now);
    const needed = await closure(tx, reg.name, [...tagged, ...stillThere]);
    await markHeld(tx, reg.name, repository, needed, now);
    const vanished = held.map((r) => r.digest).filter((d) => !needed.has(d));
    if (vanished.length) {
      await tx.db
        .deleteFrom('repository_manifests')
        .where('registry', '=', reg.name)
        .where('repository', '=', repository)
        .where('digest', 'in', vanished)
        .execute();
    }
    const changes = await applyTagState(deps, tx, reg, repository, current, 'all', 'observed by sync');
    return {
      repository,
      tags: current.size,
      manifestsFetched: records.length,
      changes,
      ...(gone ? { removed: true } : {}),
    };
  });
}

/**
 * Syncs every repository of a registry's catalog; repositories gone from it are removed.
 * Bounded in time (`reg.syncTimeoutMs`): a registry that keeps the sync busy fails with
 * SYNC_TIMEOUT naming the limit, and what was stored before the deadline stays.
 */
export async function syncRegistry(
  deps: InventoryDeps,
  reg: RegistryRef,
  options: { concurrency?: number; timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<SyncReport> {
  const started = performance.now();
  const timeoutMs = options.timeoutMs ?? reg.syncTimeoutMs ?? DEFAULT_SYNC_TIMEOUT_MS;
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(syncTimeout(reg, timeoutMs)), timeoutMs);
  try {
    // The caller's signal (a lost scheduler lease) stops the sync as the deadline does.
    const signal = options.signal ? AbortSignal.any([deadline.signal, options.signal]) : deadline.signal;
    return await syncRegistryUntil(deps, reg, options.concurrency ?? 4, signal, started);
  } catch (err) {
    const e = asSluiceError(err);
    // The failure is the news; an audit write that fails too (the store is down) must not hide it.
    await auditSync(deps, reg, 'failure', { registry: reg.name, code: e.code, message: e.message }).catch(
      () => undefined,
    );
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

function syncTimeout(reg: RegistryRef, timeoutMs: number): SluiceError {
  return new SluiceError(
    'SYNC_TIMEOUT',
    'unavailable',
    `sync of registry ${reg.name} (${reg.host}) did not finish within ${formatDuration(timeoutMs)} (limits.syncTimeout)`,
    { registry: reg.host, limit: timeoutMs },
  );
}

async function syncRegistryUntil(
  deps: InventoryDeps,
  reg: RegistryRef,
  concurrency: number,
  signal: AbortSignal,
  started: number,
): Promise<SyncReport> {
  const client = deps.client(reg.host);
  // Deletions a killed run made without recording them: recorded as that run's before this
  // sync observes them, so they are not taken for the registry's own.
  await reconcileIntents(deps, reg, {
    by: 'system:sync',
    actions: ['deletion'],
    refresh: (i, reason) =>
      refreshReference(deps, reg, i.repository, i.target === 'tag' ? { tag: i.tag! } : { digest: i.digest! }, reason),
  });
  const catalog = await client.catalog(undefined, signal);
  await ensureRegistry(deps.store, reg, deps.now());
  const report: SyncReport = {
    registry: reg.name,
    repositories: catalog.length,
    tags: 0,
    created: 0,
    moved: 0,
    deleted: 0,
    manifestsFetched: 0,
    durationMs: 0,
    errors: [],
  };
  const tally = (r: RepositorySyncReport) => {
    report.tags += r.tags;
    report.manifestsFetched += r.manifestsFetched;
    for (const c of r.changes) report[c.change]++;
  };
  await mapLimit(catalog, concurrency, async (repository) => {
    try {
      tally(await syncRepository(deps, reg, repository, signal));
    } catch (err) {
      // Past the deadline every repository would fail the same way: stop the whole sync.
      if (signal.aborted) throw signal.reason;
      const e = asSluiceError(err);
      report.errors.push({ repository, code: e.code, message: e.message });
    }
  });
  signal.throwIfAborted();
  // Repositories the catalog no longer lists: their tags are gone.
  const listed = new Set(catalog);
  const stored = await deps.store.db
    .selectFrom('repositories')
    .select('name')
    .where('registry', '=', reg.name)
    .execute();
  for (const { name } of stored) {
    if (listed.has(name)) continue;
    await deps.store.transaction(async (tx) => {
      const changes = await applyTagState(deps, tx, reg, name, new Map(), 'all', 'repository no longer in the catalog');
      for (const c of changes) report[c.change]++;
      await tx.db.deleteFrom('repositories').where('registry', '=', reg.name).where('name', '=', name).execute();
    });
  }
  report.durationMs = Math.round(performance.now() - started);
  await auditSync(deps, reg, report.errors.length ? 'failure' : 'success', {
    ...report,
    errors: report.errors.slice(0, 20),
  });
  return report;
}

/**
 * Re-reads one tag (or one digest) after an event named it, and stores what the registry
 * says now. Events never write state directly (ADR 0004).
 */
export async function refreshReference(
  deps: InventoryDeps,
  reg: RegistryRef,
  repository: string,
  ref: { tag?: string; digest?: string },
  reason: string,
): Promise<TagChange[]> {
  const client = deps.client(reg.host);
  const now = deps.now();
  const tagsToCheck = new Set<string>();
  if (ref.tag) tagsToCheck.add(ref.tag);
  if (ref.digest) {
    // A manifest delete removes every tag on it; re-check each tag the store has for it.
    const rows = await deps.store.db
      .selectFrom('tags')
      .select('tag')
      .where('registry', '=', reg.name)
      .where('repository', '=', repository)
      .where('digest', '=', ref.digest)
      .execute();
    for (const r of rows) tagsToCheck.add(r.tag);
  }
  const current = new Map<string, string>();
  for (const tag of tagsToCheck) {
    const head = await client.headManifest(repository, tag);
    if (head) current.set(tag, head.digest);
  }
  const digests = new Set(current.values());
  if (ref.digest && !digests.has(ref.digest) && (await client.headManifest(repository, ref.digest)))
    digests.add(ref.digest);
  const records = await fetchUnknown(deps, reg, client, repository, digests);
  return deps.store.transaction(async (tx) => {
    await ensureRegistry(tx, reg, now);
    await ensureRepository(tx, reg, repository, deps.classify(repository), null);
    await saveManifests(tx, reg.name, records, now);
    await markHeld(tx, reg.name, repository, await closure(tx, reg.name, digests), now);
    if (ref.digest && !digests.has(ref.digest)) {
      await tx.db
        .deleteFrom('repository_manifests')
        .where('registry', '=', reg.name)
        .where('repository', '=', repository)
        .where('digest', '=', ref.digest)
        .execute();
    }
    return applyTagState(deps, tx, reg, repository, current, tagsToCheck, reason);
  });
}

/** Counts a pull of a digest on its UTC day. */
export async function recordPull(
  store: Store,
  registry: string,
  repository: string,
  digest: string,
  at: Date,
  count = 1,
): Promise<void> {
  const day = at.toISOString().slice(0, 10);
  await store.transaction(async (tx) => {
    const row = await tx.db
      .selectFrom('pulls')
      .select('count')
      .where('registry', '=', registry)
      .where('repository', '=', repository)
      .where('digest', '=', digest)
      .where('day', '=', day)
      .executeTakeFirst();
    if (row) {
      await tx.db
        .updateTable('pulls')
        .set({ count: row.count + count })
        .where('registry', '=', registry)
        .where('repository', '=', repository)
        .where('digest', '=', digest)
        .where('day', '=', day)
        .execute();
    } else {
      await tx.db.insertInto('pulls').values({ registry, repository, digest, day, count }).execute();
    }
  });
}

export function registryNotConfigured(host: string): SluiceError {
  return new SluiceError('REGISTRY_UNKNOWN', 'not-found', `registry ${host} is not configured in the policy`, {
    registry: host,
  });
}

/** The one audit record a sync of a registry leaves, whether it finished or failed. */
async function auditSync(
  deps: InventoryDeps,
  reg: RegistryRef,
  result: 'success' | 'failure',
  details: Record<string, unknown>,
): Promise<void> {
  await deps.store.transaction(async (tx) => {
    await ensureRegistry(tx, reg, deps.now());
    await deps.audit(tx, {
      actor: 'system:sync',
      action: 'sync',
      repository: reg.host,
      reason: 'inventory sync',
      result,
      details,
    });
  });
}
