import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSluiceError } from '../../../src/errors.ts';
import { keySource } from '../../../src/promotion/hooks.ts';
import type { Runtime } from '../../../src/runtime.ts';

// An env: reference never reads the runtime; only file: and dir: resolve against the policy.
const rt = { policy: { baseDir: '/etc/sluice' } } as unknown as Runtime;

describe('keySource', () => {
  it('resolves env: from the variables that are set, never from what the environment inherits', () => {
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf']) {
      for (const env of [{}, process.env]) {
        assert.throws(
          () => keySource(rt, `env:${name}`, env),
          (err: unknown) =>
            isSluiceError(err, 'KEY_UNRESOLVED') && err.message.includes(`env:${name}: variable is not set`),
          name,
        );
      }
    }
    const pem = '-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----';
    assert.equal(keySource(rt, 'env:constructor', { constructor: pem } as NodeJS.ProcessEnv), pem);
    assert.equal(keySource(rt, 'file:cosign.pub'), '/etc/sluice/cosign.pub');
  });
});
