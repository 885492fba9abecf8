import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isSluiceError } from '../../../src/errors.ts';
import {
  isSecretRef,
  parseCredentialSecret,
  parseSecretRef,
  resolveCredential,
  resolveSecretRef,
} from '../../../src/policy/index.ts';

describe('parseSecretRef', () => {
  it('knows env: and file:', () => {
    assert.deepEqual(parseSecretRef('env:QUAY_CREDS'), { kind: 'env', name: 'QUAY_CREDS' });
    assert.deepEqual(parseSecretRef('file:/etc/sluice/quay.json'), { kind: 'file', path: '/etc/sluice/quay.json' });
    assert.deepEqual(parseSecretRef('file:creds'), { kind: 'file', path: 'creds' });
  });

  it('refuses everything else, including pasted secrets', () => {
    for (const s of ['hunter2', 'user:pass', 'env:', 'env:1X', 'env:A-B', 'file:', 'file:  ', 'vault:x', 'ENV:X']) {
      assert.equal(isSecretRef(s), false, s);
    }
  });
});

describe('resolveSecretRef', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-secrets-'));
    await writeFile(join(dir, 'token'), 's3cret-token\n');
    await writeFile(join(dir, 'empty'), '\n');
    await writeFile(join(dir, 'big'), 'x'.repeat(70_000));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('reads environment variables', async () => {
    assert.equal(await resolveSecretRef('env:TOKEN', { env: { TOKEN: 'abc' } }), 'abc');
  });

  it('reads only variables that are set, never what the environment object inherits', async () => {
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf']) {
      await assert.rejects(resolveSecretRef(`env:${name}`, { env: {} }), (err: unknown) => {
        assert.ok(isSluiceError(err, 'SECRET_UNRESOLVED'), name);
        assert.match(err.message, new RegExp(`environment variable ${name} is not set`));
        return true;
      });
      // process.env inherits from Object.prototype too.
      await assert.rejects(resolveSecretRef(`env:${name}`, { env: process.env }), /is not set/, name);
    }
    assert.equal(await resolveSecretRef('env:constructor', { env: { constructor: 'abc' } }), 'abc');
  });

  it('reads files relative to baseDir, without the trailing newline', async () => {
    assert.equal(await resolveSecretRef('file:token', { baseDir: dir }), 's3cret-token');
    assert.equal(await resolveSecretRef(`file:${join(dir, 'token')}`), 's3cret-token');
  });

  const rejects = (ref: string, opts: Parameters<typeof resolveSecretRef>[1], why: RegExp) =>
    assert.rejects(resolveSecretRef(ref, opts), (err: unknown) => {
      assert.ok(isSluiceError(err, 'SECRET_UNRESOLVED'));
      assert.match(err.message, why);
      return true;
    });

  it('names the reference when it cannot be resolved', async () => {
    await rejects('env:MISSING', { env: {} }, /env:MISSING: environment variable MISSING is not set/);
    await rejects('file:nope', { baseDir: dir }, /file:nope: cannot read .*nope \(ENOENT\)/);
    await rejects('file:empty', { baseDir: dir }, /file:empty: is empty/);
    await assert.rejects(resolveSecretRef('file:big', { baseDir: dir }), (err: unknown) => {
      assert.ok(isSluiceError(err, 'INPUT_TOO_LARGE'));
      assert.match(err.message, /big \(secret reference file:big\) is larger than the limit of 65536 bytes/);
      return true;
    });
  });

  it('never repeats a value that is not a reference', async () => {
    await assert.rejects(resolveSecretRef('hunter2'), (err: unknown) => {
      assert.ok(isSluiceError(err, 'SECRET_UNRESOLVED'));
      assert.doesNotMatch(err.message + JSON.stringify(err.context), /hunter2/);
      return true;
    });
  });

  it('resolves registry credentials in all three forms', async () => {
    const env = {
      A: 'robot$ci:tok:en',
      B: '{"username": "robot", "password": "pw"}',
      C: 'eyJhbGciOi.bearer',
    };
    assert.deepEqual(await resolveCredential('env:A', { env }), { username: 'robot$ci', password: 'tok:en' });
    assert.deepEqual(await resolveCredential('env:B', { env }), { username: 'robot', password: 'pw' });
    assert.deepEqual(await resolveCredential('env:C', { env }), { registryToken: 'eyJhbGciOi.bearer' });
  });

  it('rejects malformed credential secrets without echoing them', () => {
    for (const [text, why] of [
      ['{"username": "u"}', /"username" and "password"/],
      ['{not json', /malformed JSON/],
      [':pw', /empty user name/],
    ] as const) {
      assert.throws(
        () => parseCredentialSecret(text, 'env:X'),
        (err: unknown) =>
          isSluiceError(err, 'SECRET_UNRESOLVED') && why.test(err.message) && !err.message.includes(text),
      );
    }
  });
});
