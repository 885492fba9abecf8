/**
 * The version-tag immutability rule and the compliance notice it raises, without a registry.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultPolicy } from '../../../src/policy/index.ts';
import { immutableVersionTagRule, tagChangeNotice } from '../../../src/promotion/governance.ts';

const policy = defaultPolicy();
const stageOf: Record<string, string | null> = {
  'payments-prod/api': 'prod',
  'payments-preprod/api': 'preprod',
  'payments-dev/api': 'dev',
  'payments-staging/api': 'staging',
  'unowned/api': null,
};
const rule = immutableVersionTagRule(policy, (repository) => ({ stage: stageOf[repository] ?? null }));

describe('immutableVersionTagRule', () => {
  it('refuses changes to version tags in stages with immutable tags', () => {
    assert.equal(rule('payments-prod/api', '1.2.3-4'), 'version tags in prod are immutable');
    assert.equal(rule('payments-preprod/api', '1.2.3-4'), 'version tags in preprod are immutable');
  });

  it('lets other tags and other stages change', () => {
    assert.equal(rule('payments-prod/api', 'latest'), undefined);
    assert.equal(rule('payments-prod/api', '1.2.3'), undefined);
    assert.equal(rule('payments-dev/api', '1.2.3-4'), undefined);
    assert.equal(rule('payments-staging/api', '1.2.3-4'), undefined);
    assert.equal(rule('unowned/api', '1.2.3-4'), undefined);
  });
});

describe('tagChangeNotice', () => {
  it('names the tag by host and says what happened and why', () => {
    const v = {
      repository: 'payments-prod/api',
      tag: '1.2.3-4',
      change: 'moved',
      digest: 'sha256:' + 'a'.repeat(64),
      previous: 'sha256:' + 'b'.repeat(64),
      reason: 'version tags in prod are immutable',
    };
    const notice = tagChangeNotice(
      { name: 'local', host: '127.0.0.1:5000', url: 'http://127.0.0.1:5000', kind: 'distribution' },
      v,
    );
    assert.equal(notice.subject, '127.0.0.1:5000/payments-prod/api:1.2.3-4');
    assert.equal(
      notice.summary,
      'version tag payments-prod/api:1.2.3-4 was moved outside Sluice (version tags in prod are immutable)',
    );
    assert.deepEqual(notice.data, v);
  });
});
