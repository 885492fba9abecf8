import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { firstDuplicateKey } from '../../../src/signing/json-keys.ts';

describe('firstDuplicateKey', () => {
  it('accepts equal keys in different objects', () => {
    assert.equal(firstDuplicateKey('{"a":{"a":1},"b":[{"a":1},{"a":2}],"c":{}}'), undefined);
    assert.equal(firstDuplicateKey('[{"k":1},{"k":2}]'), undefined);
    assert.equal(firstDuplicateKey('"a"'), undefined);
    assert.equal(firstDuplicateKey('{}'), undefined);
  });

  it('names the first repeated key with its path, at the top level and nested', () => {
    assert.equal(firstDuplicateKey('{"critical":{},"optional":null,"critical":{}}'), 'critical');
    assert.equal(
      firstDuplicateKey('{"critical":{"image":{"docker-manifest-digest":"x","docker-manifest-digest":"y"}}}'),
      'critical.image.docker-manifest-digest',
    );
    assert.equal(
      firstDuplicateKey('{"subject":[{"digest":{"sha256":"a"}},{"digest":{"sha256":"b","sha256":"c"}}]}'),
      'subject[1].digest.sha256',
    );
    assert.equal(firstDuplicateKey('[[1],[2,{"a":1,"a":1}]]'), '[1][1].a');
  });

  it('compares keys unescaped, and lone surrogates as Go decodes them (U+FFFD)', () => {
    assert.equal(firstDuplicateKey('{"image":1,"\\u0069mage":2}'), 'image');
    assert.equal(firstDuplicateKey('{"a\\/b":1,"a/b":2}'), 'a/b');
    assert.equal(firstDuplicateKey('{"\\ud800":1,"\\udbff":2}'), '\\ufffd');
    assert.equal(firstDuplicateKey('{"\\ud83d\\ude00":1,"\\ud83d\\ude01":2}'), undefined, 'distinct pairs');
  });

  it('is not fooled by structure inside strings', () => {
    assert.equal(firstDuplicateKey('{"x":"\\"k\\":1,\\"k\\":2","k":"{\\"x\\":"}'), undefined);
    assert.equal(firstDuplicateKey('{"k":"}\\\\","k":1}'), 'k');
    assert.equal(firstDuplicateKey('{"a":"[", "b":"]", "a":","}'), 'a');
  });

  it('shows attacker keys escaped and cut short', () => {
    assert.equal(firstDuplicateKey('{"\\u001b[2J":1,"\\u001b[2J":2}'), '\\u001b[2J');
    const long = 'k'.repeat(5000);
    assert.equal(firstDuplicateKey(`{"${long}":1,"${long}":2}`), `${'k'.repeat(100)}...`);
  });

  it('handles nesting far deeper than the call stack', () => {
    const depth = 50_000;
    assert.equal(firstDuplicateKey('['.repeat(depth) + ']'.repeat(depth)), undefined);
    const nested = '{"a":'.repeat(depth) + '{"x":1,"x":2}' + '}'.repeat(depth);
    const path = firstDuplicateKey(nested) ?? '';
    assert.ok(path.startsWith('a.a.a.'), path);
    assert.ok(path.length <= 300, 'the path is bounded');
  });

  it('never reports JSON.stringify output, and always finds a key written twice', () => {
    const key = fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('__proto__', '\ud800', 'a"b', '\\', '\u0000'));
    const json = fc.jsonValue({ maxDepth: 3 });
    fc.assert(
      fc.property(json, key, json, json, fc.nat(3), (doc, k, v1, v2, depth) => {
        assert.equal(firstDuplicateKey(JSON.stringify(doc)), undefined);
        const body = JSON.stringify(doc === null || typeof doc !== 'object' || Array.isArray(doc) ? {} : doc).slice(
          1,
          -1,
        );
        const pair = (v: unknown) => `${JSON.stringify(k)}:${JSON.stringify(v)}`;
        const obj = `{${pair(v1)}${body === '' ? '' : `,${body}`},${pair(v2)}}`;
        const text = '['.repeat(depth) + obj + ']'.repeat(depth);
        JSON.parse(text);
        assert.notEqual(firstDuplicateKey(text), undefined, text);
      }),
      { numRuns: 300 },
    );
  });
});
