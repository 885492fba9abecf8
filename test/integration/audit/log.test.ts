import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { appendAudit, listAudit, verifyAudit } from '../../../src/audit/index.ts';
import type { AuditInput, AuditRecord, AuditVerification } from '../../../src/audit/index.ts';
import { GENESIS_HASH, canonicalJson, hashRecord } from '../../../src/audit/record.ts';
import { isSluiceError } from '../../../src/errors.ts';
import { openStore } from '../../../src/store/index.ts';
import type { Store } from '../../../src/store/index.ts';
import { createTestDatabase, forEachEngine, postgresTest } from '../../helpers/db.ts';
import { test } from 'node:test';

const DIGEST = `sha256:${'c'.repeat(64)}`;

function input(i: number, extra: Partial<AuditInput> = {}): AuditInput {
  return {
    actor: i % 2 === 0 ? 'alice' : 'ci-bot',
    action: i % 3 === 0 ? 'promotion' : 'tag.create',
    repository: `quay.example/team-${i % 2 === 0 ? 'dev' : 'prod'}/app`,
    digest: i % 4 === 0 ? DIGEST : null,
    tag: `1.0.${i}`,
    reason: `record ${i}`,
    result: i % 5 === 0 ? 'failure' : 'success',
    details: { i, nested: { list: [i, 'x'] } },
    ...extra,
  };
}

async function appendMany(store: Store, n: number): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  for (let i = 1; i <= n; i++) out.push(await appendAudit(store, input(i)));
  return out;
}

function assertBad(v: AuditVerification, seq: number, reason: string): void {
  assert.equal(v.ok, false, `expected a defect at ${seq}`);
  if (v.ok) return;
  assert.equal(v.firstBad.reason, reason, JSON.stringify(v.firstBad));
  assert.equal(v.firstBad.seq, seq, JSON.stringify(v.firstBad));
  assert.ok(v.firstBad.expected.length > 0 && v.firstBad.found.length > 0);
  assert.equal(v.count, seq - 1);
}

/** What an attacker with write access would compute for a forged row. */
function forge(seq: number, prevHash: string, actor: string): Record<string, unknown> {
  const fields = {
    seq,
    time: Date.UTC(2025, 0, 1),
    actor,
    action: 'deletion',
    repository: null,
    digest: null,
    tag: null,
    reason: null,
    result: 'success',
    details: '{}',
    prevHash,
  };
  return {
    seq,
    time: fields.time,
    actor,
    action: fields.action,
    target_repository: null,
    target_digest: null,
    target_tag: null,
    reason: null,
    result: 'success',
    details: '{}',
    prev_hash: prevHash,
    hash: hashRecord(fields),
  };
}

forEachEngine('appends form a contiguous hash chain that verifies', async ({ store }) => {
  assert.deepEqual(await verifyAudit(store), { ok: true, count: 0, head: { seq: 0, hash: GENESIS_HASH } });
  const records = await appendMany(store, 12);
  assert.deepEqual(
    records.map((r) => r.seq),
    Array.from({ length: 12 }, (_, i) => i + 1),
  );
  assert.equal(records[0]!.prevHash, GENESIS_HASH);
  for (let i = 1; i < records.length; i++) assert.equal(records[i]!.prevHash, records[i - 1]!.hash);
  const v = await verifyAudit(store, { pageSize: 5 });
  assert.deepEqual(v, { ok: true, count: 12, head: { seq: 12, hash: records[11]!.hash } });
  // What was returned is what was stored.
  assert.deepEqual(
    (await listAudit(store, { order: 'asc' })).map((r) => r),
    records,
  );
});

forEachEngine('secrets in details never reach the database', async ({ store }) => {
  const r = await appendAudit(store, {
    actor: 'alice',
    action: 'config.change',
    result: 'success',
    reason: 'registry https://robot:pa55w0rd-x@quay.example added',
    details: { registry: 'quay', password: 'hunter2', auth: { Token: 'tok-123', apiKey: 'k-456' } },
  });
  assert.equal(r.details.password, '[REDACTED]');
  const raw = await sql<Record<string, unknown>>`select * from audit_log`.execute(store.db);
  const dump = JSON.stringify(raw.rows);
  for (const secret of ['hunter2', 'tok-123', 'k-456', 'pa55w0rd-x']) assert.ok(!dump.includes(secret), secret);
  assert.equal((await verifyAudit(store)).ok, true);
});

forEachEngine('an edited field is detected at that record', async ({ store }) => {
  await appendMany(store, 8);
  await sql`update audit_log set actor = 'mallory' where seq = 3`.execute(store.db);
  assertBad(await verifyAudit(store, { pageSize: 2 }), 3, 'edited');
});

