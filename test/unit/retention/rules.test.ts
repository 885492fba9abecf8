import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planRetention } from '../../../src/retention/index.ts';
import { D, dg, digestIn, expectDecision, image, input, NOW, repo, rules, tag, tagIn } from './fixtures.ts';

describe('retention rules', () => {
  it('max-age deletes versions pushed longer ago than maxAge and keeps younger ones', () => {
    const plan = planRetention(
      input([
        repo([tag('1.0.0-1', dg('a'), 41), tag('1.0.0-2', dg('b'), 12)], [image(dg('a'), 41), image(dg('b'), 12)]),
      ]),
    );
    expectDecision(tagIn(plan, '1.0.0-1'), 'delete', 'rule:max-age', 'pushed 41 d ago (max 30 d)');
    expectDecision(tagIn(plan, '1.0.0-2'), 'keep', 'rule:within-age', 'pushed 12 d ago (max 30 d)');
    expectDecision(digestIn(plan, dg('a')), 'delete-manifest', 'rule:max-age');
    expectDecision(digestIn(plan, dg('b')), 'keep', 'protected:kept-tag', 'tag 1.0.0-2 points to it');
  });

  it('an age of exactly maxAge is not older than maxAge', () => {
    const plan = planRetention(input([repo([tag('v', dg('a'), 30)], [image(dg('a'), 30)])]));
    expectDecision(tagIn(plan, 'v'), 'keep', 'rule:within-age');
  });

  it('keep-last keeps the N newest versions, counted by digest, ties broken by version order', () => {
    const tags = [
      tag('1.0.0-1', dg(1), 90),
      tag('1.0.0-2', dg(2), 80),
      tag('1.0.0-2b', dg(2), 85), // same version as 1.0.0-2: counts once
      tag('1.0.0-3', dg(3), 70),
      tag('1.0.0-4', dg(4), 70), // same push time as 1.0.0-3: the higher version is newer
    ];
    const manifests = [1, 2, 3, 4].map((n) => image(dg(n), 90));
    const plan = planRetention(input([repo(tags, manifests, { rules: rules({ keepLast: 2 }) })]));
    expectDecision(tagIn(plan, '1.0.0-4'), 'keep', 'rule:keep-last', 'among the 2 newest versions (#1)');
    expectDecision(tagIn(plan, '1.0.0-3'), 'keep', 'rule:keep-last', 'among the 2 newest versions (#2)');
    expectDecision(tagIn(plan, '1.0.0-2'), 'delete', 'rule:max-age');
    expectDecision(tagIn(plan, '1.0.0-2b'), 'delete', 'rule:max-age');
    expectDecision(tagIn(plan, '1.0.0-1'), 'delete', 'rule:max-age');
  });

  it('keep-last keeps every tag of a kept version, and env tags do not count as versions', () => {
    const tags = [tag('prod', dg(9), 1), tag('1.0', dg(1), 50), tag('1.0-old-name', dg(1), 100), tag('0.9', dg(2), 60)];
    const plan = planRetention(
      input([repo(tags, [image(dg(1), 100), image(dg(2), 60), image(dg(9), 1)], { rules: rules({ keepLast: 1 }) })]),
    );
    expectDecision(tagIn(plan, '1.0'), 'keep', 'rule:keep-last');
    expectDecision(tagIn(plan, '1.0-old-name'), 'keep', 'rule:keep-last');
    expectDecision(tagIn(plan, '0.9'), 'delete', 'rule:max-age');
    expectDecision(tagIn(plan, 'prod'), 'keep', 'keep:env-tag');
  });

  it('keepTags keeps matching tags whatever their age, and wins over deleteTags', () => {
    const r = rules({ keepTags: ['release-*', '/^lts$/'], deleteTags: ['release-*', 'pr-*'] });
    const tags = [tag('release-1', dg(1), 400), tag('lts', dg(2), 400), tag('pr-7', dg(3), 1)];
    const plan = planRetention(
      input([repo(tags, [image(dg(1), 400), image(dg(2), 400), image(dg(3), 1)], { rules: r })]),
    );
    expectDecision(tagIn(plan, 'release-1'), 'keep', 'rule:keep-tags', 'matches keepTags release-*');
    expectDecision(tagIn(plan, 'lts'), 'keep', 'rule:keep-tags', 'matches keepTags /^lts$/');
    expectDecision(tagIn(plan, 'pr-7'), 'delete', 'rule:delete-tags', 'matches deleteTags pr-*');
  });

  it('keep-last wins over deleteTags', () => {
    const plan = planRetention(
      input([
        repo([tag('pr-1', dg(1), 1)], [image(dg(1), 1)], { rules: rules({ keepLast: 1, deleteTags: ['pr-*'] }) }),
      ]),
    );
    expectDecision(tagIn(plan, 'pr-1'), 'keep', 'rule:keep-last');
  });

  it('max age since last pull: idle images go, never-pulled ones count from the push', () => {
    const r = rules({ maxAge: undefined, maxAgeSinceLastPull: 14 * D });
    const tags = [tag('idle', dg(1), 40), tag('never', dg(2), 20), tag('used', dg(3), 40), tag('new', dg(4), 3)];
    const manifests = [
      image(dg(1), 40, { lastPull: NOW - 20 * D }),
      image(dg(2), 20),
      image(dg(3), 40, { lastPull: NOW - 10 * D }),
      image(dg(4), 3),
    ];
    const plan = planRetention(input([repo(tags, manifests, { rules: r })]));
    expectDecision(
      tagIn(plan, 'idle'),
      'delete',
      'rule:max-age-since-pull',
      'last pulled 20 d ago (max 14 d since last pull)',
    );
    expectDecision(tagIn(plan, 'never'), 'delete', 'rule:max-age-since-pull', /^never pulled, pushed 20 d ago/);
    expectDecision(tagIn(plan, 'used'), 'keep', 'rule:within-age', 'last pulled 10 d ago (max 14 d since last pull)');
    expectDecision(
      tagIn(plan, 'new'),
      'keep',
      'rule:within-age',
      'never pulled, pushed 3 d ago (max 14 d since last pull)',
    );
  });

  it('max age since promotion: versions promoted onwards long enough ago go', () => {
    const r = rules({ maxAge: undefined, maxAgeSincePromotion: 10 * D });
    const plan = planRetention(
      input(
        [
          repo(
            [tag('a', dg(1), 30), tag('b', dg(2), 30), tag('c', dg(3), 30)],
            [1, 2, 3].map((n) => image(dg(n), 30)),
            { rules: r },
          ),
        ],
        {
          lastPromotion: new Map([
            [dg(1), NOW - 20 * D],
            [dg(2), NOW - 5 * D],
          ]),
        },
      ),
    );
    expectDecision(
      tagIn(plan, 'a'),
      'delete',
      'rule:max-age-since-promotion',
      'promoted 20 d ago (max 10 d since promotion)',
    );
    expectDecision(tagIn(plan, 'b'), 'keep', 'rule:within-age', 'promoted 5 d ago (max 10 d since promotion)');
    expectDecision(tagIn(plan, 'c'), 'keep', 'rule:within-age', 'not promoted onwards');
  });

  it('without any age rule nothing expires', () => {
    const plan = planRetention(
      input([
        repo([tag('old', dg(1), 3000)], [image(dg(1), 3000), image(dg(2), 3000)], {
          rules: rules({ maxAge: undefined }),
        }),
      ]),
    );
    expectDecision(tagIn(plan, 'old'), 'keep', 'rule:no-expiry');
    expectDecision(digestIn(plan, dg(2)), 'keep', 'rule:no-expiry');
  });

  it('the catalog cap keeps the newest N versions of a curated image and deletes the rest', () => {
    const tags = [1, 2, 3, 4, 5].map((n) => tag(`1.${n}`, dg(n), 10 - n));
    tags.push(tag('pinned', dg(6), 100));
    const manifests = [1, 2, 3, 4, 5, 6].map((n) => image(dg(n), 100));
    const plan = planRetention(
      input([
        repo(tags, manifests, { catalog: true, rules: rules({ keepLast: 10, catalogCap: 3, keepTags: ['pinned'] }) }),
      ]),
    );
    expectDecision(tagIn(plan, '1.5'), 'keep', 'rule:keep-last', 'among the 3 newest versions of a curated image (#1)');
    expectDecision(tagIn(plan, '1.3'), 'keep', 'rule:keep-last');
    expectDecision(tagIn(plan, '1.2'), 'delete', 'rule:catalog-cap', 'version #4 of a curated image (cap 3)');
    expectDecision(tagIn(plan, '1.1'), 'delete', 'rule:catalog-cap');
    expectDecision(tagIn(plan, 'pinned'), 'keep', 'rule:keep-tags');
  });

  it('env tags are always kept and hold their digest', () => {
    const plan = planRetention(
      input([repo([tag('prod', dg(1), 900), tag('latest', dg(1), 900)], [image(dg(1), 900)])]),
    );
    expectDecision(tagIn(plan, 'prod'), 'keep', 'keep:env-tag');
    expectDecision(tagIn(plan, 'latest'), 'keep', 'keep:env-tag');
    expectDecision(digestIn(plan, dg(1)), 'keep', 'protected:kept-tag', 'tag latest points to it');
  });

  it('untagged free-standing manifests go when older than maxAge', () => {
    const plan = planRetention(input([repo([], [image(dg(1), 41), image(dg(2), 5)])]));
    expectDecision(
      digestIn(plan, dg(1)),
      'delete-manifest',
      'rule:untagged-max-age',
      'untagged, pushed 41 d ago (max 30 d)',
    );
    expectDecision(digestIn(plan, dg(2)), 'keep', 'rule:untagged-within-age', 'untagged, pushed 5 d ago (max 30 d)');
  });

  it('carries the mode of each repository into the plan', () => {
    const plan = planRetention(
      input([
        repo([], [], { repository: 'a', rules: rules({ mode: 'notice', noticeDays: 7 }) }),
        repo([], [], {
          repository: 'b',
          rules: rules({ mode: 'scheduled', schedule: '0 3 * * 0', trash: { enabled: true, window: 14 * D } }),
        }),
        repo([], [], { repository: 'c', rules: rules({ mode: 'manual' }) }),
      ]),
    );
    const [a, b, c] = plan.repositories;
    assert.deepEqual([a!.mode, a!.noticeDays], ['notice', 7]);
    assert.deepEqual([b!.mode, b!.schedule, b!.trash.enabled], ['scheduled', '0 3 * * 0', true]);
    assert.equal(c!.mode, 'manual');
  });
});

describe('version order', () => {
  it('ranks versions numerically when push times tie (tags first seen by one sync)', async () => {
    const { compareVersions } = await import('../../../src/retention/decide.ts');
    assert.ok(compareVersions('1.10.0-2', '1.9.0-7') > 0);
    assert.ok(compareVersions('1.0.0-10', '1.0.0-9') > 0);
    assert.ok(compareVersions('1.0.0-1', '1.0.0-1') === 0);
    assert.ok(compareVersions('2.0.0-1', '10.0.0-1') < 0);
  });
});
