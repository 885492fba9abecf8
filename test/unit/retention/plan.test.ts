import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { isSluiceError } from '../../../src/errors.ts';
import { defaultPolicy, resolveRetention } from '../../../src/policy/index.ts';
import {
  applyPlanToInventory,
  planRetention,
  prodFacts,
  REASON_CODES,
  type RepositoryInventory,
} from '../../../src/retention/index.ts';
import { D, dg, digestIn, distribution, image, input, NOW, repo, rules, tag, tagIn } from './fixtures.ts';

const blobs = (...names: string[]) => names.map((n) => ({ digest: dg(`blob-${n}`), size: 100 }));

describe('freed bytes', () => {
  it('blob level: layers shared with a kept manifest are not freed', () => {
    const plan = planRetention(
      input([
        repo(
          [tag('old', dg('a'), 41), tag('new', dg('b'), 1)],
          [image(dg('a'), 41, { blobs: blobs('base', 'old') }), image(dg('b'), 1, { blobs: blobs('base', 'new') })],
        ),
      ]),
    );
    assert.equal(plan.accounting, 'blobs');
    assert.equal(digestIn(plan, dg('a')).freed, 100);
    assert.equal(plan.totals.bytesFreed, 100);
  });

  it('blob level: a blob still used in another repository of the same registry is not freed, in another registry it is', () => {
    const dev = repo([tag('old', dg('a'), 41)], [image(dg('a'), 41, { blobs: blobs('x') })], {
      repository: 'acme-dev/api',
    });
    const same = repo([tag('v', dg('b'), 1)], [image(dg('b'), 1, { blobs: blobs('x') })], {
      repository: 'acme-staging/api',
    });
    assert.equal(planRetention(input([dev, same])).totals.bytesFreed, 0);
    const other = { ...same, registry: 'other' };
    assert.equal(planRetention(input([dev, other])).totals.bytesFreed, 100);
  });

  it('manifest level without blob data: a digest kept elsewhere in the registry is not freed; indexes count through their children', () => {
    const dev = repo(
      [tag('old', dg('a'), 41), tag('idx', dg('i'), 41)],
      [
        image(dg('a'), 41, { size: 700 }),
        image(dg('c'), 41, { size: 300 }),
        { ...image(dg('i'), 41), mediaType: 'application/vnd.oci.image.index.v1+json', size: 300, children: [dg('c')] },
      ],
      { repository: 'acme-dev/api' },
    );
    let plan = planRetention(input([dev]));
    assert.equal(plan.accounting, 'manifests');
    assert.match(plan.accountingNote, /upper bound/);
    assert.equal(plan.totals.bytesFreed, 1000);
    const staging = repo([tag('v', dg('a'), 1)], [image(dg('a'), 1, { size: 700 })], {
      repository: 'acme-staging/api',
    });
    plan = planRetention(input([dev, staging]));
    assert.equal(plan.totals.bytesFreed, 300);
  });
});

