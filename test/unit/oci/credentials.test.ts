import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CredentialStore } from '../../../src/oci/credentials.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-creds-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const basic = (user: string, password: string) => ({ auth: Buffer.from(`${user}:${password}`).toString('base64') });

describe('credential lookups by host', () => {
  it('find nothing for a host named like an Object.prototype property', async () => {
    const store = new CredentialStore({ env: {}, home: dir, explicit: { 'registry.example': { username: 'u' } } });
    for (const host of ['constructor', 'tostring', 'valueof', 'hasownproperty']) {
      assert.equal(await store.lookup(host), undefined, host);
      assert.equal(await store.lookup(host, 'acme/api'), undefined, host);
    }
  });

  it('read an auth file whose keys are constructor and __proto__ as hosts, inheriting nothing', async () => {
    const file = join(dir, 'auth.json');
    // Written as text: a JSON `__proto__` key is an own key once parsed, and must stay one.
    await writeFile(
      file,
      `{"auths": {"__proto__": ${JSON.stringify({ 'registry.example': basic('proto', 'x') })}, "constructor": ${JSON.stringify(basic('ctor', 'pw'))}}, "credHelpers": {}}`,
    );
    const store = new CredentialStore({ env: { REGISTRY_AUTH_FILE: file }, home: dir });
    assert.equal(await store.lookup('registry.example'), undefined, 'nothing comes through a prototype');
    assert.deepEqual(await store.lookup('constructor'), { username: 'ctor', password: 'pw' });
    assert.equal(await store.lookup('tostring'), undefined);
  });
});
