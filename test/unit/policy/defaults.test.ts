import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseDocument } from 'yaml';
import {
  BUILTIN_EVIDENCE_NAMES,
  ROLES,
  defaultPolicy,
  parsePolicy,
  renderInitFile,
  type LifecyclePolicy,
} from '../../../src/policy/index.ts';
import { MINIMAL, expectValid } from './fixtures.ts';

const H = 3_600_000;
const D = 24 * H;

describe('renderInitFile', () => {
  it('parses back to exactly defaultPolicy()', () => {
    assert.deepStrictEqual(parsePolicy(renderInitFile(), 'sluice.yaml'), defaultPolicy());
  });

  it('is commented, and says how to point it at Quay or Harbor', () => {
    const text = renderInitFile();
    const comments = text.split('\n').filter((l) => l.trim().startsWith('#'));
    assert.ok(comments.length > 40, `only ${comments.length} comment lines`);
    assert.match(text, /kind: quay/);
    assert.match(text, /kind: harbor/);
    assert.match(text, /caFile:/);
    assert.match(text, /env:NAME or file:PATH/);
  });

  it('holds no secret values, only references', () => {
    const doc = parseDocument(renderInitFile());
    const creds = JSON.stringify(doc.toJS()).match(/"credentials":"[^"]*"/g) ?? [];
    for (const c of creds) assert.match(c, /"credentials":"(env|file):/);
  });

  it('has one example member per role, so every approval path can be tried', () => {
    const team = defaultPolicy().teams[0]!;
    assert.deepEqual(team.members.flatMap((m) => m.roles).sort(), [...ROLES].sort());
  });
});

describe('defaultPolicy', () => {
  const p: LifecyclePolicy = defaultPolicy();
  const stage = (name: string) => p.stages.find((s) => s.name === name)!;

  it('has the four stages of the brief, in promotion order', () => {
    assert.deepEqual(
      p.stages.map((s) => [s.name, s.from, s.trigger, s.responsibleRole]),
      [
        ['dev', undefined, 'automatic', 'developer'],
        ['staging', 'dev', 'automatic', 'qa'],
        ['preprod', 'staging', 'manual', 'release-manager'],
        ['prod', 'preprod', 'scheduled', 'operations'],
      ],
    );
    assert.ok(p.stages.every((s) => s.repository === '{team}-{stage}/{repo}'));
  });

  it('gates each stage with the evidence of the brief', () => {
    assert.deepEqual(stage('dev').gate.require, ['build', 'unit-tests', 'code-quality']);
    assert.deepEqual(stage('staging').gate.require, ['scan', 'integration-tests', 'performance-tests']);
    assert.deepEqual(stage('staging').gate.scan?.maxFindings, { critical: 0, high: 0 });
    assert.deepEqual(stage('preprod').gate.require, ['qa-approval', 'change-approval', 'smoke-tests', 'rollback-plan']);
    assert.deepEqual(stage('preprod').gate.approvals, [{ type: 'qa-approval', role: 'qa', quorum: 1, fourEyes: true }]);
    assert.deepEqual(stage('prod').gate.require, [
      'maintenance-window',
      'monitoring-alerts',
      'rollback-verified',
      'signature',
    ]);
    assert.equal(stage('prod').gate.signature.required, true);
    for (const s of p.stages) for (const r of s.gate.require) assert.ok(BUILTIN_EVIDENCE_NAMES.includes(r as never), r);
  });

  it('retains 30 d / 90 d / 180 d / 2 y, automatic / notice / manual / scheduled', () => {
    assert.deepEqual(
      p.stages.map((s) => [s.retention.mode, s.retention.maxAge, s.retention.keepLast]),
      [
        ['automatic', 30 * D, 10],
        ['notice', 90 * D, 10],
        ['manual', 180 * D, 10],
        ['scheduled', 730 * D, 10],
      ],
    );
    assert.equal(stage('prod').retention.trash.enabled, true);
  });

  it('scans on push / weekly / weekly / daily', () => {
    assert.deepEqual(
      p.stages.map((s) => s.scan.schedule),
      ['onPush', 'weekly', 'weekly', 'daily'],
    );
  });

  it('has the SLA table, quarantine and required labels of the brief', () => {
    assert.deepEqual(p.vulnerabilities.sla, {
      critical: 24 * H,
      high: 7 * D,
      medium: 30 * D,
      low: 'nextCycle',
      negligible: 'nextCycle',
      unknown: 30 * D,
    });
    assert.deepEqual(p.vulnerabilities.quarantine, {
      enabled: true,
      onSeverity: 'critical',
      tag: 'quarantine',
      removeFrom: ['prod'],
    });
    assert.deepEqual(p.requiredLabels, ['version', 'build-date', 'git-commit', 'maintainer', 'security-scan']);
    assert.match('1.0.0-1', new RegExp(p.naming.versionTag));
    assert.doesNotMatch('1.0.0', new RegExp(p.naming.versionTag));
  });

  it('works out of the box with a local registry', () => {
    assert.deepEqual(
      p.registries.map((r) => [r.name, r.url, r.kind, r.default, r.referrers]),
      [['local', 'http://127.0.0.1:5000', 'distribution', true, 'tags']],
    );
  });

  it('returns a fresh object each time', () => {
    const a = defaultPolicy();
    a.stages[0]!.gate.require.push('x');
    assert.deepEqual(defaultPolicy().stages[0]!.gate.require, ['build', 'unit-tests', 'code-quality']);
  });
});

describe('defaults in a short file', () => {
  it('gives well-known stages the defaults of the brief', () => {
    const p = expectValid(MINIMAL);
    const d = defaultPolicy();
    for (const [i, s] of p.stages.entries()) {
      const want = d.stages[i]!;
      assert.deepEqual(s.gate, want.gate, s.name);
      assert.deepEqual(s.retention, want.retention, s.name);
      assert.deepEqual(s.scan, want.scan, s.name);
      assert.equal(s.immutableTags, want.immutableTags, s.name);
    }
    // The brief's window, in the policy's time zone (UTC unless set).
    assert.deepEqual(p.stages[3]!.maintenanceWindows, [{ cron: '0 22 * * 6', duration: 4 * H, timeZone: 'UTC' }]);
    assert.deepEqual(
      p.categories.map((c) => c.name),
      ['base', 'runtime', 'application', 'tool'],
    );
    assert.equal(p.teams[0]!.category, 'application');
  });

  it('merges a partial retention rule by rule, keeping the stage defaults', () => {
    const p = expectValid(MINIMAL.replace('    - name: dev\n', '    - name: dev\n      retention: { keepLast: 5 }\n'));
    assert.equal(p.stages[0]!.retention.keepLast, 5);
    assert.equal(p.stages[0]!.retention.maxAge, 30 * D);
    assert.equal(p.stages[0]!.retention.mode, 'automatic');
  });

  it('drops mode-specific defaults when the mode changes', () => {
    const p = expectValid(
      MINIMAL.replace('    - name: staging\n', '    - name: staging\n      retention: { mode: automatic }\n'),
    );
    assert.equal(p.stages[1]!.retention.mode, 'automatic');
    assert.equal(p.stages[1]!.retention.noticeDays, undefined);
  });

  it('replaces a well-known gate as a whole when one is given', () => {
    const p = expectValid(
      MINIMAL.replace('    - name: prod\n', '    - name: prod\n      gate: { require: [rollback-verified] }\n'),
    );
    assert.deepEqual(p.stages[3]!.gate.require, ['rollback-verified']);
    assert.equal(p.stages[3]!.gate.signature.required, false);
  });

  it('defaults custom stages conservatively', () => {
    const p = expectValid(
      MINIMAL.replace(
        '    - name: preprod\n',
        '    - name: uat\n      trigger: manual\n      responsibleRole: qa\n      gate: { require: [smoke-tests] }\n    - name: preprod\n',
      ),
    );
    const uat = p.stages[2]!;
    assert.equal(uat.from, 'staging');
    assert.equal(uat.stageTag, 'uat');
    assert.equal(uat.immutableTags, false);
    assert.equal(uat.retention.mode, 'manual');
    assert.equal(uat.retention.maxAge, undefined);
    assert.equal(uat.scan.schedule, 'weekly');
    assert.equal(p.stages[3]!.from, 'uat');
  });

  it('derives scan evidence age from a cron scan schedule', () => {
    const p = expectValid(
      MINIMAL.replace('    - name: staging\n', '    - name: staging\n      scan: { schedule: "0 6 * * mon,thu" }\n'),
    );
    const s = p.stages[1]!;
    assert.equal(s.scan.cron, '0 6 * * mon,thu');
    // Monday → Thursday is 3 days, Thursday → Monday 4: evidence must survive the longer gap.
    assert.equal(s.scan.interval, 4 * D);
    assert.equal(s.gate.evidenceMaxAge.scan, 4 * D);
  });

  it('picks referrers by registry kind unless set', () => {
    const p = expectValid(
      MINIMAL.replace(
        '    - { name: local, url: "http://127.0.0.1:5000", kind: distribution }',
        '    - { name: local, url: "http://127.0.0.1:5000", kind: distribution, default: true }\n    - { name: q, url: "https://quay.example.com:443", kind: quay }\n    - { name: h, url: "https://harbor.example.com", kind: harbor, referrers: api }',
      ),
    );
    assert.deepEqual(
      p.registries.map((r) => [r.name, r.referrers, r.default, r.host]),
      [
        ['local', 'tags', true, '127.0.0.1:5000'],
        ['q', 'auto', false, 'quay.example.com'],
        ['h', 'api', false, 'harbor.example.com'],
      ],
    );
  });
});

describe('docs/policy.md', () => {
  it('has an example that is a valid policy', () => {
    const md = readFileSync(new URL('../../../docs/policy.md', import.meta.url), 'utf8');
    const example = /```yaml\n([\s\S]*?)```/.exec(md)?.[1];
    assert.ok(example);
    const p = expectValid(example);
    assert.equal(p.stages[3]!.dr?.registry, 'dr');
    assert.equal(p.stages[3]!.maintenanceWindows[0]!.timeZone, 'Europe/Berlin');
  });
});
