import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isSluiceError } from '../../../src/errors.ts';
import { loadPolicy, parsePolicy, validatePolicyFile, type Problem } from '../../../src/policy/index.ts';
import { MINIMAL, expectValid, lineOf, problemAt, problemsOf, withStages } from './fixtures.ts';

const DAY = 24 * 3_600_000;

describe('YAML itself', () => {
  it('reports a syntax error with its position and stops there', () => {
    const text = 'apiVersion: sluice.dev/v1alpha1\nkind: LifecyclePolicy\nspec:\n  stages: [\n';
    const problems = problemsOf(text);
    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.line, 5);
    assert.equal(problems[0]!.expected, 'valid YAML');
    assert.match(problems[0]!.message, /flow sequence/i);
  });

  it('reports a bad indentation where it is', () => {
    const text =
      'apiVersion: sluice.dev/v1alpha1\nkind: LifecyclePolicy\nspec:\n  registries:\n  - name: a\n     url: x\n';
    const [p] = problemsOf(text);
    // The parser notices at the value that swallowed the over-indented line.
    assert.equal(p!.line, 5);
    assert.equal(p!.column, 11);
    assert.match(p!.message, /not allowed in compact mappings/);
  });

  it('reports duplicate keys, and still checks the rest of the document', () => {
    const text = MINIMAL.replace('kind: LifecyclePolicy\n', 'kind: LifecyclePolicy\nkind: LifecyclePolicy\n').replace(
      'contact: acme@example.com',
      'contact: nope',
    );
    const problems = problemsOf(text);
    const dup = problems.find((p) => p.expected === 'unique keys');
    assert.ok(dup);
    assert.equal(dup.line, 3);
    assert.equal(dup.column, 1);
    assert.match(dup.message, /duplicate key `kind`/);
    assert.match(problemAt(problems, 'spec.teams[0].contact').message, /expected an email address, found "nope"/);
  });

  it('refuses an alias bomb without expanding it', () => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      const cur = String.fromCharCode(97 + i);
      levels.push(`${cur}: &${cur} [${Array(10).fill(`*${prev}`).join(', ')}]`);
    }
    const started = process.hrtime.bigint();
    const problems = problemsOf(levels.join('\n') + '\n');
    // 10^9 nodes if expanded; refusing must be immediate.
    assert.ok(process.hrtime.bigint() - started < 2_000_000_000n);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!.message, /alias bomb/);
    assert.equal(problems[0]!.line, 5); // e: 111111 nodes, the first level past 100000
  });

  it('names the nesting limit with file:line:column for a document 20,000 levels deep', () => {
    const deep = 20_000;
    for (const [kind, text, line, column] of [
      ['flow sequences', `${MINIMAL}extra: ${'['.repeat(deep)}${']'.repeat(deep)}\n`, 13, 71],
      ['flow mappings', `${MINIMAL}extra: ${'{a: '.repeat(deep)}1${'}'.repeat(deep)}\n`, 13, 260],
      ['block sequences', `${MINIMAL}extra:\n${'- '.repeat(deep)}x\n`, 14, 127],
      [
        'block mappings',
        `${MINIMAL}${Array.from({ length: 200 }, (_, i) => `${' '.repeat(i)}k:`).join('\n')} 1\n`,
        77,
        65,
      ],
      ['a bare document', '['.repeat(1024 * 1024 - 1), 1, 64],
    ] as const) {
      const started = performance.now();
      const problems = problemsOf(text);
      assert.ok(performance.now() - started < 1000, `${kind}: refused at once`);
      assert.equal(problems.length, 1, `${kind}: ${JSON.stringify(problems)}`);
      const p = problems[0]!;
      assert.equal(p.message, 'nesting deeper than 64 levels (the limit for a policy file)', kind);
      assert.deepEqual([p.file, p.line, p.column], ['sluice.yaml', line, column], kind);
    }
  });

  it('counts no nesting inside quoted scalars, comments and block scalars', () => {
    const brackets = '['.repeat(100);
    const policy = expectValid(
      MINIMAL.replace(
        'kind: LifecyclePolicy',
        `kind: LifecyclePolicy # ${brackets}\nmetadata:\n  annotations:\n    a: '${brackets}'\n    b: "${brackets}\\"${brackets}"\n    c: |\n      ${brackets}\n      - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - x\n    d: x${brackets}`,
      ),
    );
    assert.ok(policy);
  });

  it('refuses an alias that contains itself', () => {
    const [p] = problemsOf('a: &loop [1, *loop]\n');
    assert.match(p!.message, /alias \*loop refers to the node that contains it/);
  });

  it('accepts ordinary anchors and aliases', () => {
    const policy = expectValid(
      withStages(`    - name: dev
      retention: &short { maxAge: 10d }
    - name: staging
      retention: *short
`),
    );
    assert.equal(policy.stages[1]!.retention.maxAge, 10 * DAY);
  });

  it('rejects an empty file', () => {
    const [p] = problemsOf('# nothing here\n');
    assert.match(p!.message, /the file is empty/);
  });

  it('rejects unresolved custom tags', () => {
    const problems = problemsOf(MINIMAL.replace('name: local,', 'name: !vault local,'));
    assert.ok(problems.some((p) => /Unresolved tag/.test(p.message)));
  });
});

