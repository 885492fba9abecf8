import assert from 'node:assert/strict';
import { test } from 'node:test';
import { storableText } from '../../../src/store/index.ts';
import { unstorableReason } from '../../../src/store/values.ts';

test('storableText keeps ordinary text and replaces what no engine stores unchanged', () => {
  assert.equal(storableText('linux/amd64 ünïcödé 🐳'), 'linux/amd64 ünïcödé 🐳');
  assert.equal(storableText('root\u0000\u0000'), 'root\uFFFD\uFFFD');
  assert.equal(storableText('a\ud800b\udc00'), 'a\uFFFDb\uFFFD');
  for (const s of ['root\u0000', 'a\ud800', '\udfff']) assert.equal(unstorableReason(storableText(s)), undefined, s);
});

test('unstorableReason accepts what both engines store alike', () => {
  for (const v of ['', 'text', '🐳', 0, -1, Number.MAX_SAFE_INTEGER, 2n ** 63n - 1n, null, undefined, true]) {
    assert.equal(unstorableReason(v), undefined, String(v));
  }
  assert.equal(unstorableReason(new Uint8Array([0, 1])), undefined, 'bytes may hold NUL');
  for (const v of [2n ** 63n, -(2n ** 63n) - 1n, 0.5, -0.5, { a: 1 }, Symbol('s'), () => 1]) {
    assert.ok(unstorableReason(v), String(typeof v));
  }
});
