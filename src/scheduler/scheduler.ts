/**
 * Runs periodic jobs on every replica, each due run exactly once across replicas. Jobs are
 * declared in code and registered in the `jobs` table; the table holds when each job is due
 * next and who holds its lease. A replica runs a due job only after taking its lease and
 * re-reading, under the lease, that the job is still due: another replica may have run it
 * and given the lease back between this replica's look at the due list and its lease. Leases
 * are renewed while a job runs, so a long run is not taken over; a replica that dies holding
 * one delays that job by at most the lease TTL.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { asSluiceError } from '../errors.ts';
import { nextRun } from '../policy/cron.ts';
import { registerJob, releaseLease, tryAcquireLease, type Store, type StoreHandle } from '../store/index.ts';

export interface JobRunContext {
  /** Aborted when the lease is lost or the scheduler stops past its grace period. */
  signal: AbortSignal;
}

export interface JobSpec {
  name: string;
  /** Exactly one of intervalMs and cron. */
  intervalMs?: number;
  cron?: string;
  /** Time zone of `cron`; default UTC. */
  timeZone?: string;
  /** Delay before the first run of a job the table does not have yet; default 0 (right away). */
  firstRunDelayMs?: number;
  /** Lease time-to-live; renewed every third of it while the job runs. Default 5 minutes. */
  leaseTtlMs?: number;
  /** Does the work; the value returned is stored as the run's result (JSON). */
  run(ctx: JobRunContext): Promise<unknown>;
}

export interface JobOutcome {
  ok: boolean;
  startedAt: string;
  durationMs: number;
  result?: unknown;
  error?: { code: string; message: string };
}

export interface SchedulerLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface SchedulerOptions {
  store: Store;
  /** Lease owner id; default host name, pid and a random suffix. */
  owner?: string;
  /** How often due jobs are looked for; default 2 s. */
  tickMs?: number;
  log?: SchedulerLogger;
  onStart?(job: string): void;
  onEnd?(job: string, outcome: JobOutcome): void;
}

export interface JobStatus {
  name: string;
  intervalMs: number | null;
  cron: string | null;
  nextRunAt: string;
  lastRunAt: string | null;
  lastResult: unknown;
  /** Lease held and not expired: some replica runs it now. */
  running: boolean;
  leaseOwner: string | null;
}

const DEFAULT_TTL_MS = 5 * 60_000;

const silent: SchedulerLogger = { info() {}, warn() {}, error() {} };

export class Scheduler {
  readonly owner: string;
  readonly #store: Store;
  readonly #tickMs: number;
  readonly #log: SchedulerLogger;
  readonly #jobs = new Map<string, JobSpec>();
  readonly #running = new Map<string, { promise: Promise<void>; controller: AbortController }>();
  readonly #options: SchedulerOptions;
  #timer: NodeJS.Timeout | undefined;
  #started = false;
  #stopping = false;
  #ticking: Promise<void> | undefined;
  #storeDown = false;

  constructor(options: SchedulerOptions) {
    this.#options = options;
    this.#store = options.store;
    this.#tickMs = options.tickMs ?? 2000;
    this.#log = options.log ?? silent;
    this.owner = options.owner ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  }

