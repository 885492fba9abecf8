import assert from 'node:assert/strict';
import { isSluiceError } from '../../../src/errors.ts';
import {
  dueJobs,
  openStore,
  registerJob,
  releaseLease,
  renewLease,
  tryAcquireLease,
} from '../../../src/store/index.ts';
import type { Store } from '../../../src/store/index.ts';
import { createTestDatabase, forEachEngine, postgresTest } from '../../helpers/db.ts';

/** A clock the test moves by hand, so lease expiry is exact rather than slept for. */
function manualClock(start = Date.UTC(2025, 2, 1, 12)): { now: () => Date; advance(ms: number): void } {
  let t = start;
  return {
    now: () => new Date(t),
    advance: (ms) => {
      t += ms;
    },
  };
}

const clock = manualClock();

forEachEngine(
  'a lease is held by one owner until released or expired',
  async ({ store }) => {
    await registerJob(store, { name: 'sync', intervalMs: 60_000, firstRunAt: clock.now() });
    assert.equal(await tryAcquireLease(store, 'sync', 'replica-a', 30_000), true);
    assert.equal(await tryAcquireLease(store, 'sync', 'replica-b', 30_000), false);
    // The holder renews.
    clock.advance(20_000);
    assert.equal(await tryAcquireLease(store, 'sync', 'replica-a', 30_000), true);
    clock.advance(20_000);
    assert.equal(await tryAcquireLease(store, 'sync', 'replica-b', 30_000), false, 'renewed lease still valid');
    // Expired: someone else takes over, and the old holder's release no longer counts.
    clock.advance(10_000);
    assert.equal(await tryAcquireLease(store, 'sync', 'replica-b', 30_000), true);
    assert.equal(await releaseLease(store, 'sync', 'replica-a', { result: { ok: true } }), false);
    const next = new Date(clock.now().getTime() + 60_000);
    assert.equal(
      await releaseLease(store, 'sync', 'replica-b', { result: { ok: true, synced: 3 }, nextRunAt: next }),
      true,
    );
    const row = await store.db.selectFrom('jobs').selectAll().where('name', '=', 'sync').executeTakeFirstOrThrow();
    assert.equal(row.lease_owner, null);
    assert.equal(row.next_run_at, next.getTime());
    assert.deepEqual(JSON.parse(row.last_result!), { ok: true, synced: 3 });
    assert.equal(await tryAcquireLease(store, 'sync', 'replica-c', 1000), true, 'released lease is free');
  },
  { clock: clock.now },
);

forEachEngine(
  'a renewal extends a held lease and never re-takes one that lapsed, even when nobody holds it',
  async ({ store }) => {
    await registerJob(store, { name: 'retention', intervalMs: 60_000, firstRunAt: clock.now() });
    assert.equal(await tryAcquireLease(store, 'retention', 'replica-a', 30_000), true);
    clock.advance(20_000);
    assert.equal(await renewLease(store, 'retention', 'replica-a', 30_000), true);
    assert.equal(await renewLease(store, 'retention', 'replica-b', 30_000), false, 'only the holder renews');
    const row = await store.db.selectFrom('jobs').selectAll().where('name', '=', 'retention').executeTakeFirstOrThrow();
    assert.equal(row.lease_expires_at, clock.now().getTime() + 30_000);
    // Lapsed, taken over, run and given back by another replica: the old holder must not get it back.
    clock.advance(30_000);
    assert.equal(await tryAcquireLease(store, 'retention', 'replica-b', 30_000), true);
    assert.equal(await releaseLease(store, 'retention', 'replica-b', { result: { ok: true } }), true);
    assert.equal(await renewLease(store, 'retention', 'replica-a', 30_000), false, 'released by another: lost');
    // Lapsed with nobody else in between: still lost, the run may already be going on elsewhere.
    assert.equal(await tryAcquireLease(store, 'retention', 'replica-a', 30_000), true);
    clock.advance(30_000);
    assert.equal(await renewLease(store, 'retention', 'replica-a', 30_000), false, 'expired: lost');
    await assert.rejects(renewLease(store, 'retention', 'replica-a', 0), (err) => isSluiceError(err, 'JOB_INVALID'));
  },
  { clock: clock.now },
);

forEachEngine('jobs: registration keeps leases, due jobs, unknown and invalid jobs', async ({ store }) => {
  const t0 = new Date(Date.UTC(2025, 0, 1));
  await registerJob(store, { name: 'scan-prod', cron: '0 3 * * *', firstRunAt: t0 });
  await registerJob(store, { name: 'retention', intervalMs: 3_600_000, firstRunAt: new Date(t0.getTime() + 10) });
  assert.equal(await tryAcquireLease(store, 'scan-prod', 'a', 60_000), true);
  // Re-registering (every replica does at start) changes the schedule, not the lease.
  await registerJob(store, { name: 'scan-prod', cron: '0 4 * * *', firstRunAt: new Date(0) });
  const due = await dueJobs(store, new Date(t0.getTime() + 5));
  assert.deepEqual(
    due.map((j) => [j.name, j.cron, j.leaseOwner]),
    [['scan-prod', '0 4 * * *', 'a']],
  );
  assert.equal(due[0]!.nextRunAt.getTime(), t0.getTime());
  await assert.rejects(tryAcquireLease(store, 'nope', 'a', 1000), (err) => isSluiceError(err, 'JOB_UNKNOWN'));
  await assert.rejects(registerJob(store, { name: 'bad', intervalMs: 5, cron: '* * * * *', firstRunAt: t0 }), (err) =>
    isSluiceError(err, 'JOB_INVALID'),
  );
  await assert.rejects(tryAcquireLease(store, 'retention', 'a', 0), (err) => isSluiceError(err, 'JOB_INVALID'));
});

postgresTest('replicas racing for the same lease: exactly one wins each round', async () => {
  const db = await createTestDatabase('postgres');
  const stores: Store[] = [];
  try {
    for (let i = 0; i < 6; i++) stores.push(await openStore({ url: db.url }));
    await registerJob(stores[0]!, { name: 'race', intervalMs: 1000, firstRunAt: new Date(0) });
    for (let round = 0; round < 10; round++) {
      // Each replica fires several attempts at once, as concurrent scheduler ticks would.
      const attempts = stores.flatMap((s, i) =>
        [0, 1].map(() => tryAcquireLease(s, 'race', `replica-${i}`, 60_000).then((won) => ({ i, won }))),
      );
      const results = await Promise.all(attempts);
      const winners = new Set(results.filter((r) => r.won).map((r) => r.i));
      assert.equal(winners.size, 1, `round ${round}: winners ${[...winners].join(', ')}`);
      const [winner] = winners;
      assert.equal(await releaseLease(stores[0]!, 'race', `replica-${winner}`), true);
    }
  } finally {
    for (const s of stores) await s.close();
    await db.cleanup();
  }
});
