/**
 * The jobs `sluice serve` registers, under a clock the test sets: every cron job (whatever
 * the server registers, read back from its scheduler) first runs at the next time its
 * expression names in its zone, never at start, including across daylight-saving changes;
 * and the server holds job leases for the short heartbeat TTL.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nextRun } from '../../../src/policy/index.ts';
import { openRuntime } from '../../../src/runtime.ts';
import { DEFAULT_LEASE_TTL_MS, Scheduler, type JobSpec } from '../../../src/scheduler/index.ts';
import { startServer } from '../../../src/server/index.ts';
import { createWorkspace } from '../../helpers/workspace.ts';
import { LogCapture } from './helpers.ts';

const iso = (ms: number) => new Date(ms).toISOString();

test('every cron job the server registers first runs at the next time its expression names, never at start', async () => {
  const ws = await createWorkspace({
    registries: [{ name: 'local', url: 'http://127.0.0.1:5999' }],
    edit: (doc) => {
      doc.setIn(['spec', 'timeZone'], 'Europe/Berlin');
      // A second scheduled stage, at a wall time that one spring night skips and one autumn night repeats.
      doc.setIn(['spec', 'stages', 2, 'retention'], {
        mode: 'scheduled',
        schedule: '30 2 * * *',
        maxAge: '180d',
        keepLast: 10,
      });
    },
  });
  // The reported start (a Wednesday), the eve of the spring-forward night, the eve of the fall-back night.
  const starts = ['2025-03-26T10:00:00.000Z', '2025-03-29T23:00:00.000Z', '2025-10-25T23:00:00.000Z'].map(Date.parse);
  let now = starts[0]!;
  const rt = await openRuntime({
    configPath: ws.configPath,
    env: { ...process.env, ...ws.env },
    clock: () => new Date(now),
  });
  const server = await startServer(rt, { listen: '127.0.0.1:0', scheduler: false, logStream: new LogCapture() });
  try {
    const cronJobs = server.scheduler.jobs().filter((j) => j.cron !== undefined);
    assert.ok(cronJobs.length >= 2, `cron jobs registered: ${cronJobs.map((j) => j.name).join(', ')}`);
    assert.ok(
      cronJobs.some((j) => j.timeZone === 'Europe/Berlin'),
      'the policy zone reaches the cron jobs that do not name their own',
    );
    const nextRunOf = async (name: string) =>
      (await rt.store.db.selectFrom('jobs').select('next_run_at').where('name', '=', name).executeTakeFirstOrThrow())
        .next_run_at;

    for (const [i, start] of starts.entries()) {
      now = start;
      // The first start is the server's own registration on its fresh database; later ones start afresh.
      if (i > 0) {
        await rt.store.db.deleteFrom('jobs').execute();
        await server.scheduler.register();
      }
      const expected = new Map<string, number>();
      for (const job of cronJobs) {
        const at = await nextRunOf(job.name);
        const named = nextRun(job.cron!, new Date(start), job.timeZone).getTime();
        assert.ok(at > start, `${job.name} (${job.cron}) registered at ${iso(start)} is due ${iso(at)}, not at start`);
        assert.equal(iso(at), iso(named), `${job.name} (${job.cron}) first runs at the next time it names`);
        expected.set(job.name, at);
      }
      if (start === Date.parse('2025-03-29T23:00:00.000Z')) {
        const skipped = cronJobs.find((j) => j.cron === '30 2 * * *')!;
        assert.equal(iso(expected.get(skipped.name)!), '2025-03-30T01:30:00.000Z', '02:30 skipped: runs at 03:30 CEST');
      }
      if (start === Date.parse('2025-10-25T23:00:00.000Z')) {
        const repeated = cronJobs.find((j) => j.cron === '30 2 * * *')!;
        assert.equal(iso(expected.get(repeated.name)!), '2025-10-26T00:30:00.000Z', '02:30 twice: runs at the first');
      }

      // What the table says is what a scheduler does: tick the server's jobs (their work
      // replaced by a recorder) at start, just before each cron time and at it.
      const ran: Array<{ job: string; at: number }> = [];
      const probe = new Scheduler({ store: rt.store, owner: `probe-${i}` });
      for (const job of server.scheduler.jobs()) {
        probe.add({
          ...job,
          async run() {
            ran.push({ job: job.name, at: now });
          },
        } satisfies JobSpec);
      }
      const tick = async () => {
        await probe.tick();
        await probe.idle();
      };
      await tick();
      assert.ok(
        ran.some((r) => r.job.startsWith('sync:')),
        'jobs due at start (the first sync) do run: the probe is live',
      );
      assert.deepEqual(
        ran.filter((r) => expected.has(r.job)),
        [],
        'no cron job runs at start',
      );
      for (const [name, at] of [...expected].sort((a, b) => a[1] - b[1])) {
        now = at - 1;
        await tick();
        assert.equal(
          ran.filter((r) => r.job === name).length,
          0,
          `${name} has not run a millisecond before ${iso(at)}`,
        );
        now = at;
        await tick();
        assert.deepEqual(
          ran.filter((r) => r.job === name).map((r) => iso(r.at)),
          [iso(at)],
          `${name} ran once, at ${iso(at)}`,
        );
      }
    }
  } finally {
    await server.close();
    await ws.cleanup();
  }
});

test('a changed cron expression or zone reschedules the next run; a trigger survives re-registration', async () => {
  const ws = await createWorkspace({ registries: [{ name: 'local', url: 'http://127.0.0.1:5999' }] });
  let now = Date.parse('2025-03-26T10:00:00.000Z');
  const rt = await openRuntime({
    configPath: ws.configPath,
    env: { ...process.env, ...ws.env },
    clock: () => new Date(now),
  });
  try {
    const register = async (spec: Partial<JobSpec>) => {
      const s = new Scheduler({ store: rt.store });
      s.add({ name: 'weekly', cron: '0 3 * * 0', ...spec, async run() {} });
      await s.register();
      return s;
    };
    const nextRunAt = async () =>
      iso(
        (
          await rt.store.db
            .selectFrom('jobs')
            .select('next_run_at')
            .where('name', '=', 'weekly')
            .executeTakeFirstOrThrow()
        ).next_run_at,
      );
    await register({});
    assert.equal(await nextRunAt(), '2025-03-30T03:00:00.000Z');
    await register({});
    assert.equal(await nextRunAt(), '2025-03-30T03:00:00.000Z', 'unchanged schedule: unchanged next run');
    await register({ cron: '0 4 * * *' });
    assert.equal(await nextRunAt(), '2025-03-27T04:00:00.000Z', 'a new expression: its own next time');
    await register({ cron: '0 4 * * *', timeZone: 'America/New_York' });
    assert.equal(await nextRunAt(), '2025-03-27T08:00:00.000Z', 'a new zone: the same wall time there');
    const s = await register({ cron: '0 4 * * *', timeZone: 'America/New_York' });
    now += 60_000;
    assert.deepEqual(await s.trigger(['weekly']), ['weekly']);
    await register({ cron: '0 5 * * *', timeZone: 'America/New_York' });
    assert.equal(await nextRunAt(), iso(now), 'a requested run stays due');
  } finally {
    await ws.cleanup();
  }
});

test('the server holds job leases for the short heartbeat TTL', async () => {
  const ws = await createWorkspace({ registries: [{ name: 'local', url: 'http://127.0.0.1:5999' }] });
  const now = Date.parse('2025-03-26T10:00:00.000Z');
  const rt = await openRuntime({
    configPath: ws.configPath,
    env: { ...process.env, ...ws.env },
    clock: () => new Date(now),
  });
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let started = false;
  const server = await startServer(rt, {
    listen: '127.0.0.1:0',
    scheduler: false,
    logStream: new LogCapture(),
    jobs: [
      {
        name: 'lease-probe',
        intervalMs: 3600_000,
        async run() {
          started = true;
          await gate;
        },
      },
    ],
  });
  try {
    // Only the probe is due, so the tick starts nothing that talks to a registry.
    await rt.store.db
      .updateTable('jobs')
      .set({ next_run_at: now + 3600_000 })
      .where('name', '!=', 'lease-probe')
      .execute();
    await server.scheduler.tick();
    assert.equal(started, true);
    const row = await rt.store.db
      .selectFrom('jobs')
      .selectAll()
      .where('name', '=', 'lease-probe')
      .executeTakeFirstOrThrow();
    assert.equal(row.lease_owner, server.scheduler.owner);
    assert.equal(DEFAULT_LEASE_TTL_MS, 30_000);
    assert.equal(row.lease_expires_at! - now, 30_000, 'a dead replica delays the job by 30 s, not 10 minutes');
  } finally {
    release();
    await server.close();
    await ws.cleanup();
  }
});
