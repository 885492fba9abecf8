/**
 * Periodic jobs and their leases. Every replica runs the scheduler; before running a job it
 * takes the job's lease, and only the replica holding an unexpired lease runs it. Taking a
 * lease is one conditional UPDATE, so the database decides the race on both engines: row
 * locking on PostgreSQL, the single writer on SQLite. Times come from the store's clock, so
 * replicas need roughly synchronised clocks (NTP): keep the TTL far above the skew.
 */
import { SluiceError } from '../errors.ts';
import type { StoreHandle } from './index.ts';
import type { JobsTable } from './schema.ts';

export interface JobDefinition {
  name: string;
  /** Exactly one of intervalMs and cron. */
  intervalMs?: number;
  cron?: string;
  /** When the job first becomes due, if it does not exist yet. */
  firstRunAt: Date;
}

export interface LeaseRelease {
  /** JSON-serialisable outcome, kept as `last_result`. */
  result?: unknown;
  nextRunAt?: Date;
}

/** Creates the job, or updates its schedule while keeping its lease and next run. */
export async function registerJob(store: StoreHandle, job: JobDefinition): Promise<void> {
  if ((job.intervalMs === undefined) === (job.cron === undefined)) {
    throw new SluiceError('JOB_INVALID', 'invalid-input', `job ${job.name}: give exactly one of an interval or a cron`);
  }
  if (job.intervalMs !== undefined && (!Number.isSafeInteger(job.intervalMs) || job.intervalMs <= 0)) {
    throw new SluiceError('JOB_INVALID', 'invalid-input', `job ${job.name}: interval must be a positive integer (ms)`);
  }
  await store.db
    .insertInto('jobs')
    .values({
      name: job.name,
      interval_ms: job.intervalMs ?? null,
      cron: job.cron ?? null,
      next_run_at: job.firstRunAt.getTime(),
    })
    .onConflict((oc) => oc.column('name').doUpdateSet({ interval_ms: job.intervalMs ?? null, cron: job.cron ?? null }))
    .execute();
}

/**
 * Takes or renews the lease of `job` for `owner` until now + ttlMs. True when `owner` holds
 * the lease afterwards. Throws JOB_UNKNOWN when the job was never registered.
 */
export async function tryAcquireLease(store: StoreHandle, job: string, owner: string, ttlMs: number): Promise<boolean> {
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
    throw new SluiceError('JOB_INVALID', 'invalid-input', `lease TTL must be a positive integer (ms), got ${ttlMs}`);
  }
  const now = store.clock().getTime();
  const result = await store.db
    .updateTable('jobs')
    .set({ lease_owner: owner, lease_expires_at: now + ttlMs })
    .where('name', '=', job)
    .where((eb) =>
      eb.or([eb('lease_owner', 'is', null), eb('lease_expires_at', '<=', now), eb('lease_owner', '=', owner)]),
    )
    .executeTakeFirst();
  if (result.numUpdatedRows === 1n) return true;
  const exists = await store.db.selectFrom('jobs').select('name').where('name', '=', job).executeTakeFirst();
  if (exists === undefined) throw new SluiceError('JOB_UNKNOWN', 'not-found', `job ${job} is not registered`);
  return false;
}

/**
 * Extends a lease `owner` still holds, to now + ttlMs. Unlike `tryAcquireLease` it never takes
 * a lease that is free or expired: a holder whose lease lapsed may have been overtaken by a
 * replica that already ran the job and gave the lease back, and re-taking it then would let
 * the old run go on beside (or after) the new one. False means the lease is lost.
 */
export async function renewLease(store: StoreHandle, job: string, owner: string, ttlMs: number): Promise<boolean> {
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
    throw new SluiceError('JOB_INVALID', 'invalid-input', `lease TTL must be a positive integer (ms), got ${ttlMs}`);
  }
  const now = store.clock().getTime();
  const result = await store.db
    .updateTable('jobs')
    .set({ lease_expires_at: now + ttlMs })
    .where('name', '=', job)
    .where('lease_owner', '=', owner)
    .where('lease_expires_at', '>', now)
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

/**
 * Gives the lease back, recording the run's outcome. False when `owner` no longer held it
 * (it expired and another replica took over): the caller's result is then not recorded.
 */
export async function releaseLease(
  store: StoreHandle,
  job: string,
  owner: string,
  release: LeaseRelease = {},
): Promise<boolean> {
  const now = store.clock().getTime();
  const set: Partial<JobsTable> = { lease_owner: null, lease_expires_at: null };
  if (release.result !== undefined) {
    set.last_result = JSON.stringify(release.result);
    set.last_run_at = now;
  }
  if (release.nextRunAt !== undefined) set.next_run_at = release.nextRunAt.getTime();
  const result = await store.db
    .updateTable('jobs')
    .set(set)
    .where('name', '=', job)
    .where('lease_owner', '=', owner)
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

export interface JobRow {
  name: string;
  intervalMs: number | null;
  cron: string | null;
  nextRunAt: Date;
  leaseOwner: string | null;
  leaseExpiresAt: Date | null;
  lastRunAt: Date | null;
  lastResult: unknown;
}

/** Jobs whose next run is at or before `at` (default: now), earliest first. */
export async function dueJobs(store: StoreHandle, at: Date = store.clock()): Promise<JobRow[]> {
  const rows = await store.db
    .selectFrom('jobs')
    .selectAll()
    .where('next_run_at', '<=', at.getTime())
    .orderBy('next_run_at')
    .orderBy('name')
    .execute();
  return rows.map((r) => ({
    name: r.name,
    intervalMs: r.interval_ms,
    cron: r.cron,
    nextRunAt: new Date(r.next_run_at),
    leaseOwner: r.lease_owner,
    leaseExpiresAt: r.lease_expires_at === null ? null : new Date(r.lease_expires_at),
    lastRunAt: r.last_run_at === null ? null : new Date(r.last_run_at),
    lastResult: r.last_result === null ? null : (JSON.parse(r.last_result) as unknown),
  }));
}
