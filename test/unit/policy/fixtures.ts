/** Small policy documents for tests, and helpers to look at the problems they produce. */
import assert from 'node:assert/strict';
import { validatePolicyText, type Problem, type ValidationResult } from '../../../src/policy/index.ts';

/** The shortest useful policy: the well-known stages fill in everything else. */
export const MINIMAL = `apiVersion: sluice.dev/v1alpha1
kind: LifecyclePolicy
spec:
  registries:
    - { name: local, url: "http://127.0.0.1:5000", kind: distribution }
  teams:
    - { name: acme, contact: acme@example.com }
  stages:
    - name: dev
    - name: staging
    - name: preprod
    - name: prod
`;

/** MINIMAL with `stages:` replaced by the given block (indented as under spec). */
export function withStages(stages: string, extraSpec = ''): string {
  return MINIMAL.replace(/ {2}stages:\n[\s\S]*$/, `  stages:\n${stages}${extraSpec}`);
}

export function validate(text: string): ValidationResult {
  return validatePolicyText(text, 'sluice.yaml');
}

export function problemsOf(text: string): Problem[] {
  const r = validate(text);
  assert.equal(r.ok, false, 'expected the policy to be rejected');
  return r.problems;
}

export function expectValid(text: string): NonNullable<ValidationResult['policy']> {
  const r = validate(text);
  assert.deepEqual(r.problems, [], 'expected no problems');
  assert.ok(r.policy);
  return r.policy;
}

/** The one problem at `path`, failing with the full list when there is none or several. */
export function problemAt(problems: Problem[], path: string): Problem {
  const found = problems.filter((p) => p.path === path);
  assert.equal(found.length, 1, `expected one problem at ${path}, got:\n${JSON.stringify(problems, null, 2)}`);
  return found[0]!;
}

/** 1-based line of the first line containing `needle`. */
export function lineOf(text: string, needle: string, from = 0): number {
  const i = text.indexOf(needle, from);
  assert.ok(i >= 0, `${needle} not in text`);
  return text.slice(0, i).split('\n').length;
}
