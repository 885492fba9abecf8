/**
 * The scheduler: jobs run exactly once per due time across replicas (two stores on the same
 * PostgreSQL schema), and the server's jobs (registry sync, events purge) do their work.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { listImages } from '../../../src/inventory/query.ts';
import { Scheduler, type JobSpec } from '../../../src/scheduler/index.ts';
import { describeEachEngine, postgresTest, withStore } from '../../helpers/db.ts';
import { buildImage, pushImage } from '../../helpers/images.ts';
import { sleep } from '../../helpers/proc.ts';
import { startRegistry } from '../../helpers/registry.ts';
import { createWorkspace } from '../../helpers/workspace.ts';
import { apiToken, call, eventually, metricValue, parseMetrics, startTestServer } from './helpers.ts';

interface JobJson {
  name: string;
  intervalMs: number;
  nextRunAt: string;
  running: boolean;
  lastResult: { ok: boolean; result?: { created?: number; removed?: number }; error?: { message: string } } | null;
}

postgresTest('two replicas run each due job exactly once', async () => {
  await withStore('postgres', async ({ store, reopen }) => {
    const other = await reopen();
    const once = Array.from({ length: 8 }, (_, i) => `once-${i}`);
    const runs: Array<{ job: string; replica: string; start: number; end: number }> = [];
    let concurrentTicks = 0;
    let maxConcurrentTicks = 0;
    const jobsFor = (replica: string): JobSpec[] => [
      ...once.map((name) => ({
        name,
        intervalMs: 60 * 60_000,
        async run() {
          const start = Date.now();
          await sleep(30);
          runs.push({ job: name, replica, start, end: Date.now() });
          return { replica };
        },
      })),
      {
        name: 'every-300ms',
        intervalMs: 300,
        async run() {
          concurrentTicks++;
          maxConcurrentTicks = Math.max(maxConcurrentTicks, concurrentTicks);
          const start = Date.now();
          await sleep(50);
          concurrentTicks--;
          runs.push({ job: 'every-300ms', replica, start, end: Date.now() });
        },
      },
    ];
    const replicas = [
      new Scheduler({ store, owner: 'replica-a', tickMs: 20 }),
      new Scheduler({ store: other, owner: 'replica-b', tickMs: 20 }),
    ];
    replicas.forEach((s, i) => jobsFor(i === 0 ? 'a' : 'b').forEach((j) => s.add(j)));
    const started = Date.now();
    await Promise.all(replicas.map((s) => s.start()));
    await eventually('every once-job ran', async () => once.every((j) => runs.some((r) => r.job === j)));
    await sleep(2000);
    await Promise.all(replicas.map((s) => s.stop(2000)));
    const elapsed = Date.now() - started;

    for (const job of once) assert.equal(runs.filter((r) => r.job === job).length, 1, `${job} ran exactly once`);
    const ticks = runs.filter((r) => r.job === 'every-300ms').sort((x, y) => x.start - y.start);
    assert.equal(maxConcurrentTicks, 1, 'never two runs of one job at once');
    for (let i = 1; i < ticks.length; i++) {
      assert.ok(
        ticks[i]!.start - ticks[i - 1]!.end >= 250,
        `run ${i} started ${ticks[i]!.start - ticks[i - 1]!.end} ms after the previous ended`,
      );
    }
    assert.ok(
      ticks.length >= 3 && ticks.length <= Math.ceil(elapsed / 300) + 1,
      `${ticks.length} runs in ${elapsed} ms`,
    );
    const rows = await store.db.selectFrom('jobs').selectAll().where('name', 'in', once).execute();
    for (const r of rows) {
      assert.equal(r.lease_owner, null, 'leases given back');
      assert.ok(r.next_run_at > Date.now() + 50 * 60_000, 'next run an interval later');
      const result = JSON.parse(r.last_result!) as { ok: boolean; result: { replica: string } };
      assert.equal(result.ok, true);
      assert.equal(
        result.result.replica,
        runs.find((x) => x.job === r.name)!.replica,
        'the result of the replica that ran it',
      );
    }
  });
});

describeEachEngine('the scheduler', (engine) =>
  test('the sync job keeps the inventory current, runs on request, survives a dead registry; events-purge prunes old ids', async () => {
    const reg = await startRegistry();
    const ws = await createWorkspace({ registries: [{ name: 'local', url: reg.url }], engine });
    try {
      await pushImage(await buildImage({ seed: 'sched-1' }), reg, 'acme-dev/api:1.0.0-1');
      const ts = await startTestServer(ws, { scheduler: true, schedulerTickMs: 50 });
      try {
        await eventually(
          'the first sync',
          async () => (await listImages(ts.rt.store, { repository: 'acme-dev/api' })).length === 1,
        );
        const ops = await apiToken(ts.rt, 'operations', ['acme']);
        const jobNamed = async (name: string) =>
          ((await call(ts.url, 'GET', '/api/v1/jobs', { token: ops })).json as JobJson[]).find((j) => j.name === name)!;
        const job = () => jobNamed('sync:local');
        const first = await eventually('the sync result recorded', async () => {
          const j = await job();
          return j.lastResult ? j : undefined;
        });
        assert.equal(first.lastResult?.ok, true);
        assert.equal(first.lastResult?.result?.created, 1);
        assert.equal(first.intervalMs, 15 * 60_000);
        assert.ok(Date.parse(first.nextRunAt) > Date.now() + 14 * 60_000);

        // No notifications here: only a sync finds this, and a request runs one now.
        await pushImage(await buildImage({ seed: 'sched-2' }), reg, 'acme-dev/web:1.0.0-1');
        const req = await call(ts.url, 'POST', '/api/v1/sync', { token: ops, body: { registry: 'local' } });
        assert.equal(req.status, 202, req.text);
        assert.deepEqual(req.json, { jobs: ['sync:local'] });
        await eventually(
          'the requested sync',
          async () => (await listImages(ts.rt.store, { repository: 'acme-dev/web' })).length === 1,
        );

        // The registry dies: the job fails, is logged and recorded, and the server keeps serving.
        await reg.kill();
        await eventually(
          'the previous run recorded',
          async () => !(await job()).running && (await job()).lastResult?.result?.created === 1,
        );
        assert.equal((await call(ts.url, 'POST', '/api/v1/sync', { token: ops, body: {} })).status, 202);
        const failed = await eventually(
          'the failed run recorded',
          async () => {
            const j = await job();
            return j.lastResult?.ok === false ? j : undefined;
          },
          60_000,
        );
        assert.match(failed.lastResult?.error?.message ?? '', /127\.0\.0\.1/);
        assert.ok(ts.logs.text().includes('job sync:local failed'));
        assert.equal((await call(ts.url, 'GET', '/healthz')).status, 200);
        assert.equal((await call(ts.url, 'GET', '/api/v1/images', { token: ops })).status, 200);
        const m = parseMetrics((await call(ts.url, 'GET', '/metrics')).text);
        assert.equal(metricValue(m, 'sluice_sync_runs_total', { registry: 'local', result: 'success' }), 2);
        assert.equal(metricValue(m, 'sluice_sync_runs_total', { registry: 'local', result: 'failure' }), 1);
        assert.equal(metricValue(m, 'sluice_sync_duration_seconds_count', { registry: 'local' }), 3);
        assert.equal(metricValue(m, 'sluice_jobs_running', { job: 'sync:local' }), 0);

        // Delivery ids older than 7 days go; younger ones stay.
        const now = Date.now();
        const day = 24 * 60 * 60 * 1000;
        await ts.rt.store.db
          .insertInto('events_seen')
          .values([
            { source: 'distribution', event_id: 'old', received_at: now - 8 * day },
            { source: 'distribution', event_id: 'recent', received_at: now - 6 * day },
            { source: 'quay', event_id: 'new', received_at: now },
          ])
          .execute();
        await ts.server.scheduler.trigger(['events-purge']);
        await eventually(
          'the purge',
          async () => (await ts.rt.store.db.selectFrom('events_seen').select('event_id').execute()).length === 2,
        );
        const left = (
          await ts.rt.store.db.selectFrom('events_seen').select('event_id').orderBy('event_id').execute()
        ).map((r) => r.event_id);
        assert.deepEqual(left, ['new', 'recent']);
        const purge = await eventually('purge result', async () => {
          const j = await jobNamed('events-purge');
          return j.lastResult?.result?.removed === 1 ? j : undefined;
        });
        assert.equal(purge.intervalMs, 24 * 60 * 60 * 1000);
      } finally {
        await ts.close();
      }
    } finally {
      await reg.stop();
      await ws.cleanup();
    }
  }),
);
