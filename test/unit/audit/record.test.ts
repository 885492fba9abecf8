import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  GENESIS_HASH,
  REDACTED,
  canonicalForm,
  canonicalJson,
  hashRecord,
  redactDetails,
  redactText,
} from '../../../src/audit/record.ts';
import type { HashedFields, JsonValue } from '../../../src/audit/record.ts';
import { prepareInput } from '../../../src/audit/record.ts';
import { isSluiceError } from '../../../src/errors.ts';

const fields: HashedFields = {
  seq: 7,
  time: Date.UTC(2025, 2, 1, 12, 0, 0, 5),
  actor: 'alice',
  action: 'tag.delete',
  repository: 'quay.example/team-dev/app',
  digest: `sha256:${'a'.repeat(64)}`,
  tag: '1.0.0-1',
  reason: 'retention: older than 30 days',
  result: 'success',
  details: '{"kept":10}',
  prevHash: GENESIS_HASH,
};

describe('canonical form', () => {
  it('is the documented JSON array, byte for byte', () => {
    assert.equal(
      canonicalForm(fields),
      '["sluice-audit-v1",7,"2025-03-01T12:00:00.005Z","alice","tag.delete","quay.example/team-dev/app",' +
        `"sha256:${'a'.repeat(64)}","1.0.0-1","retention: older than 30 days","success","{\\"kept\\":10}",` +
        `"${'0'.repeat(64)}"]`,
    );
    assert.equal(hashRecord(fields), createHash('sha256').update(canonicalForm(fields)).digest('hex'));
  });

  it('changes the hash when any field changes, including seq and prev_hash', () => {
    const base = hashRecord(fields);
    const variants: Array<Partial<HashedFields>> = [
      { seq: 8 },
      { time: fields.time + 1 },
      { actor: 'bob' },
      { action: 'tag.create' },
      { repository: null },
      { digest: null },
      { tag: '1.0.0-2' },
      { reason: null },
      { result: 'failure' },
      { details: '{"kept":11}' },
      { prevHash: 'f'.repeat(64) },
    ];
    for (const v of variants) assert.notEqual(hashRecord({ ...fields, ...v }), base, JSON.stringify(v));
  });

  it('distinguishes null from the string "null" and field boundaries', () => {
    assert.notEqual(hashRecord({ ...fields, tag: null }), hashRecord({ ...fields, tag: 'null' }));
    assert.notEqual(
      hashRecord({ ...fields, actor: 'a","b', action: 'c' }),
      hashRecord({ ...fields, actor: 'a', action: 'b","c' }),
    );
  });
});

describe('canonical JSON', () => {
  it('sorts keys at every level and drops whitespace', () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } }),
      '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}',
    );
  });

  it('does not depend on key insertion order and survives a parse round trip', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const once = canonicalJson(v as JsonValue);
        assert.equal(canonicalJson(JSON.parse(once) as JsonValue), once);
        const reversed = JSON.parse(once, (_k, val: unknown) =>
          val !== null && typeof val === 'object' && !Array.isArray(val)
            ? Object.fromEntries(Object.entries(val).reverse())
            : val,
        ) as JsonValue;
        assert.equal(canonicalJson(reversed), once);
      }),
    );
  });
});

describe('redaction', () => {
  it('replaces values under secret-looking keys at any depth, case-insensitively', () => {
    const out = redactDetails({
      registry: 'quay',
      Password: 'hunter2',
      auth: { Authorization: 'Bearer abc', apiKey: 'k1', nested: [{ client_secret: 's' }, { refresh_token: 't' }] },
      privateKeyPem: '-----BEGIN',
      count: 3,
    });
    assert.deepEqual(out, {
      registry: 'quay',
      Password: REDACTED,
      auth: {
        Authorization: REDACTED,
        apiKey: REDACTED,
        nested: [{ client_secret: REDACTED }, { refresh_token: REDACTED }],
      },
      privateKeyPem: REDACTED,
      count: 3,
    });
    assert.doesNotMatch(JSON.stringify(out), /hunter2|abc|k1|BEGIN/);
  });

  it('records keys named __proto__ or constructor as data, never as a prototype', () => {
    // As a registry's JSON arrives: JSON.parse makes `__proto__` an own key.
    const details = JSON.parse(
      '{"labels": {"__proto__": {"polluted": "yes"}, "constructor": "c"}, "__proto__": "top", "token": {"__proto__": 1}}',
    ) as Record<string, unknown>;
    const out = redactDetails(details);
    const labels = out.labels as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(labels), Object.prototype);
    assert.equal((labels as { polluted?: string }).polluted, undefined);
    assert.deepEqual(Object.keys(out).sort(), ['__proto__', 'labels', 'token']);
    assert.equal(
      canonicalJson(out),
      '{"__proto__":"top","labels":{"__proto__":{"polluted":"yes"},"constructor":"c"},"token":"' + REDACTED + '"}',
    );
  });

  it('removes credentials from URLs and auth headers inside text', () => {
    assert.equal(
      redactText('pull https://bot:s3cr3t@quay.example/v2/'),
      `pull https://bot:${REDACTED}@quay.example/v2/`,
    );
    assert.equal(redactText('header Bearer eyJhbGciOiJIUzI1NiJ9.x.y'), `header Bearer ${REDACTED}`);
    const p = prepareInput({
      actor: 'ci',
      action: 'sync',
      result: 'failure',
      reason: 'GET https://u:pw123456@r.example/v2/ failed',
      details: { url: 'postgres://sluice:dbpass@db:5432/x' },
    });
    assert.doesNotMatch(p.reason!, /pw123456/);
    assert.doesNotMatch(p.detailsJson, /dbpass/);
  });

  it('normalises non-JSON values and refuses what cannot be canonical', () => {
    assert.deepEqual(redactDetails({ d: new Date(0), n: 10n, x: undefined, inf: Infinity, arr: [undefined] }), {
      d: '1970-01-01T00:00:00.000Z',
      n: '10',
      inf: null,
      arr: [null],
    });
    assert.throws(
      () => redactDetails({ s: 'bad \ud800' }),
      (err) => isSluiceError(err, 'AUDIT_RECORD_INVALID'),
    );
    let deep: Record<string, unknown> = {};
    const root = deep;
    for (let i = 0; i < 40; i++) deep = (deep.x = {}) as Record<string, unknown>;
    assert.throws(() => redactDetails(root), /deeper than/);
  });
});

describe('input validation', () => {
  const ok = { actor: 'alice', action: 'promotion', result: 'success' as const };
  it('accepts a minimal record and rejects malformed fields', () => {
    assert.equal(prepareInput(ok).detailsJson, '{}');
    const bad: Array<Record<string, unknown>> = [
      { actor: '' },
      { action: 'Tag Delete' },
      { result: 'maybe' },
      { digest: 'sha256' },
      { tag: 'x'.repeat(200) },
      { details: [] },
      { details: { big: 'x'.repeat(70 * 1024) } },
    ];
    for (const b of bad) {
      assert.throws(
        () => prepareInput({ ...ok, ...b } as never),
        (err) => isSluiceError(err, 'AUDIT_RECORD_INVALID') && err.category === 'invalid-input',
        JSON.stringify(b).slice(0, 60),
      );
    }
  });
});