  add(job: JobSpec): this {
    if (this.#jobs.has(job.name)) throw new Error(`job ${job.name} is defined twice`);
    this.#jobs.set(job.name, job);
    return this;
  }

  jobs(): JobSpec[] {
    return [...this.#jobs.values()];
  }

  /** Creates missing jobs in the table and updates schedules of existing ones. */
  async register(): Promise<void> {
    const now = this.#store.clock().getTime();
    for (const job of this.#jobs.values()) {
      await registerJob(this.#store, {
        name: job.name,
        ...(job.cron !== undefined ? { cron: job.cron } : { intervalMs: job.intervalMs }),
        firstRunAt: new Date(now + (job.firstRunDelayMs ?? 0)),
      });
    }
  }

  /** Registers the jobs and starts looking for due ones every tick. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await this.register();
    this.#schedule(0);
  }

  #schedule(delay: number): void {
    if (this.#stopping) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#ticking = this.tick().finally(() => {
        this.#ticking = undefined;
        this.#schedule(this.#tickMs);
      });
    }, delay);
    this.#timer.unref();
  }

  /** One pass: starts every due job this replica wins the lease of. Resolves once they started. */
  async tick(): Promise<void> {
    if (this.#stopping) return;
    let due: Array<{ name: string }>;
    try {
      const now = this.#store.clock().getTime();
      due = await this.#store.db
        .selectFrom('jobs')
        .select('name')
        .where('next_run_at', '<=', now)
        .orderBy('next_run_at')
        .execute();
      if (this.#storeDown) this.#log.info({ scheduler: this.owner }, 'scheduler: database reachable again');
      this.#storeDown = false;
    } catch (err) {
      if (!this.#storeDown)
        this.#log.warn({ err: errorInfo(err) }, 'scheduler: cannot read due jobs; retrying every tick');
      this.#storeDown = true;
      return;
    }
    for (const { name } of due) {
      const job = this.#jobs.get(name);
      if (!job || this.#running.has(name) || this.#stopping) continue;
      try {
        await this.#claim(job);
      } catch (err) {
        this.#log.warn({ job: name, err: errorInfo(err) }, `scheduler: could not claim job ${name}`);
      }
    }
  }

  async #claim(job: JobSpec): Promise<void> {
    const ttl = job.leaseTtlMs ?? DEFAULT_TTL_MS;
    if (!(await tryAcquireLease(this.#store, job.name, this.owner, ttl))) return;
    // Under the lease nobody else moves next_run_at: is the job still due, or did another
    // replica run it while this one was looking?
    const row = await this.#store.db
      .selectFrom('jobs')
      .select('next_run_at')
      .where('name', '=', job.name)
      .executeTakeFirst();
    const now = this.#store.clock().getTime();
    if (!row || row.next_run_at > now || this.#stopping) {
      await releaseLease(this.#store, job.name, this.owner);
      return;
    }
    const controller = new AbortController();
    const promise = this.#run(job, ttl, row.next_run_at, controller).finally(() => this.#running.delete(job.name));
    this.#running.set(job.name, { promise, controller });
  }

  async #run(job: JobSpec, ttl: number, dueAt: number, controller: AbortController): Promise<void> {
    const started = this.#store.clock();
    const t0 = performance.now();
    const renew = setInterval(
      () => {
        tryAcquireLease(this.#store, job.name, this.owner, ttl)
          .then((held) => {
            if (!held) {
              this.#log.error({ job: job.name }, `scheduler: lease of job ${job.name} was lost; abandoning the run`);
              controller.abort(new Error('lease lost'));
            }
          })
          .catch((err: unknown) =>
            this.#log.warn(
              { job: job.name, err: errorInfo(err) },
              `scheduler: could not renew the lease of ${job.name}`,
            ),
          );
      },
      Math.max(1, Math.floor(ttl / 3)),
    );
    renew.unref();
    this.#options.onStart?.(job.name);
    let outcome: JobOutcome;
    try {
      const result = await job.run({ signal: controller.signal });
      outcome = {
        ok: true,
        startedAt: started.toISOString(),
        durationMs: Math.round(performance.now() - t0),
        ...(result === undefined ? {} : { result }),
      };
      this.#log.info({ job: job.name, durationMs: outcome.durationMs }, `job ${job.name} finished`);
    } catch (err) {
      const e = asSluiceError(err);
      outcome = {
        ok: false,
        startedAt: started.toISOString(),
        durationMs: Math.round(performance.now() - t0),
        error: { code: e.code, message: e.message },
      };
      this.#log.error({ job: job.name, err: errorInfo(err) }, `job ${job.name} failed: ${e.message}`);
    } finally {
      clearInterval(renew);
    }
    this.#options.onEnd?.(job.name, outcome);
    try {
      const now = this.#store.clock();
      // A trigger during the run (next_run_at moved) asks for another run: keep it.
      const row = await this.#store.db
        .selectFrom('jobs')
        .select('next_run_at')
        .where('name', '=', job.name)
        .executeTakeFirst();
      const triggered = row !== undefined && row.next_run_at !== dueAt;
      const next = triggered ? new Date(row.next_run_at) : nextRunAfter(job, now);
      const released = await releaseLease(this.#store, job.name, this.owner, { result: outcome, nextRunAt: next });
      if (!released)
        this.#log.warn(
          { job: job.name },
          `scheduler: the lease of ${job.name} expired during the run; result not recorded`,
        );
    } catch (err) {
      this.#log.error(
        { job: job.name, err: errorInfo(err) },
        `scheduler: could not record the run of ${job.name}; it runs again when its lease expires`,
      );
    }
  }

  /** Makes jobs due now (on whichever replica takes them first). Returns the names found. */
  async trigger(names: string[]): Promise<string[]> {
    const now = this.#store.clock().getTime();
    const result = await this.#store.db
      .updateTable('jobs')
      .set({ next_run_at: now })
      .where('name', 'in', names)
      .returning('name')
      .execute();
    if (this.#started && !this.#stopping) this.#schedule(0);
    return result.map((r) => r.name);
  }

  /** Names of the jobs running in this process. */
  running(): string[] {
    return [...this.#running.keys()];
  }

  /** Resolves when no job runs in this process. */
  async idle(): Promise<void> {
    while (this.#running.size > 0 || this.#ticking) {
      await Promise.allSettled([...this.#running.values()].map((r) => r.promise).concat(this.#ticking ?? []));
    }
  }

  /**
   * Stops taking jobs and waits for running ones up to `graceMs`; past it they are aborted and
   * their leases left to expire.
   */
  async stop(graceMs = 10_000): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#timer);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), graceMs);
      timer.unref();
    });
    const outcome = await Promise.race([this.idle().then(() => 'done' as const), timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      this.#log.warn({ jobs: this.running() }, 'scheduler: jobs still running after the grace period; aborting them');
      for (const r of this.#running.values()) r.controller.abort(new Error('shutting down'));
    }
  }
}

export function nextRunAfter(job: Pick<JobSpec, 'intervalMs' | 'cron' | 'timeZone'>, now: Date): Date {
  if (job.cron !== undefined) return nextRun(job.cron, now, job.timeZone ?? 'UTC');
  return new Date(now.getTime() + (job.intervalMs ?? 0));
}

/** Every job in the table with its state. */
export async function listJobs(store: StoreHandle): Promise<JobStatus[]> {
  const now = store.clock().getTime();
  const rows = await store.db.selectFrom('jobs').selectAll().orderBy('name').execute();
  return rows.map((r) => ({
    name: r.name,
    intervalMs: r.interval_ms,
    cron: r.cron,
    nextRunAt: new Date(r.next_run_at).toISOString(),
    lastRunAt: r.last_run_at === null ? null : new Date(r.last_run_at).toISOString(),
    lastResult: r.last_result === null ? null : (JSON.parse(r.last_result) as unknown),
    running: r.lease_owner !== null && r.lease_expires_at !== null && r.lease_expires_at > now,
    leaseOwner: r.lease_owner,
  }));
}

function errorInfo(err: unknown): { code: string; message: string } {
  const e = asSluiceError(err);
  return { code: e.code, message: e.message };
}
