import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { defaultPolicy, stageByName, type Stage } from '../../../src/policy/index.ts';
import {
  approvalIneligibility,
  evaluateGate,
  type EvidenceRecord,
  type GateInput,
} from '../../../src/promotion/gate.ts';

const policy = defaultPolicy();
const A = 'sha256:' + 'a'.repeat(64);
const B = 'sha256:' + 'b'.repeat(64);
const H = 3_600_000;
const NOW = Date.UTC(2026, 10, 21, 12);
let n = 0;

function ev(type: string, over: Partial<EvidenceRecord> = {}): EvidenceRecord {
  n++;
  return {
    id: `e${String(n).padStart(4, '0')}`,
    digest: A,
    type,
    status: 'passed',
    stage: null,
    recordedBy: 'ci',
    recordedRoles: ['developer'],
    recordedAt: NOW - H,
    url: null,
    details: {},
    ...over,
  };
}

function input(stage: string, evidence: EvidenceRecord[], over: Partial<GateInput> = {}): GateInput {
  const s = stageByName(policy, stage)!;
  return {
    policy,
    stage: s,
    digest: A,
    now: NOW,
    evidence,
    changeAuthors: ['carol'],
    requiresPreviousStage: !!s.from,
    enteredPreviousStageAt: NOW - 48 * H,
    holds: [],
    ...over,
  };
}

function statusOf(result: ReturnType<typeof evaluateGate>, requirement: string): string | undefined {
  return result.requirements.find((r) => r.requirement === requirement)?.status;
}

describe('dev gate', () => {
  it('passes with build, unit-tests and code-quality for this digest', () => {
    const r = evaluateGate(input('dev', [ev('build'), ev('unit-tests'), ev('code-quality')]));
    assert.equal(r.passed, true);
    assert.deepEqual(
      r.requirements.map((x) => x.requirement),
      ['build', 'unit-tests', 'code-quality'],
    );
  });
  it('names what is missing', () => {
    const r = evaluateGate(input('dev', [ev('build')]));
    assert.equal(r.passed, false);
    assert.equal(statusOf(r, 'unit-tests'), 'missing');
    assert.match(r.requirements.find((x) => x.requirement === 'code-quality')!.detail, /no code-quality evidence/);
  });
  it('never counts evidence recorded for another digest, even with the same tag', () => {
    const r = evaluateGate(
      input('dev', [ev('build', { digest: B }), ev('unit-tests', { digest: B }), ev('code-quality', { digest: B })]),
    );
    assert.equal(r.passed, false);
    assert.ok(r.requirements.every((x) => x.status === 'missing'));
  });
  it('a newer failure overrides an older pass, and a newer pass an older failure', () => {
    const older = ev('unit-tests', { recordedAt: NOW - 2 * H });
    const newerFail = ev('unit-tests', { status: 'failed', recordedAt: NOW - H });
    assert.equal(statusOf(evaluateGate(input('dev', [older, newerFail])), 'unit-tests'), 'failed');
    const newerPass = ev('unit-tests', { recordedAt: NOW - 10 });
    assert.equal(statusOf(evaluateGate(input('dev', [older, newerFail, newerPass])), 'unit-tests'), 'passed');
  });
});

describe('staging gate: scan thresholds and evidence age', () => {
  const tests = () => [ev('integration-tests'), ev('performance-tests')];
  it('passes a scan with zero critical and high', () => {
    const r = evaluateGate(
      input('staging', [...tests(), ev('scan', { details: { counts: { critical: 0, high: 0, medium: 4 } } })]),
    );
    assert.equal(r.passed, true, JSON.stringify(r.requirements));
  });
  it('fails a scan with a high finding and says which severity', () => {
    const r = evaluateGate(
      input('staging', [...tests(), ev('scan', { details: { counts: { critical: 0, high: 2 } } })]),
    );
    assert.equal(statusOf(r, 'scan'), 'failed');
    assert.match(r.requirements.find((x) => x.requirement === 'scan')!.detail, /high 2 > 0/);
  });
  it('a scan older than the weekly rescan no longer counts', () => {
    const r = evaluateGate(
      input('staging', [
        ...tests(),
        ev('scan', { recordedAt: NOW - 8 * 24 * H, details: { counts: { critical: 0, high: 0 } } }),
      ]),
    );
    assert.equal(statusOf(r, 'scan'), 'expired');
  });
  it('a scan without counts cannot be judged', () => {
    assert.equal(statusOf(evaluateGate(input('staging', [...tests(), ev('scan')])), 'scan'), 'failed');
  });
  it('requires having reached the previous stage', () => {
    const r = evaluateGate(
      input('staging', [...tests(), ev('scan', { details: { counts: {} } })], { enteredPreviousStageAt: undefined }),
    );
    assert.equal(statusOf(r, 'reached dev'), 'missing');
  });
});

