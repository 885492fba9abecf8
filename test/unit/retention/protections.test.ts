import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planRetention } from '../../../src/retention/index.ts';
import {
  D,
  dg,
  digestIn,
  distribution,
  expectDecision,
  image,
  input,
  NOW,
  repo,
  rules,
  tag,
  tagIn,
} from './fixtures.ts';

/** One expired version tag on one digest: every rule says delete, so only a protection keeps it. */
const expired = (over: Parameters<typeof image>[2] = {}, r = repo) =>
  r([tag('1.0.0-1', dg('x'), 100)], [image(dg('x'), 100, over)]);

describe('protections override every rule', () => {
  it('legal hold keeps the manifest and its tags', () => {
    const plan = planRetention(input([expired()], { legalHold: new Set([dg('x')]) }));
    expectDecision(digestIn(plan, dg('x')), 'keep', 'protected:legal-hold', 'under legal hold (evidence is preserved)');
    expectDecision(tagIn(plan, '1.0.0-1'), 'keep', 'protected:legal-hold', /rule: pushed 100 d ago/);
  });

  it('quarantine keeps the evidence', () => {
    const plan = planRetention(input([expired()], { quarantined: new Set([dg('x')]) }));
    expectDecision(digestIn(plan, dg('x')), 'keep', 'protected:quarantine');
    expectDecision(tagIn(plan, '1.0.0-1'), 'keep', 'protected:quarantine');
  });

  it('a digest reported in use by a cluster is kept (facts or manifest flag)', () => {
    let plan = planRetention(input([expired()], { inUse: new Set([dg('x')]) }));
    expectDecision(digestIn(plan, dg('x')), 'keep', 'protected:in-use', 'reported in use by a cluster');
    plan = planRetention(input([expired({ inUse: true })]));
    expectDecision(digestIn(plan, dg('x')), 'keep', 'protected:in-use');
  });

  it('current and previous (rollback) digests of a stage are kept', () => {
    const facts = {
      stageDigests: [{ stage: 'prod', team: 'acme', repository: 'api', current: dg('y'), previous: dg('x') }],
    };
    let plan = planRetention(input([expired()], facts));
    expectDecision(
      digestIn(plan, dg('x')),
      'keep',
      'protected:rollback',
      'previous prod digest of acme/api (rollback target)',
    );
    plan = planRetention(input([repo([tag('2.0', dg('y'), 100)], [image(dg('y'), 100)])], facts));
    expectDecision(digestIn(plan, dg('y')), 'keep', 'protected:stage-current', 'current prod digest of acme/api');
  });

  it('a digest that reached prod is kept for the prod retention period, then not', () => {
    const facts = { reachedProd: new Map([[dg('x'), NOW - 200 * D]]), prodRetention: 730 * D };
    let plan = planRetention(input([expired()], facts));
    expectDecision(
      digestIn(plan, dg('x')),
      'keep',
      'protected:reached-prod',
      'reached prod 200 d ago (prod retention 730 d)',
    );
    plan = planRetention(input([expired()], { ...facts, prodRetention: 100 * D }));
    expectDecision(digestIn(plan, dg('x')), 'delete-manifest', 'rule:max-age');
  });

  it('a digest pulled within the window is kept with its tags; the window is configurable', () => {
    let plan = planRetention(input([expired({ lastPull: NOW - 2 * D })]));
    expectDecision(digestIn(plan, dg('x')), 'keep', 'protected:recent-pull', 'pulled 2 d ago (window 7 d)');
    expectDecision(tagIn(plan, '1.0.0-1'), 'keep', 'protected:recent-pull');
    plan = planRetention(
      input([
        repo([tag('1.0.0-1', dg('x'), 100)], [image(dg('x'), 100, { lastPull: NOW - 2 * D })], {
          rules: rules({ pullProtectionWindow: D }),
        }),
      ]),
    );
    expectDecision(digestIn(plan, dg('x')), 'delete-manifest', 'rule:max-age');
  });

  it('a pull reported after the clock (skew) still protects', () => {
    const plan = planRetention(input([expired({ lastPull: NOW + 3_600_000 })]));
    expectDecision(digestIn(plan, dg('x')), 'keep', 'protected:recent-pull', /in the future/);
  });

  it('names every protection that holds, the most serious first', () => {
    const plan = planRetention(
      input([expired({ lastPull: NOW - D })], { quarantined: new Set([dg('x')]), legalHold: new Set([dg('x')]) }),
    );
    const d = digestIn(plan, dg('x'));
    assert.equal(d.code, 'protected:legal-hold');
    assert.deepEqual(d.also, ['protected:quarantine', 'protected:recent-pull']);
  });

  it('protections hold on Distribution-like registries too', () => {
    const plan = planRetention(input([expired({}, distribution)], { legalHold: new Set([dg('x')]) }));
    expectDecision(digestIn(plan, dg('x')), 'keep', 'protected:legal-hold');
    expectDecision(tagIn(plan, '1.0.0-1'), 'keep', 'protected:legal-hold');
  });

  it('a protection in one repository is a fact about the digest everywhere', () => {
    const a = repo([tag('1', dg('x'), 100)], [image(dg('x'), 100)], { repository: 'acme-dev/api' });
    const b = repo([tag('1', dg('x'), 100)], [image(dg('x'), 100)], { repository: 'acme-staging/api' });
    const plan = planRetention(input([a, b], { quarantined: new Set([dg('x')]) }));
    for (const r of plan.repositories) expectDecision(r.digests[0]!, 'keep', 'protected:quarantine');
  });
});
