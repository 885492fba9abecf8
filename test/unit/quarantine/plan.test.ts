import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  planQuarantine,
  quarantineRepository,
  type QuarantineInput,
  type StageView,
} from '../../../src/quarantine/plan.ts';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const BAD = d('b');
const OLD = d('1');
const OLDER = d('2');

const prod = (over: Partial<StageView> = {}): StageView => ({
  stage: 'prod',
  repository: 'reg.local/acme-prod/api',
  tags: { prod: BAD, stable: BAD },
  history: [BAD, OLD, OLDER],
  ...over,
});

const input = (over: Partial<QuarantineInput> = {}): QuarantineInput => ({
  digest: BAD,
  removeFrom: ['prod'],
  stages: [
    prod(),
    { stage: 'staging', repository: 'reg.local/acme-staging/api', tags: { staging: BAD }, history: [BAD, OLD] },
  ],
  held: new Set([BAD]),
  quarantineCopy: { repository: 'reg.local/quarantine/acme/api', tag: '1.4.0-7', present: false },
  holdPresent: false,
  untagSupported: true,
  ...over,
});

describe('quarantine plan', () => {
  it('holds, rolls every moving tag of a removeFrom stage back to the previous digest, and copies the evidence', () => {
    const plan = planQuarantine(input());
    assert.equal(plan.hold, true);
    assert.deepEqual(plan.stageSteps, [
      { kind: 'rollback', stage: 'prod', repository: 'reg.local/acme-prod/api', tag: 'prod', from: BAD, to: OLD },
      { kind: 'rollback', stage: 'prod', repository: 'reg.local/acme-prod/api', tag: 'stable', from: BAD, to: OLD },
    ]);
    assert.deepEqual(plan.copy, { repository: 'reg.local/quarantine/acme/api', tag: '1.4.0-7' });
    assert.equal(plan.complete, false);
  });

  it('leaves stages outside removeFrom alone', () => {
    const plan = planQuarantine(input({ removeFrom: ['staging'] }));
    assert.deepEqual(
      plan.stageSteps.map((s) => [s.stage, s.tag]),
      [['staging', 'staging']],
    );
  });

  it('skips held and vanished digests when choosing where to roll back to', () => {
    assert.equal((planQuarantine(input({ held: new Set([BAD, OLD]) })).stageSteps[0] as { to: string }).to, OLDER);
    const missing = new Map([['reg.local/acme-prod/api', new Set([OLD])]]);
    assert.equal((planQuarantine(input({ missing })).stageSteps[0] as { to: string }).to, OLDER);
  });

  it('removes the tag when nothing earlier may run, and says why', () => {
    const none = planQuarantine(input({ stages: [prod({ history: [BAD] })] }));
    assert.deepEqual(
      none.stageSteps.map((s) => [s.kind, s.tag, s.kind === 'untag' ? s.why : '']),
      [
        ['untag', 'prod', 'no digest was promoted into the stage before it'],
        ['untag', 'stable', 'no digest was promoted into the stage before it'],
      ],
    );
    const allHeld = planQuarantine(input({ held: new Set([BAD, OLD, OLDER]) }));
    assert.match((allHeld.stageSteps[0] as { why: string }).why, /held or gone/);
  });

  it('reports a tag it cannot remove on a registry that only deletes whole images, without deleting anything', () => {
    const plan = planQuarantine(
      input({
        untagSupported: false,
        stages: [prod({ history: [BAD] })],
        holdPresent: true,
        quarantineCopy: { repository: 'q', tag: 't', present: true },
      }),
    );
    assert.deepEqual(plan.stageSteps, []);
    assert.deepEqual(
      plan.unresolved.map((u) => u.tag),
      ['prod', 'stable'],
    );
    assert.match(plan.unresolved[0]!.why, /cannot remove a tag without deleting the image/);
    assert.equal(plan.complete, true);
    const rollback = planQuarantine(input({ untagSupported: false }));
    assert.deepEqual(
      rollback.stageSteps.map((s) => s.kind),
      ['rollback', 'rollback'],
      'a rollback needs no tag deletion',
    );
  });

  it('plans only what is left after a crash, and nothing once done', () => {
    const halfway = input({ holdPresent: true, stages: [prod({ tags: { prod: OLD, stable: BAD } })] });
    assert.deepEqual(
      planQuarantine(halfway).stageSteps.map((s) => s.tag),
      ['stable'],
    );
    assert.equal(planQuarantine(halfway).hold, false);
    const done = planQuarantine(
      input({
        holdPresent: true,
        stages: [prod({ tags: { prod: OLD, stable: OLD } })],
        quarantineCopy: { repository: 'q', tag: 't', present: true },
      }),
    );
    assert.deepEqual(done, { hold: false, stageSteps: [], unresolved: [], copy: undefined, complete: true });
  });

  it('never rolls back to the quarantined digest itself, even when history repeats it', () => {
    const plan = planQuarantine(input({ stages: [prod({ history: [BAD, BAD, OLD] })] }));
    assert.equal((plan.stageSteps[0] as { to: string }).to, OLD);
  });

  it('renders the quarantine repository template', () => {
    assert.equal(
      quarantineRepository('quarantine/{team}/{repo}', { team: 'acme', repo: 'api' }),
      'quarantine/acme/api',
    );
    assert.equal(
      quarantineRepository('{team}-quarantine/{repo}', { team: 'acme', repo: 'api' }),
      'acme-quarantine/api',
    );
  });
});
