/** `sluice token …` and `sluice audit …` through the CLI, against a running server on the same database. */
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { sql } from 'kysely';
import { sleep } from '../../helpers/proc.ts';
import { createWorkspace, type Workspace } from '../../helpers/workspace.ts';
import { describeEachEngine } from '../../helpers/db.ts';
import type { Engine } from '../../../src/store/index.ts';
import { apiToken, call, eventually, startTestServer, type TestServer } from './helpers.ts';

async function withServer(
  engine: Engine,
  fn: (ws: Workspace, ts: TestServer) => Promise<void>,
  edit?: Parameters<typeof createWorkspace>[0]['edit'],
): Promise<void> {
  const ws = await createWorkspace({
    engine,
    registries: [{ name: 'local', url: 'http://127.0.0.1:5999' }],
    ...(edit ? { edit } : {}),
  });
  const ts = await startTestServer(ws);
  try {
    await fn(ws, ts);
  } finally {
    await ts.close();
    await ws.cleanup();
  }
}

describeEachEngine('tokens and audit through the CLI', (engine) => {
  test('token create, ls and revoke; revoked and expired tokens get 401; the token is shown once and stored nowhere', async () => {
    await withServer(engine, async (ws, ts) => {
      const created = await ws.cli([
        'token',
        'create',
        '--role',
        'developer',
        '--team',
        'acme',
        '--name',
        'ci-acme',
        '--actor',
        'alice',
      ]);
      assert.equal(created.code, 0, created.stderr);
      const token = created.stdout.trim();
      assert.match(token, /^slc_[A-Za-z0-9_-]{43}$/);
      assert.match(
        created.stderr,
        /created token [0-9a-f]{12} \(ci-acme, role developer, teams acme, expires \d{4}-.*\); it is shown only now/,
      );

      const me = await call(ts.url, 'GET', '/api/v1/whoami', { token });
      assert.equal(me.status, 200);
      assert.equal(me.json.name, 'ci-acme');
      assert.deepEqual(me.json.teams, ['acme']);
      assert.ok(me.json.permissions.includes('inventory:refresh') && !me.json.permissions.includes('inventory:sync'));

      const refused = [
        [['--role', 'developer'], /role developer acts for teams; give at least one team/],
        [['--role', 'platform-admin', '--team', 'acme'], /role platform-admin acts for every team/],
        [['--role', 'developer', '--team', 'nobody'], /unknown team "nobody"/],
        [['--role', 'wizard'], /Allowed choices are developer, qa/],
        [['--role', 'qa', '--team', 'acme', '--expires', 'soon'], /invalid duration "soon"/],
      ] as const;
      for (const [args, message] of refused) {
        const r = await ws.cli(['token', 'create', ...args]);
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, message);
      }

      const ls = await ws.cli(['token', 'ls', '-o', 'json']);
      assert.equal(ls.code, 0);
      const [info] = JSON.parse(ls.stdout);
      assert.equal(info.name, 'ci-acme');
      assert.equal(info.status, 'active');
      assert.ok(info.lastUsedAt, 'use is recorded');
      assert.equal(info.token, undefined);
      assert.ok(!ls.stdout.includes(token) && !(await ws.cli(['token', 'ls', '-o', 'wide'])).stdout.includes(token));
      const stored = await ts.rt.store.db.selectFrom('api_tokens').select('token_hash').executeTakeFirstOrThrow();
      assert.match(stored.token_hash, /^[0-9a-f]{64}$/);
      assert.notEqual(stored.token_hash, token);

      const revoked = await ws.cli(['token', 'revoke', info.id, '--actor', 'bob']);
      assert.equal(revoked.code, 0, revoked.stderr);
      assert.match(revoked.stdout, new RegExp(`revoked token ${info.id} \\(ci-acme\\)`));
      const after = await call(ts.url, 'GET', '/api/v1/whoami', { token });
      assert.equal(after.status, 401);
      assert.equal(after.json.error.code, 'TOKEN_REVOKED');
      assert.equal(after.headers.get('www-authenticate'), 'Bearer realm="sluice"');
      assert.deepEqual(JSON.parse((await ws.cli(['token', 'ls', '-o', 'json'])).stdout), []);
      assert.equal(JSON.parse((await ws.cli(['token', 'ls', '--all', '-o', 'json'])).stdout)[0].status, 'revoked');
      assert.equal((await ws.cli(['token', 'revoke', 'feedfeedfeed'])).code, 2, 'unknown id: not found');

      const shortLived = (await ws.cli(['token', 'create', '--role', 'auditor', '--expires', '1s'])).stdout.trim();
      assert.equal((await call(ts.url, 'GET', '/api/v1/whoami', { token: shortLived })).status, 200);
      await sleep(1100);
      const expired = await call(ts.url, 'GET', '/api/v1/whoami', { token: shortLived });
      assert.equal(expired.status, 401);
      assert.equal(expired.json.error.code, 'TOKEN_EXPIRED');
      assert.equal(
        (await call(ts.url, 'GET', '/api/v1/whoami', { token: 'slc_' + 'A'.repeat(43) })).json.error.code,
        'TOKEN_INVALID',
      );

      // Through the API, by an administrator: the token comes back once, in the 201 response.
      const admin = await apiToken(ts.rt, 'platform-admin');
      const viaApi = await call(ts.url, 'POST', '/api/v1/tokens', {
        token: admin,
        body: { role: 'qa', teams: ['acme'], name: 'qa-bot', expires: '1h' },
      });
      assert.equal(viaApi.status, 201, viaApi.text);
      assert.equal((await call(ts.url, 'GET', '/api/v1/whoami', { token: viaApi.json.token })).json.name, 'qa-bot');
      assert.ok(
        !(await call(ts.url, 'GET', '/api/v1/tokens?all=true', { token: admin })).text.includes(viaApi.json.token),
      );
      assert.equal(
        (await call(ts.url, 'DELETE', `/api/v1/tokens/${viaApi.json.id}`, { token: admin })).json.status,
        'revoked',
      );

      const creations = JSON.parse(
        (await ws.cli(['audit', 'ls', '--action', 'token.create', '--order', 'asc', '-o', 'json'])).stdout,
      );
      assert.equal(creations[0].actor, 'alice');
      assert.deepEqual(creations[0].details, {
        id: info.id,
        name: 'ci-acme',
        role: 'developer',
        teams: ['acme'],
        expiresAt: info.expiresAt,
      });
      assert.ok(
        creations.some(
          (c: { actor: string; details: { name: string } }) =>
            c.details.name === 'qa-bot' && c.actor.startsWith('token:platform-admin-'),
        ),
      );
      const revocations = JSON.parse((await ws.cli(['audit', 'ls', '--action', 'token.revoke', '-o', 'json'])).stdout);
      assert.deepEqual(revocations.map((r: { actor: string }) => r.actor).sort(), [
        'bob',
        `token:${(await call(ts.url, 'GET', '/api/v1/whoami', { token: admin })).json.name}`,
      ]);

      const everything = (await ws.cli(['audit', 'export', '--format', 'jsonl'])).stdout + ts.logs.text();
      for (const t of [token, shortLived, admin, viaApi.json.token])
        assert.ok(!everything.includes(t), 'a token leaked into the audit log or the logs');
    });
  });

  test('audit ls filters; verify names the first tampered record; export writes JSON Lines and CEF', async () => {
    await withServer(engine, async (ws, ts) => {
      for (const name of ['one', 'two', 'three'])
        assert.equal(
          (await ws.cli(['token', 'create', '--role', 'auditor', '--name', name, '--actor', 'carol'])).code,
          0,
        );
      const dev = await apiToken(ts.rt, 'developer', ['acme']);
      assert.equal((await call(ts.url, 'POST', '/api/v1/sync', { token: dev, body: {} })).status, 403);

      const all = JSON.parse((await ws.cli(['audit', 'ls', '-o', 'json'])).stdout);
      assert.equal(all.length, 5);
      assert.deepEqual(
        all.map((r: { seq: number }) => r.seq),
        [5, 4, 3, 2, 1],
        'newest first',
      );
      const denied = JSON.parse((await ws.cli(['audit', 'ls', '--result', 'denied', '-o', 'json'])).stdout);
      assert.equal(denied.length, 1);
      assert.equal(denied[0].action, 'sync.request');
      assert.equal(
        JSON.parse(
          (await ws.cli(['audit', 'ls', '--actor', 'carol', '--limit', '2', '--order', 'asc', '-o', 'json'])).stdout,
        )
          .map((r: { details: { name: string } }) => r.details.name)
          .join(),
        'one,two',
      );
      assert.equal(JSON.parse((await ws.cli(['audit', 'ls', '--since', '1h', '-o', 'json'])).stdout).length, 5);
      assert.equal(JSON.parse((await ws.cli(['audit', 'ls', '--until', '1h', '-o', 'json'])).stdout).length, 0);
      const table = await ws.cli(['audit', 'ls']);
      assert.match(table.stdout, /^SEQ\s+TIME\s+ACTOR\s+ACTION\s+RESULT/);
      assert.equal((await ws.cli(['audit', 'ls', '--since', 'yesterday'])).code, 2);

      const ok = await ws.cli(['audit', 'verify']);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /^audit log intact: 5 records; head seq 5 hash [0-9a-f]{64}$/m);

      const jsonl = await ws.cli(['audit', 'export', '--format', 'jsonl', '--as', 'erin']);
      assert.equal(jsonl.code, 0);
      const lines = jsonl.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      assert.deepEqual(
        lines.map((l) => l.seq),
        [1, 2, 3, 4, 5],
      );
      for (let i = 1; i < lines.length; i++) assert.equal(lines[i].prevHash, lines[i - 1].hash);
      const cef = await ws.cli(['audit', 'export', '--format', 'cef', '--result', 'denied']);
      assert.equal(cef.code, 0);
      assert.match(
        cef.stdout,
        /^CEF:0\|Sluice\|sluice\|[^|]+\|sync\.request\|sync\.request denied\|8\|.*externalId=5 /,
      );
      assert.equal(cef.stdout.trim().split('\n').length, 1);
      const exports = JSON.parse((await ws.cli(['audit', 'ls', '--action', 'audit.export', '-o', 'json'])).stdout);
      assert.deepEqual(
        exports.map((e: { actor: string; details: { count: number } }) => [e.actor, e.details.count]).reverse(),
        [
          ['erin', 5],
          [exports[0].actor, 1],
        ],
      );

      // Through the API: the auditor reads, verifies and exports, streamed.
      const auditor = await apiToken(ts.rt, 'auditor');
      const listed = await call(ts.url, 'GET', '/api/v1/audit?action=token.create&limit=2', { token: auditor });
      assert.equal(listed.json.length, 2);
      const streamed = await call(ts.url, 'GET', '/api/v1/audit/export?format=jsonl', { token: auditor });
      assert.equal(streamed.status, 200);
      assert.match(streamed.headers.get('content-type') ?? '', /application\/x-ndjson/);
      assert.ok(streamed.text.trim().split('\n').length >= 8);

      // Someone edits a record behind Sluice's back.
      await sql`update audit_log set reason = 'nothing to see here' where seq = 3`.execute(ts.rt.store.db);
      const bad = await ws.cli(['audit', 'verify']);
      assert.equal(bad.code, 1);
      assert.match(bad.stdout, /audit log broken at record 3 \(edited\): record 3 was changed after it was written/);
      const badJson = await ws.cli(['audit', 'verify', '-o', 'json']);
      assert.equal(badJson.code, 1);
      assert.equal(JSON.parse(badJson.stdout).firstBad.seq, 3);
      const viaApi = await call(ts.url, 'GET', '/api/v1/audit/verify', { token: auditor });
      assert.equal(viaApi.json.ok, false);
      assert.deepEqual([viaApi.json.firstBad.seq, viaApi.json.firstBad.reason], [3, 'edited']);

      // A removed record is named too.
      await sql`delete from audit_log where seq = 2`.execute(ts.rt.store.db);
      const removed = await ws.cli(['audit', 'verify']);
      assert.equal(removed.code, 1);
      assert.match(removed.stdout, /broken at record 2 \(removed\)/);
    });
  });

  test('audit records are forwarded live to syslog over TCP (RFC 5424, octet counting)', async () => {
    const received: string[] = [];
    const sockets = new Set<Socket>();
    const collector = createServer((s) => {
      sockets.add(s);
      s.on('data', (d) => received.push(d.toString('utf8')));
      s.on('error', () => {});
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const port = (collector.address() as { port: number }).port;
    try {
      await withServer(
        engine,
        async (_ws, ts) => {
          const admin = await apiToken(ts.rt, 'platform-admin');
          const r = await call(ts.url, 'POST', '/api/v1/tokens', {
            token: admin,
            body: { role: 'auditor', name: 'siem-reader' },
          });
          assert.equal(r.status, 201);
          const text = await eventually('the records at the collector', async () => {
            const t = received.join('');
            return t.includes('siem-reader') ? t : undefined;
          });
          assert.match(
            text,
            /^\d+ <\d+>1 \d{4}-\d\d-\d\dT[^ ]+Z \S+ sluice \d+ token\.create \[sluiceAudit@32473 seq="1" /,
          );
          assert.ok(!text.includes(r.json.token) && !text.includes(admin));
        },
        (doc) => doc.setIn(['spec', 'audit'], { syslog: { address: `127.0.0.1:${port}`, protocol: 'tcp' } }),
      );
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => collector.close(() => resolve()));
    }
  });
});
