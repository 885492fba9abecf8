import assert from 'node:assert/strict';
import { copyFile, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { connect } from 'node:tls';
import { certificateFingerprint } from '../../../src/server/tls-reload.ts';
import { createPki, getTestPki } from '../../helpers/tls.ts';
import { createWorkspace } from '../../helpers/workspace.ts';
import { startTestServer } from './helpers.ts';

/** The fingerprint of the certificate the server presents, trusting only `caPem`. */
function presented(url: string, caPem: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port), ca: caPem, servername: 'localhost' }, () => {
      const fp = socket.getPeerX509Certificate()!.fingerprint256;
      socket.end();
      resolve(fp);
    });
    socket.once('error', reject);
  });
}

async function eventually(what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** Replaces a file the way a secret mount does: write aside, then rename over it. */
async function replace(file: string, content: Buffer | string): Promise<void> {
  await writeFile(`${file}.new`, content);
  await rename(`${file}.new`, file);
}

test('a rotated certificate is served without a restart; a key that does not match keeps the old one', async () => {
  const [first, second] = await Promise.all([getTestPki(), createPki()]);
  const ws = await createWorkspace({
    registries: [{ name: 'local', url: 'http://127.0.0.1:5999' }],
    edit: (doc) => doc.setIn(['spec', 'server', 'tls'], { certFile: 'tls.crt', keyFile: 'tls.key' }),
  });
  const certFile = path.join(ws.dir, 'tls.crt');
  const keyFile = path.join(ws.dir, 'tls.key');
  await copyFile(first.certFile, certFile);
  await copyFile(first.keyFile, keyFile);
  const logs: string[] = [];
  const ts = await startTestServer(ws, {
    tlsPollMs: 50,
    logStream: { write: (line: string) => (logs.push(line), true) } as unknown as NodeJS.WritableStream,
  });
  try {
    assert.equal(await presented(ts.url, first.caPem), certificateFingerprint(first.certPem));

    // Half a rotation: the new certificate with the old key. The server must not switch.
    await replace(certFile, second.certPem);
    await eventually('the refusal of a mismatched pair', async () =>
      logs.some((l) => l.includes('keeping the current ones')),
    );
    assert.equal(await presented(ts.url, first.caPem), certificateFingerprint(first.certPem));

    await replace(keyFile, second.keyPem);
    await eventually(
      'the new certificate',
      async () => (await presented(ts.url, second.caPem)) === certificateFingerprint(second.certPem),
    );
    const reloaded = logs.find((l) => l.includes('TLS certificate reloaded'))!;
    assert.ok(reloaded.includes(certificateFingerprint(second.certPem)), reloaded);
    const keyBody = (await readFile(keyFile, 'utf8')).split('\n')[1]!;
    assert.ok(!logs.some((l) => l.includes(keyBody)), 'no key material in the log');
  } finally {
    await ts.close();
    await ws.cleanup();
  }
});
