/**
 * A head anchored outside Sluice (`sluice audit head`, kept in a SIEM or a ticket) catches
 * what the chain alone cannot: the newest records removed together with a rewound head, and
 * a chain rebuilt with valid hashes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { appendAudit, auditHead, parseAuditAnchor, verifyAudit } from '../../../src/audit/index.ts';
import type { AuditAnchor, AuditInput } from '../../../src/audit/index.ts';
import { hashRecord } from '../../../src/audit/record.ts';
import { isSluiceError } from '../../../src/errors.ts';
import type { StoreHandle } from '../../../src/store/index.ts';
import { ENGINES, forEachEngine, POSTGRES_DISABLED, POSTGRES_SKIP_MESSAGE } from '../../helpers/db.ts';
import { createWorkspace } from '../../helpers/workspace.ts';
import { apiToken, call, startTestServer } from '../server/helpers.ts';

function input(i: number): AuditInput {
  return {
    actor: 'alice',
    action: 'deletion',
    repository: 'r.example/acme-dev/app',
    tag: `1.0.${i}`,
    result: 'success',
  };
}

/** What someone with write access to the database does: drop the newest records, rewind the head. */
async function truncate(db: StoreHandle, keep: number): Promise<void> {
  await sql`delete from audit_log where seq > ${keep}`.execute(db.db);
  const last = await db.db.selectFrom('audit_log').select('hash').where('seq', '=', keep).executeTakeFirstOrThrow();
  await sql`update audit_head set seq = ${keep}, hash = ${last.hash} where id = 1`.execute(db.db);
}

/** Rewrites record `from` and re-hashes it and everything after it, and the head: a valid chain. */
async function rebuild(db: StoreHandle, from: number): Promise<void> {
  const rows = await db.db.selectFrom('audit_log').selectAll().where('seq', '>=', from).orderBy('seq').execute();
  let prev = (
    await db.db
      .selectFrom('audit_log')
      .select('hash')
      .where('seq', '=', from - 1)
      .executeTakeFirstOrThrow()
  ).hash;
  for (const r of rows) {
    const reason = r.seq === from ? 'nothing happened here' : r.reason;
    const hash = hashRecord({
      seq: r.seq,
      time: r.time,
      actor: r.actor,
      action: r.action,
      repository: r.target_repository,
      digest: r.target_digest,
      tag: r.target_tag,
      reason,
      result: r.result,
      details: r.details,
      prevHash: prev,
    });
    await sql`update audit_log set reason = ${reason}, prev_hash = ${prev}, hash = ${hash} where seq = ${r.seq}`.execute(
      db.db,
    );
    prev = hash;
  }
  await sql`update audit_head set hash = ${prev} where id = 1`.execute(db.db);
}

forEachEngine(
  'the newest records removed and the head rewound: only the expected head notices, naming the seq',
  async ({ store }) => {
    for (let i = 1; i <= 10; i++) await appendAudit(store, input(i));
    const head = await auditHead(store);
    assert.equal(head.seq, 10);
    assert.equal(head.anchor, `10:${head.hash}`);
    assert.match(head.time ?? '', /^\d{4}-\d\d-\d\dT/);

    await truncate(store, 7);
    assert.equal((await verifyAudit(store)).ok, true, 'the chain alone looks intact');
    const v = await verifyAudit(store, { expectHead: parseAuditAnchor(head.anchor) });
    assert.equal(v.ok, false);
    if (v.ok) return;
    assert.equal(v.firstBad.seq, 8);
    assert.equal(v.firstBad.reason, 'removed');
    assert.match(v.firstBad.message, /record 8-10 missing from the end \(expected head 10\)/);
    assert.equal(v.count, 7);
  },
);

forEachEngine('a chain rebuilt with valid hashes fails at the anchored record', async ({ store }) => {
  for (let i = 1; i <= 8; i++) await appendAudit(store, input(i));
  const anchored = await auditHead(store);
  for (let i = 9; i <= 10; i++) await appendAudit(store, input(i));
  await rebuild(store, 4);
  assert.equal((await verifyAudit(store)).ok, true, 'the chain alone looks intact');
  const v = await verifyAudit(store, { expectHead: anchored });
  assert.equal(v.ok, false);
  if (v.ok) return;
  assert.deepEqual([v.firstBad.seq, v.firstBad.reason], [8, 'edited']);
  assert.match(v.firstBad.message, /record 8 is not the record the expected head names/);
});

