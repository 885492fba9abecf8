/**
 * The crash guard of `sluice serve` (src/server/crash-guard.ts), in a real process: an error
 * that escapes every handler is survived when it is a peer's failure, and ends the server
 * gracefully with exit 1 when it is a bug.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { sleep } from '../../helpers/proc.ts';
import { createWorkspace } from '../../helpers/workspace.ts';
import { call, eventually, spawnSluice } from './helpers.ts';

const PRELOAD = path.join(import.meta.dirname, 'stray-error.ts');

async function serveWith(stray: 'peer' | 'bug') {
  const ws = await createWorkspace({ registries: [{ name: 'local', url: 'http://127.0.0.1:5999' }] });
  const proc = spawnSluice(['--config', ws.configPath, 'serve', '--listen', '127.0.0.1:0', '--no-scheduler'], {
    env: { ...ws.env, STRAY_ERROR: stray, NODE_OPTIONS: `--import=${PRELOAD}` },
  });
  return { ws, proc, url: await proc.url };
}

test("a peer's failure that escaped its handler is logged and the server serves on", async () => {
  const { ws, proc, url } = await serveWith('peer');
  try {
    proc.kill('SIGUSR2');
    await eventually(
      'both stray errors logged',
      async () =>
        proc.stderr().includes('unhandledRejection from a peer') &&
        proc.stderr().includes('uncaughtException from a peer'),
    );
    await sleep(200);
    assert.equal(proc.child.exitCode, null, proc.stderr());
    assert.equal((await call(url, 'GET', '/healthz')).status, 200);
    proc.kill('SIGTERM');
    assert.deepEqual(await proc.exited, { code: 0, signal: null });
  } finally {
    proc.kill('SIGKILL');
    await ws.cleanup();
  }
});

test('a bug that escaped every handler shuts the server down gracefully with exit 1', async () => {
  const { ws, proc } = await serveWith('bug');
  try {
    proc.kill('SIGUSR2');
    assert.deepEqual(await proc.exited, { code: 1, signal: null });
    const logs = proc
      .stderr()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string; err?: { stack?: string } });
    const fatal = logs.find((l) => l.msg === 'uncaughtException: shutting down');
    assert.ok(fatal, proc.stderr());
    assert.equal(fatal.level, 60);
    assert.match(fatal.err?.stack ?? '', /TypeError: stray bug/);
    assert.ok(
      logs.some((l) => l.msg === 'server stopped'),
      'the shutdown was graceful',
    );
    assert.match(proc.stderr(), /^error: stopped after an unhandled error: stray bug$/m);
  } finally {
    proc.kill('SIGKILL');
    await ws.cleanup();
  }
});
