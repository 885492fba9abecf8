/**
 * Every file a command reads is bounded before it is read: a device that never ends, or a
 * 1 GiB file, is refused with exit 2 naming the file and the limit, without the memory it
 * would take to read it.
 */
import assert from 'node:assert/strict';
import { truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isSluiceError } from '../../../src/errors.ts';
import { CredentialStore } from '../../../src/oci/credentials.ts';
import { runCli, type CliResult } from '../../helpers/cli.ts';
import { createWorkspace, type Workspace } from '../../helpers/workspace.ts';

let ws: Workspace;
before(async () => {
  ws = await createWorkspace({ registries: [{ name: 'local', url: 'http://127.0.0.1:5999' }] });
});
after(async () => {
  await ws?.cleanup();
});

/** Runs the command and checks it was refused for size, without reading the input whole. */
async function refusedForSize(run: () => Promise<CliResult>, name: string, limit: number): Promise<void> {
  const before = process.memoryUsage().arrayBuffers;
  const r = await run();
  assert.equal(r.code, 2, r.stderr);
  assert.match(
    r.stderr,
    new RegExp(`${name.replace(/[/.]/g, '\\$&')} \\(.+\\) is larger than the limit of ${limit} bytes`),
  );
  assert.ok(process.memoryUsage().arrayBuffers - before < limit + 64 * 1024 * 1024, 'read no more than the limit');
}

describe('file inputs over their limit', () => {
  test('copy --batch /dev/zero', async () => {
    await refusedForSize(() => runCli(['copy', '--batch', '/dev/zero']), '/dev/zero', 4 * 1024 * 1024);
  });

  test('usage report /dev/zero', async () => {
    await refusedForSize(
      () => ws.cli(['usage', 'report', '--cluster', 'prod-eu-1', '/dev/zero']),
      '/dev/zero',
      32 * 1024 * 1024,
    );
  });

  test('retention apply --plan /dev/zero', async () => {
    await refusedForSize(
      () => ws.cli(['retention', 'apply', '--plan', '/dev/zero', '--yes']),
      '/dev/zero',
      64 * 1024 * 1024,
    );
  });

  test('config validate on a 1 GiB file, and any command reading it as its policy', async () => {
    const file = path.join(ws.dir, 'huge.yaml');
    await writeFile(file, '');
    await truncate(file, 1024 * 1024 * 1024);
    await refusedForSize(() => runCli(['config', 'validate', file]), file, 1024 * 1024);
    await refusedForSize(() => runCli(['--config', file, 'images', 'ls']), file, 1024 * 1024);
    await refusedForSize(() => runCli(['config', 'validate', '/dev/zero']), '/dev/zero', 1024 * 1024);
  });

  test('--ca-file /dev/zero', async () => {
    await refusedForSize(
      () => runCli(['--ca-file', '/dev/zero', 'inspect', '127.0.0.1:5999/acme-dev/api:1']),
      '/dev/zero',
      1024 * 1024,
    );
  });

  test('a registry credentials file that never ends is an error, not a file to skip', async () => {
    // Credentials are looked up when a registry asks for them, so this is the store's lookup.
    const store = new CredentialStore({ env: { REGISTRY_AUTH_FILE: '/dev/zero' }, home: ws.dir });
    await assert.rejects(store.lookup('registry.example'), (err: unknown) => {
      assert.ok(isSluiceError(err, 'INPUT_TOO_LARGE'));
      assert.match(err.message, /^\/dev\/zero \(registry credentials file\) is larger than the limit of 1048576 bytes/);
      return true;
    });
  });

  test('-o json reports the limit as data', async () => {
    const r = await runCli(['-o', 'json', 'copy', '--batch', '/dev/zero']);
    assert.equal(r.code, 2);
    const { error } = JSON.parse(r.stderr) as { error: Record<string, unknown> };
    assert.equal(error.code, 'INPUT_TOO_LARGE');
    assert.equal(error.limit, 4 * 1024 * 1024);
    assert.equal(error.location, '/dev/zero');
  });
});
