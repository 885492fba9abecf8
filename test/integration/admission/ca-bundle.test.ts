/** caBundle from CA files made by openssl (test/helpers/tls.ts). */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { isSluiceError } from '../../../src/errors.ts';
import { admissionWebhookConfigurations, caBundleOf } from '../../../src/admission/manifests.ts';
import { createPki, getTestPki } from '../../helpers/index.ts';

describe('caBundleOf', () => {
  it('is the base64 PEM of the CA, which verifies the server certificate', async () => {
    const pki = await getTestPki();
    const bundle = caBundleOf(pki.caPem, pki.caFile);
    const pem = Buffer.from(bundle, 'base64').toString('utf8');
    const ca = new X509Certificate(pem);
    assert.ok(new X509Certificate(pki.certPem).verify(ca.publicKey));
    const [config] = admissionWebhookConfigurations({
      settings: { namespaces: [], exclude: [], mutate: false },
      namespace: 'sluice',
      service: 'sluice',
      caBundle: bundle,
    }) as Array<{ webhooks: Array<{ clientConfig: { caBundle: string } }> }>;
    assert.equal(config!.webhooks[0]!.clientConfig.caBundle, bundle);
  });

  it('keeps every certificate of a bundle (CA rotation publishes old and new)', async () => {
    const a = await getTestPki();
    const b = await createPki();
    const pem = Buffer.from(caBundleOf(`${a.caPem}\n${b.caPem}`, 'ca.pem'), 'base64').toString('utf8');
    assert.equal(pem.match(/BEGIN CERTIFICATE/g)?.length, 2);
  });

  it('refuses a file holding a private key, without echoing it', async () => {
    const pki = await getTestPki();
    assert.throws(
      () => caBundleOf(`${pki.caPem}\n${pki.keyPem}`, 'tls.pem'),
      (e: unknown) =>
        isSluiceError(e, 'ADMISSION_MANIFEST_INVALID') &&
        /tls\.pem: the file contains a private key/.test(e.message) &&
        !e.message.includes(pki.keyPem.split('\n')[1]!),
    );
  });

  it('refuses a file without certificate, and a certificate that does not parse', () => {
    assert.throws(() => caBundleOf('hello', 'ca.pem'), /ca\.pem: no PEM certificate/);
    assert.throws(
      () => caBundleOf('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', 'ca.pem'),
      /certificate 1 does not parse/,
    );
  });
});
