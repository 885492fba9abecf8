/** `sluice serve` as a real process: the embedded defaults, and graceful shutdown on SIGTERM. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import path from 'node:path';
import { test } from 'node:test';
import { renderInitFile } from '../../../src/policy/index.ts';
import { buildImage, pushImage } from '../../helpers/images.ts';
import { makeTempDir, removeTempDir, sleep } from '../../helpers/proc.ts';
import { startProxy } from '../../helpers/proxy.ts';
import { startRegistry } from '../../helpers/registry.ts';
import { createWorkspace } from '../../helpers/workspace.ts';
import { describeEachEngine } from '../../helpers/db.ts';
import { call, eventually, spawnSluice } from './helpers.ts';

/**
 * The generated policy points at 127.0.0.1:5000. The test holds that port itself with a
 * stand-in that is no registry (404 to everything), so the failing sync is certain and not a
 * matter of what else runs on the machine.
 */
async function standInForDefaultRegistry(): Promise<{ requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"NOT_FOUND"}]}');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'EADDRINUSE'
          ? new Error('127.0.0.1:5000 is taken by another process; this test needs it for the default registry')
          : e,
      ),
    );
    server.listen(5000, '127.0.0.1', resolve);
  });
  return {
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

test('on embedded defaults, serve writes sluice.yaml, uses SQLite, keeps serving without a registry, and stops on SIGTERM', async () => {
  const dir = await makeTempDir('serve-defaults');
  const defaultRegistry = await standInForDefaultRegistry();
  const proc = spawnSluice(['serve', '--listen', '127.0.0.1:0'], { cwd: dir, env: { SLUICE_DATABASE_URL: '' } });
  try {
    const url = await proc.url;
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(await readFile(path.join(dir, 'sluice.yaml'), 'utf8'), renderInitFile());
    assert.ok(existsSync(path.join(dir, '.sluice', 'sluice.db')));
    assert.equal((await call(url, 'GET', '/healthz')).status, 200);
    const ready = await call(url, 'GET', '/readyz');
    assert.equal(ready.status, 200);
    assert.equal(ready.json.database, `sqlite:${path.join(dir, '.sluice', 'sluice.db')}`);
    const logs = () =>
      proc
        .stderr()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(logs().some((l) => String(l.msg).includes('wrote the default policy')));
    // Webhooks stay closed until a secret is configured.
    const hook = await call(url, 'POST', '/api/v1/webhooks/distribution/local', { body: { events: [] } });
    assert.equal(hook.status, 403);
    assert.match(hook.json.error.message, /set server\.webhooks\.distribution\.secret/);
    // With no registry at the generated policy's address the sync fails, logged, and serving goes on.
    await eventually(
      'the failed sync logged',
      async () => logs().some((l) => l.level === 50 && String(l.msg).startsWith('job sync:local failed')),
      60_000,
    );
    assert.ok(defaultRegistry.requests.length > 0, 'the sync asked the address of the generated policy');
    assert.equal((await call(url, 'GET', '/healthz')).status, 200);
    proc.kill('SIGTERM');
    const exit = await proc.exited;
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.ok(logs().some((l) => l.msg === 'server stopped'));
  } finally {
    proc.kill('SIGKILL');
    await defaultRegistry.close();
    await removeTempDir(dir);
  }
});

describeEachEngine('serve as a real process', (engine) => {
  test('SIGTERM lets the in-flight request finish, refuses new ones, and exits 0', async () => {
    const reg = await startRegistry();
    const proxy = await startProxy(reg);
    const ws = await createWorkspace({ engine, registries: [{ name: 'local', url: proxy.url }] });
    try {
      const image = await buildImage({ seed: 'graceful' });
      await pushImage(image, reg, 'acme-dev/slow:1.0.0-1');
      const token = (await ws.cli(['token', 'create', '--role', 'developer', '--team', 'acme'])).stdout.trim();
      proxy.inject({
        kind: 'delay',
        ms: 1500,
        method: 'HEAD',
        path: /\/v2\/acme-dev\/slow\/manifests\/1\.0\.0-1$/,
        times: Infinity,
      });
      const proc = spawnSluice(['--config', ws.configPath, 'serve', '--listen', '127.0.0.1:0', '--no-scheduler'], {
        env: ws.env,
      });
      try {
        const url = await proc.url;
        const started = Date.now();
        const inflight = call(url, 'POST', '/api/v1/inventory/refresh', {
          token,
          body: { registry: 'local', repository: 'acme-dev/slow', tag: '1.0.0-1' },
        });
        await sleep(300);
        proc.kill('SIGTERM');
        await sleep(200);
        const late = await call(url, 'GET', '/healthz').then(
          (r) => r.status,
          () => 'refused',
        );
        assert.ok(late === 503 || late === 'refused', `a new request during shutdown: ${late}`);
        const r = await inflight;
        assert.equal(r.status, 200, r.text);
        assert.ok(Date.now() - started >= 1500, 'it really was in flight');
        assert.deepEqual(
          r.json.changes.map((c: { tag: string; change: string; digest: string }) => [c.tag, c.change, c.digest]),
          [['1.0.0-1', 'created', image.digest]],
        );
        assert.deepEqual(await proc.exited, { code: 0, signal: null });
        const ls = JSON.parse((await ws.cli(['images', 'ls', '-o', 'json'])).stdout);
        assert.equal(ls[0].digest, image.digest, 'the work was committed before exit');
      } finally {
        proc.kill('SIGKILL');
      }
    } finally {
      await proxy.close();
      await reg.stop();
      await ws.cleanup();
    }
  });
});