describe('document envelope', () => {
  it('names the supported apiVersion and kind', () => {
    const problems = problemsOf(
      MINIMAL.replace('sluice.dev/v1alpha1', 'sluice.dev/v1').replace('kind: LifecyclePolicy', 'kind: Policy'),
    );
    assert.match(
      problemAt(problems, 'apiVersion').message,
      /expected apiVersion sluice\.dev\/v1alpha1, found "sluice\.dev\/v1"/,
    );
    assert.match(problemAt(problems, 'kind').message, /expected kind LifecyclePolicy, found "Policy"/);
  });

  it('loads a LifecyclePolicy among other documents only if it is the only one', () => {
    const other = 'apiVersion: v1\nkind: ConfigMap\n';
    const problems = problemsOf(`${other}---\n${MINIMAL}`);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!.message, /unexpected document \(kind: ConfigMap\)/);
    const two = problemsOf(`${MINIMAL}---\n${MINIMAL}`);
    assert.match(two[0]!.message, /exactly one LifecyclePolicy document, found 2/);
    assert.equal(two[0]!.line, lineOf(`${MINIMAL}---\n${MINIMAL}`, 'apiVersion', 10));
  });

  it('loads a kind: List with the policy as its item, with paths under items', () => {
    const indented = MINIMAL.split('\n')
      .map((l, i) => (i === 0 ? `  - ${l}` : `    ${l}`))
      .join('\n');
    expectValid(`apiVersion: v1\nkind: List\nitems:\n${indented}`);
    const bad = problemsOf(`apiVersion: v1\nkind: List\nitems:\n${indented.replace('acme@example.com', 'nope')}`);
    assert.ok(problemAt(bad, 'items[0].spec.teams[0].contact'));
  });
});

describe("names that Object.prototype has are no policy's", () => {
  const PROTOTYPE_NAMES = ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf'];

  it('reports constructor, toString and __proto__ as unknown keys, at every level', () => {
    for (const key of PROTOTYPE_NAMES) {
      const text = MINIMAL.replace('kind: LifecyclePolicy', `kind: LifecyclePolicy\n${key}: 1`).replace(
        '  teams:',
        `  ${key}: 2\n  teams:`,
      );
      const problems = problemsOf(text);
      assert.match(problemAt(problems, key).message, new RegExp(`^unknown key \`${key}\``), key);
      assert.equal(problemAt(problems, key).line, 3);
      assert.match(problemAt(problems, `spec.${key}`).message, new RegExp(`^unknown key \`${key}\``), key);
    }
  });

  it('reports them as unknown keys inside a stage, its retention and gate, and a registry, with file:line:column', () => {
    for (const key of PROTOTYPE_NAMES) {
      const text = withStages(`    - name: dev
      ${key}: 1
      retention:
        ${key}: 2
      gate:
        require: [build]
        ${key}: 3
`).replace('kind: distribution }', `kind: distribution, ${key}: 4 }`);
      const problems = problemsOf(text);
      for (const [path, needle] of [
        [`spec.stages[0].${key}`, `      ${key}: 1`],
        [`spec.stages[0].retention.${key}`, `        ${key}: 2`],
        [`spec.stages[0].gate.${key}`, `        ${key}: 3`],
        [`spec.registries[0].${key}`, `, ${key}: 4`],
      ] as const) {
        const p = problemAt(problems, path);
        assert.match(p.message, new RegExp(`^unknown key \`${key}\``), path);
        const line = lineOf(text, needle);
        const column = text.split('\n')[line - 1]!.indexOf(key) + 1;
        assert.deepEqual([p.file, p.line, p.column], ['sluice.yaml', line, column], path);
      }
      assert.equal(problems.length, 4, `${key}: ${JSON.stringify(problems)}`);
    }
  });

  it('takes a stage named constructor or toString as an ordinary stage, not a well-known one', () => {
    for (const name of ['constructor']) {
      const problems = problemsOf(withStages(`    - name: dev\n    - name: ${name}\n`));
      for (const key of ['trigger', 'responsibleRole', 'gate']) {
        assert.ok(
          problems.some(
            (p) =>
              p.message.includes(`stage \`${name}\` is not one of the well-known stages`) &&
              p.message.includes(`\`${key}\``),
          ),
          `${name}/${key}: ${JSON.stringify(problems)}`,
        );
      }
    }
    const policy = expectValid(
      withStages(`    - name: dev
    - name: constructor
      trigger: manual
      responsibleRole: qa
      gate: { require: [build] }
`),
    );
    const stage = policy.stages[1]!;
    assert.equal(stage.name, 'constructor');
    assert.equal(stage.retention.mode, 'manual', 'no well-known retention either');
    assert.equal(typeof stage.gate.evidenceMaxAge.build, 'undefined');
  });

  it('gives an evidence type named constructor no maximum age it does not have', () => {
    const policy = expectValid(
      withStages(
        `    - name: dev
      gate: { require: [constructor] }
`,
        `  evidenceTypes:\n    - { name: constructor, description: a custom check }\n`,
      ),
    );
    assert.deepEqual(Object.keys(policy.stages[0]!.gate.evidenceMaxAge), []);
  });

  it('keeps a label key named __proto__ as a key, and reports it where it does not belong', () => {
    const policy = expectValid(
      MINIMAL.replace(
        'kind: LifecyclePolicy',
        'kind: LifecyclePolicy\nmetadata:\n  labels: { constructor: a, toString: b }',
      ),
    );
    assert.deepEqual(Object.entries(policy.metadata.labels), [
      ['constructor', 'a'],
      ['toString', 'b'],
    ]);
    const problems = problemsOf(
      withStages(`    - name: dev\n      gate: { require: [build], evidenceMaxAge: { __proto__: 1d } }\n`),
    );
    assert.match(problemAt(problems, 'spec.stages[0].gate.evidenceMaxAge').message, /evidenceMaxAge for `__proto__`/);
  });
});

