import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { isSluiceError } from '../../../src/errors.ts';
import { loadPublicKeys, writeKeyPair } from '../../../src/signing/keys.ts';
import {
  FileSigner,
  parseKeyRef,
  resolveSigningPassword,
  signImageDigest,
  type PromptInput,
} from '../../../src/signing/signer.ts';
import { verifyCandidate } from '../../../src/signing/verify.ts';
import { errorText, openssl, tempDir } from './helpers.ts';

const digest = `sha256:${createHash('sha256').update('image').digest('hex')}`;

describe('FileSigner', () => {
  it('signs so that `openssl dgst -sha256 -verify cosign.pub` accepts the signature', async () => {
    const dir = tempDir();
    const prefix = path.join(dir, 'cosign');
    const { privateKeyPath, publicKeyPath } = await writeKeyPair('s3cret', { prefix });
    const signer = await FileSigner.fromFile(privateKeyPath, 's3cret');
    const signed = await signImageDigest(signer, {
      dockerReference: 'registry.example.com/app',
      digest,
      annotations: { env: 'prod' },
    });
    writeFileSync(path.join(dir, 'payload'), signed.payload);
    writeFileSync(path.join(dir, 'sig.der'), signed.signature);

    const ok = openssl([
      'dgst',
      '-sha256',
      '-verify',
      publicKeyPath,
      '-signature',
      path.join(dir, 'sig.der'),
      path.join(dir, 'payload'),
    ]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout.toString(), /Verified OK/);

    // openssl must also say no to a payload that differs by one byte.
    writeFileSync(path.join(dir, 'payload2'), Buffer.from(signed.payload.toString().replace('prod', 'prad')));
    const bad = openssl([
      'dgst',
      '-sha256',
      '-verify',
      publicKeyPath,
      '-signature',
      path.join(dir, 'sig.der'),
      path.join(dir, 'payload2'),
    ]);
    assert.notEqual(bad.status, 0);

    const r = verifyCandidate({
      payload: signed.payload,
      signatureB64: signed.signatureB64,
      keys: await loadPublicKeys(publicKeyPath),
      expectedDigest: digest,
    });
    assert.ok(r.ok);
  });

  it('verifies signatures openssl makes with the same key (the other direction)', async () => {
    const dir = tempDir();
    const keyFile = path.join(dir, 'ec.pem');
    const gen = openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyFile]);
    assert.equal(gen.status, 0, gen.stderr);
    const pub = openssl(['pkey', '-in', keyFile, '-pubout']);
    const payloadFile = path.join(dir, 'payload');
    const signer = await parseKeyRef(keyFile, { env: {} });
    const { payload } = await signImageDigest(signer, { dockerReference: 'r.example/app', digest });
    writeFileSync(payloadFile, payload);
    const sig = openssl(['dgst', '-sha256', '-sign', keyFile, payloadFile]);
    assert.equal(sig.status, 0, sig.stderr);
    const r = verifyCandidate({
      payload,
      signatureB64: sig.stdout.toString('base64'),
      keys: await loadPublicKeys(pub.stdout.toString()),
      expectedDigest: digest,
    });
    assert.ok(r.ok, JSON.stringify(r));
  });
});

describe('parseKeyRef', () => {
  it('opens an encrypted key file with the password from SLUICE_SIGNING_PASSWORD, else COSIGN_PASSWORD', async () => {
    const dir = tempDir();
    const { privateKeyPath, keyId } = await writeKeyPair('from-env', { prefix: path.join(dir, 'k') });
    const s1 = await parseKeyRef(privateKeyPath, {
      env: { SLUICE_SIGNING_PASSWORD: 'from-env', COSIGN_PASSWORD: 'other' },
    });
    const s2 = await parseKeyRef(`file://${privateKeyPath}`, { env: { COSIGN_PASSWORD: 'from-env' } });
    for (const s of [s1, s2]) {
      const pub = await s.publicKey();
      assert.equal(
        createHash('sha256')
          .update(pub.export({ type: 'spki', format: 'der' }))
          .digest('hex'),
        keyId,
      );
    }
    const err = await parseKeyRef(privateKeyPath, { env: { COSIGN_PASSWORD: 'not-the-password' } }).catch(
      (e: unknown) => e,
    );
    assert.ok(isSluiceError(err, 'SIGNING_KEY_PASSWORD'));
    assert.ok(!errorText(err).includes('not-the-password'));
  });

  it('fails clearly without a password and without a terminal', async () => {
    const dir = tempDir();
    const { privateKeyPath } = await writeKeyPair('pw', { prefix: path.join(dir, 'k') });
    const err = await parseKeyRef(privateKeyPath, { env: {}, passwordOptions: { input: fakeTty([], false) } }).catch(
      (e: unknown) => e,
    );
    assert.ok(isSluiceError(err, 'SIGNING_PASSWORD_MISSING'));
    assert.match(err.message, /set SLUICE_SIGNING_PASSWORD \(or COSIGN_PASSWORD\), or run on a terminal/);
  });

  it('names unsupported and missing references', async () => {
    await assert.rejects(parseKeyRef('awskms:///alias/release', { env: {} }), (e) =>
      isSluiceError(e, 'SIGNING_KEY_REF_UNSUPPORTED'),
    );
    await assert.rejects(parseKeyRef('/nonexistent/cosign.key', { env: {} }), (e) =>
      isSluiceError(e, 'SIGNING_KEY_NOT_FOUND'),
    );
    const dir = tempDir();
    const junk = path.join(dir, 'junk.key');
    writeFileSync(junk, 'hello');
    await assert.rejects(parseKeyRef(junk, { env: {} }), /junk\.key holds no PEM block/);
  });

  it('returns a Vault signer for vault:// and hashivault:// references', async () => {
    const env = {
      VAULT_ADDR: 'https://vault.example.com:8200',
      VAULT_TOKEN: 't',
      TRANSIT_SECRET_ENGINE_PATH: 'ops/transit',
    };
    const v = await parseKeyRef('vault://transit/keys/release', { env });
    assert.equal(v.keyRef, 'vault://transit/keys/release');
    const h = await parseKeyRef('hashivault://release', { env });
    assert.equal(h.keyRef, 'vault://ops/transit/keys/release');
  });
});

