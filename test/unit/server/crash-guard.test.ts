import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SluiceError } from '../../../src/errors.ts';
import { isPeerFailure } from '../../../src/server/crash-guard.ts';

const withCode = (code: string) => Object.assign(new Error(code), { code });

test('peer failures: network error codes and SluiceErrors blaming a dependency or a peer', () => {
  for (const code of ['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNREFUSED', 'ERR_STREAM_PREMATURE_CLOSE']) {
    assert.equal(isPeerFailure(withCode(code)), true, code);
  }
  assert.equal(isPeerFailure(new SluiceError('BLOB_INTERRUPTED', 'unavailable', 'broke off')), true);
  assert.equal(isPeerFailure(new SluiceError('DIGEST_MISMATCH', 'integrity', 'lied')), true);
});

test('anything else is a bug', () => {
  assert.equal(isPeerFailure(new TypeError('x is undefined')), false);
  assert.equal(isPeerFailure(withCode('ERR_INVALID_ARG_TYPE')), false);
  assert.equal(isPeerFailure(new SluiceError('INTERNAL', 'internal', 'bug')), false);
  assert.equal(isPeerFailure(new SluiceError('REFERENCE_INVALID', 'invalid-input', 'bad')), false);
  assert.equal(isPeerFailure(undefined), false);
  assert.equal(isPeerFailure('ECONNRESET'), false);
  assert.equal(isPeerFailure({ code: 42 }), false);
});