describe('types and keys', () => {
  it('says what was expected and what was found', () => {
    const text = MINIMAL.replace('  teams:', '  timeZone: 1\n  requiredLabels: version\n  teams:').replace(
      'kind: distribution }',
      'kind: distribution, concurrency: "8", insecure: "yes" }',
    );
    const problems = problemsOf(text);
    const tz = problemAt(problems, 'spec.timeZone');
    assert.equal(tz.found, 'number 1');
    assert.match(tz.expected, /IANA time zone/);
    assert.equal(problemAt(problems, 'spec.requiredLabels').found, '"version"');
    assert.match(problemAt(problems, 'spec.requiredLabels').expected, /^a list/);
    assert.equal(problemAt(problems, 'spec.registries[0].concurrency').expected, 'an integer from 1 to 256');
    assert.equal(problemAt(problems, 'spec.registries[0].concurrency').found, '"8"');
    assert.equal(problemAt(problems, 'spec.registries[0].insecure').expected, 'true or false');
  });

  it('rejects unknown keys and suggests the closest known one', () => {
    const text = withStages(`    - name: dev
      retnetion: { maxAge: 30d }
      gate: { require: [build], sioak: 1h }
`);
    const problems = problemsOf(text);
    const p = problemAt(problems, 'spec.stages[0].retnetion');
    assert.equal(p.message, 'unknown key `retnetion`; did you mean `retention`?');
    assert.equal(p.found, '`retnetion`');
    assert.match(p.expected, /one of the keys: name, from, .*retention/);
    assert.equal(p.line, lineOf(text, 'retnetion'));
    assert.equal(p.column, 7);
    assert.match(problemAt(problems, 'spec.stages[0].gate.sioak').message, /did you mean `soak`/);
  });

  it('explains keys that belong elsewhere', () => {
    const problems = problemsOf(MINIMAL.replace('spec:\n', 'spec:\n  database: postgres://db/sluice\n'));
    assert.match(problemAt(problems, 'spec.database').message, /SLUICE_DATABASE_URL/);
  });

  it('requires the keys that have no default', () => {
    const problems = problemsOf(
      MINIMAL.replace('{ name: local, url: "http://127.0.0.1:5000", kind: distribution }', '{ name: local }'),
    );
    assert.match(problemAt(problems, 'spec.registries[0].url').message, /missing required key `url`/);
    assert.match(problemAt(problems, 'spec.registries[0].kind').message, /missing required key `kind`/);
  });

  it('suggests the closest value of an enumeration', () => {
    const problems = problemsOf(MINIMAL.replace('kind: distribution', 'kind: harbour'));
    assert.match(problemAt(problems, 'spec.registries[0].kind').message, /found "harbour"; did you mean `harbor`\?/);
  });
});