forEachEngine('reformatting the stored details JSON counts as an edit', async ({ store }) => {
  await appendMany(store, 4);
  await sql`update audit_log set details = '{"i": 2, "nested": {"list": [2, "x"]}}' where seq = 2`.execute(store.db);
  assertBad(await verifyAudit(store), 2, 'edited');
});

forEachEngine('a record rewritten with a recomputed hash is detected by its successor', async ({ store }) => {
  const records = await appendMany(store, 6);
  const r3 = records[2]!;
  const forged = forge(3, r3.prevHash, 'mallory');
  await store.db.updateTable('audit_log').set(forged).where('seq', '=', 3).execute();
  assertBad(await verifyAudit(store), 3, 'edited');
});

forEachEngine('a removed record is named, in the middle and at the end', async ({ store }) => {
  await appendMany(store, 8);
  await sql`delete from audit_log where seq = 8`.execute(store.db);
  assertBad(await verifyAudit(store), 8, 'removed');
  await sql`delete from audit_log where seq = 4`.execute(store.db);
  assertBad(await verifyAudit(store), 4, 'removed');
});

forEachEngine('a removal hidden by renumbering the later records is still a removal', async ({ store }) => {
  await appendMany(store, 8);
  await sql`delete from audit_log where seq = 4`.execute(store.db);
  // Two steps so the primary key never sees a duplicate mid-statement.
  await sql`update audit_log set seq = -seq where seq > 4`.execute(store.db);
  await sql`update audit_log set seq = -seq - 1 where seq < 0`.execute(store.db);
  await sql`update audit_head set seq = 7`.execute(store.db);
  assertBad(await verifyAudit(store), 4, 'removed');
});

forEachEngine('two swapped records are reported as reordered at the first position', async ({ store }) => {
  await appendMany(store, 8);
  await sql`update audit_log set seq = -1 where seq = 5`.execute(store.db);
  await sql`update audit_log set seq = 5 where seq = 6`.execute(store.db);
  await sql`update audit_log set seq = 6 where seq = -1`.execute(store.db);
  const v = await verifyAudit(store);
  assertBad(v, 5, 'reordered');
  assert.ok(!v.ok && /seq 6/.test(v.firstBad.found), !v.ok ? v.firstBad.found : '');
});

forEachEngine('a forged record slipped into the middle is reported as inserted', async ({ store }) => {
  const records = await appendMany(store, 8);
  await sql`update audit_log set seq = -seq where seq >= 5`.execute(store.db);
  await sql`update audit_log set seq = -seq + 1 where seq < 0`.execute(store.db);
  await store.db
    .insertInto('audit_log')
    .values(forge(5, records[3]!.hash, 'mallory') as never)
    .execute();
  await sql`update audit_head set seq = 9`.execute(store.db);
  assertBad(await verifyAudit(store), 5, 'inserted');
});

forEachEngine('records added after the chain head, even with valid hashes, are reported', async ({ store }) => {
  const records = await appendMany(store, 5);
  await store.db
    .insertInto('audit_log')
    .values(forge(6, records[4]!.hash, 'mallory') as never)
    .execute();
  assertBad(await verifyAudit(store), 6, 'inserted');
});

forEachEngine('the last record rewritten with a recomputed hash disagrees with the head', async ({ store }) => {
  const records = await appendMany(store, 5);
  await store.db
    .updateTable('audit_log')
    .set(forge(5, records[4]!.prevHash, 'mallory'))
    .where('seq', '=', 5)
    .execute();
  assertBad(await verifyAudit(store), 5, 'edited');
});

forEachEngine('an append inside a rolled-back transaction leaves no trace and forwards nothing', async ({ store }) => {
  await appendMany(store, 2);
  const forwarded: AuditRecord[] = [];
  const sink = { send: (r: AuditRecord) => forwarded.push(r) };
  await assert.rejects(
    store.transaction(async (tx) => {
      await appendAudit(tx, input(3), { sinks: [sink] });
      throw new Error('promotion failed');
    }),
    /promotion failed/,
  );
  assert.equal(forwarded.length, 0);
  assert.deepEqual(await verifyAudit(store).then((v) => v.ok && v.count), 2);
  const r = await appendAudit(store, input(3), { sinks: [sink] });
  assert.equal(r.seq, 3);
  assert.deepEqual(forwarded, [r]);
});

forEachEngine('invalid records are refused before anything is written', async ({ store }) => {
  await assert.rejects(appendAudit(store, { ...input(1), result: 'ok' as never }), (err) =>
    isSluiceError(err, 'AUDIT_RECORD_INVALID'),
  );
  assert.deepEqual(await verifyAudit(store), { ok: true, count: 0, head: { seq: 0, hash: GENESIS_HASH } });
});

