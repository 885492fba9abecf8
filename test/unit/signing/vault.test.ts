/**
 * The Vault transit signer against a local server that answers with the request and response
 * shapes of Vault's documented HTTP API (transit "Read Key" and "Sign Data", Kubernetes auth
 * "Login", and Vault's `{"errors": [...]}` error body). The server signs with real P-256 keys,
 * so the signatures the client returns are checked, not just passed through.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { isSluiceError } from '../../../src/errors.ts';
import { VaultTransitSigner, parseVaultKeyRef, vaultOptionsFromEnv } from '../../../src/signing/vault.ts';
import { publicKeySet } from '../../../src/signing/keys.ts';
import { buildPayload } from '../../../src/signing/payload.ts';
import { verifyCandidate } from '../../../src/signing/verify.ts';
import { FakeVault, serve } from './fake-vault.ts';
import { errorText, openssl, tempDir } from './helpers.ts';

const payload = buildPayload({ dockerReference: 'registry.example.com/app', digest: `sha256:${'ab'.repeat(32)}` });

describe('VaultTransitSigner with a token', () => {
  it('reads the key, signs through transit and returns a DER signature that verifies', async () => {
    const vault = new FakeVault();
    const address = await serve(vault);
    const signer = new VaultTransitSigner('vault://transit/keys/release', {
      address,
      token: 'hvs.static-token',
      namespace: 'team-a',
    });
    const pub = await signer.publicKey();
    assert.equal(
      pub.export({ type: 'spki', format: 'pem' }),
      vault.keys.get(2)?.publicKey.export({ type: 'spki', format: 'pem' }),
    );
    const sig = await signer.sign(payload);
    assert.ok(verify('sha256', payload, pub, sig));
    const r = verifyCandidate({
      payload,
      signatureB64: sig.toString('base64'),
      keys: publicKeySet([pub]),
      expectedDigest: `sha256:${'ab'.repeat(32)}`,
    });
    assert.ok(r.ok);

    assert.deepEqual(
      vault.seen.map((s) => `${s.method} ${s.url}`),
      ['GET /v1/transit/keys/release', 'POST /v1/transit/sign/release/sha2-256'],
      'the key is read once and cached',
    );
    for (const s of vault.seen) {
      assert.equal(s.headers['x-vault-token'], 'hvs.static-token');
      assert.equal(s.headers['x-vault-namespace'], 'team-a');
      assert.equal(s.headers['x-vault-request'], 'true');
    }
    assert.deepEqual(vault.seen[1]?.body, {
      input: payload.toString('base64'),
      key_version: 2,
      marshaling_algorithm: 'asn1',
    });
    assert.equal(vault.seen[1]?.headers['content-type'], 'application/json');
  });

  it('turns Vault errors into SluiceErrors naming the endpoint, never the token', async () => {
    const vault = new FakeVault({ errorText: 'token hvs.wrong-token is not valid' });
    const address = await serve(vault);
    const signer = new VaultTransitSigner('vault://transit/keys/release', { address, token: 'hvs.wrong-token' });
    const err = await signer.sign(payload).catch((e: unknown) => e);
    assert.ok(isSluiceError(err, 'VAULT_PERMISSION_DENIED'));
    assert.equal(err.category, 'forbidden');
    assert.match(
      err.message,
      /^Vault GET \/v1\/transit\/keys\/release failed with 403: token \[redacted\] is not valid/,
    );
    assert.equal(err.context.httpStatus, 403);
    assert.ok(!errorText(err).includes('hvs.wrong-token'));
  });

  it('refuses keys that are not ecdsa-p256', async () => {
    const address = await serve(new FakeVault({ keyType: 'rsa-2048' }));
    const signer = new VaultTransitSigner('vault://transit/keys/release', { address, token: 'hvs.static-token' });
    await assert.rejects(
      signer.publicKey(),
      (e) => isSluiceError(e, 'VAULT_KEY_UNSUPPORTED') && /"rsa-2048" key/.test(e.message),
    );
  });

  it('checks the signature Vault returns', async () => {
    const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const cases: Array<[string, (p: Buffer, v: number) => string, RegExp]> = [
      [
        'another key',
        (p, v) => `vault:v${v}:${sign('sha256', p, stranger.privateKey).toString('base64')}`,
        /does not verify with version 2/,
      ],
      [
        'jws marshaling',
        (p, v) =>
          `vault:v${v}:${sign('sha256', p, { key: stranger.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`,
        /not standard base64|not ASN\.1 DER/,
      ],
      [
        'another version',
        (p) => `vault:v1:${sign('sha256', p, stranger.privateKey).toString('base64')}`,
        /signed with key version 1, requested 2/,
      ],
      [
        'no prefix',
        (p) => sign('sha256', p, stranger.privateKey).toString('base64'),
        /not of the form vault:v<N>:<base64>/,
      ],
    ];
    for (const [name, signature, why] of cases) {
      const address = await serve(new FakeVault({ signature }));
      const signer = new VaultTransitSigner('vault://transit/keys/release', { address, token: 'hvs.static-token' });
      await assert.rejects(
        signer.sign(payload),
        (e) => isSluiceError(e, 'VAULT_SIGNATURE_INVALID') && why.test(e.message),
        name,
      );
    }
  });

  it('does not follow redirects (the token would follow them)', async () => {
    const target = new FakeVault();
    const targetAddress = await serve(target);
    const redirector = http.createServer((req, res) => {
      res.writeHead(307, { location: `${targetAddress}${req.url}` });
      res.end();
    });
    await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));
    after(() => redirector.close());
    const address = `http://127.0.0.1:${(redirector.address() as AddressInfo).port}`;
    const signer = new VaultTransitSigner('vault://transit/keys/release', { address, token: 'hvs.static-token' });
    await assert.rejects(signer.publicKey(), (e) => isSluiceError(e, 'VAULT_REDIRECT_REFUSED'));
    assert.equal(target.seen.length, 0);
  });
});

describe('VaultTransitSigner with Kubernetes auth', () => {
  it('logs in with the service-account JWT and uses auth.client_token', async () => {
    const dir = tempDir();
    const jwtFile = path.join(dir, 'token');
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6Y2k6c2x1aWNlIn0.c2ln';
    writeFileSync(jwtFile, `${jwt}\n`);
    const vault = new FakeVault({ jwt, authMount: 'k8s-prod', tokens: new Set() });
    const address = await serve(vault);
    const signer = new VaultTransitSigner('vault://transit/keys/release', {
      address,
      kubernetes: { role: 'sluice', mount: 'k8s-prod', tokenFile: jwtFile },
    });
    const sig = await signer.sign(payload);
    assert.ok(verify('sha256', payload, await signer.publicKey(), sig));
    const login = vault.seen[0];
    assert.equal(`${login?.method} ${login?.url}`, 'POST /v1/auth/k8s-prod/login');
    assert.deepEqual(login?.body, { role: 'sluice', jwt });
    assert.equal(login?.headers['x-vault-token'], undefined, 'login is unauthenticated');
    assert.deepEqual(
      vault.seen.slice(1).map((s) => [s.url, s.headers['x-vault-token']]),
      [
        ['/v1/transit/keys/release', 'hvs.k8s-1'],
        ['/v1/transit/sign/release/sha2-256', 'hvs.k8s-1'],
      ],
    );
  });

  it('logs in again once when Vault rejects the token it issued', async () => {
    const dir = tempDir();
    const jwtFile = path.join(dir, 'token');
    writeFileSync(jwtFile, 'jwt-value');
    const vault = new FakeVault({ jwt: 'jwt-value', tokens: new Set(), expireNext: 1 });
    const address = await serve(vault);
    const signer = new VaultTransitSigner('vault://transit/keys/release', {
      address,
      kubernetes: { role: 'sluice', tokenFile: jwtFile },
    });
    await signer.publicKey();
    assert.equal(vault.logins, 2);
    assert.equal(vault.seen.at(-1)?.headers['x-vault-token'], 'hvs.k8s-2');
  });

  it('reports a refused login with the role and mount, not the JWT', async () => {
    const dir = tempDir();
    const jwtFile = path.join(dir, 'token');
    writeFileSync(jwtFile, 'the-service-account-jwt');
    const address = await serve(new FakeVault({ jwt: 'something else', tokens: new Set() }));
    const signer = new VaultTransitSigner('vault://transit/keys/release', {
      address,
      kubernetes: { role: 'sluice', tokenFile: jwtFile },
    });
    const err = await signer.publicKey().catch((e: unknown) => e);
    assert.ok(isSluiceError(err, 'VAULT_LOGIN_FAILED'));
    assert.match(err.message, /role "sluice" at auth\/kubernetes\/login was refused/);
    assert.ok(!errorText(err).includes('the-service-account-jwt'));
    const missing = new VaultTransitSigner('vault://transit/keys/release', {
      address,
      kubernetes: { role: 'sluice', tokenFile: path.join(dir, 'absent') },
    });
    await assert.rejects(missing.publicKey(), /cannot read the Kubernetes service account token .*absent: ENOENT/);
  });
});

describe('Vault configuration', () => {
  it('parses key references', () => {
    assert.deepEqual(parseVaultKeyRef('vault://transit/keys/release'), {
      mount: 'transit',
      name: 'release',
      ref: 'vault://transit/keys/release',
    });
    assert.equal(parseVaultKeyRef('vault://team/a/transit/keys/k-1.v2').mount, 'team/a/transit');
    assert.equal(parseVaultKeyRef('hashivault://release', {}).ref, 'vault://transit/keys/release');
    for (const bad of [
      'vault://transit/release',
      'vault://../keys/x',
      'vault://transit/keys/a/b',
      'vault://transit/keys/%2e%2e',
      'vault://transit/keys/',
      'vault:///keys/x',
    ]) {
      assert.throws(
        () => parseVaultKeyRef(bad),
        (e) => isSluiceError(e, 'SIGNING_KEY_REF_INVALID'),
        bad,
      );
    }
  });

  it('reads the environment the Vault CLI uses', () => {
    const o = vaultOptionsFromEnv({
      VAULT_ADDR: 'https://v:8200',
      VAULT_TOKEN: '',
      VAULT_NAMESPACE: 'ns',
      SLUICE_VAULT_K8S_ROLE: 'r',
    });
    assert.deepEqual(o, {
      address: 'https://v:8200',
      token: undefined,
      namespace: 'ns',
      caCertFile: undefined,
      kubernetes: { role: 'r', mount: undefined, tokenFile: undefined },
    });
  });

  it('refuses missing or unsafe settings up front', () => {
    const ref = 'vault://transit/keys/release';
    assert.throws(
      () => new VaultTransitSigner(ref, { token: 't' }),
      (e) => isSluiceError(e, 'VAULT_ADDRESS_MISSING'),
    );
    assert.throws(
      () => new VaultTransitSigner(ref, { address: 'http://vault.internal:8200', token: 't' }),
      (e) => isSluiceError(e, 'VAULT_INSECURE'),
    );
    assert.throws(
      () => new VaultTransitSigner(ref, { address: 'https://vault.internal:8200' }),
      (e) => isSluiceError(e, 'VAULT_AUTH_MISSING'),
    );
    assert.throws(
      () => new VaultTransitSigner(ref, { address: 'https://user:pw@vault.internal', token: 't' }),
      /must not carry credentials/,
    );
  });

  it('reports an unreachable Vault as unavailable', async () => {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const signer = new VaultTransitSigner('vault://transit/keys/release', {
      address: `http://127.0.0.1:${port}`,
      token: 'hvs.secret-value',
    });
    const err = await signer.publicKey().catch((e: unknown) => e);
    assert.ok(isSluiceError(err, 'VAULT_UNREACHABLE'));
    assert.equal(err.category, 'unavailable');
    assert.match(err.message, /ECONNREFUSED/);
    assert.ok(!errorText(err).includes('hvs.secret-value'));
  });

  it('trusts VAULT_CACERT for an https Vault and refuses the certificate without it', async () => {
    const dir = tempDir();
    const f = (n: string) => path.join(dir, n);
    const run = (args: string[]) => {
      const r = openssl(args);
      assert.equal(r.status, 0, r.stderr);
    };
    run([
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      f('ca.key'),
      '-out',
      f('ca.pem'),
      '-subj',
      '/CN=Sluice Test CA',
      '-days',
      '1',
    ]);
    run([
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      f('srv.key'),
      '-out',
      f('srv.csr'),
      '-subj',
      '/CN=127.0.0.1',
    ]);
    writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
    run([
      'x509',
      '-req',
      '-in',
      f('srv.csr'),
      '-CA',
      f('ca.pem'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-out',
      f('srv.pem'),
      '-days',
      '1',
      '-extfile',
      f('ext.cnf'),
    ]);

    const vault = new FakeVault();
    const server = https.createServer(
      { key: readFileSync(f('srv.key')), cert: readFileSync(f('srv.pem')) },
      (req, res) => void vault.handler(req, res),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    after(() => server.close());
    const address = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const ref = 'vault://transit/keys/release';

    const untrusted = new VaultTransitSigner(ref, { address, token: 'hvs.static-token' });
    await assert.rejects(
      untrusted.publicKey(),
      (e) => isSluiceError(e, 'VAULT_TLS_UNTRUSTED') && /set VAULT_CACERT/.test(e.message),
    );

    const trusted = new VaultTransitSigner(
      ref,
      vaultOptionsFromEnv({ VAULT_ADDR: address, VAULT_TOKEN: 'hvs.static-token', VAULT_CACERT: f('ca.pem') }),
    );
    const sig = await trusted.sign(payload);
    assert.ok(verify('sha256', payload, await trusted.publicKey(), sig));
    assert.equal(vault.seen.at(-1)?.headers['x-vault-token'], 'hvs.static-token');
  });
});