describe('preprod gate: approvals', () => {
  const facts = () => [ev('change-approval'), ev('smoke-tests'), ev('rollback-plan')];
  const qa = (by: string, over: Partial<EvidenceRecord> = {}) =>
    ev('qa-approval', { recordedBy: by, recordedRoles: ['qa'], stage: 'preprod', ...over });
  it('counts an approval by a qa member', () => {
    assert.equal(evaluateGate(input('preprod', [...facts(), qa('bob')])).passed, true);
  });
  it('ignores approvals by someone without the role, and says why', () => {
    const r = evaluateGate(input('preprod', [...facts(), qa('alice', { recordedRoles: ['developer'] })]));
    assert.equal(statusOf(r, 'qa-approval'), 'missing');
    assert.match(r.requirements.find((x) => x.requirement === 'qa-approval')!.detail, /alice does not hold role qa/);
  });
  it('four eyes: the requester cannot approve their own change', () => {
    const r = evaluateGate(
      input('preprod', [...facts(), qa('carol', { recordedRoles: ['qa'] })], { changeAuthors: ['carol'] }),
    );
    assert.equal(statusOf(r, 'qa-approval'), 'missing');
    assert.match(r.requirements.find((x) => x.requirement === 'qa-approval')!.detail, /own change/);
  });
  it('approvals for another stage do not count', () => {
    assert.equal(
      statusOf(evaluateGate(input('preprod', [...facts(), qa('bob', { stage: 'prod' })])), 'qa-approval'),
      'missing',
    );
  });
  it('a quorum and an approver group are enforced; a rejection fails', () => {
    const s = stageByName(policy, 'preprod')!;
    const strict: Stage = {
      ...s,
      gate: {
        ...s.gate,
        approvals: [{ type: 'qa-approval', role: 'qa', quorum: 2, group: ['bob', 'dan', 'eve'], fourEyes: true }],
      },
    };
    const base = { ...input('preprod', []), stage: strict };
    const two = evaluateGate({ ...base, evidence: [...facts(), qa('bob'), qa('dan')] });
    assert.equal(two.passed, true);
    const oneAndOutsider = evaluateGate({ ...base, evidence: [...facts(), qa('bob'), qa('mallory')] });
    assert.match(
      oneAndOutsider.requirements.find((x) => x.requirement === 'qa-approval')!.detail,
      /1\/2 .*mallory is not in the approver group/,
    );
    const sameTwice = evaluateGate({ ...base, evidence: [...facts(), qa('bob'), qa('bob')] });
    assert.equal(statusOf(sameTwice, 'qa-approval'), 'missing', 'one approver counts once');
    const rejected = evaluateGate({
      ...base,
      evidence: [...facts(), qa('bob'), qa('dan'), qa('eve', { status: 'failed', recordedAt: NOW })],
    });
    assert.equal(statusOf(rejected, 'qa-approval'), 'failed');
  });
});

describe('approvalIneligibility: the one rule the gate and `sluice approve` share', () => {
  const approval = { type: 'qa-approval', role: 'qa' as const, quorum: 1, fourEyes: true };
  it('counts a qa member who had no hand in the change', () => {
    assert.equal(approvalIneligibility(approval, { recordedBy: 'bob', recordedRoles: ['qa'] }, ['carol']), undefined);
  });
  it('names the rule that excludes an approver', () => {
    assert.equal(
      approvalIneligibility(approval, { recordedBy: 'frank', recordedRoles: ['platform-admin'] }, [])?.rule,
      'role',
    );
    assert.equal(
      approvalIneligibility({ ...approval, group: ['bob'] }, { recordedBy: 'dan', recordedRoles: ['qa'] }, [])?.rule,
      'group',
    );
    assert.equal(
      approvalIneligibility(approval, { recordedBy: 'carol', recordedRoles: ['qa'] }, ['carol'])?.rule,
      'four-eyes',
    );
    assert.equal(
      approvalIneligibility({ ...approval, fourEyes: false }, { recordedBy: 'carol', recordedRoles: ['qa'] }, [
        'carol',
      ]),
      undefined,
    );
  });
});