forEachEngine('listing filters by time, actor, action, target and result', async ({ store, reopen }) => {
  let t = Date.UTC(2025, 5, 1);
  const clocked = await reopen({
    clock: () => {
      t += 60_000;
      return new Date(t);
    },
  });
  const all: AuditRecord[] = [];
  for (let i = 1; i <= 20; i++) all.push(await appendAudit(clocked, input(i)));
  const seqs = (rs: AuditRecord[]) => rs.map((r) => r.seq);
  const where = (p: (r: AuditRecord) => boolean) => seqs(all.filter(p)).reverse();

  assert.deepEqual(
    seqs(await listAudit(store)),
    where(() => true),
  );
  assert.deepEqual(
    seqs(await listAudit(store, { actor: 'alice' })),
    where((r) => r.actor === 'alice'),
  );
  assert.deepEqual(
    seqs(await listAudit(store, { action: 'promotion' })),
    where((r) => r.action === 'promotion'),
  );
  assert.deepEqual(
    seqs(await listAudit(store, { digest: DIGEST })),
    where((r) => r.digest === DIGEST),
  );
  assert.deepEqual(
    seqs(await listAudit(store, { repository: 'quay.example/team-prod/app', result: 'failure' })),
    where((r) => r.repository === 'quay.example/team-prod/app' && r.result === 'failure'),
  );
  const since = new Date(all[4]!.time);
  const until = new Date(all[9]!.time);
  assert.deepEqual(seqs(await listAudit(store, { since, until, order: 'asc' })), [5, 6, 7, 8, 9]);
  assert.deepEqual(seqs(await listAudit(store, { limit: 3 })), [20, 19, 18]);
  assert.deepEqual(seqs(await listAudit(store, { afterSeq: 17, order: 'asc' })), [18, 19, 20]);
  assert.deepEqual(seqs(await listAudit(store, { beforeSeq: 3 })), [2, 1]);
  await assert.rejects(listAudit(store, { limit: 0 }), (err) => isSluiceError(err, 'AUDIT_QUERY_INVALID'));
  // Details come back as the object that was hashed.
  assert.equal(canonicalJson(all[0]!.details), '{"i":1,"nested":{"list":[1,"x"]}}');
});

async function assertContiguousAndValid(store: Store, actors: string[], perActor: number): Promise<void> {
  const v = await verifyAudit(store);
  assert.equal(v.ok, true, JSON.stringify(v));
  assert.equal(v.ok && v.count, actors.length * perActor);
  const rows = await store.db.selectFrom('audit_log').select(['seq', 'actor']).orderBy('seq').execute();
  assert.deepEqual(
    rows.map((r) => r.seq),
    Array.from({ length: actors.length * perActor }, (_, i) => i + 1),
  );
  for (const a of actors) assert.equal(rows.filter((r) => r.actor === a).length, perActor, a);
}

postgresTest('four replicas appending concurrently never fork the chain', async () => {
  const db = await createTestDatabase('postgres');
  const stores: Store[] = [];
  try {
    for (let i = 0; i < 4; i++) stores.push(await openStore({ url: db.url }));
    const actors = stores.map((_, i) => `replica-${i}`);
    await Promise.all(
      stores.map(async (s, i) => {
        for (let n = 0; n < 50; n++) await appendAudit(s, { ...input(n), actor: actors[i]! });
      }),
    );
    await assertContiguousAndValid(stores[0]!, actors, 50);
  } finally {
    for (const s of stores) await s.close();
    await db.cleanup();
  }
});

test('four processes migrating and appending to one new SQLite file never fork the chain', async () => {
  const db = await createTestDatabase('sqlite');
  try {
    const worker = fileURLToPath(new URL('./append-worker.ts', import.meta.url));
    const actors = ['proc-0', 'proc-1', 'proc-2', 'proc-3'];
    // No store is open yet: the workers also race to create and migrate the database.
    const codes = await Promise.all(
      actors.map(
        (actor) =>
          new Promise<number>((resolve) => {
            const child = spawn(process.execPath, [worker, db.url, actor, '50'], {
              stdio: ['ignore', 'inherit', 'inherit'],
            });
            child.on('exit', (code) => resolve(code ?? -1));
          }),
      ),
    );
    assert.deepEqual(codes, [0, 0, 0, 0]);
    const store = await openStore({ url: db.url });
    try {
      assert.deepEqual(store.migration.applied, []);
      await assertContiguousAndValid(store, actors, 50);
    } finally {
      await store.close();
    }
  } finally {
    await db.cleanup();
  }
});
