/** Durations in retention reasons read at the precision the policy wrote its limit in. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDuration } from '../../../src/policy/index.ts';
import { agoAt, limitText, planRetention, precisionOf, span, spanAt } from '../../../src/retention/index.ts';
import { D, dg, digestIn, expectDecision, image, input, NOW, repo, rules, tagIn } from './fixtures.ts';
import type { TagRecord } from '../../../src/retention/index.ts';

const S = 1000;
const MIN = 60 * S;
const H = 60 * MIN;

/** A version tag pushed `ms` ago (the fixtures' `tag` counts in days). */
function tagAgo(name: string, digest: string, ms: number): TagRecord {
  return { tag: name, digest, pushed: NOW - ms, kind: 'version' };
}

describe('duration precision', () => {
  it('a limit reads in the coarsest unit that measures it exactly, as the policy wrote it', () => {
    const cases: Array<[string, string]> = [
      ['30d', '30 d'],
      ['2w', '14 d'],
      ['2y', '730 d'],
      ['36h', '36 h'],
      ['1d12h', '36 h'],
      ['90m', '90 min'],
      ['1h30m', '90 min'],
      ['1s', '1 s'],
      ['90s', '90 s'],
      ['1500ms', '1500 ms'],
    ];
    for (const [policy, text] of cases) assert.equal(limitText(parseDuration(policy)), text, policy);
    assert.equal(limitText(0), '0 s');
    assert.equal(precisionOf(parseDuration('7d')), 0);
    assert.equal(precisionOf(parseDuration('5s')), 3);
  });

  it('a measured duration reads in the unit of the limit it is compared with', () => {
    assert.equal(spanAt(3 * S + 400, S), '3 s');
    assert.equal(spanAt(40 * H, 36 * H), '40 h');
    assert.equal(spanAt(41 * D + 3 * H, 30 * D), '41 d');
    assert.equal(spanAt(95 * MIN, 90 * MIN), '95 min');
    assert.equal(spanAt(400, S), '400 ms');
    assert.equal(spanAt(0, S), '0 s');
    assert.equal(spanAt(5 * H, 30 * D), '5 h');
    assert.equal(agoAt(-5, S), 'in the future (clock skew)');
    assert.equal(agoAt(2 * S, S), '2 s ago');
  });

  it('past the limit by less than one unit, the remainder shows, so a deletion never reads as within the limit', () => {
    assert.equal(spanAt(30 * D + 5 * H, 30 * D), '30 d 5 h');
    assert.equal(spanAt(30 * D + 20 * MIN, 30 * D), '30 d 20 min');
    assert.equal(spanAt(S + 1, S), '1 s 1 ms');
    assert.equal(spanAt(36 * H + 59 * MIN, 36 * H), '36 h 59 min');
    // Exactly at the limit is within it, and reads as the limit.
    assert.equal(spanAt(30 * D, 30 * D), '30 d');
  });

  it('span (no limit to compare with) goes down to seconds instead of printing 0 min', () => {
    assert.equal(span(42 * S), '42 s');
    assert.equal(span(3 * MIN), '3 min');
    assert.equal(span(50 * H), '2 d');
  });
});

describe('retention reasons at the policy precision', () => {
  it('maxAge: 1s says seconds, not "pushed 0 min ago (max 0 min)"', () => {
    const plan = planRetention(
      input([
        repo(
          [tagAgo('old', dg('a'), 3 * S + 200), tagAgo('new', dg('b'), 400)],
          [image(dg('a'), 0), image(dg('b'), 0)],
          { rules: rules({ maxAge: parseDuration('1s') }) },
        ),
      ]),
    );
    expectDecision(tagIn(plan, 'old'), 'delete', 'rule:max-age', 'pushed 3 s ago (max 1 s)');
    expectDecision(tagIn(plan, 'new'), 'keep', 'rule:within-age', 'pushed 400 ms ago (max 1 s)');
  });

  it('maxAge: 36h says hours where days would print "1 d ago (max 1 d)"', () => {
    const plan = planRetention(
      input([
        repo([tagAgo('old', dg('a'), 40 * H), tagAgo('new', dg('b'), 30 * H)], [image(dg('a'), 2), image(dg('b'), 1)], {
          rules: rules({ maxAge: parseDuration('36h') }),
        }),
      ]),
    );
    expectDecision(tagIn(plan, 'old'), 'delete', 'rule:max-age', 'pushed 40 h ago (max 36 h)');
    expectDecision(tagIn(plan, 'new'), 'keep', 'rule:within-age', 'pushed 30 h ago (max 36 h)');
  });

  it('sentences shared between tags never mix a remainder into another tag', () => {
    // Both 30 d old by whole days; only one is past 30 d, and only its reason says by how much.
    const plan = planRetention(
      input([
        repo(
          [tagAgo('a', dg('a'), 30 * D), tagAgo('b', dg('b'), 30 * D + 5 * H), tagAgo('c', dg('c'), 30 * D + 7 * H)],
          [image(dg('a'), 30), image(dg('b'), 30), image(dg('c'), 30)],
        ),
      ]),
    );
    expectDecision(tagIn(plan, 'a'), 'keep', 'rule:within-age', 'pushed 30 d ago (max 30 d)');
    expectDecision(tagIn(plan, 'b'), 'delete', 'rule:max-age', 'pushed 30 d 5 h ago (max 30 d)');
    expectDecision(tagIn(plan, 'c'), 'delete', 'rule:max-age', 'pushed 30 d 7 h ago (max 30 d)');
  });

  it('untagged, pull-window and since-pull reasons use their own limit precision', () => {
    const plan = planRetention(
      input([
        repo(
          [tagAgo('pulled', dg('p'), 10 * D)],
          [image(dg('u'), 0, { pushed: NOW - 50 * MIN }), image(dg('p'), 10, { lastPull: NOW - 30 * MIN })],
          {
            rules: rules({
              maxAge: parseDuration('45m'),
              pullProtectionWindow: parseDuration('1h'),
            }),
          },
        ),
      ]),
    );
    expectDecision(
      digestIn(plan, dg('u')),
      'delete-manifest',
      'rule:untagged-max-age',
      'untagged, pushed 50 min ago (max 45 min)',
    );
    expectDecision(digestIn(plan, dg('p')), 'keep', 'protected:recent-pull', 'pulled 30 min ago (window 1 h)');
  });
});
