/**
 * Runs periodic jobs on every replica, each due run exactly once across replicas. Jobs are
 * declared in code and registered in the `jobs` table; the table holds when each job is due
 * next and who holds its lease. A replica runs a due job only after taking its lease and
 * re-reading, under the lease, that the job is still due: another replica may have run it
 * and given the lease back between this replica's look at the due list and its lease.
 *
 * Leases are short (30 s) and held by a heartbeat: renewed every third of the TTL while the job
 * runs, so a long run is never taken over and a replica that dies holding one delays that job
 * by about one TTL. The holder distrusts its own lease a safety margin before it could expire
 * (it cannot renew: database unreachable, process paused) and aborts the run then, before any
 * other replica may take the lease; a renewal that finds the lease taken aborts at once.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { asSluiceError, SluiceError } from '../errors.ts';
import { nextRun } from '../policy/cron.ts';
import {
  registerJob,
  releaseLease,
  renewLease,
  tryAcquireLease,
  type Store,
  type StoreHandle,
} from '../store/index.ts';

export interface JobRunContext {
  /**
   * Aborted when the lease is lost (taken by another replica, or not renewed in time) or the
   * scheduler stops past its grace period. Its reason is a SluiceError (JOB_LEASE_LOST,
   * JOB_LEASE_EXPIRED, SCHEDULER_STOPPED).
   */
  signal: AbortSignal;
  /**
   * Confirms with the database, now, that this replica still holds the job's lease (and
   * extends it). Throws, and aborts `signal` when the lease is gone, if it cannot. Call it
   * right before an irreversible step such as deleting from a registry: `signal` only
   * reflects the last heartbeat.
   */
  confirmLease(): Promise<void>;
}

export interface JobSpec {
  name: string;
  /** Exactly one of intervalMs and cron. */
  intervalMs?: number;
  cron?: string;
  /** Time zone of `cron`; default UTC. */
  timeZone?: string;
  /**
   * Interval jobs only: delay before the first run of a job the table does not have yet;
   * default 0 (right away). A cron job first runs at the next time its expression names.
   */
  firstRunDelayMs?: number;
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
  /**
   * Lease time-to-live, renewed every third of it while a job runs; default 30 s. A dead
   * replica's job is taken over about this long after its last renewal.
   */
  leaseTtlMs?: number;
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

export const DEFAULT_LEASE_TTL_MS = 30_000;
/**
 * The holder stops trusting its lease this share of the TTL before it could expire, to cover
 * clock skew between replicas (the expiry is written in the holder's clock, read in the
 * others') and the time a renewal takes. 30 s TTL: 5 s.
 */
const LEASE_SAFETY_DIVISOR = 6;

const silent: SchedulerLogger = { info() {}, warn() {}, error() {} };

export class Scheduler {
  readonly owner: string;
  readonly leaseTtlMs: number;
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
    this.leaseTtlMs = options.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
    if (!Number.isSafeInteger(this.leaseTtlMs) || this.leaseTtlMs < LEASE_SAFETY_DIVISOR) {
      throw new SluiceError(
        'JOB_INVALID',
        'invalid-input',
        `lease TTL must be an integer of at least ${LEASE_SAFETY_DIVISOR} ms, got ${this.leaseTtlMs}`,
      );
    }
  }

