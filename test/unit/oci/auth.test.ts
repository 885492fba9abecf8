import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseWwwAuthenticate } from '../../../src/oci/auth.ts';
import { parseNextLink } from '../../../src/oci/client.ts';
import { CredentialStore, normaliseAuthKey } from '../../../src/oci/credentials.ts';

describe('WWW-Authenticate', () => {
  it('parses a Distribution bearer challenge', () => {
    const [c] = parseWwwAuthenticate(
      'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"',
    );
    assert.equal(c!.scheme, 'bearer');
    assert.deepEqual(c!.params, {
      realm: 'https://auth.example/token',
      service: 'registry.example',
      scope: 'repository:a/b:pull,push',
    });
  });
  it('parses several challenges and escaped quotes', () => {
    const cs = parseWwwAuthenticate('Basic realm="a \\"b\\"", Bearer realm="https://x/t",error="insufficient_scope"');
    assert.deepEqual(
      cs.map((c) => c.scheme),
      ['basic', 'bearer'],
    );
    assert.equal(cs[0]!.params.realm, 'a "b"');
    assert.equal(cs[1]!.params.error, 'insufficient_scope');
  });
});

describe('Link pagination', () => {
  it('finds rel="next" among several links', () => {
    assert.equal(parseNextLink('</v2/a/tags/list?last=x&n=2>; rel="next"'), '/v2/a/tags/list?last=x&n=2');
    assert.equal(parseNextLink('<https://r/p1>; rel="prev", <https://r/p3>; rel="next"'), 'https://r/p3');
    assert.equal(parseNextLink('<https://r/p1>; rel="prev"'), undefined);
    assert.equal(parseNextLink(undefined), undefined);
  });
});

describe('credentials', () => {
  it('normalises docker hub keys', () => {
    assert.equal(normaliseAuthKey('https://index.docker.io/v1/'), 'docker.io');
    assert.equal(normaliseAuthKey('Quay.io/ns/repo'), 'quay.io/ns/repo');
  });
  it('matches hosts exactly and repository prefixes at path boundaries, never substrings', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-auth-'));
    const file = join(dir, 'auth.json');
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    await writeFile(
      file,
      JSON.stringify({
        auths: {
          'quay.io': { auth: b64('host:pw1') },
          'quay.io/team': { auth: b64('team:pw2') },
          'https://index.docker.io/v1/': { auth: b64('hub:pw3') },
        },
      }),
    );
    const store = new CredentialStore({ env: { REGISTRY_AUTH_FILE: file }, home: dir });
    assert.equal((await store.lookup('quay.io', 'team/app'))?.username, 'team');
    assert.equal((await store.lookup('quay.io', 'teammate/app'))?.username, 'host');
    assert.equal((await store.lookup('quay.io.evil.example', 'team/app'))?.username, undefined);
    assert.equal((await store.lookup('docker.io', 'library/alpine'))?.username, 'hub');
    assert.equal((await store.lookup('quay.io'))?.password, 'pw1');
  });
  it('explicit credentials win over files', async () => {
    const store = new CredentialStore({
      env: {},
      home: '/nonexistent',
      explicit: { 'r.example:5000': { username: 'x', password: 'y' } },
    });
    assert.equal((await store.lookup('r.example:5000'))?.username, 'x');
  });
  it('names the file on malformed JSON without echoing contents', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-auth-'));
    const file = join(dir, 'auth.json');
    await writeFile(file, '{"auths": {"x": {"auth": "c2VjcmV0"}');
    const store = new CredentialStore({ env: { REGISTRY_AUTH_FILE: file }, home: dir });
    await assert.rejects(
      store.lookup('x'),
      (err: Error) => err.message.includes(file) && !err.message.includes('c2VjcmV0'),
    );
  });
});
