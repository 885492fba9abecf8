/** The inventory model's helpers: how tags are classified and which facts the final stage gives. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultPolicy } from '../../../src/policy/index.ts';
import {
  classifyTag,
  emptyFacts,
  envTagNames,
  prodFacts,
  subjectOfReferrersTag,
} from '../../../src/retention/index.ts';
import { cosignTag, D, dg } from './fixtures.ts';

describe('tag classification', () => {
  it('classifies env, cosign, referrers and version tags', () => {
    const env = envTagNames(defaultPolicy());
    assert.deepEqual([...env].sort(), ['dev', 'latest', 'preprod', 'prod', 'staging']);
    assert.deepEqual(classifyTag('prod', env), { kind: 'env' });
    assert.deepEqual(classifyTag(cosignTag(dg(1), 'att'), env), { kind: 'artifact', subject: dg(1) });
    assert.deepEqual(classifyTag(dg(1).replace(':', '-'), env), { kind: 'artifact', subject: dg(1) });
    assert.deepEqual(classifyTag('1.2.3-4', env), { kind: 'version' });
    assert.equal(subjectOfReferrersTag(`sha512-${'a'.repeat(64)}`), undefined);
  });

  it('counts every alsoTag of a stage as an env tag, and latest even when no stage names it', () => {
    const policy = defaultPolicy();
    policy.stages[0]!.alsoTag.push('edge');
    const env = envTagNames(policy);
    assert.ok(env.has('edge'));
    assert.ok(env.has('latest'));
    assert.deepEqual(classifyTag('edge', env), { kind: 'env' });
    assert.deepEqual(classifyTag('edge', new Set()), { kind: 'version' });
  });

  it('an env tag is an env tag even when its name has the shape of an artifact tag', () => {
    const name = dg(2).replace(':', '-');
    assert.deepEqual(classifyTag(name, new Set([name])), { kind: 'env' });
  });

  it('reads the subject of a referrers tag only when algorithm and length agree', () => {
    const hex64 = 'ab'.repeat(32);
    const hex128 = 'cd'.repeat(64);
    assert.equal(subjectOfReferrersTag(`sha256-${hex64}`), `sha256:${hex64}`);
    assert.equal(subjectOfReferrersTag(`sha512-${hex128}`), `sha512:${hex128}`);
    assert.equal(subjectOfReferrersTag(`sha256-${hex128}`), undefined);
    assert.equal(subjectOfReferrersTag(`sha256-${hex64.toUpperCase()}`), undefined);
    assert.equal(subjectOfReferrersTag(`sha256-${hex64.slice(1)}`), undefined);
    assert.equal(subjectOfReferrersTag(`sha256-${hex64}.sig`), undefined);
    assert.equal(subjectOfReferrersTag(`md5-${hex64}`), undefined);
    assert.equal(subjectOfReferrersTag('1.2.3-4'), undefined);
  });
});

describe('facts of the final stage', () => {
  it('prod facts take the longest prod retention of any override', () => {
    const policy = defaultPolicy();
    assert.deepEqual(prodFacts(policy), { prodStage: 'prod', prodRetention: 730 * D });
    const prod = policy.stages[policy.stages.length - 1]!;
    prod.retention.overrides.push({ team: 'acme', rules: { maxAge: 1095 * D } });
    assert.equal(prodFacts(policy).prodRetention, 1095 * D);
  });

  it('a shorter override does not shorten the prod retention period', () => {
    const policy = defaultPolicy();
    const prod = policy.stages[policy.stages.length - 1]!;
    prod.retention.overrides.push({ team: 'acme', rules: { maxAge: 10 * D } });
    assert.deepEqual(prodFacts(policy), { prodStage: 'prod', prodRetention: 730 * D });
  });

  it('a final stage without maxAge keeps its images forever, whatever the overrides say', () => {
    const policy = defaultPolicy();
    const prod = policy.stages[policy.stages.length - 1]!;
    prod.retention.maxAge = undefined;
    prod.retention.overrides.push({ team: 'acme', rules: { maxAge: 10 * D } });
    assert.deepEqual(prodFacts(policy), { prodStage: 'prod' });
  });

  it('names the last stage of the policy, whatever it is called', () => {
    const policy = defaultPolicy();
    policy.stages.pop();
    assert.equal(prodFacts(policy).prodStage, 'preprod');
  });

  it('empty facts are fresh on every call and name prod as the final stage', () => {
    const a = emptyFacts();
    const b = emptyFacts();
    assert.notEqual(a.quarantined, b.quarantined);
    assert.equal(a.prodStage, 'prod');
    assert.equal(a.prodRetention, undefined);
    assert.equal(a.quarantined.size + a.legalHold.size + a.inUse.size + a.reachedProd.size, 0);
    assert.deepEqual(a.stageDigests, []);
  });
});