describe('names and references', () => {
  it('rejects duplicate stage names at the second one', () => {
    const text = withStages('    - name: dev\n    - name: staging\n    - name: dev\n');
    const p = problemAt(problemsOf(text), 'spec.stages[2].name');
    assert.match(p.message, /duplicate stage `dev` \(first defined at line \d+\)/);
    assert.equal(p.line, lineOf(text, 'name: dev', text.indexOf('staging')));
  });

  it('rejects a stage whose from is unknown, later, or on the first stage', () => {
    const text = withStages(`    - name: dev
      from: staging
    - name: staging
      from: devv
    - name: preprod
      from: prod
    - name: prod
`);
    const problems = problemsOf(text);
    assert.match(problemAt(problems, 'spec.stages[0].from').message, /the first stage .* has no previous stage/);
    assert.match(problemAt(problems, 'spec.stages[1].from').message, /unknown stage `devv`; did you mean `dev`\?/);
    assert.match(problemAt(problems, 'spec.stages[2].from').message, /must name an earlier stage/);
  });

  it('rejects unknown evidence types, suggesting a built-in one', () => {
    const text = withStages('    - name: dev\n      gate: { require: [build, unit-test, code-qualty] }\n');
    const problems = problemsOf(text);
    assert.match(
      problemAt(problems, 'spec.stages[0].gate.require[1]').message,
      /unknown evidence type `unit-test`; did you mean `unit-tests`\?/,
    );
    assert.match(problemAt(problems, 'spec.stages[0].gate.require[2]').message, /did you mean `code-quality`\?/);
  });

  it('accepts custom evidence types and rejects ones that shadow built-ins', () => {
    const extra = '  evidenceTypes:\n    - { name: license-check, description: Licences reviewed, maxAge: 30d }\n';
    const policy = expectValid(withStages('    - name: dev\n      gate: { require: [build, license-check] }\n', extra));
    assert.deepEqual(policy.stages[0]!.gate.evidenceMaxAge, { 'license-check': 30 * DAY });
    const problems = problemsOf(
      withStages('    - name: dev\n', '  evidenceTypes:\n    - { name: scan, description: mine }\n'),
    );
    assert.match(
      problemAt(problems, 'spec.evidenceTypes[0].name').message,
      /duplicate evidence type `scan` \(`scan` is built in\)/,
    );
  });

  it('checks references to teams, categories and registries', () => {
    const text =
      MINIMAL.replace('contact: acme@example.com', 'contact: acme@example.com, category: app').replace(
        '    - name: prod\n',
        '    - name: prod\n      registry: locl\n',
      ) + '  categories: [{ name: base, owner: acmee }, { name: application }]\n';
    const problems = problemsOf(text);
    assert.match(problemAt(problems, 'spec.teams[0].category').message, /unknown category `app`/);
    assert.match(
      problemAt(problems, 'spec.categories[0].owner').message,
      /unknown team `acmee`; did you mean `acme`\?/,
    );
    assert.match(
      problemAt(problems, 'spec.stages[3].registry').message,
      /unknown registry `locl`; did you mean `local`\?/,
    );
  });

  it('reports a removed default category where the team relies on it', () => {
    const problems = problemsOf(MINIMAL + '  categories: [{ name: base }]\n');
    const p = problemAt(problems, 'spec.teams[0].category');
    assert.match(p.message, /unknown category `application`/);
    assert.equal(p.line, lineOf(MINIMAL, '{ name: acme'));
  });
});

