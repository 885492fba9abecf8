/**
 * Vendor tag deletion reaches the registry's REST API with the registry's own TLS settings
 * (ADR 0002): the CA bundle and `insecure` from its policy entry, through the transport the
 * registry pool gives it, never through a client that trusts only the system roots.
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { isSluiceError } from '../../../src/errors.ts';
import { RegistryPool } from '../../../src/oci/pool.ts';
import { quayTagDeleter } from '../../../src/registries/vendor.ts';
import { getTestPki } from '../../helpers/tls.ts';

const D = 'sha256:' + 'b'.repeat(64);
let server: https.Server;
let host: string;
const seen: Array<{ url: string; auth: string | undefined }> = [];

before(async () => {
  const pki = await getTestPki();
  server = https.createServer({ cert: pki.certPem, key: pki.keyPem }, (req, res) => {
    seen.push({ url: req.url!, auth: req.headers.authorization });
    res.statusCode = 204;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

describe('vendor tag deletion over TLS', () => {
  it("trusts the registry's CA bundle from its settings", async () => {
    const { caPem } = await getTestPki();
    const pool = new RegistryPool({ registries: { [host]: { url: `https://${host}`, caPem } } });
    try {
      await quayTagDeleter(`https://${host}`, { registryToken: 'quay-app-token' }, pool.get(host).transport).deleteTag(
        'acme/api',
        '1.0.0',
        D,
      );
      assert.deepEqual(seen.at(-1), { url: '/api/v1/repository/acme/api/tag/1.0.0', auth: 'Bearer quay-app-token' });
    } finally {
      pool.close();
    }
  });

  it('skips verification for a registry configured insecure', async () => {
    const pool = new RegistryPool({ registries: { [host]: { url: `https://${host}`, insecure: true } } });
    try {
      const before = seen.length;
      await quayTagDeleter(`https://${host}`, { registryToken: 't' }, pool.get(host).transport).deleteTag(
        'acme/api',
        'x',
        D,
      );
      assert.equal(seen.length, before + 1);
    } finally {
      pool.close();
    }
  });

  it('refuses the certificate of a registry whose CA is not configured, naming the fix', async () => {
    const pool = new RegistryPool({ registries: { [host]: { url: `https://${host}` } } });
    try {
      const before = seen.length;
      await assert.rejects(
        quayTagDeleter(`https://${host}`, { registryToken: 'secret-token' }, pool.get(host).transport).deleteTag(
          'acme/api',
          'x',
          D,
        ),
        (e) => isSluiceError(e, 'TLS_UNTRUSTED') && /caFile/.test(e.message) && !e.message.includes('secret-token'),
      );
      assert.equal(seen.length, before, 'nothing reached the server');
    } finally {
      pool.close();
    }
  });
});