describe('plan', () => {
  const inventory = () =>
    input([
      repo(
        [tag('b', dg(2), 41), tag('a', dg(1), 1), tag('prod', dg(1), 1)],
        [image(dg(2), 41), image(dg(1), 1), image(dg(3), 60)],
        {
          repository: 'z',
        },
      ),
      distribution([tag('x', dg(4), 50)], [image(dg(4), 50)], { repository: 'a' }),
    ]);

  it('is in canonical order: repositories by registry and name, tags by name, digests by digest', () => {
    const plan = planRetention(inventory());
    assert.deepEqual(
      plan.repositories.map((r) => [r.registry, r.repository]),
      [
        ['quay', 'z'],
        ['registry', 'a'],
      ],
    );
    assert.deepEqual(
      plan.repositories[0]!.tags.map((t) => t.tag),
      ['a', 'b', 'prod'],
    );
    assert.deepEqual(
      plan.repositories[0]!.digests.map((d) => d.digest),
      [dg(1), dg(2), dg(3)].sort(),
    );
  });

  it('is deterministic, whatever the input order, and the fingerprint says so', () => {
    const a = planRetention(inventory());
    const shuffled = inventory();
    const reversed = {
      ...shuffled,
      repositories: [...shuffled.repositories]
        .reverse()
        .map((r) => ({ ...r, tags: [...r.tags].reverse(), manifests: [...r.manifests].reverse() })),
    };
    const b = planRetention(reversed);
    assert.equal(JSON.stringify(a), JSON.stringify(b));
    assert.match(a.fingerprint, /^[0-9a-f]{64}$/);
    assert.equal(a.fingerprint, b.fingerprint);
  });

  it('the fingerprint covers decisions, not ages: it changes when a decision changes', () => {
    const a = planRetention(inventory());
    const later = planRetention({ ...inventory(), now: NOW + 3_600_000 });
    assert.equal(later.fingerprint, a.fingerprint);
    const muchLater = planRetention({ ...inventory(), now: NOW + 40 * D });
    assert.notEqual(muchLater.fingerprint, a.fingerprint);
  });

  it('the fingerprint is the SHA-256 of the documented canonical JSON', () => {
    const plan = planRetention(inventory(), { scope: { team: 'acme' } });
    const canonical = JSON.stringify({
      scope: [null, 'acme'],
      repositories: plan.repositories.map((r) => [
        r.registry,
        r.repository,
        r.tagDelete,
        r.mode,
        r.digests.map((d) => [
          d.digest,
          d.action,
          d.code,
          r.tags.filter((t) => t.digest === d.digest).map((t) => [t.tag, t.action, t.code]),
        ]),
      ]),
    });
    assert.equal(plan.fingerprint, createHash('sha256').update(canonical).digest('hex'));
  });

  it('prints as plain JSON with every field', () => {
    const plan = JSON.parse(JSON.stringify(planRetention(inventory()))) as ReturnType<typeof planRetention>;
    const t = tagIn(plan, 'b', 'z');
    assert.deepEqual(Object.keys(t).sort(), ['action', 'age', 'code', 'digest', 'kind', 'reason', 'size', 'tag']);
    assert.equal(t.age, 41 * D);
    const d = digestIn(plan, dg(2), 'z');
    assert.equal(d.reason, 'pushed 41 d ago (max 30 d)');
    assert.equal(d.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(plan.totals.tags, 4);
    assert.equal(plan.totals.tagsDeleted, 2);
    assert.equal(plan.totals.manifestsDeleted, 3);
  });

  it('scope plans only matching repositories, reading the others for accounting', () => {
    const dev = repo([tag('old', dg('a'), 41)], [image(dg('a'), 41, { blobs: blobs('x') })], {
      repository: 'acme-dev/api',
    });
    const staging = repo([tag('v', dg('b'), 1)], [image(dg('b'), 1, { blobs: blobs('x') })], {
      repository: 'acme-staging/api',
      stage: 'staging',
    });
    const plan = planRetention(input([dev, staging]), { scope: { stage: 'dev' } });
    assert.deepEqual(
      plan.repositories.map((r) => r.repository),
      ['acme-dev/api'],
    );
    assert.deepEqual(plan.scope, { stage: 'dev' });
    assert.equal(plan.totals.bytesFreed, 0);
  });

  it('rejects inconsistent input with RETENTION_INPUT_INVALID', () => {
    const bad = [
      input([repo([tag('a', dg(1), 1), tag('a', dg(2), 1)], [image(dg(1), 1), image(dg(2), 1)])]),
      input([repo([], [image(dg(1), 1), image(dg(1), 1)])]),
      input([repo([], []), repo([], [])]),
      { ...input([]), now: Number.NaN },
      input([repo([tag('a', dg(1), 100)], [image(dg(1), 100)], { rules: rules({ keepTags: ['/(/'] }) })]),
      input([repo([tag('a/../b', dg(1), 1)], [image(dg(1), 1)])]),
      input([repo([tag('a', 'sha256:../../x', 1)], [])]),
      input([repo([], [image('sha256:ABC', 1)])]),
      input([repo([], [image(`sha256:${'a'.repeat(63)}g`, 1)])]),
    ];
    for (const i of bad)
      assert.throws(
        () => planRetention(i),
        (e) => isSluiceError(e, 'RETENTION_INPUT_INVALID'),
      );
    const sha512 = `sha512:${'0'.repeat(128)}`;
    assert.equal(planRetention(input([repo([tag('a', sha512, 1)], [image(sha512, 1)])])).totals.tags, 1);
  });

  it('uses the rules the policy resolves, with the modes of the well-known stages', () => {
    const policy = defaultPolicy();
    const inv: RepositoryInventory[] = ['dev', 'staging', 'preprod', 'prod'].map((stage) =>
      repo([tag('1.0.0-1', dg(stage), 100)], [image(dg(stage), 100)], {
        repository: `acme-${stage}/api`,
        stage,
        rules: resolveRetention(policy, { team: 'acme', stage, repository: 'api' }),
      }),
    );
    const plan = planRetention(input(inv, prodFacts(policy)));
    const byStage = Object.fromEntries(plan.repositories.map((r) => [r.stage, r]));
    assert.equal(byStage.dev!.mode, 'automatic');
    assert.equal(byStage.staging!.mode, 'notice');
    assert.equal(byStage.staging!.noticeDays, 7);
    assert.equal(byStage.preprod!.mode, 'manual');
    assert.equal(byStage.prod!.mode, 'scheduled');
    assert.equal(byStage.prod!.trash.enabled, true);
  });
});

describe('applyPlanToInventory', () => {
  it('removes what the plan deletes and nothing else', () => {
    const inv = input([
      repo([tag('old', dg(1), 41), tag('new', dg(2), 1), tag('old2', dg(2), 41)], [image(dg(1), 41), image(dg(2), 1)]),
    ]);
    const after = applyPlanToInventory(inv, planRetention(inv));
    const r = after.repositories[0]!;
    assert.deepEqual(
      r.tags.map((t) => t.tag),
      ['new'],
    );
    assert.deepEqual(
      r.manifests.map((m) => m.digest),
      [dg(2)],
    );
    assert.equal(planRetention(after).totals.tagsDeleted, 0);
  });

  it('refuses a plan whose tags moved since it was made', () => {
    const inv = input([repo([tag('old', dg(1), 41)], [image(dg(1), 41), image(dg(2), 1)])]);
    const plan = planRetention(inv);
    const moved = input([repo([tag('old', dg(2), 41)], [image(dg(1), 41), image(dg(2), 1)])]);
    assert.throws(
      () => applyPlanToInventory(moved, plan),
      (e) => isSluiceError(e, 'RETENTION_PLAN_STALE'),
    );
  });

  it('on Distribution, deleting a manifest takes every tag on it, as the registry would', () => {
    const inv = input([distribution([tag('a', dg(1), 41)], [image(dg(1), 41)])]);
    const plan = planRetention(inv);
    const late = input([distribution([tag('a', dg(1), 41), tag('pushed-since', dg(1), 0)], [image(dg(1), 41)])]);
    assert.deepEqual(applyPlanToInventory(late, plan).repositories[0]!.tags, []);
  });
});

describe('reason codes', () => {
  it('reason codes fit the packed representation', () => {
    assert.ok(REASON_CODES.length < 64);
    assert.equal(new Set(REASON_CODES).size, REASON_CODES.length);
  });
});