describe('team names and repository templates', () => {
  for (const [name, why] of [
    ['Acme', /lowercase/],
    ['acme corp', /lowercase/],
    ['acme/web', /cannot contain "\/"/],
    ['-acme', /lowercase/],
    ['acme-', /lowercase/],
  ] as const) {
    it(`rejects team name "${name}" that cannot form a repository path`, () => {
      const problems = problemsOf(MINIMAL.replace('name: acme,', `name: "${name}",`));
      assert.match(problemAt(problems, 'spec.teams[0].name').message, why);
    });
  }

  it('accepts underscores and dots as the reference grammar does (ki_poc)', () => {
    const policy = expectValid(MINIMAL.replace('name: acme,', 'name: ki_poc,'));
    assert.equal(policy.teams[0]!.name, 'ki_poc');
  });

  it('rejects a team whose repositories would exceed the name length limit', () => {
    const text = MINIMAL.replace('name: acme,', `name: ${'a'.repeat(60)},`).replace(
      '    - name: dev\n',
      `    - name: dev\n      repository: "{team}-${'x'.repeat(200)}/{repo}"\n`,
    );
    assert.match(problemAt(problemsOf(text), 'spec.stages[0].repository').message, /longer than 255 characters/);
  });

  it('rejects unknown placeholders, missing ones and invalid literals', () => {
    const text = withStages(`    - name: dev
      repository: "{team}-{stage}/{repos}"
    - name: staging
      repository: "{stage}/{repo}"
    - name: preprod
      repository: "{team}--/{stage}/{repo}"
    - name: prod
      repository: "{team}-{stage}-{stage}/{repo}"
`);
    const problems = problemsOf(text);
    assert.match(problemAt(problems, 'spec.stages[0].repository').message, /unknown placeholder \{repos\}/);
    assert.match(problemAt(problems, 'spec.stages[1].repository').message, /\{team\} is missing/);
    assert.match(problemAt(problems, 'spec.stages[2].repository').message, /not a valid repository path/);
    assert.match(problemAt(problems, 'spec.stages[3].repository').message, /\{stage\} appears twice/);
  });

  it('rejects two stages that would share repositories in one registry', () => {
    const text = withStages(`    - name: dev
      repository: "{team}/{repo}"
    - name: prod
      repository: "{team}/{repo}"
`);
    assert.match(
      problemAt(problemsOf(text), 'spec.stages[1].repository').message,
      /gets the same repositories as team `acme` in stage `dev`/,
    );
  });

  it('allows a template without {stage} when the stage has its own registry', () => {
    const text = MINIMAL.replace(
      '    - { name: local, url: "http://127.0.0.1:5000", kind: distribution }',
      '    - { name: local, url: "http://127.0.0.1:5000", kind: distribution, default: true }\n    - { name: prodreg, url: "https://prod.example.com", kind: harbor }',
    ).replace('    - name: prod\n', '    - name: prod\n      registry: prodreg\n      repository: "{team}/{repo}"\n');
    const policy = expectValid(text);
    assert.equal(policy.stages[3]!.registry, 'prodreg');
    assert.equal(policy.stages[0]!.registry, 'local');
  });
});

describe('secrets', () => {
  const SECRET = 'hunter2-Pa55';
  const noLeak = (problems: Problem[]) => assert.doesNotMatch(JSON.stringify(problems), new RegExp(SECRET));

  it('refuses inline credentials in every form, without repeating them', () => {
    const text =
      MINIMAL.replace(
        '    - { name: local, url: "http://127.0.0.1:5000", kind: distribution }',
        `    - name: local
      url: "https://bob:${SECRET}@quay.example.com"
      kind: quay
      credentials: "${SECRET}"
      password: "${SECRET}"
`,
      ) +
      `  notifications:\n    - { name: chat, kind: slack, url: "https://hooks.slack.com/services/${SECRET}", events: [gate.failed] }\n  changeManagement: { kind: servicenow, url: "https://x.service-now.com", credentials: 12345 }\n`;
    const problems = problemsOf(text);
    noLeak(problems);
    const cred = problemAt(problems, 'spec.registries[0].credentials');
    assert.equal(cred.found, 'an inline value (not shown)');
    assert.match(cred.message, /secrets must not be written into the policy file/);
    assert.equal(problemAt(problems, 'spec.registries[0].url').found, 'a URL with inline credentials (not shown)');
    assert.match(
      problemAt(problems, 'spec.registries[0].password').message,
      /inline credentials are not allowed; write `credentials: env:NAME or file:PATH`/,
    );
    assert.equal(problemAt(problems, 'spec.notifications[0].url').found, 'an inline value (not shown)');
    assert.equal(problemAt(problems, 'spec.changeManagement.credentials').found, 'an inline number (not shown)');
  });

  it('refuses inline keys', () => {
    const text = withStages(`    - name: dev
      sign: { key: "-----BEGIN EC PRIVATE KEY-----\\nMHcCAQEE${SECRET}\\n-----END EC PRIVATE KEY-----" }
`);
    const problems = problemsOf(text);
    noLeak(problems);
    assert.equal(problemAt(problems, 'spec.stages[0].sign.key').found, 'an inline key (not shown)');
  });

  it('accepts references and shows malformed ones', () => {
    const ok = expectValid(
      MINIMAL.replace('kind: distribution }', 'kind: distribution, credentials: env:LOCAL_CREDS }'),
    );
    assert.equal(ok.registries[0]!.credentials, 'env:LOCAL_CREDS');
    const problems = problemsOf(
      MINIMAL.replace('kind: distribution }', 'kind: distribution, credentials: "env:1BAD" }'),
    );
    assert.equal(problemAt(problems, 'spec.registries[0].credentials').found, '"env:1BAD"');
  });
});

