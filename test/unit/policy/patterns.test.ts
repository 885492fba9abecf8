import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileTagPattern, tagMatcher } from '../../../src/policy/index.ts';
import { planRetention } from '../../../src/retention/index.ts';
import { dg, expectDecision, image, input, repo, rules, tag, tagIn } from '../retention/fixtures.ts';
import { MINIMAL, lineOf, problemsOf } from './fixtures.ts';

// Catastrophic for a backtracking engine: each extra "a" doubles the work before the final "b" fails.
const EXPLOSIVE = '/^(a+)+$/';
const LONG_TAG = `${'a'.repeat(127)}b`;

describe('user-written tag regexes are matched in linear time', () => {
  it('matches /^(a+)+$/ against a 128-character tag at once', () => {
    const re = compileTagPattern(EXPLOSIVE);
    const started = performance.now();
    assert.equal(re.test(LONG_TAG), false);
    assert.equal(re.test('a'.repeat(128)), true);
    assert.equal(LONG_TAG.match(re), null, 'string methods go through the same engine');
    assert.ok(performance.now() - started < 200, `took ${performance.now() - started} ms`);
  });

  it('plans retention with that pattern and a 128-character tag well under a second', () => {
    const r = rules({ keepTags: [EXPLOSIVE], deleteTags: ['/^(a|aa)+$/'] });
    const tags = [tag(LONG_TAG, dg(1), 400), tag('a'.repeat(128), dg(2), 400)];
    const started = performance.now();
    const plan = planRetention(input([repo(tags, [image(dg(1), 400), image(dg(2), 400)], { rules: r })]));
    const took = performance.now() - started;
    assert.ok(took < 500, `planning took ${took} ms`);
    expectDecision(tagIn(plan, 'a'.repeat(128)), 'keep', 'rule:keep-tags');
    expectDecision(tagIn(plan, LONG_TAG), 'delete', 'rule:max-age');
  });

  it('keeps the meaning of ordinary patterns: unanchored, unicode, groups, exec', () => {
    const m = tagMatcher(['/release-\\d+/', '/^v\\p{N}+$/']);
    assert.equal(m('x-release-12'), true);
    assert.equal(m('v12'), true);
    assert.equal(m('release-x'), false);
    const found = compileTagPattern('/(?<major>\\d+)\\.(\\d+)/').exec('v1.22-x');
    assert.ok(found);
    assert.deepEqual([...found], ['1.22', '1', '22']);
    assert.equal(found.index, 1);
  });

  it('refuses lookaround and backreferences, naming why', () => {
    assert.throws(() => compileTagPattern('/^(?!dev)/'), /lookaround and backreferences are not supported/);
    assert.throws(() => compileTagPattern('/(a)\\1/'), /lookaround and backreferences are not supported/);
    assert.throws(() => compileTagPattern('/(/'), SyntaxError);
  });

  it('refuses a lookahead in a policy with file:line:col', () => {
    const text = MINIMAL.replace(
      '    - name: dev\n',
      '    - name: dev\n      retention:\n        keepTags: ["/^(?!dev)/"]\n',
    );
    const problems = problemsOf(text);
    const p = problems.find((x) => /lookaround/.test(x.message));
    assert.ok(p, JSON.stringify(problems));
    assert.equal(p.file, 'sluice.yaml');
    assert.equal(p.line, lineOf(text, 'keepTags'));
    assert.equal(p.column, 20);
  });

  it('refuses a lookahead in naming.versionTag at load time, not when a tag is first matched', () => {
    const text = MINIMAL.replace('spec:\n', 'spec:\n  naming:\n    versionTag: "^(?!dev)\\\\d+$"\n');
    const problems = problemsOf(text);
    const p = problems.find((x) => /lookaround/.test(x.message));
    assert.ok(p, JSON.stringify(problems));
    assert.equal(p.line, lineOf(text, 'versionTag'));
  });
});