  add(job: JobSpec): this {
    if (this.#jobs.has(job.name)) throw new Error(`job ${job.name} is defined twice`);
    // An invalid expression or zone fails here, at start, rather than at the first due time.
    if (job.cron !== undefined) nextRunAfter(job, new Date(0));
    this.#jobs.set(job.name, job);
    return this;
  }

  jobs(): JobSpec[] {
    return [...this.#jobs.values()];
  }

  /**
   * Creates missing jobs in the table and updates schedules of existing ones. A cron job whose
   * next run is not a time its expression names (the expression or the zone changed since it
   * was scheduled) is moved to the next time it does name.
   */
  async register(): Promise<void> {
    const now = this.#store.clock();
    for (const job of this.#jobs.values()) {
      const first = firstRunAt(job, now);
      await registerJob(this.#store, {
        name: job.name,
        ...(job.cron !== undefined ? { cron: job.cron } : { intervalMs: job.intervalMs }),
        firstRunAt: first,
      });
      if (job.cron === undefined) continue;
      const row = await this.#store.db
        .selectFrom('jobs')
        .select('next_run_at')
        .where('name', '=', job.name)
        .executeTakeFirst();
      if (!row || !staleCronSchedule(job, row.next_run_at, now)) continue;
      // Conditional on the value read, so a run recorded meanwhile by another replica stands.
      await this.#store.db
        .updateTable('jobs')
        .set({ next_run_at: first.getTime() })
        .where('name', '=', job.name)
        .where('next_run_at', '=', row.next_run_at)
        .execute();
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
    const ttl = this.leaseTtlMs;
    // The lease is trusted from before the request was sent: it may have been written at
    // any moment up to the answer.
    const requestedAt = performance.now();
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
    const heartbeat = new LeaseHeartbeat({
      store: this.#store,
      job: job.name,
      owner: this.owner,
      ttlMs: ttl,
      trustedFrom: requestedAt,
      controller,
      log: this.#log,
    });
    const promise = this.#run(job, heartbeat, row.next_run_at, controller).finally(() =>
      this.#running.delete(job.name),
    );
    this.#running.set(job.name, { promise, controller });
  }

  async #run(job: JobSpec, heartbeat: LeaseHeartbeat, dueAt: number, controller: AbortController): Promise<void> {
    const started = this.#store.clock();
    const t0 = performance.now();
    this.#options.onStart?.(job.name);
    let outcome: JobOutcome;
    try {
      const result = await job.run({ signal: controller.signal, confirmLease: () => heartbeat.confirm() });
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
      heartbeat.stop();
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
      for (const r of this.#running.values())
        r.controller.abort(
          new SluiceError('SCHEDULER_STOPPED', 'unavailable', 'the scheduler is shutting down past its grace period'),
        );
    }
  }
}

type Schedule = Pick<JobSpec, 'intervalMs' | 'cron' | 'timeZone' | 'firstRunDelayMs'>;

export function nextRunAfter(job: Schedule, now: Date): Date {
  if (job.cron !== undefined) return nextRun(job.cron, now, job.timeZone ?? 'UTC');
  return new Date(now.getTime() + (job.intervalMs ?? 0));
}

/**
 * When a job the table does not have yet first becomes due. A cron job: the next time its
 * expression names, never "now" (a weekly prod retention must not run because a server
 * started on a Wednesday). An interval job: after its first-run delay.
 */
export function firstRunAt(job: Schedule, now: Date): Date {
  if (job.cron !== undefined) return nextRunAfter(job, now);
  return new Date(now.getTime() + (job.firstRunDelayMs ?? 0));
}

/**
 * True when a cron job's stored next run lies ahead but is not a time its expression names
 * in its zone: scheduled under another expression or zone. A next run at or before now is
 * left alone: it is a missed run or a trigger, due either way.
 */
export function staleCronSchedule(job: Schedule, nextRunAt: number, now: Date): boolean {
  if (job.cron === undefined || nextRunAt <= now.getTime()) return false;
  return nextRunAfter(job, new Date(nextRunAt - 1)).getTime() !== nextRunAt;
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

interface HeartbeatOptions {
  store: Store;
  job: string;
  owner: string;
  ttlMs: number;
  /** performance.now() when the lease was requested. */
  trustedFrom: number;
  controller: AbortController;
  log: SchedulerLogger;
}

/**
 * Keeps one run's lease: renews it every third of the TTL, retries sooner after a failed
 * renewal, and aborts the run when the lease is lost or when it could not be renewed until
 * the safety margin before it may expire. Renewal goes on after an abort while the run is
 * still winding down, so a job that is slow to honour the signal still holds off the others.
 */
class LeaseHeartbeat {
  readonly #o: HeartbeatOptions;
  readonly #margin: number;
  #trustedUntil: number;
  #lastRenewed: number;
  #renewTimer: NodeJS.Timeout | undefined;
  #deadlineTimer: NodeJS.Timeout | undefined;
  #stopped = false;
  #lost = false;

  constructor(options: HeartbeatOptions) {
    this.#o = options;
    this.#margin = Math.max(1, Math.floor(options.ttlMs / LEASE_SAFETY_DIVISOR));
    this.#lastRenewed = options.trustedFrom;
    this.#trustedUntil = options.trustedFrom + options.ttlMs - this.#margin;
    this.#armDeadline();
    this.#next(Math.max(1, Math.floor(options.ttlMs / 3)));
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#renewTimer);
    clearTimeout(this.#deadlineTimer);
  }

  async confirm(): Promise<void> {
    const { controller } = this.#o;
    this.#checkDeadline();
    controller.signal.throwIfAborted();
    if (!(await this.#renew())) throw asSluiceError(controller.signal.reason);
    // The answer may have come after the deadline (a slow database).
    this.#checkDeadline();
    controller.signal.throwIfAborted();
  }

  #next(delay: number): void {
    if (this.#stopped || this.#lost) return;
    this.#renewTimer = setTimeout(() => {
      this.#renew().then(
        () => this.#next(Math.max(1, Math.floor(this.#o.ttlMs / 3))),
        () => this.#next(Math.max(1, Math.floor(this.#o.ttlMs / 10))),
      );
    }, delay);
    this.#renewTimer.unref();
  }

  /** True when renewed; false when the lease is lost (the run is aborted); throws on database errors. */
  async #renew(): Promise<boolean> {
    const { store, job, owner, ttlMs, controller, log } = this.#o;
    if (this.#lost) return false;
    const sentAt = performance.now();
    let held: boolean;
    try {
      held = await renewLease(store, job, owner, ttlMs);
    } catch (err) {
      log.warn({ job, err: errorInfo(err) }, `scheduler: could not renew the lease of ${job}; retrying`);
      throw err;
    }
    if (!held) {
      this.#lost = true;
      log.error({ job }, `scheduler: the lease of ${job} is no longer this replica's; aborting the run`);
      controller.abort(
        new SluiceError(
          'JOB_LEASE_LOST',
          'conflict',
          `the lease of job ${job} was lost (expired, or taken by another replica); this run stops`,
          { operation: 'job', job },
        ),
      );
      return false;
    }
    if (sentAt > this.#lastRenewed) {
      this.#lastRenewed = sentAt;
      this.#trustedUntil = sentAt + ttlMs - this.#margin;
      this.#armDeadline();
    }
    return true;
  }

  #armDeadline(): void {
    clearTimeout(this.#deadlineTimer);
    if (this.#stopped) return;
    // Node's timers keep their own millisecond clock and may fire a fraction of a millisecond
    // before `performance.now()` reaches the deadline: an early wake-up re-arms rather than
    // leaving the run unfenced until the next renewal.
    this.#deadlineTimer = setTimeout(
      () => (performance.now() < this.#trustedUntil ? this.#armDeadline() : this.#checkDeadline()),
      Math.max(1, Math.ceil(this.#trustedUntil - performance.now())),
    );
    this.#deadlineTimer.unref();
  }

  #checkDeadline(): void {
    const { job, controller, log } = this.#o;
    if (this.#stopped || controller.signal.aborted || performance.now() < this.#trustedUntil) return;
    const since = Math.round(performance.now() - this.#lastRenewed);
    log.error({ job }, `scheduler: the lease of ${job} could not be renewed for ${since} ms; aborting the run`);
    controller.abort(
      new SluiceError(
        'JOB_LEASE_EXPIRED',
        'unavailable',
        `the lease of job ${job} could not be renewed for ${since} ms (TTL ${this.#o.ttlMs} ms); ` +
          'this run stops before another replica may take the job over',
        { operation: 'job', job },
      ),
    );
  }
}

function errorInfo(err: unknown): { code: string; message: string } {
  const e = asSluiceError(err);
  return { code: e.code, message: e.message };
}