describe('durations, schedules, zones and URLs', () => {
  it('rejects negative, zero and unit-less durations', () => {
    const text = withStages(`    - name: dev
      retention: { maxAge: -30d, maxAgeSinceLastPull: 0d, maxAgeSincePromotion: 30 }
`);
    const problems = problemsOf(text);
    assert.match(
      problemAt(problems, 'spec.stages[0].retention.maxAge').message,
      /found "-30d": durations cannot be negative/,
    );
    assert.match(
      problemAt(problems, 'spec.stages[0].retention.maxAgeSinceLastPull').message,
      /must be greater than zero/,
    );
    assert.equal(problemAt(problems, 'spec.stages[0].retention.maxAgeSincePromotion').found, 'number 30');
  });

  it('allows a zero soak (no soak) but not a zero window', () => {
    expectValid(withStages('    - name: dev\n      gate: { require: [build], soak: 0s }\n'));
    const problems = problemsOf(
      withStages('    - name: dev\n      maintenanceWindows: [{ cron: "0 22 * * 6", duration: 0m }]\n'),
    );
    assert.match(problemAt(problems, 'spec.stages[0].maintenanceWindows[0].duration').message, /greater than zero/);
  });

  it('rejects bad cron expressions, naming the field', () => {
    const text = withStages(`    - name: dev
      scan: { schedule: "0 25 * * *" }
      maintenanceWindows: [{ cron: "0 22 * *", duration: 4h }]
      retention: { mode: scheduled, schedule: "0 3 31 2 *" }
    - name: staging
      scan: { schedule: hourly }
`);
    const problems = problemsOf(text);
    assert.match(problemAt(problems, 'spec.stages[0].scan.schedule').message, /hour field: 25 is out of range 0-23/);
    assert.match(
      problemAt(problems, 'spec.stages[0].maintenanceWindows[0].cron').message,
      /expected 5 fields .* found 4/,
    );
    assert.match(problemAt(problems, 'spec.stages[0].retention.schedule').message, /never runs/);
    assert.match(problemAt(problems, 'spec.stages[1].scan.schedule').message, /unknown schedule/);
  });

  it('rejects bad time zones with a suggestion', () => {
    const text = withStages(
      '    - name: dev\n      maintenanceWindows: [{ cron: "0 22 * * 6", duration: 4h, timeZone: Europe/Berlim }]\n',
    );
    assert.match(
      problemAt(problemsOf(text), 'spec.stages[0].maintenanceWindows[0].timeZone').message,
      /unknown time zone; did you mean `Europe\/Berlin`\?/,
    );
    assert.ok(problemAt(problemsOf(MINIMAL.replace('spec:\n', 'spec:\n  timeZone: CET+1\n')), 'spec.timeZone'));
  });

  for (const [url, why] of [
    ['ftp://registry.example.com', /scheme "ftp" is not supported/],
    ['registry.example.com', /not a URL/],
    ['https://registry.example.com/v2/', /registry root, without a path/],
    ['https://registry.example.com?x=1', /registry root/],
    ['http://registry.example.com', /needs `insecure: true`/],
    ['https://bad_host.example.com', /not a valid host name/],
  ] as const) {
    it(`rejects registry URL ${url}`, () => {
      const problems = problemsOf(MINIMAL.replace('"http://127.0.0.1:5000"', `"${url}"`));
      assert.match(problemAt(problems, 'spec.registries[0].url').message, why);
    });
  }

  it('allows plain http to loopback, and elsewhere with insecure: true', () => {
    expectValid(MINIMAL.replace('http://127.0.0.1:5000', 'http://localhost:5000'));
    const p = expectValid(
      MINIMAL.replace(
        '"http://127.0.0.1:5000", kind: distribution',
        '"http://registry.lan:5000", kind: distribution, insecure: true',
      ),
    );
    assert.equal(p.registries[0]!.host, 'registry.lan:5000');
  });

  it('rejects a bad listen address and syslog address', () => {
    const problems = problemsOf(
      MINIMAL + '  server: { listen: "127.0.0.1" }\n  audit: { syslog: { address: "siem:99999" } }\n',
    );
    assert.ok(problemAt(problems, 'spec.server.listen'));
    assert.match(problemAt(problems, 'spec.audit.syslog.address').message, /port 99999 is out of range/);
  });
});

