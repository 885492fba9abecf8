/**
 * The periodic jobs `sluice serve` runs: a sync per registry (reconciles whatever events
 * missed) and the daily purge of old delivery ids. Scans and retention add theirs here.
 */
import { EVENTS_SEEN_RETENTION_MS, purgeSeenEvents } from '../inventory/apply.ts';
import { syncRegistry, type SyncReport } from '../inventory/sync.ts';
import { inventoryFor, type Runtime } from '../runtime.ts';
import type { JobSpec } from './scheduler.ts';

export const SYNC_JOB_PREFIX = 'sync:';
export const EVENTS_PURGE_JOB = 'events-purge';
const DAY_MS = 24 * 60 * 60 * 1000;

export function syncJobName(registry: string): string {
  return `${SYNC_JOB_PREFIX}${registry}`;
}

/** The registry a sync job name refers to, or undefined for other jobs. */
export function registryOfSyncJob(job: string): string | undefined {
  return job.startsWith(SYNC_JOB_PREFIX) ? job.slice(SYNC_JOB_PREFIX.length) : undefined;
}

/** A sync report as a job result: the error count, and the first few errors for `GET /api/v1/jobs`. */
export type SyncSummary = Omit<SyncReport, 'errors' | 'durationMs'> & {
  errors: number;
  firstErrors: SyncReport['errors'];
};

export function serverJobs(rt: Runtime): JobSpec[] {
  const jobs: JobSpec[] = rt.registries.map((reg) => ({
    name: syncJobName(reg.name),
    intervalMs: rt.policy.server.syncInterval,
    async run({ signal }): Promise<SyncSummary> {
      const r = await syncRegistry(inventoryFor(rt, reg), reg, { signal });
      return {
        registry: r.registry,
        repositories: r.repositories,
        tags: r.tags,
        created: r.created,
        moved: r.moved,
        deleted: r.deleted,
        manifestsFetched: r.manifestsFetched,
        errors: r.errors.length,
        firstErrors: r.errors.slice(0, 5),
      };
    },
  }));
  jobs.push({
    name: EVENTS_PURGE_JOB,
    intervalMs: DAY_MS,
    firstRunDelayMs: 60_000,
    async run() {
      const removed = await purgeSeenEvents(rt.store, rt.now(), EVENTS_SEEN_RETENTION_MS);
      return { removed };
    },
  });
  return jobs;
}
