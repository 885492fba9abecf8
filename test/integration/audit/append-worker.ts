/**
 * A separate process appending to the audit log, for the cross-process test in
 * log.test.ts: `append-worker.ts <store-url> <actor> <count>`. SQLite calls block the event
 * loop, so several writers must be separate processes to contend for real.
 */
import { appendAudit } from '../../../src/audit/index.ts';
import { openStore } from '../../../src/store/index.ts';

const [url, actor, count] = process.argv.slice(2);
const store = await openStore({ url, busyTimeoutMs: 30_000 });
try {
  for (let i = 0; i < Number(count); i++) {
    await appendAudit(store, { actor: actor!, action: 'sync', result: 'success', details: { i } });
  }
} finally {
  await store.close();
}
