import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planRetention } from '../../../src/retention/index.ts';
import {
  cosignTag,
  dg,
  digestIn,
  distribution,
  expectDecision,
  image,
  index,
  input,
  onlyRepo,
  repo,
  tag,
  tagIn,
} from './fixtures.ts';

describe('shared digests', () => {
  it('Distribution: two tags on one digest, one expired: the digest stays with the kept tag, and so does the expired tag', () => {
    const plan = planRetention(
      input([distribution([tag('1.0.0-1', dg('a'), 41), tag('1.0.0-2', dg('a'), 5)], [image(dg('a'), 41)])]),
    );
    expectDecision(
      tagIn(plan, '1.0.0-1'),
      'keep',
      'protected:shared-digest',
      /^kept tag 1\.0\.0-2 points to the same manifest and registry deletes manifests, not tags \(rule: pushed 41 d ago/,
    );
    expectDecision(tagIn(plan, '1.0.0-2'), 'keep', 'rule:within-age');
    expectDecision(digestIn(plan, dg('a')), 'keep', 'protected:kept-tag', 'tag 1.0.0-2 points to it');
    assert.deepEqual(onlyRepo(plan).deletions, { tags: [], manifests: [], after: [] });
  });

  it('Distribution: an env tag on the digest keeps expired version tags too', () => {
    const plan = planRetention(
      input([distribution([tag('1.0', dg('a'), 400), tag('prod', dg('a'), 400)], [image(dg('a'), 400)])]),
    );
    expectDecision(tagIn(plan, '1.0'), 'keep', 'protected:shared-digest', /^kept tag prod /);
  });

  it('Distribution: when every tag expires, the manifest goes, by digest', () => {
    const plan = planRetention(
      input([distribution([tag('a1', dg('a'), 41), tag('a2', dg('a'), 50)], [image(dg('a'), 50)])]),
    );
    expectDecision(tagIn(plan, 'a1'), 'delete', 'rule:max-age');
    expectDecision(tagIn(plan, 'a2'), 'delete', 'rule:max-age');
    expectDecision(
      digestIn(plan, dg('a')),
      'delete-manifest',
      'rule:max-age',
      /^all 2 tags are deleted; a1: pushed 41 d ago/,
    );
    assert.deepEqual(onlyRepo(plan).deletions, { tags: [], manifests: [dg('a')], after: [[]] });
  });

  it('tag-deleting registries (Quay, Harbor) remove the expired tag alone', () => {
    const plan = planRetention(
      input([repo([tag('1.0.0-1', dg('a'), 41), tag('1.0.0-2', dg('a'), 5)], [image(dg('a'), 41)])]),
    );
    expectDecision(tagIn(plan, '1.0.0-1'), 'delete', 'rule:max-age');
    expectDecision(digestIn(plan, dg('a')), 'untag-only', 'protected:kept-tag');
    assert.deepEqual(onlyRepo(plan).deletions, { tags: ['1.0.0-1'], manifests: [], after: [] });
  });

  it('tag-deleting registries never remove the last tags of a manifest that must stay', () => {
    // The manifest stays because a signature under legal hold refers to it; untagged, the
    // registry's own garbage collection could take it.
    const sig = cosignTag(dg('a'));
    const plan = planRetention(
      input([repo([tag('1.0', dg('a'), 100), tag(sig, dg('s'), 100)], [image(dg('a'), 100), image(dg('s'), 100)])], {
        legalHold: new Set([dg('s')]),
      }),
    );
    expectDecision(
      digestIn(plan, dg('a')),
      'keep',
      'protected:subject-of-kept-artifact',
      `subject of kept artifact ${sig}`,
    );
    expectDecision(
      tagIn(plan, '1.0'),
      'keep',
      'protected:subject-of-kept-artifact',
      /the last tags of a kept manifest stay/,
    );
    expectDecision(tagIn(plan, sig), 'keep', 'keep:subject-kept');
  });
});

describe('multi-arch indexes', () => {
  const children = [dg('amd64'), dg('arm64')];
  const manifests = [index(dg('idx'), children, 50), image(dg('amd64'), 50), image(dg('arm64'), 50)];

  it('children of a kept index are kept', () => {
    const plan = planRetention(input([repo([tag('1.0', dg('idx'), 5)], manifests)]));
    expectDecision(
      digestIn(plan, dg('amd64')),
      'keep',
      'protected:child-of-kept-index',
      'child of kept index sha256:000000000000',
    );
    expectDecision(digestIn(plan, dg('arm64')), 'keep', 'protected:child-of-kept-index');
  });

  it('children go with their deleted index, after it', () => {
    const plan = planRetention(input([repo([tag('1.0', dg('idx'), 41)], manifests)]));
    expectDecision(digestIn(plan, dg('idx')), 'delete-manifest', 'rule:max-age');
    expectDecision(
      digestIn(plan, dg('amd64')),
      'delete-manifest',
      'follows:index-deleted',
      /^untagged child of deleted index/,
    );
    const { manifests: order, after } = onlyRepo(plan).deletions;
    assert.equal(order[0], dg('idx'));
    assert.deepEqual(after, [[], [dg('idx')], [dg('idx')]]);
    assert.deepEqual([...order].sort(), [dg('amd64'), dg('arm64'), dg('idx')].sort());
  });

  it('a child shared with another, kept index stays', () => {
    const plan = planRetention(
      input([
        repo(
          [tag('1.0', dg('idx'), 41), tag('1.1', dg('idx2'), 5)],
          [...manifests, index(dg('idx2'), [dg('arm64')], 5)],
        ),
      ]),
    );
    expectDecision(digestIn(plan, dg('amd64')), 'delete-manifest', 'follows:index-deleted');
    expectDecision(digestIn(plan, dg('arm64')), 'keep', 'protected:child-of-kept-index');
  });

  it('a tagged child of a kept index: Quay removes the tag, Distribution keeps it', () => {
    const tags = [tag('1.0', dg('idx'), 5), tag('1.0-amd64', dg('amd64'), 41)];
    let plan = planRetention(input([repo(tags, manifests)]));
    expectDecision(tagIn(plan, '1.0-amd64'), 'delete', 'rule:max-age');
    expectDecision(digestIn(plan, dg('amd64')), 'untag-only', 'protected:child-of-kept-index');
    plan = planRetention(input([distribution(tags, manifests)]));
    expectDecision(tagIn(plan, '1.0-amd64'), 'keep', 'protected:child-of-kept-index', /deletes manifests, not tags/);
    expectDecision(digestIn(plan, dg('amd64')), 'keep', 'protected:child-of-kept-index');
  });

  it('a child whose own tag is kept survives its deleted index', () => {
    const plan = planRetention(input([repo([tag('1.0', dg('idx'), 41), tag('amd', dg('amd64'), 5)], manifests)]));
    expectDecision(digestIn(plan, dg('idx')), 'delete-manifest', 'rule:max-age');
    expectDecision(digestIn(plan, dg('amd64')), 'keep', 'protected:kept-tag');
  });
});

describe('signatures, attestations, SBOMs and referrers', () => {
  const sig = cosignTag(dg('a'), 'sig');
  const att = cosignTag(dg('a'), 'att');
  const manifests = [image(dg('a'), 50), image(dg('s'), 50), image(dg('t'), 50)];

  it('cosign tags follow their subject: kept with it', () => {
    const plan = planRetention(
      input([repo([tag('1.0', dg('a'), 5), tag(sig, dg('s'), 50), tag(att, dg('t'), 50)], manifests)]),
    );
    expectDecision(tagIn(plan, sig), 'keep', 'keep:subject-kept', 'artifact of sha256:000000000000, which is kept');
    expectDecision(digestIn(plan, dg('s')), 'keep', 'keep:subject-kept');
    expectDecision(tagIn(plan, att), 'keep', 'keep:subject-kept');
  });

  it('cosign tags follow their subject: deleted with it, and after it', () => {
    for (const r of [repo, distribution]) {
      const plan = planRetention(
        input([r([tag('1.0', dg('a'), 41), tag(sig, dg('s'), 1), tag(att, dg('t'), 1)], manifests)]),
      );
      expectDecision(
        tagIn(plan, sig),
        'delete',
        'follows:subject-deleted',
        'artifact of sha256:000000000000, which is deleted',
      );
      expectDecision(digestIn(plan, dg('s')), 'delete-manifest', 'follows:subject-deleted');
      expectDecision(digestIn(plan, dg('t')), 'delete-manifest', 'follows:subject-deleted');
      const { manifests: order, after } = onlyRepo(plan).deletions;
      assert.deepEqual(after, [[], [dg('a')], [dg('a')]]);
      // Should apply have to skip the subject (re-tagged since the plan), its signatures stay.
      assert.equal(order[0], dg('a'), 'the subject goes first');
    }
  });

  it('a signature that must stay keeps its subject', () => {
    const plan = planRetention(
      input([repo([tag('1.0', dg('a'), 41), tag(sig, dg('s'), 41)], manifests)], { quarantined: new Set([dg('s')]) }),
    );
    expectDecision(digestIn(plan, dg('s')), 'keep', 'protected:quarantine');
    expectDecision(digestIn(plan, dg('a')), 'keep', 'protected:subject-of-kept-artifact');
  });

  it('OCI referrers (subject field) follow their subject, tagged or not', () => {
    const ref = image(dg('r'), 50, { subject: dg('a') });
    let plan = planRetention(input([repo([tag('1.0', dg('a'), 5)], [image(dg('a'), 50), ref])]));
    expectDecision(digestIn(plan, dg('r')), 'keep', 'keep:subject-kept');
    plan = planRetention(input([repo([tag('1.0', dg('a'), 41)], [image(dg('a'), 50), ref])]));
    expectDecision(digestIn(plan, dg('r')), 'delete-manifest', 'follows:subject-deleted');
  });

  it('a referrers-schema tag (sha256-<hex>) and its index follow the subject', () => {
    const refTag = dg('a').replace(':', '-');
    const manifestsWithIndex = [
      image(dg('a'), 50),
      index(dg('ri'), [dg('r')], 50),
      image(dg('r'), 50, { subject: dg('a') }),
    ];
    let plan = planRetention(input([repo([tag('1.0', dg('a'), 5), tag(refTag, dg('ri'), 50)], manifestsWithIndex)]));
    expectDecision(tagIn(plan, refTag), 'keep', 'keep:subject-kept');
    expectDecision(digestIn(plan, dg('r')), 'keep', 'protected:child-of-kept-index');
    plan = planRetention(input([repo([tag('1.0', dg('a'), 41), tag(refTag, dg('ri'), 50)], manifestsWithIndex)]));
    expectDecision(tagIn(plan, refTag), 'delete', 'follows:subject-deleted');
    for (const d of [dg('a'), dg('ri'), dg('r')]) assert.equal(digestIn(plan, d).action, 'delete-manifest');
  });

  it('signatures whose subject is not in the repository are kept (they may sign an image stored elsewhere)', () => {
    const elsewhere = cosignTag(dg('elsewhere'));
    const plan = planRetention(
      input([
        repo([tag(elsewhere, dg('s'), 400)], [image(dg('s'), 400), image(dg('r'), 400, { subject: dg('gone') })]),
      ]),
    );
    expectDecision(tagIn(plan, elsewhere), 'keep', 'keep:subject-absent', /not in this repository/);
    expectDecision(digestIn(plan, dg('r')), 'keep', 'keep:subject-absent');
  });
});

describe('incomplete inventories', () => {
  it('deletes nothing in a repository whose inventory is incomplete', () => {
    const plan = planRetention(
      input([
        repo(
          [tag('old', dg('a'), 400), tag(cosignTag(dg('a')), dg('s'), 400)],
          [image(dg('a'), 400), image(dg('s'), 400), image(dg('u'), 400)],
          { incomplete: 'tag list truncated' },
        ),
      ]),
    );
    for (const t of onlyRepo(plan).tags)
      expectDecision(t, 'keep', 'keep:inventory-incomplete', 'inventory incomplete: tag list truncated');
    for (const d of onlyRepo(plan).digests) assert.equal(d.action, 'keep');
    assert.equal(plan.totals.manifestsDeleted, 0);
  });

  it('a tag on a digest missing from the manifest list still gets a decision', () => {
    const plan = planRetention(input([repo([tag('old', dg('ghost'), 400)], [])]));
    expectDecision(tagIn(plan, 'old'), 'delete', 'rule:max-age');
    const d = digestIn(plan, dg('ghost'));
    assert.equal(d.action, 'delete-manifest');
    assert.equal(d.mediaType, 'unknown');
  });
});
