import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isSluiceError } from '../../../src/errors.ts';
import {
  catalogRepositoryFor,
  defaultPolicy,
  globToRegExp,
  nextStage,
  parseRepositoryPath,
  previousStage,
  repositoryFor,
  resolveRetention,
  stageByName,
  tagMatcher,
} from '../../../src/policy/index.ts';
import { MINIMAL, expectValid } from './fixtures.ts';

const D = 24 * 3_600_000;

/** Teams whose names overlap with each other and with stage names, to make parsing hard. */
const TEAMS = MINIMAL.replace(
  '    - { name: acme, contact: acme@example.com }',
  ['acme', 'acme-web', 'ki_poc', 'dev', 'a.b'].map((t) => `    - { name: ${t}, contact: x@example.com }`).join('\n'),
);

describe('stage navigation', () => {
  const p = defaultPolicy();
  it('follows promotion order', () => {
    assert.equal(nextStage(p, 'dev')?.name, 'staging');
    assert.equal(nextStage(p, stageByName(p, 'preprod')!)?.name, 'prod');
    assert.equal(nextStage(p, 'prod'), undefined);
    assert.equal(previousStage(p, 'staging')?.name, 'dev');
    assert.equal(previousStage(p, 'dev'), undefined);
  });

  it('honours from when it skips a stage', () => {
    const q = expectValid(MINIMAL.replace('    - name: prod\n', '    - name: prod\n      from: staging\n'));
    assert.equal(previousStage(q, 'prod')?.name, 'staging');
    assert.equal(nextStage(q, 'staging')?.name, 'preprod');
    assert.equal(nextStage(q, 'preprod'), undefined);
  });

  it('rejects unknown stages', () => {
    assert.throws(
      () => nextStage(p, 'qa'),
      (err: unknown) => isSluiceError(err, 'STAGE_UNKNOWN') && err.category === 'invalid-input',
    );
  });
});

describe('repositoryFor', () => {
  const p = defaultPolicy();
  it('renders the stage template in the stage registry', () => {
    assert.deepEqual(repositoryFor(p, { team: 'acme', stage: 'staging', repo: 'inferencer' }), {
      registry: p.registries[0],
      repository: 'acme-staging/inferencer',
      name: '127.0.0.1:5000/acme-staging/inferencer',
    });
    assert.equal(
      repositoryFor(p, { team: 'acme', stage: 'dev', repo: 'tools/lint' }).repository,
      'acme-dev/tools/lint',
    );
  });

  it('uses the per-stage registry override', () => {
    const q = expectValid(
      MINIMAL.replace(
        '    - { name: local, url: "http://127.0.0.1:5000", kind: distribution }',
        '    - { name: local, url: "http://127.0.0.1:5000", kind: distribution, default: true }\n    - { name: prodreg, url: "https://cpk.quay.asg.net", kind: quay }',
      ).replace('    - name: prod\n', '    - name: prod\n      registry: prodreg\n'),
    );
    assert.equal(repositoryFor(q, { team: 'acme', stage: 'prod', repo: 'api' }).name, 'cpk.quay.asg.net/acme-prod/api');
    assert.equal(parseRepositoryPath(q, 'acme-prod/api', { registry: 'cpk.quay.asg.net' })?.stage, 'prod');
    assert.equal(parseRepositoryPath(q, 'acme-prod/api', { registry: 'local' }), undefined);
  });

  it('rejects unknown teams and invalid repository names', () => {
    assert.throws(
      () => repositoryFor(p, { team: 'nobody', stage: 'dev', repo: 'api' }),
      (err: unknown) => isSluiceError(err, 'TEAM_UNKNOWN'),
    );
    for (const repo of ['Api', 'api/', '', 'a//b', '-api']) {
      assert.throws(
        () => repositoryFor(p, { team: 'acme', stage: 'dev', repo }),
        (err: unknown) => isSluiceError(err, 'REPOSITORY_INVALID'),
        repo,
      );
    }
  });

  it('places catalog images by the catalog template', () => {
    assert.equal(catalogRepositoryFor(p, 'ubi9/python-312').repository, 'catalog/ubi9/python-312');
  });
});

