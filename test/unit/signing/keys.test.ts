import assert from 'node:assert/strict';
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { isSluiceError } from '../../../src/errors.ts';
import { encodePem, parsePemBlocks } from '../../../src/signing/encoding.ts';
import {
  COSIGN_PRIVATE_KEY_PEM,
  SIGSTORE_PRIVATE_KEY_PEM,
  decryptEnvelope,
  encryptEnvelope,
  generateKeyPair,
  importPrivateKeyPem,
  loadPublicKeys,
  readPrivateKeyFile,
  writeKeyPair,
} from '../../../src/signing/keys.ts';
import { errorText, fixture, openssl, tempDir } from './helpers.ts';

interface Vector {
  envelope: { kdf: { params: { N: number } } };
  plaintext: string;
}
const vectors = JSON.parse(readFileSync(fixture('envelope-vectors.json'), 'utf8')) as {
  passphrase: string;
  vectors: Vector[];
};

describe('go-securesystemslib envelope', () => {
  for (const [i, v] of vectors.vectors.entries()) {
    it(`decrypts upstream vector ${i} (N=${v.envelope.kdf.params.N})`, async () => {
      const plain = await decryptEnvelope(JSON.stringify(v.envelope), vectors.passphrase);
      assert.equal(plain.toString('utf8'), v.plaintext);
    });
  }

  it('rejects a wrong password with SIGNING_KEY_PASSWORD and keeps both passwords out of the error', async () => {
    const v = vectors.vectors[0];
    assert.ok(v);
    const wrong = 'hunter2-not-it';
    const err = await decryptEnvelope(JSON.stringify(v.envelope), wrong, 'cosign.key').catch((e: unknown) => e);
    assert.ok(isSluiceError(err, 'SIGNING_KEY_PASSWORD'));
    assert.equal(err.category, 'unauthorized');
    assert.match(err.message, /cosign\.key: incorrect password/);
    assert.ok(!errorText(err).includes(wrong));
    assert.ok(!errorText(err).includes(vectors.passphrase));
  });

  it('detects a modified ciphertext', async () => {
    const env = structuredClone(vectors.vectors[0]?.envelope) as unknown as { ciphertext: string };
    const ct = Buffer.from(env.ciphertext, 'base64');
    ct[ct.length - 1] = (ct[ct.length - 1] ?? 0) ^ 1;
    env.ciphertext = ct.toString('base64');
    await assert.rejects(decryptEnvelope(JSON.stringify(env), vectors.passphrase), (e) =>
      isSluiceError(e, 'SIGNING_KEY_PASSWORD'),
    );
  });

  for (const params of [
    { N: 16384, r: 8, p: 1 },
    { N: 1 << 20, r: 8, p: 1 },
    { N: 32768, r: 16, p: 1 },
    { N: 32768, r: 8, p: 4 },
    { N: '32768', r: 8, p: 1 },
  ]) {
    it(`refuses scrypt parameters ${JSON.stringify(params)} without deriving`, async () => {
      const env = structuredClone(vectors.vectors[0]?.envelope) as unknown as { kdf: { params: unknown } };
      env.kdf.params = params;
      const started = performance.now();
      const err = await decryptEnvelope(JSON.stringify(env), vectors.passphrase).catch((e: unknown) => e);
      assert.ok(isSluiceError(err, 'SIGNING_KEY_KDF_UNSUPPORTED'), String(err));
      assert.match(err.message, /scrypt parameters .* are not allowed/);
      // A derivation with N=2^20 alone would take seconds; refusing must not start one.
      assert.ok(performance.now() - started < 1000);
    });
  }

  it('refuses other KDF and cipher names', async () => {
    const env = structuredClone(vectors.vectors[0]?.envelope) as unknown as {
      kdf: { name: string };
      cipher: { name: string };
    };
    env.kdf.name = 'pbkdf2';
    await assert.rejects(decryptEnvelope(JSON.stringify(env), 'x'), /key derivation "pbkdf2" is not supported/);
    env.kdf.name = 'scrypt';
    env.cipher.name = 'aes-gcm';
    await assert.rejects(decryptEnvelope(JSON.stringify(env), 'x'), /cipher "aes-gcm" is not supported/);
  });

  it('writes JSON in go-securesystemslib field order and round-trips', async () => {
    const secret = Buffer.from('plaintext bytes \u0000\u00ff');
    const json = (await encryptEnvelope(secret, 'pw')).toString('utf8');
    assert.match(
      json,
      /^\{"kdf":\{"name":"scrypt","params":\{"N":32768,"r":8,"p":1\},"salt":"[A-Za-z0-9+/]{43}="\},"cipher":\{"name":"nacl\/secretbox","nonce":"[A-Za-z0-9+/]{32}"\},"ciphertext":"[A-Za-z0-9+/=]+"\}$/,
    );
    assert.deepEqual(await decryptEnvelope(json, 'pw'), secret);
    const strong = (await encryptEnvelope(secret, 'pw', { scryptN: 65536 })).toString('utf8');
    assert.match(strong, /"params":\{"N":65536,"r":8,"p":1\}/);
    assert.deepEqual(await decryptEnvelope(strong, 'pw'), secret);
    await assert.rejects(encryptEnvelope(secret, 'pw', { scryptN: 1024 }), (e) =>
      isSluiceError(e, 'SIGNING_KEY_KDF_UNSUPPORTED'),
    );
  });
});