describe('requirement labels', () => {
  it('a first stage with a soak names "the previous stage", never "undefined" or an empty name', () => {
    const dev = stageByName(policy, 'dev')!;
    const soaking: Stage = { ...dev, gate: { ...dev.gate, soak: H } };
    const r = evaluateGate({ ...input('dev', [ev('build'), ev('unit-tests'), ev('code-quality')]), stage: soaking });
    for (const x of r.requirements) {
      assert.match(x.requirement, /^\S+( \S+)*$/, `requirement "${x.requirement}"`);
      assert.doesNotMatch(x.detail, /undefined| $/, `detail "${x.detail}"`);
    }
    assert.match(r.requirements.find((x) => x.requirement === 'soak')!.detail, /in the previous stage/);
  });
});

describe('prod gate: signature, soak, holds', () => {
  const facts = () => [ev('maintenance-window'), ev('monitoring-alerts'), ev('rollback-verified')];
  it('uses the verified signature result', () => {
    assert.equal(
      evaluateGate(input('prod', facts(), { signature: { valid: true, reason: 'ok', keyIds: ['abc'] } })).passed,
      true,
    );
    const bad = evaluateGate(
      input('prod', facts(), { signature: { valid: false, reason: 'no signatures found', keyIds: [] } }),
    );
    assert.equal(statusOf(bad, 'signature'), 'failed');
    assert.match(bad.requirements.find((x) => x.requirement === 'signature')!.detail, /no signatures found/);
  });
  it('soak time in the previous stage', () => {
    const s = stageByName(policy, 'prod')!;
    const soaked: Stage = { ...s, gate: { ...s.gate, soak: 24 * H } };
    const base = {
      ...input('prod', facts(), { signature: { valid: true, reason: '', keyIds: ['k'] } }),
      stage: soaked,
    };
    assert.equal(evaluateGate({ ...base, enteredPreviousStageAt: NOW - 25 * H }).passed, true);
    const young = evaluateGate({ ...base, enteredPreviousStageAt: NOW - 3 * H });
    assert.equal(statusOf(young, 'soak'), 'failed');
    assert.match(young.requirements.find((x) => x.requirement === 'soak')!.detail, /3h of 1d in preprod/);
  });
  it('a quarantined digest never passes', () => {
    const r = evaluateGate(
      input('prod', facts(), {
        signature: { valid: true, reason: '', keyIds: ['k'] },
        holds: [{ kind: 'quarantine', reason: 'CVE-2026-1 critical' }],
      }),
    );
    assert.equal(r.passed, false);
    assert.equal(statusOf(r, 'quarantine'), 'failed');
  });
});

describe('properties', () => {
  it('the verdict is the conjunction of requirements and does not depend on evidence order', () => {
    const types = ['build', 'unit-tests', 'code-quality'];
    const arb = fc.array(
      fc.record({
        type: fc.constantFrom(...types),
        status: fc.constantFrom('passed' as const, 'failed' as const),
        digest: fc.constantFrom(A, B),
        at: fc.integer({ min: 0, max: 1000 }),
      }),
      { maxLength: 12 },
    );
    fc.assert(
      fc.property(arb, fc.integer(), (items, seed) => {
        const evidence = items.map((x, i) =>
          ev(x.type, { id: `p${i}`, status: x.status, digest: x.digest, recordedAt: NOW - x.at * 1000 }),
        );
        const shuffled = [...evidence].sort(
          (a, b) => ((a.id.charCodeAt(1) * seed) % 7) - ((b.id.charCodeAt(1) * seed) % 7),
        );
        const r1 = evaluateGate(input('dev', evidence));
        const r2 = evaluateGate(input('dev', shuffled));
        assert.deepEqual(r1, r2);
        assert.equal(
          r1.passed,
          r1.requirements.every((x) => x.status === 'passed'),
        );
        // Only digest A's evidence can make it pass.
        if (r1.passed)
          for (const t of types)
            assert.ok(evidence.some((e) => e.digest === A && e.type === t && e.status === 'passed'));
      }),
    );
  });
});