describe('rules across fields', () => {
  it('needs exactly one default registry when there are several', () => {
    const two =
      '    - { name: a, url: "https://a.example.com", kind: quay }\n    - { name: b, url: "https://b.example.com", kind: harbor }';
    const none = problemsOf(
      MINIMAL.replace('    - { name: local, url: "http://127.0.0.1:5000", kind: distribution }', two),
    );
    assert.match(
      problemAt(none, 'spec.registries').message,
      /mark the one team repositories live in with `default: true`/,
    );
    const both = problemsOf(
      MINIMAL.replace(
        '    - { name: local, url: "http://127.0.0.1:5000", kind: distribution }',
        two
          .replaceAll('kind: quay }', 'kind: quay, default: true }')
          .replace('kind: harbor }', 'kind: harbor, default: true }'),
      ),
    );
    assert.match(problemAt(both, 'spec.registries[1].default').message, /more than one default registry/);
  });

  it('checks gates for requirements their settings depend on', () => {
    const text = withStages(`    - name: dev
      gate:
        require: [build]
        scan: { maxFindings: { critical: 0 } }
        approvals: [{ type: qa-approval, role: qa }]
        evidenceMaxAge: { unit-tests: 1d }
    - name: prod
      gate: { require: [signature] }
`);
    const problems = problemsOf(text);
    assert.match(problemAt(problems, 'spec.stages[0].gate.scan').message, /`scan` is not in `require`/);
    assert.match(
      problemAt(problems, 'spec.stages[0].gate.approvals[0].type').message,
      /approval type `qa-approval` is not in this gate's `require`/,
    );
    assert.match(problemAt(problems, 'spec.stages[0].gate.evidenceMaxAge').message, /does not require/);
    assert.match(problemAt(problems, 'spec.stages[1].gate.require').message, /names no key/);
  });

  it('checks approval groups against team roles and quorum', () => {
    const text = MINIMAL.replace(
      '{ name: acme, contact: acme@example.com }',
      '{ name: acme, contact: acme@example.com, members: [{ user: bob, roles: [qa] }, { user: al, roles: [developer] }] }',
    ).replace(
      '    - name: preprod\n',
      '    - name: preprod\n      gate:\n        require: [qa-approval]\n        approvals: [{ type: qa-approval, role: qa, quorum: 2, group: [bob, al] }]\n',
    );
    const problems = problemsOf(text);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!.message, /user `al` in the approval group does not hold role `qa`/);
    const q = problemsOf(text.replace('quorum: 2, group: [bob, al]', 'quorum: 2, group: [bob]'));
    assert.match(
      problemAt(q, 'spec.stages[2].gate.approvals[0].quorum').message,
      /can never be reached by a group of 1/,
    );
  });

  it('needs maintenance windows for scheduled stages', () => {
    const problems = problemsOf(withStages('    - name: dev\n      trigger: scheduled\n'));
    assert.match(problemAt(problems, 'spec.stages[0].trigger').message, /needs `maintenanceWindows`/);
  });

  it('needs trigger, role and gate for stages that are not well known', () => {
    const problems = problemsOf(withStages('    - name: dev\n    - name: qa\n      trigger: manual\n'));
    const messages = problems.filter((p) => p.path === 'spec.stages[1]').map((p) => p.message);
    assert.equal(messages.length, 2);
    assert.ok(messages.some((m) => /`responsibleRole` must be given/.test(m)));
    assert.ok(messages.some((m) => /`gate` must be given/.test(m)));
  });

  it('keeps retention rules consistent with their mode', () => {
    const text = withStages(`    - name: dev
      retention: { noticeDays: 3, schedule: "0 3 * * *" }
    - name: staging
      retention: { mode: scheduled }
    - name: prod
      retention:
        trash: { enabled: false }
        overrides:
          - { keepLast: 3 }
          - { team: acme }
          - { team: acme, noticeDays: 2 }
`);
    const problems = problemsOf(text);
    assert.match(
      problemAt(problems, 'spec.stages[0].retention.noticeDays').message,
      /only applies to mode `notice` \(this mode is `automatic`\)/,
    );
    assert.match(problemAt(problems, 'spec.stages[0].retention.schedule').message, /only applies to mode `scheduled`/);
    assert.match(problemAt(problems, 'spec.stages[1].retention.mode').message, /needs a `schedule`/);
    assert.match(
      problemAt(problems, 'spec.stages[2].retention.trash.enabled').message,
      /cannot be disabled for the final stage `prod`/,
    );
    assert.match(problemAt(problems, 'spec.stages[2].retention.overrides[0]').message, /must say what it applies to/);
    assert.match(problemAt(problems, 'spec.stages[2].retention.overrides[1]').message, /without rules changes nothing/);
    assert.match(
      problemAt(problems, 'spec.stages[2].retention.overrides[2].noticeDays').message,
      /only applies to mode `notice`/,
    );
  });

  it('allows nextCycle only for low and negligible', () => {
    const problems = problemsOf(
      MINIMAL + '  vulnerabilities:\n    sla: { critical: nextCycle, low: nextCycle, negligible: 60d, high: 0h }\n',
    );
    assert.match(
      problemAt(problems, 'spec.vulnerabilities.sla.critical').message,
      /only allowed for low and negligible/,
    );
    assert.match(problemAt(problems, 'spec.vulnerabilities.sla.high').message, /greater than zero/);
    assert.equal(problems.length, 2);
  });
});

