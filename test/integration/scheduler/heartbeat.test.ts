/**
 * Job leases held by a heartbeat, on both engines: a short TTL renewed while the job runs, so
 * a run longer than the TTL is never taken over, a replica killed mid-run (a child process,
 * SIGKILL) has its job taken over about one TTL later, and a run whose lease is lost stops
 * instead of finishing its side effects. Small TTLs keep the tests fast.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { isSluiceError } from '../../../src/errors.ts';
import { Scheduler, type JobSpec } from '../../../src/scheduler/index.ts';
import { openStore, type Store } from '../../../src/store/index.ts';
import { POSTGRES_BASE_URL, forEachEngine, postgresTest, withStore } from '../../helpers/db.ts';
import { sleep } from '../../helpers/proc.ts';
import { Relay, eventually } from '../server/helpers.ts';

const HOUR = 3600_000;

async function jobRow(store: Store, name: string) {
  return store.db.selectFrom('jobs').selectAll().where('name', '=', name).executeTakeFirstOrThrow();
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

forEachEngine(
  'a job running three times its lease TTL runs once across two schedulers, its lease renewed meanwhile',
  async ({ store, reopen }) => {
    const ttl = 900;
    const other = await reopen();
    const runs: string[] = [];
    let aborts = 0;
    const job = (replica: string): JobSpec => ({
      name: 'long',
      intervalMs: HOUR,
      async run({ signal }) {
        runs.push(replica);
        signal.addEventListener('abort', () => aborts++);
        await sleep(ttl * 3);
        return { replica };
      },
    });
    const replicas = [
      new Scheduler({ store, owner: 'replica-a', tickMs: 20, leaseTtlMs: ttl }).add(job('a')),
      new Scheduler({ store: other, owner: 'replica-b', tickMs: 20, leaseTtlMs: ttl }).add(job('b')),
    ];
    try {
      await Promise.all(replicas.map((s) => s.start()));
      await eventually('the run starts', async () => runs.length > 0);
      const startedAt = Date.now();
      const expiries = new Set<number>();
      while (Date.now() - startedAt < ttl * 2.5) {
        const r = await jobRow(store, 'long');
        if (r.lease_expires_at !== null) expiries.add(r.lease_expires_at);
        await sleep(ttl / 4);
      }
      await eventually('the result recorded', async () => (await jobRow(store, 'long')).last_result !== null);
      // Both replicas keep ticking well past the TTL after the run.
      await sleep(ttl * 2);
      assert.equal(runs.length, 1, `ran on ${runs.join(', ')}`);
      assert.equal(aborts, 0, 'never aborted');
      assert.ok(expiries.size >= 4, `renewed while running (${expiries.size} distinct expiries seen)`);
      assert.ok(Math.max(...expiries) > startedAt + ttl * 2, 'the lease reached far past its first TTL');
      const row = await jobRow(store, 'long');
      assert.equal(row.lease_owner, null, 'given back');
      const result = JSON.parse(row.last_result!) as { ok: boolean; result: { replica: string } };
      assert.deepEqual([result.ok, result.result.replica], [true, runs[0]]);
    } finally {
      await Promise.all(replicas.map((s) => s.stop(2000)));
    }
  },
);

forEachEngine('a run checking its lease before a side effect stops when another replica took it', async ({ store }) => {
  // A long TTL: the job's own check finds the loss, not the heartbeat.
  const scheduler = new Scheduler({ store, owner: 'replica-a', tickMs: 20, leaseTtlMs: 30_000 });
  const started = deferred();
  const proceed = deferred();
  const effects: string[] = [];
  let refused: unknown;
  let reason: unknown;
  scheduler.add({
    name: 'deleter',
    intervalMs: HOUR,
    async run({ signal, confirmLease }) {
      started.resolve();
      await proceed.promise;
      try {
        await confirmLease();
        effects.push('deleted from the registry');
      } catch (err) {
        refused = err;
        reason = signal.reason;
        throw err;
      }
    },
  });
  try {
    await scheduler.start();
    await started.promise;
    const due = (await jobRow(store, 'deleter')).next_run_at;
    // Another replica holds it now (this one was paused past its lease, say).
    await store.db
      .updateTable('jobs')
      .set({ lease_owner: 'replica-b', lease_expires_at: Date.now() + HOUR })
      .where('name', '=', 'deleter')
      .execute();
    proceed.resolve();
    await eventually('the run ends', async () => scheduler.running().length === 0);
    assert.deepEqual(effects, [], 'no side effect under a lost lease');
    assert.ok(isSluiceError(refused, 'JOB_LEASE_LOST'), String(refused));
    assert.ok(isSluiceError(reason, 'JOB_LEASE_LOST'), 'the run is aborted too');
    const row = await jobRow(store, 'deleter');
    assert.equal(row.lease_owner, 'replica-b', "the other replica's lease is left alone");
    assert.equal(row.last_result, null, 'the aborted run is not recorded');
    assert.equal(row.next_run_at, due, 'nor is its next run moved');
  } finally {
    await scheduler.stop(2000);
  }
});

forEachEngine('the heartbeat aborts a run as soon as a renewal finds the lease taken', async ({ store }) => {
  const ttl = 1500;
  const scheduler = new Scheduler({ store, owner: 'replica-a', tickMs: 20, leaseTtlMs: ttl });
  const started = deferred();
  let reason: unknown;
  scheduler.add({
    name: 'sync:local',
    intervalMs: HOUR,
    async run({ signal }) {
      started.resolve();
      await new Promise((resolve) => {
        signal.addEventListener('abort', resolve, { once: true });
        setTimeout(resolve, ttl * 20).unref();
      });
      reason = signal.reason;
    },
  });
  try {
    await scheduler.start();
    await started.promise;
    await store.db
      .updateTable('jobs')
      .set({ lease_owner: 'replica-b', lease_expires_at: Date.now() + HOUR })
      .where('name', '=', 'sync:local')
      .execute();
    const takenAt = Date.now();
    await eventually('the run ends', async () => scheduler.running().length === 0);
    const noticed = Date.now() - takenAt;
    assert.ok(isSluiceError(reason, 'JOB_LEASE_LOST'), String(reason));
    assert.ok(noticed < ttl, `noticed after ${noticed} ms: at the next renewal (every ${ttl / 3} ms), not at expiry`);
    assert.equal((await jobRow(store, 'sync:local')).lease_owner, 'replica-b');
  } finally {
    await scheduler.stop(2000);
  }
});

forEachEngine(
  "a killed replica's job is taken over once its short lease expires, and not before",
  async ({ store, db }) => {
    const ttl = 1500;
    const worker = fileURLToPath(new URL('./lease-holder.ts', import.meta.url));
    const child = spawn(process.execPath, [worker, db.url, 'held', String(ttl)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = once(child, 'exit');
    const survivorRuns: number[] = [];
    const survivor = new Scheduler({ store, owner: 'survivor', tickMs: 20, leaseTtlMs: ttl }).add({
      name: 'held',
      intervalMs: HOUR,
      async run() {
        survivorRuns.push(Date.now());
      },
    });
    try {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      await eventually('the child runs the job', async () => out.includes('started'), 30_000);
      await survivor.start();
      // The holder is alive: its heartbeat keeps the lease well past one TTL.
      await sleep(ttl * 2.5);
      assert.deepEqual(survivorRuns, [], 'a live holder is not taken over');
      assert.equal((await jobRow(store, 'held')).lease_owner, 'doomed-replica');

      child.kill('SIGKILL');
      const killedAt = Date.now();
      await exited;
      const lastExpiry = (await jobRow(store, 'held')).lease_expires_at!;
      await eventually('the takeover', async () => survivorRuns.length > 0, 20_000);
      const takenAt = survivorRuns[0]!;
      assert.ok(takenAt >= lastExpiry, `taken at ${takenAt}, not before the dead lease expired (${lastExpiry})`);
      assert.ok(takenAt - killedAt <= ttl + 1000, `taken over ${takenAt - killedAt} ms after the kill (TTL ${ttl})`);
      await eventually('the result recorded', async () => (await jobRow(store, 'held')).last_result !== null);
      assert.equal(survivorRuns.length, 1);
    } finally {
      child.kill('SIGKILL');
      await survivor.stop(2000);
    }
  },
);

postgresTest('a replica cut off from the database stops its run before another may take the job over', async () => {
  await withStore('postgres', async ({ store, db }) => {
    const ttl = 1200;
    const upstream = new URL(POSTGRES_BASE_URL);
    const relay = new Relay({ host: upstream.hostname, port: Number(upstream.port || 5432) });
    await relay.start();
    const viaRelay = new URL(db.url);
    viaRelay.host = `127.0.0.1:${relay.port}`;
    viaRelay.searchParams.set('connect_timeout', '1');
    const cutOff = await openStore({ url: viaRelay.toString() });
    const started = deferred();
    let abortedAt: number | undefined;
    let reason: unknown;
    let takenAt: number | undefined;
    const isolated = new Scheduler({ store: cutOff, owner: 'isolated', tickMs: 20, leaseTtlMs: ttl }).add({
      name: 'fenced',
      intervalMs: HOUR,
      async run({ signal }) {
        started.resolve();
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        abortedAt = Date.now();
        reason = signal.reason;
      },
    });
    const healthy = new Scheduler({ store, owner: 'healthy', tickMs: 20, leaseTtlMs: ttl }).add({
      name: 'fenced',
      intervalMs: HOUR,
      async run() {
        takenAt ??= Date.now();
      },
    });
    try {
      await isolated.start();
      await started.promise;
      await sleep(ttl);
      await relay.stop();
      const cutAt = Date.now();
      await healthy.start();
      await eventually('the takeover', async () => takenAt !== undefined, 20_000);
      assert.ok(isSluiceError(reason, 'JOB_LEASE_EXPIRED'), String(reason));
      assert.ok(abortedAt! < takenAt!, `aborted at +${abortedAt! - cutAt} ms, taken over at +${takenAt! - cutAt} ms`);
      assert.ok(takenAt! - cutAt <= ttl + 1000, `taken over ${takenAt! - cutAt} ms after the cut (TTL ${ttl})`);
    } finally {
      await healthy.stop(2000);
      await isolated.stop(2000);
      await cutOff.close().catch(() => {});
      await relay.stop();
    }
  });
});
