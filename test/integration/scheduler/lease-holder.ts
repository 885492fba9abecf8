/**
 * A replica in its own process, for the takeover test in heartbeat.test.ts:
 * `lease-holder.ts <store-url> <job> <lease-ttl-ms>`. It runs `<job>` (due now) forever,
 * printing `started` once it holds the lease, so the test can SIGKILL it mid-run.
 */
import { Scheduler } from '../../../src/scheduler/index.ts';
import { openStore } from '../../../src/store/index.ts';

const [url, job, ttl] = process.argv.slice(2);
const store = await openStore({ url, busyTimeoutMs: 30_000 });
const scheduler = new Scheduler({ store, owner: 'doomed-replica', tickMs: 20, leaseTtlMs: Number(ttl) });
scheduler.add({
  name: job!,
  intervalMs: 3600_000,
  async run() {
    process.stdout.write('started\n');
    await new Promise(() => {});
  },
});
// The scheduler's timers are unref'd; this keeps the process (and its heartbeat) alive until killed.
setInterval(() => {}, 60_000);
await scheduler.start();
