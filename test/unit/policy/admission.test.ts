import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { admissionSettingsProblems } from '../../../src/admission/decide.ts';
import { MINIMAL, expectValid, lineOf, problemAt, problemsOf } from './fixtures.ts';

const withAdmission = (block: string) => `${MINIMAL}  admission:\n${block}`;

const ISSUE_SHAPE = withAdmission(
  '    namespaces:\n' +
    '      - { pattern: "*-prod", stage: prod, mode: enforce }\n' +
    '      - { pattern: "*-preprod", stage: preprod, mode: enforce }\n' +
    '      - { pattern: "*", stage: dev, mode: warn }\n' +
    '    exclude: [kube-system, sluice]\n' +
    '    mutate: false\n',
);

describe('policy admission section', () => {
  it('reads the shape of the issue and agrees with the decision module', () => {
    const policy = expectValid(ISSUE_SHAPE);
    assert.deepEqual(policy.admission, {
      namespaces: [
        { pattern: '*-prod', stage: 'prod', mode: 'enforce' },
        { pattern: '*-preprod', stage: 'preprod', mode: 'enforce' },
        { pattern: '*', stage: 'dev', mode: 'warn' },
      ],
      exclude: ['kube-system', 'sluice'],
      mutate: false,
    });
    assert.deepEqual(
      admissionSettingsProblems(
        policy.admission,
        policy.stages.map((s) => s.name),
      ),
      [],
    );
  });

  it('defaults to no governed namespace when the section is absent', () => {
    assert.deepEqual(expectValid(MINIMAL).admission, { namespaces: [], exclude: [], mutate: false });
  });

  it('names an unknown stage at its line', () => {
    const text = withAdmission('    namespaces:\n      - { pattern: "*-prod", stage: production, mode: enforce }\n');
    const problems = problemsOf(text);
    const p = problemAt(problems, 'spec.admission.namespaces[0].stage');
    assert.match(p.message, /production/);
    assert.equal(p.line, lineOf(text, 'production'));
    assert.equal(p.file, 'sluice.yaml');
    assert.ok(p.column > 1);
  });

  it('rejects an unknown mode, a pattern with capitals and a pattern in exclude', () => {
    const text = withAdmission(
      '    namespaces:\n' + '      - { pattern: "Team-*", stage: prod, mode: block }\n' + '    exclude: ["kube-*"]\n',
    );
    const problems = problemsOf(text);
    assert.match(problemAt(problems, 'spec.admission.namespaces[0].mode').message, /enforce/);
    assert.match(problemAt(problems, 'spec.admission.namespaces[0].pattern').message, /wildcards/);
    const ex = problemAt(problems, 'spec.admission.exclude[0]');
    assert.match(ex.message, /no patterns/);
    assert.equal(ex.line, lineOf(text, 'exclude'));
  });

  it('rejects rules that can never match: a repeated pattern and rules after the catch-all', () => {
    const text = withAdmission(
      '    namespaces:\n' +
        '      - { pattern: "*-prod", stage: prod, mode: enforce }\n' +
        '      - { pattern: "*-prod", stage: preprod, mode: enforce }\n' +
        '      - { pattern: "*", stage: dev, mode: warn }\n' +
        '      - { pattern: "team-*", stage: dev, mode: warn }\n',
    );
    const problems = problemsOf(text);
    const repeat = problemAt(problems, 'spec.admission.namespaces[1]');
    assert.match(repeat.message, /repeats the pattern of admission.namespaces\[0\]/);
    assert.equal(repeat.line, lineOf(text, 'stage: preprod'));
    const after = problemAt(problems, 'spec.admission.namespaces[3]');
    assert.match(after.message, /after the catch-all admission.namespaces\[2\]/);
  });

  it('requires a mode on every rule (the mode is what rollout depends on)', () => {
    const problems = problemsOf(withAdmission('    namespaces:\n      - { pattern: "*-prod", stage: prod }\n'));
    assert.ok(problems.some((p) => p.path.startsWith('spec.admission.namespaces[0]') && /mode/.test(p.message)));
  });
});
