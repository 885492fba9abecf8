/**
 * An on-premises ServiceNow instance behind a private CA: `caFile` is trusted in addition to
 * the system roots, and without it the certificate is refused before credentials are sent.
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { isSluiceError } from '../../../src/errors.ts';
import { ServiceNowClient } from '../../../src/integrations/servicenow.ts';
import { getTestPki, type TestPki } from '../../helpers/tls.ts';

let pki: TestPki;
let server: https.Server;
let origin: string;
const seen: Array<string | undefined> = [];

before(async () => {
  pki = await getTestPki();
  server = https.createServer({ cert: pki.certPem, key: pki.keyPem }, (req, res) => {
    seen.push(req.headers.authorization);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ result: [] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

describe('ServiceNow over TLS', () => {
  it('trusts the configured CA file', async () => {
    const client = new ServiceNowClient({ url: origin, credentials: 'svc:pw', caFile: pki.caFile });
    assert.equal(await client.getChange('CHG0000001'), undefined);
    assert.equal(seen.at(-1), `Basic ${Buffer.from('svc:pw').toString('base64')}`);
  });

  it('refuses a certificate from a CA it was not given, without sending the credentials', async () => {
    const before = seen.length;
    const client = new ServiceNowClient({ url: origin, credentials: 'svc:secret-pw' });
    await assert.rejects(
      client.getChange('CHG0000001'),
      (e) => isSluiceError(e, 'SERVICENOW_UNAVAILABLE') && !e.message.includes('secret-pw'),
    );
    assert.equal(seen.length, before);
  });
});