/** A stand-in for a TTY stdin: delivers each chunk of `keystrokes` to whoever listens, in turn. */
function fakeTty(keystrokes: string[], isTTY = true): PromptInput & { rawModes: boolean[] } {
  const queue = [...keystrokes];
  const rawModes: boolean[] = [];
  let listener: ((chunk: string) => void) | undefined;
  const pump = () =>
    setImmediate(() => {
      const next = queue[0];
      if (listener && next !== undefined) {
        queue.shift();
        listener(next);
        pump();
      }
    });
  const tty = {
    isTTY,
    isRaw: false,
    rawModes,
    setRawMode(mode: boolean) {
      rawModes.push(mode);
      tty.isRaw = mode;
    },
    setEncoding() {},
    on(_event: 'data', l: (chunk: string) => void) {
      listener = l;
      pump();
    },
    removeListener(_event: 'data', l: (chunk: string) => void) {
      if (listener === l) listener = undefined;
    },
    resume() {},
    pause() {},
  };
  return tty;
}

function sink(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(c, _e, cb) {
      chunks.push(String(c));
      cb();
    },
  });
  return { stream, text: () => chunks.join('') };
}

describe('resolveSigningPassword', () => {
  it('prefers SLUICE_SIGNING_PASSWORD, then COSIGN_PASSWORD, and honours an empty value', async () => {
    assert.equal(await resolveSigningPassword({ env: { SLUICE_SIGNING_PASSWORD: 'a', COSIGN_PASSWORD: 'b' } }), 'a');
    assert.equal(await resolveSigningPassword({ env: { COSIGN_PASSWORD: 'b' } }), 'b');
    assert.equal(await resolveSigningPassword({ env: { COSIGN_PASSWORD: '' }, input: fakeTty(['typed\r']) }), '');
  });

  it('prompts on a terminal with echo off, handling backspace', async () => {
    const out = sink();
    const input = fakeTty(['s3', 'x\u007fcr', 'et!\r']);
    const pw = await resolveSigningPassword({ env: {}, input, output: out.stream });
    assert.equal(pw, 's3cret!');
    assert.deepEqual(input.rawModes, [true, false], 'raw mode is switched on for the prompt and restored');
    assert.equal(out.text(), 'Enter password for private key: \n');
    assert.ok(!/s3|cr|et!/.test(out.text()), 'typed characters are not echoed');
  });

  it('asks twice for a new key and refuses a mismatch', async () => {
    const out = sink();
    await assert.rejects(
      resolveSigningPassword({
        env: {},
        confirm: true,
        input: fakeTty(['first-Pw1\r', 'second-Pw2\r']),
        output: out.stream,
      }),
      (e) =>
        isSluiceError(e, 'SIGNING_PASSWORD_MISMATCH') &&
        !errorText(e).includes('first-Pw1') &&
        !errorText(e).includes('second-Pw2'),
    );
    assert.equal(
      await resolveSigningPassword({
        env: {},
        confirm: true,
        input: fakeTty(['same\r', 'same\n']),
        output: sink().stream,
      }),
      'same',
    );
  });

  it('stops on Ctrl-C', async () => {
    await assert.rejects(
      resolveSigningPassword({ env: {}, input: fakeTty(['abc\u0003']), output: sink().stream }),
      (e) => isSluiceError(e, 'SIGNING_PASSWORD_ABORTED'),
    );
  });

  it('does not prompt when prompting is off', async () => {
    await assert.rejects(resolveSigningPassword({ env: {}, promptIfTty: false, input: fakeTty(['x\r']) }), (e) =>
      isSluiceError(e, 'SIGNING_PASSWORD_MISSING'),
    );
  });
});

describe('key files round trip through cosign-format text', () => {
  it('re-reads a written key via FileSigner.fromPem', async () => {
    const dir = tempDir();
    const { privateKeyPath, publicKeyPath } = await writeKeyPair('pw', { prefix: path.join(dir, 'c') });
    const signer = await FileSigner.fromPem(readFileSync(privateKeyPath, 'utf8'), 'pw', 'c.key');
    const pub = (await signer.publicKey()).export({ type: 'spki', format: 'pem' });
    assert.equal(pub, readFileSync(publicKeyPath, 'utf8'));
  });
});
