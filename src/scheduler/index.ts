/** Periodic jobs, run exactly once per due time across replicas through database leases. */
export { DEFAULT_LEASE_TTL_MS, Scheduler, firstRunAt, listJobs, nextRunAfter, staleCronSchedule } from './scheduler.ts';
export type { JobOutcome, JobRunContext, JobSpec, JobStatus, SchedulerLogger, SchedulerOptions } from './scheduler.ts';
export { EVENTS_PURGE_JOB, SYNC_JOB_PREFIX, registryOfSyncJob, serverJobs, syncJobName } from './jobs.ts';
export type { SyncSummary } from './jobs.ts';