describe('parseRepositoryPath', () => {
  const p = expectValid(TEAMS);
  const cases: Array<[string, object | undefined]> = [
    ['acme-dev/api', { team: 'acme', stage: 'dev', repo: 'api' }],
    ['acme-web-prod/api', { team: 'acme-web', stage: 'prod', repo: 'api' }],
    ['ki_poc-staging/inferencer', { team: 'ki_poc', stage: 'staging', repo: 'inferencer' }],
    ['dev-dev/x', { team: 'dev', stage: 'dev', repo: 'x' }],
    ['a.b-preprod/tools/lint', { team: 'a.b', stage: 'preprod', repo: 'tools/lint' }],
    ['acme-qa/api', undefined],
    ['other-dev/api', undefined],
    ['acme-dev', undefined],
    ['acme-dev/', undefined],
    ['acme-dev/API', undefined],
    ['xacme-dev/api', undefined],
  ];
  for (const [path, want] of cases) {
    it(`reads ${path}`, () => assert.deepEqual(parseRepositoryPath(p, path), want));
  }

  it('inverts repositoryFor for every team, stage and repository', () => {
    const seg = fc.stringMatching(/^[a-z0-9]+(?:[._-][a-z0-9]+)?$/).filter((s) => s.length <= 20);
    const repo = fc.array(seg, { minLength: 1, maxLength: 3 }).map((xs) => xs.join('/'));
    const team = fc.constantFrom(...p.teams.map((t) => t.name));
    const stage = fc.constantFrom(...p.stages.map((s) => s.name));
    fc.assert(
      fc.property(team, stage, repo, (t, s, r) => {
        const { repository } = repositoryFor(p, { team: t, stage: s, repo: r });
        assert.deepEqual(parseRepositoryPath(p, repository), { team: t, stage: s, repo: r });
      }),
    );
  });

  it('works with a template that puts the stage first', () => {
    const q = expectValid(
      MINIMAL.replaceAll(/ {4}- name: (\w+)\n/g, '    - name: $1\n      repository: "{stage}/{team}/{repo}"\n'),
    );
    assert.deepEqual(parseRepositoryPath(q, 'prod/acme/api'), { team: 'acme', stage: 'prod', repo: 'api' });
    assert.equal(repositoryFor(q, { team: 'acme', stage: 'dev', repo: 'api' }).repository, 'dev/acme/api');
  });
});

describe('resolveRetention', () => {
  const p = expectValid(
    MINIMAL.replace(
      '    - name: dev\n',
      `    - name: dev
      retention:
        keepTags: ["/^release-/"]
        overrides:
          - { team: acme, maxAge: 7d, keepLast: 3, keepTags: [stable] }
          - { repository: "tools/*", maxAge: 60d, deleteTags: ["pr-*", "tmp-*"] }
          - { repository: "tools/**", maxAge: 45d, keepLast: 20, deleteTags: ["pr-*"], mode: manual }
          - { team: acme, repository: "tools/lint", keepLast: 1 }
`,
    ).replace('    - name: prod\n', '    - name: prod\n      retention: { overrides: [{ team: acme, maxAge: 1y }] }\n'),
  );

  it('returns the stage rules when nothing matches', () => {
    const r = resolveRetention(p, { team: 'other', stage: 'dev', repository: 'api' });
    assert.equal(r.maxAge, 30 * D);
    assert.equal(r.keepLast, 10);
    assert.deepEqual(r.keepTags, ['/^release-/']);
    assert.equal('overrides' in r, false);
  });

  it('lets a team override shorten retention', () => {
    const r = resolveRetention(p, { team: 'acme', stage: 'dev', repository: 'api' });
    assert.equal(r.maxAge, 7 * D);
    assert.equal(r.keepLast, 3);
    assert.deepEqual(r.keepTags.sort(), ['/^release-/', 'stable']);
  });

  it('prefers repository overrides over team ones, and the two together over both', () => {
    const r = resolveRetention(p, { team: 'acme', stage: 'dev', repository: 'tools/fmt' });
    // Two repository overrides match: keep wins field by field.
    assert.equal(r.maxAge, 60 * D);
    assert.equal(r.keepLast, 20);
    assert.equal(r.mode, 'manual');
    assert.deepEqual(r.deleteTags, ['pr-*']);
    const both = resolveRetention(p, { team: 'acme', stage: 'dev', repository: 'tools/lint' });
    assert.equal(both.keepLast, 1);
    assert.equal(both.maxAge, 60 * D);
    assert.ok(both.keepTags.includes('stable'), 'keep patterns accumulate across levels');
  });

  it('keeps the trash on for the final stage whatever an override says', () => {
    const r = resolveRetention(p, { team: 'acme', stage: 'prod', repository: 'api' });
    assert.equal(r.maxAge, 365 * D);
    assert.equal(r.trash.enabled, true);
    assert.equal(r.schedule, '0 3 * * 0');
  });

  it('matches repository globs within or across segments', () => {
    assert.equal(globToRegExp('tools/*').test('tools/lint'), true);
    assert.equal(globToRegExp('tools/*').test('tools/a/b'), false);
    assert.equal(globToRegExp('tools/**').test('tools/a/b'), true);
    assert.equal(globToRegExp('ap?').test('api'), true);
    assert.equal(globToRegExp('a.b').test('axb'), false);
  });

  it('matches tag patterns as globs or /regex/', () => {
    const m = tagMatcher(['v1.*', '/^release-\\d+$/', 'latest']);
    assert.equal(m('v1.2.3'), true);
    assert.equal(m('v2.0'), false);
    assert.equal(m('release-12'), true);
    assert.equal(m('release-x'), false);
    assert.equal(m('latest'), true);
    assert.equal(m('v1x'), false);
  });
});