describe('every problem at once', () => {
  it('reports independent problems from all over the file in one pass, in file order', () => {
    const text =
      MINIMAL.replace('contact: acme@example.com', 'contact: acme')
        .replace('kind: distribution', 'kind: gitlab')
        .replace('    - name: staging\n', '    - name: staging\n      retention: { maxAge: 0d }\n')
        .replace('    - name: prod\n', '    - name: prod\n      trigger: sometimes\n') +
      '  naming: { versionTag: "(" }\n  requiredLabels: [version, version]\n';
    const problems = problemsOf(text);
    assert.deepEqual(
      problems.map((p) => p.path),
      [
        'spec.registries[0].kind',
        'spec.teams[0].contact',
        'spec.stages[1].retention.maxAge',
        'spec.stages[3].trigger',
        'spec.naming.versionTag',
        'spec.requiredLabels[1]',
      ],
    );
    for (const p of problems) {
      assert.equal(p.file, 'sluice.yaml');
      assert.ok(p.line > 0 && p.column > 0);
      assert.ok(p.expected.length > 0 && p.found.length > 0);
    }
  });

  it('caps an avalanche of problems with a summary', () => {
    const many = Array.from({ length: 300 }, (_, i) => `    - { name: t${i}, contact: nope }`).join('\n');
    const problems = problemsOf(MINIMAL.replace('    - { name: acme, contact: acme@example.com }', many));
    assert.equal(problems.length, 201);
    assert.match(problems.at(-1)!.message, /100 more problems not shown/);
  });
});

describe('parsePolicy, loadPolicy, validatePolicyFile', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-policy-'));
    await writeFile(join(dir, 'good.yaml'), MINIMAL);
    await writeFile(
      join(dir, 'bad.yaml'),
      MINIMAL.replace('kind: distribution', 'kind: gitlab').replace('acme@example.com', 'acme'),
    );
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('throws one POLICY_INVALID listing every problem with file:line:column', () => {
    assert.throws(
      () =>
        parsePolicy(
          MINIMAL.replace('kind: distribution', 'kind: gitlab').replace('acme@example.com', 'acme'),
          'conf/sluice.yaml',
        ),
      (err: unknown) => {
        assert.ok(isSluiceError(err, 'POLICY_INVALID'));
        assert.equal(err.category, 'invalid-input');
        const problems = err.context.problems as Problem[];
        assert.equal(problems.length, 2);
        assert.equal(err.context.location, `conf/sluice.yaml:${problems[0]!.line}:${problems[0]!.column}`);
        assert.match(
          err.message,
          /^conf\/sluice\.yaml: 2 problems in the lifecycle policy:\n {2}conf\/sluice\.yaml:5:\d+: spec\.registries\[0\]\.kind: /,
        );
        return true;
      },
    );
  });

  it('loads a file, resolving relative references against its directory', async () => {
    const policy = await loadPolicy(join(dir, 'good.yaml'));
    assert.equal(policy.baseDir, dir);
    assert.equal(policy.stages.length, 4);
  });

  it('validates a file without throwing for its content', async () => {
    const ok = await validatePolicyFile(join(dir, 'good.yaml'));
    assert.equal(ok.ok, true);
    const bad = await validatePolicyFile(join(dir, 'bad.yaml'));
    assert.equal(bad.ok, false);
    assert.equal(bad.problems.length, 2);
    assert.ok(bad.problems.every((p) => p.file === join(dir, 'bad.yaml')));
  });

  it('reports a missing file as not found', async () => {
    await assert.rejects(
      loadPolicy(join(dir, 'nope.yaml')),
      (err: unknown) => isSluiceError(err, 'POLICY_NOT_FOUND') && err.category === 'not-found',
    );
    await assert.rejects(validatePolicyFile(join(dir, 'nope.yaml')), (err: unknown) =>
      isSluiceError(err, 'POLICY_NOT_FOUND'),
    );
  });
});
