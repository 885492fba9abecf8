/**
 * The database going away: at start (`sluice serve` says which database and exits 1) and
 * while serving (readiness and requests answer 503 STORE_UNAVAILABLE, liveness stays up, and
 * everything works again once the database is back, with no restart).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openRuntime } from '../../../src/runtime.ts';
import { startServer } from '../../../src/server/index.ts';
import { runBin } from '../../helpers/cli.ts';
import { POSTGRES_BASE_URL, pgAdmin, postgresTest, withParams } from '../../helpers/db.ts';
import { getFreePort } from '../../helpers/ports.ts';
import { createWorkspace } from '../../helpers/workspace.ts';
import { LogCapture, Relay, apiToken, call, eventually, metricValue, parseMetrics } from './helpers.ts';

const SECRET = 'outage-secret-5b0e1c9d';

test('sluice serve with an unreachable database says which one and exits 1', async () => {
  const ws = await createWorkspace({ registries: [{ name: 'local', url: 'http://127.0.0.1:5999' }] });
  try {
    const port = await getFreePort();
    const r = await runBin(['serve', '--config', ws.configPath, '--listen', '127.0.0.1:0'], {
      SLUICE_DATABASE_URL: `postgres://sluice:hunter2-secret@127.0.0.1:${port}/test?connect_timeout=2`,
    });
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `^error: database sluice@127\\.0\\.0\\.1:${port}/test is unavailable \\(connect\\): connection refused`,
        'm',
      ),
    );
    assert.ok(!r.stderr.includes('hunter2'), 'no password in the message');
    assert.equal(r.stdout, '', 'never listened');
  } finally {
    await ws.cleanup();
  }
});

postgresTest('requests fail cleanly while the database is gone and recover when it is back', async () => {
  const ws = await createWorkspace({
    registries: [{ name: 'local', url: 'http://127.0.0.1:5999' }],
    engine: 'postgres',
    edit: (doc) => doc.setIn(['spec', 'server', 'webhooks'], { distribution: { secret: 'env:OUTAGE_SECRET' } }),
  });
  const upstream = new URL(POSTGRES_BASE_URL);
  const relay = new Relay({ host: upstream.hostname, port: Number(upstream.port || 5432) });
  await relay.start();
  const appName = `sluice_outage_${process.pid}`;
  const viaRelay = new URL(ws.db.url);
  viaRelay.host = `127.0.0.1:${relay.port}`;
  const url = withParams(viaRelay.toString(), { connect_timeout: '2', application_name: appName });
  const env = { ...process.env, SLUICE_DATABASE_URL: url, OUTAGE_SECRET: SECRET };
  const rt = await openRuntime({ configPath: ws.configPath, env });
  const logs = new LogCapture();
  const server = await startServer(rt, {
    listen: '127.0.0.1:0',
    scheduler: false,
    logStream: logs,
    env,
    graceMs: 2000,
  });
  try {
    const token = await apiToken(rt, 'auditor');
    const up = async () =>
      (await call(server.url, 'GET', '/readyz')).status === 200 &&
      (await call(server.url, 'GET', '/api/v1/images', { token })).status === 200;
    assert.ok(await up());

    // 1. The server kills our connections (restart, failover, pg_terminate_backend).
    const killed = await pgAdmin<{ ok: boolean }>(
      'select pg_terminate_backend(pid) as ok from pg_stat_activity where application_name = $1',
      [appName],
    );
    assert.ok(killed.length >= 1);
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await call(server.url, 'GET', '/api/v1/audit', { token })).status);
    assert.ok(
      statuses.every((s) => s === 200 || s === 503),
      `${statuses}`,
    );
    assert.equal(statuses.at(-1), 200, 'fresh connections replace the killed ones');

    // 2. The database is unreachable.
    await relay.stop();
    const ready = await call(server.url, 'GET', '/readyz');
    assert.equal(ready.status, 503);
    assert.equal(ready.json.error.code, 'STORE_UNAVAILABLE');
    assert.equal(ready.headers.get('retry-after'), '5');
    const images = await call(server.url, 'GET', '/api/v1/images', { token });
    assert.equal(images.status, 503);
    assert.equal(images.json.error.category, 'unavailable');
    assert.match(images.json.error.message, new RegExp(`127\\.0\\.0\\.1:${relay.port}`));
    const hook = await call(server.url, 'POST', '/api/v1/webhooks/distribution/local', {
      body: {
        events: [
          {
            id: 'o-1',
            timestamp: new Date().toISOString(),
            action: 'delete',
            target: { repository: 'acme-dev/api', digest: `sha256:${'a'.repeat(64)}` },
          },
        ],
      },
      headers: { authorization: `Bearer ${SECRET}` },
    });
    assert.equal(hook.status, 503, 'the registry retries the delivery later');
    assert.equal((await call(server.url, 'GET', '/healthz')).status, 200, 'alive, just not ready');
    const metrics = await call(server.url, 'GET', '/metrics');
    assert.equal(metrics.status, 200);
    assert.equal(metricValue(parseMetrics(metrics.text), 'sluice_store_up'), 0);

    // 3. It is back: no restart needed.
    await relay.start();
    await eventually('recovery', up, 15_000);
    const replay = await call(server.url, 'POST', '/api/v1/webhooks/distribution/local', {
      body: {
        events: [
          {
            id: 'o-1',
            timestamp: new Date().toISOString(),
            action: 'delete',
            target: { repository: 'acme-dev/api', digest: `sha256:${'a'.repeat(64)}` },
          },
        ],
      },
      headers: { authorization: `Bearer ${SECRET}` },
    });
    assert.deepEqual(
      [replay.status, replay.json.accepted],
      [202, 1],
      'the retried delivery was not recorded during the outage',
    );
    const again = await call(server.url, 'POST', '/api/v1/webhooks/distribution/local', {
      body: {
        events: [
          {
            id: 'o-1',
            timestamp: new Date().toISOString(),
            action: 'delete',
            target: { repository: 'acme-dev/api', digest: `sha256:${'a'.repeat(64)}` },
          },
        ],
      },
      headers: { authorization: `Bearer ${SECRET}` },
    });
    assert.deepEqual([again.json.accepted, again.json.duplicates], [0, 1], 'deduplicated on PostgreSQL too');
    assert.equal(metricValue(parseMetrics((await call(server.url, 'GET', '/metrics')).text), 'sluice_store_up'), 1);
    assert.ok(!logs.text().includes(SECRET));
  } finally {
    await server.close();
    await rt.close();
    await relay.stop();
    await ws.cleanup();
  }
});