describe('key generation', () => {
  it('produces a cosign key pair that decrypts to the matching P-256 key', async () => {
    const pair = await generateKeyPair('correct horse');
    assert.equal(SIGSTORE_PRIVATE_KEY_PEM, 'ENCRYPTED SIGSTORE PRIVATE KEY');
    assert.match(
      pair.privateKeyPem,
      /^-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n([A-Za-z0-9+/=]{64}\n)*[A-Za-z0-9+/=]{1,64}\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n$/,
    );
    assert.match(pair.publicKeyPem, /^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----\n$/);
    const priv = await importPrivateKeyPem(pair.privateKeyPem, 'correct horse');
    assert.equal(priv.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.equal(createPublicKey(priv).export({ type: 'spki', format: 'pem' }), pair.publicKeyPem);
    // The PEM body is the JSON envelope, as cosign stores it.
    const body = parsePemBlocks(pair.privateKeyPem)?.[0]?.der.toString('utf8') ?? '';
    assert.ok(body.startsWith('{"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1}'));
  });

  it('reports the key id as the SHA-256 of the SPKI DER, as openssl computes it', async () => {
    const pair = await generateKeyPair('');
    const der = openssl(['pkey', '-pubin', '-outform', 'DER'], pair.publicKeyPem);
    assert.equal(der.status, 0, der.stderr);
    assert.equal(pair.keyId, createHash('sha256').update(der.stdout).digest('hex'));
  });

  it('reads the older ENCRYPTED COSIGN PRIVATE KEY header', async () => {
    const pair = await generateKeyPair('pw');
    const der = parsePemBlocks(pair.privateKeyPem)?.[0]?.der;
    assert.ok(der);
    const legacy = encodePem(COSIGN_PRIVATE_KEY_PEM, der);
    const key = await importPrivateKeyPem(legacy, 'pw');
    assert.equal(createPublicKey(key).export({ type: 'spki', format: 'pem' }), pair.publicKeyPem);
  });

  it('rejects a wrong password for a generated key', async () => {
    const pair = await generateKeyPair('R1ght-Passw0rd');
    const err = await importPrivateKeyPem(pair.privateKeyPem, 'Wr0ng-Passw0rd', 'cosign.key').catch((e: unknown) => e);
    assert.ok(isSluiceError(err, 'SIGNING_KEY_PASSWORD'));
    assert.equal(err.category, 'unauthorized');
    assert.ok(!errorText(err).includes('Wr0ng-Passw0rd'));
    assert.ok(!errorText(err).includes('R1ght-Passw0rd'));
    await assert.rejects(importPrivateKeyPem(pair.privateKeyPem, undefined, 'cosign.key'), (e) =>
      isSluiceError(e, 'SIGNING_PASSWORD_MISSING'),
    );
  });

  it('writes cosign.key 0600 and cosign.pub 0644 and refuses to overwrite them', async () => {
    const dir = tempDir();
    const prefix = path.join(dir, 'cosign');
    const written = await writeKeyPair('pw', { prefix });
    assert.equal(written.privateKeyPath, `${prefix}.key`);
    assert.equal(statSync(written.privateKeyPath).mode & 0o777, 0o600);
    assert.equal(statSync(written.publicKeyPath).mode & 0o777, 0o644);
    const key = await readPrivateKeyFile(written.privateKeyPath, 'pw');
    const set = await loadPublicKeys(written.publicKeyPath);
    assert.equal(set.keys[0]?.keyId, written.keyId);
    assert.equal(
      createPublicKey(key).export({ type: 'spki', format: 'pem' }),
      readFileSync(written.publicKeyPath, 'utf8'),
    );
    const before = readFileSync(written.privateKeyPath, 'utf8');
    await assert.rejects(writeKeyPair('pw', { prefix }), (e) => isSluiceError(e, 'SIGNING_KEY_EXISTS'));
    assert.equal(readFileSync(written.privateKeyPath, 'utf8'), before);
    const replaced = await writeKeyPair('pw', { prefix, overwrite: true });
    assert.notEqual(replaced.keyId, written.keyId);
  });
});

describe('importing plain private keys', () => {
  it('imports an openssl EC PRIVATE KEY and a PKCS#8 PRIVATE KEY', async () => {
    const sec1 = openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout']);
    assert.equal(sec1.status, 0, sec1.stderr);
    assert.match(sec1.stdout.toString(), /BEGIN EC PRIVATE KEY/);
    const k1 = await importPrivateKeyPem(sec1.stdout.toString(), undefined);
    assert.equal(k1.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    const pkcs8 = openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']);
    assert.equal(pkcs8.status, 0, pkcs8.stderr);
    assert.match(pkcs8.stdout.toString(), /BEGIN PRIVATE KEY/);
    const k2 = await importPrivateKeyPem(pkcs8.stdout.toString(), undefined);
    assert.equal(k2.type, 'private');
  });

  it('refuses non-P-256 keys and non-key PEM', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    await assert.rejects(
      importPrivateKeyPem(rsa, undefined, 'rsa.pem'),
      /rsa\.pem is a rsa key; Sluice signs with ECDSA P-256 keys only/,
    );
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    await assert.rejects(importPrivateKeyPem(p384, undefined), /EC secp384r1 key/);
    await assert.rejects(
      importPrivateKeyPem('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', undefined),
      /holds CERTIFICATE/,
    );
    await assert.rejects(importPrivateKeyPem('not pem at all', undefined), /holds no PEM block/);
  });
});

describe('public key sets', () => {
  const pub = (curve = 'P-256') => generateKeyPairSync('ec', { namedCurve: curve }).publicKey;

  it('loads a PEM string, a PEM file with several keys, and a directory of .pub/.pem files', async () => {
    const [a, b, c] = [pub(), pub(), pub()];
    const pem = (k: typeof a) => k.export({ type: 'spki', format: 'pem' }).toString();
    const fromString = await loadPublicKeys(pem(a));
    assert.equal(fromString.keys.length, 1);
    assert.equal(
      fromString.keys[0]?.keyId,
      createHash('sha256')
        .update(a.export({ type: 'spki', format: 'der' }))
        .digest('hex'),
    );

    const dir = tempDir();
    writeFileSync(path.join(dir, 'two.pem'), pem(a) + pem(b));
    const fromFile = await loadPublicKeys(path.join(dir, 'two.pem'));
    assert.equal(fromFile.keys.length, 2);

    const keysDir = path.join(dir, 'keys');
    mkdirSync(keysDir);
    writeFileSync(path.join(keysDir, 'a.pub'), pem(a));
    writeFileSync(path.join(keysDir, 'c.pem'), pem(c));
    writeFileSync(path.join(keysDir, 'dup.pub'), pem(a));
    writeFileSync(path.join(keysDir, 'README.txt'), 'not a key');
    const fromDir = await loadPublicKeys(keysDir);
    assert.equal(fromDir.keys.length, 2, 'duplicates collapse, other extensions are ignored');
    assert.deepEqual(fromDir.keys.map((k) => path.basename(k.source)).sort(), ['a.pub', 'c.pem']);
  });

  it('refuses a private key where a public key is expected, without echoing it', async () => {
    const dir = tempDir();
    const privPem = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    writeFileSync(path.join(dir, 'oops.pem'), privPem);
    const err = await loadPublicKeys(dir).catch((e: unknown) => e);
    assert.ok(isSluiceError(err, 'PUBLIC_KEY_INVALID'));
    assert.match(err.message, /oops\.pem contains a "PRIVATE KEY" block/);
    const body = privPem.split('\n')[1] ?? '';
    assert.ok(body.length > 20 && !errorText(err).includes(body));
  });

  it('refuses non-P-256 public keys and missing paths', async () => {
    await assert.rejects(loadPublicKeys(pub('P-384').export({ type: 'spki', format: 'pem' }).toString()), (e) =>
      isSluiceError(e, 'PUBLIC_KEY_UNSUPPORTED'),
    );
    await assert.rejects(loadPublicKeys('/nonexistent/cosign.pub'), (e) => isSluiceError(e, 'PUBLIC_KEY_NOT_FOUND'));
    await assert.rejects(loadPublicKeys(tempDir()), /contains no \*\.pub or \*\.pem files/);
  });
});