forEachEngine('an older anchor still verifies while the log grows past it', async ({ store }) => {
  const empty = await auditHead(store);
  assert.equal(empty.seq, 0);
  for (let i = 1; i <= 3; i++) await appendAudit(store, input(i));
  const anchored: AuditAnchor = await auditHead(store);
  for (let i = 4; i <= 6; i++) await appendAudit(store, input(i));
  const v = await verifyAudit(store, { expectHead: anchored, pageSize: 2 });
  assert.equal(v.ok, true);
  assert.equal((await verifyAudit(store, { expectHead: empty })).ok, true);
  const wrong = await verifyAudit(store, { expectHead: { seq: 3, hash: 'f'.repeat(64) } });
  assert.deepEqual(wrong.ok ? undefined : [wrong.firstBad.seq, wrong.firstBad.reason], [3, 'edited']);
});

test('an expected head must be SEQ:HASH', () => {
  assert.deepEqual(parseAuditAnchor(`12:${'a'.repeat(64)}`), { seq: 12, hash: 'a'.repeat(64) });
  for (const bad of [
    '12',
    `x:${'a'.repeat(64)}`,
    `12:${'A'.repeat(64)}`,
    `12:${'a'.repeat(63)}`,
    `-1:${'a'.repeat(64)}`,
  ]) {
    assert.throws(
      () => parseAuditAnchor(bad, '--expect-head'),
      (err) => isSluiceError(err, 'AUDIT_ANCHOR_INVALID') && /--expect-head ".*" is not SEQ:HASH/.test(err.message),
      bad,
    );
  }
});

for (const engine of ENGINES) {
  const skip = engine === 'postgres' && POSTGRES_DISABLED ? POSTGRES_SKIP_MESSAGE : false;
  test(`sluice audit head and verify --expect-head, and the API equivalents [${engine}]`, { skip }, async () => {
    const ws = await createWorkspace({ registries: [{ name: 'local', url: 'http://127.0.0.1:5999' }], engine });
    const ts = await startTestServer(ws);
    try {
      for (let i = 1; i <= 5; i++) await ts.rt.audit(ts.rt.store, input(i));
      const auditor = await apiToken(ts.rt, 'auditor');
      const text = await ws.cli(['audit', 'head']);
      assert.equal(text.code, 0, text.stderr);
      const anchor = text.stdout.trim();
      assert.match(anchor, /^\d+:[0-9a-f]{64}$/);
      const json = JSON.parse((await ws.cli(['-o', 'json', 'audit', 'head'])).stdout);
      assert.equal(`${json.seq}:${json.hash}`, anchor);
      const viaApi = await call(ts.url, 'GET', '/api/v1/audit/head', { token: auditor });
      assert.equal(viaApi.status, 200);
      assert.equal(viaApi.json.anchor, anchor);

      const ok = await ws.cli(['audit', 'verify', '--expect-head', anchor]);
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      assert.match(ok.stdout, /is the expected head/);

      const seq = Number(anchor.split(':')[0]);
      await truncate(ts.rt.store, seq - 2);
      assert.equal((await ws.cli(['audit', 'verify'])).code, 0, 'without the anchor nothing is noticed');
      const bad = await ws.cli(['audit', 'verify', '--expect-head', anchor]);
      assert.equal(bad.code, 1);
      assert.match(bad.stdout, new RegExp(`audit log broken at record ${seq - 1} \\(removed\\)`));
      const badJson = await ws.cli(['-o', 'json', 'audit', 'verify', '--expect-head', anchor]);
      assert.equal(badJson.code, 1);
      assert.equal(JSON.parse(badJson.stdout).firstBad.seq, seq - 1);
      const apiBad = await call(ts.url, 'GET', `/api/v1/audit/verify?expectHead=${anchor}`, { token: auditor });
      assert.equal(apiBad.status, 200);
      assert.deepEqual(
        [apiBad.json.ok, apiBad.json.firstBad.seq, apiBad.json.firstBad.reason],
        [false, seq - 1, 'removed'],
      );
      const apiInvalid = await call(ts.url, 'GET', '/api/v1/audit/verify?expectHead=12', { token: auditor });
      assert.equal(apiInvalid.status, 400);

      const usage = await ws.cli(['audit', 'verify', '--expect-head', 'latest']);
      assert.equal(usage.code, 2);
      assert.match(usage.stderr, /--expect-head "latest" is not SEQ:HASH/);
    } finally {
      await ts.close();
      await ws.cleanup();
    }
  });
}
