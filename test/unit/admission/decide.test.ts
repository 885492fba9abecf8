/**
 * The admission decision over gathered facts: each check in order (table), the namespace
 * mapping, the modes and failure mode, and properties over generated reviews:
 *
 * P1 in enforce mode, a review with any image that fails a check is denied;
 * P2 warn mode never denies;
 * P3 the reason named for an image is the first failing check, in the order 1–6;
 * P4 excluded namespaces (configured, Sluice's own, kube-system) are always admitted with no
 *    warning, no audit entry and no lookup;
 * P5 every denial and warning has exactly one audit entry, and the patch only pins images
 *    that passed by tag.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  admissionSettingsProblems,
  CHECK_ORDER,
  checkImage,
  decideReview,
  excludedNamespaces,
  governanceOf,
  imagesToLookUp,
  mutatingVerdict,
  validatingVerdict,
  type AdmissionMode,
  type AdmissionSettings,
  type GatheredFacts,
  type ImageFacts,
  type ReviewInput,
} from '../../../src/admission/decide.ts';
import type { WorkloadImage } from '../../../src/admission/workloads.ts';

const D1 = `sha256:${'a'.repeat(64)}`;
const D2 = `sha256:${'b'.repeat(64)}`;

const SETTINGS: AdmissionSettings = {
  namespaces: [
    { pattern: '*-prod', stage: 'prod', mode: 'enforce' },
    { pattern: '*-preprod', stage: 'preprod', mode: 'enforce' },
    { pattern: '*', stage: 'dev', mode: 'warn' },
  ],
  exclude: ['kube-system', 'sluice', 'monitoring'],
  mutate: false,
};
const STAGES = {
  dev: { requireSignature: false },
  preprod: { requireSignature: false },
  prod: { requireSignature: true },
};

/** Facts of a digest that passes every check for prod. */
function good(overrides: Partial<ImageFacts> = {}): ImageFacts {
  return {
    source: { allowed: true },
    resolution: { digest: D1, source: 'inventory' },
    known: true,
    stagesReached: ['dev', 'preprod', 'prod'],
    holds: [],
    signature: { status: 'verified', key: 'cosign.pub' },
    ...overrides,
  };
}

const image = (ref: string, i = 0): WorkloadImage => ({
  image: ref,
  path: `/spec/template/spec/containers/${i}/image`,
  container: `c${i}`,
  list: 'containers',
});

function input(namespace: string, facts: Record<string, GatheredFacts>, extra: Partial<ReviewInput> = {}): ReviewInput {
  const refs = Object.keys(facts);
  return {
    settings: SETTINGS,
    sluiceNamespace: 'sluice',
    stages: STAGES,
    workload: { kind: 'Deployment', name: 'web', namespace, toCheck: refs.map((r, i) => image(r, i)) },
    facts: new Map(Object.entries(facts)),
    ...extra,
  };
}

describe('governanceOf: namespace → stage', () => {
  const cases: Array<[string, string]> = [
    ['shop-prod', 'prod enforce'],
    ['shop-preprod', 'preprod enforce'],
    ['shop-dev', 'dev warn'],
    ['prod', 'dev warn'],
    ['kube-system', 'excluded'],
    ['sluice', 'excluded'],
    ['monitoring', 'excluded'],
  ];
  for (const [ns, expected] of cases) {
    it(`${ns} → ${expected}`, () => {
      const g = governanceOf(SETTINGS, 'sluice', ns);
      assert.equal(g.kind === 'governed' ? `${g.rule.stage} ${g.rule.mode}` : g.kind, expected);
    });
  }

  it('first match wins, even when a later pattern is more specific', () => {
    const s: AdmissionSettings = {
      ...SETTINGS,
      namespaces: [
        { pattern: 'shop-*', stage: 'dev', mode: 'warn' },
        { pattern: '*-prod', stage: 'prod', mode: 'enforce' },
      ],
    };
    const g = governanceOf(s, 'sluice', 'shop-prod');
    assert.equal(g.kind === 'governed' && g.index, 0);
  });

  it('leaves namespaces no pattern matches ungoverned', () => {
    const s: AdmissionSettings = { ...SETTINGS, namespaces: [{ pattern: '*-prod', stage: 'prod', mode: 'enforce' }] };
    assert.equal(governanceOf(s, 'sluice', 'shop-dev').kind, 'ungoverned');
  });

  it('always excludes kube-system and the Sluice namespace, even when not listed', () => {
    const s: AdmissionSettings = { ...SETTINGS, exclude: [] };
    assert.equal(governanceOf(s, 'sluice-system', 'kube-system').kind, 'excluded');
    assert.equal(governanceOf(s, 'sluice-system', 'sluice-system').kind, 'excluded');
    assert.deepEqual(excludedNamespaces(s, 'sluice-system'), ['kube-system', 'sluice-system']);
  });

  it('matches ? as exactly one character', () => {
    const s: AdmissionSettings = {
      ...SETTINGS,
      namespaces: [{ pattern: 'team-?-prod', stage: 'prod', mode: 'enforce' }],
    };
    assert.equal(governanceOf(s, 'sluice', 'team-a-prod').kind, 'governed');
    assert.equal(governanceOf(s, 'sluice', 'team-ab-prod').kind, 'ungoverned');
  });
});

describe('admissionSettingsProblems', () => {
  it('accepts the issue example', () =>
    assert.deepEqual(admissionSettingsProblems(SETTINGS, ['dev', 'preprod', 'prod']), []));
  it('names every problem', () => {
    const problems = admissionSettingsProblems(
      {
        namespaces: [
          { pattern: 'Team_Prod', stage: 'prod', mode: 'enforce' },
          { pattern: '*', stage: 'qa', mode: 'warn' },
          { pattern: '*-prod', stage: 'prod', mode: 'audit' as AdmissionMode },
          { pattern: '*', stage: 'dev', mode: 'warn' },
        ],
        exclude: ['kube-*'],
        mutate: false,
      },
      ['dev', 'prod'],
    );
    assert.deepEqual(problems, [
      'admission.namespaces[0].pattern "Team_Prod" must be a namespace name with "*" and "?" wildcards (lowercase letters, digits, "-"; at most 63 characters)',
      'admission.namespaces[1].stage "qa" is not a stage of this policy (dev, prod)',
      'admission.namespaces[2].mode must be enforce or warn, not "audit"',
      'admission.namespaces[2] comes after the catch-all admission.namespaces[1]; it never matches',
      'admission.namespaces[3] repeats the pattern of admission.namespaces[1]; it never matches',
      'admission.namespaces[3] comes after the catch-all admission.namespaces[1]; it never matches',
      'admission.exclude[0] "kube-*" must be a namespace name (the webhook\'s namespaceSelector cannot match patterns)',
    ]);
  });
});

describe('checkImage: the checks in order', () => {
  const cases: Array<[string, GatheredFacts, string, RegExp]> = [
    [
      '1 registry not allowed',
      good({ source: { allowed: false, reason: 'registry evil.example.com is not in the policy' } }),
      'registry-not-allowed',
      /evil\.example\.com is not in the policy/,
    ],
    [
      '2 tag unknown',
      good({ resolution: { failure: 'not-found', message: 'tag 1.2 of r/x does not exist' } }),
      'unresolved',
      /tag 1\.2 of r\/x does not exist/,
    ],
    [
      '2 tag moved',
      good({ resolution: { failure: 'moved', message: `tag prod points to ${D2}, Sluice recorded ${D1}` } }),
      'unresolved',
      /points to/,
    ],
    ['3 unknown digest', good({ known: false }), 'unknown-to-sluice', /sha256:aaaaaaaaaaaa… is not known to Sluice/],
    [
      '4 stage not reached',
      good({ stagesReached: ['dev'] }),
      'stage-not-reached',
      /has not been promoted to prod \(it reached dev\)/,
    ],
    ['4 no stage at all', good({ stagesReached: [] }), 'stage-not-reached', /it reached no stage/],
    [
      '5 quarantined',
      good({ holds: [{ kind: 'quarantine', reason: 'CVE-2024-3094 critical' }] }),
      'held',
      /is quarantined: CVE-2024-3094 critical/,
    ],
    ['5 legal hold', good({ holds: [{ kind: 'legal-hold', reason: 'case 42' }] }), 'held', /under legal hold: case 42/],
    [
      '6 unsigned',
      good({ signature: { status: 'rejected', reason: 'no signature verifies with cosign.pub' } }),
      'unsigned',
      /not signed with a key of stage prod: no signature verifies/,
    ],
  ];
  for (const [what, facts, reason, detail] of cases) {
    it(`fails check ${what}`, () => {
      const r = checkImage(facts, 'prod', true);
      assert.equal(r.outcome, 'fail');
      assert.equal(r.outcome === 'fail' && r.reason, reason);
      assert.match(r.outcome === 'fail' ? r.detail : '', detail);
    });
  }

  it('passes a signed prod digest and says whether it was pinned already', () => {
    assert.deepEqual(checkImage(good(), 'prod', true), { outcome: 'pass', digest: D1, pinned: false });
    const byDigest = checkImage(good({ resolution: { digest: D1, source: 'reference' } }), 'prod', true);
    assert.equal(byDigest.outcome === 'pass' && byDigest.pinned, true);
  });

  it('does not look at signatures when the stage does not require them', () => {
    assert.equal(checkImage(good({ signature: undefined }), 'prod', false).outcome, 'pass');
    assert.equal(checkImage(good({ signature: { status: 'rejected', reason: 'x' } }), 'prod', false).outcome, 'pass');
  });

  it('reports a quarantine before a legal hold on the same digest', () => {
    const r = checkImage(
      good({
        holds: [
          { kind: 'legal-hold', reason: 'case' },
          { kind: 'quarantine', reason: 'cve' },
        ],
      }),
      'prod',
      true,
    );
    assert.match(r.outcome === 'fail' ? r.detail : '', /quarantined: cve/);
  });

  const unavailable: Array<[string, GatheredFacts | undefined, RegExp]> = [
    ['gathering failed', { unavailable: 'database unavailable' }, /database unavailable/],
    [
      'registry down while resolving a tag',
      good({ resolution: { failure: 'unavailable', message: 'registry r timed out' } }),
      /timed out/,
    ],
    [
      'signature verification could not reach the registry',
      good({ signature: { status: 'unavailable', reason: 'registry r refused' } }),
      /refused/,
    ],
    ['a required signature check that was not done', good({ signature: undefined }), /signature .* was not verified/],
    ['no facts at all', undefined, /no facts were gathered/],
  ];
  for (const [what, facts, detail] of unavailable) {
    it(`treats ${what} as unavailable facts`, () => {
      const r = checkImage(facts, 'prod', true);
      assert.equal(r.outcome, 'unavailable');
      assert.match(r.outcome === 'unavailable' ? r.detail : '', detail);
    });
  }

  it('still denies on check 1 when the registry is down (the policy alone decides it)', () => {
    const r = checkImage(
      good({
        source: { allowed: false, reason: 'not allowed' },
        resolution: { failure: 'unavailable', message: 'down' },
      }),
      'prod',
      true,
    );
    assert.equal(r.outcome === 'fail' && r.reason, 'registry-not-allowed');
  });
});

describe('decideReview', () => {
  const IMG = 'registry.example.com/shop-prod/api:1.4';

  it('admits a signed prod digest in a prod namespace, silently', () => {
    const d = decideReview(input('shop-prod', { [IMG]: good() }));
    assert.equal(d.allowed, true);
    assert.deepEqual(d.warnings, []);
    assert.deepEqual(d.audit, []);
    assert.deepEqual(validatingVerdict(d), {
      allowed: true,
      warnings: [],
      auditAnnotations: { decision: 'allowed', stage: 'prod', mode: 'enforce' },
    });
  });

  it('denies in enforce mode, naming the workload, the image and the reason', () => {
    const d = decideReview(input('shop-prod', { [IMG]: good({ stagesReached: ['dev'] }) }));
    assert.equal(d.allowed, false);
    assert.equal(
      d.message,
      `Sluice denied Deployment shop-prod/web (stage prod): ${IMG}: digest sha256:aaaaaaaaaaaa… has not been promoted to prod (it reached dev) [stage-not-reached]`,
    );
    const v = validatingVerdict(d);
    assert.equal(v.code, 403);
    assert.equal(v.auditAnnotations?.decision, 'denied');
    assert.deepEqual(d.audit, [
      {
        decision: 'deny',
        namespace: 'shop-prod',
        kind: 'Deployment',
        name: 'web',
        image: IMG,
        digest: D1,
        reason: 'stage-not-reached',
        message: d.message!.slice(d.message!.indexOf(IMG)),
        stage: 'prod',
        mode: 'enforce',
      },
    ]);
  });

  it('warns instead of denying in warn mode', () => {
    const d = decideReview(input('shop-dev', { [IMG]: good({ known: false }) }));
    assert.equal(d.allowed, true);
    assert.equal(d.warnings.length, 1);
    assert.match(
      d.warnings[0]!,
      /would be denied in enforce mode: digest .* is not known to Sluice \[unknown-to-sluice\]/,
    );
    assert.equal(d.audit[0]?.decision, 'warn');
    assert.equal(validatingVerdict(d).auditAnnotations?.decision, 'warned');
  });

  it('admits a deprecated image with a warning naming the replacement', () => {
    const d = decideReview(
      input('shop-prod', {
        [IMG]: good({ deprecation: { replacement: 'registry.example.com/shop-prod/api:2.0', reason: 'EOL' } }),
      }),
    );
    assert.equal(d.allowed, true);
    assert.deepEqual(d.warnings, [`${IMG} is deprecated; use registry.example.com/shop-prod/api:2.0 instead (EOL)`]);
    assert.equal(d.audit[0]?.reason, 'deprecated');
  });

  it('does not warn about deprecation when the image is denied anyway', () => {
    const d = decideReview(input('shop-prod', { [IMG]: good({ known: false, deprecation: { replacement: 'y' } }) }));
    assert.equal(d.allowed, false);
    assert.deepEqual(d.warnings, []);
  });

  it('fails closed in enforce mode when the facts are unavailable', () => {
    const d = decideReview(input('shop-prod', { [IMG]: { unavailable: 'database unavailable' } }));
    assert.equal(d.allowed, false);
    assert.match(
      d.message!,
      /could not be checked \(database unavailable\); denied because shop-prod enforces stage prod \(fail closed\)/,
    );
    assert.equal(d.audit[0]?.reason, 'facts-unavailable');
  });

  it('fails open with a warning in warn mode when the facts are unavailable', () => {
    const d = decideReview(input('shop-dev', { [IMG]: { unavailable: 'registry registry.example.com unreachable' } }));
    assert.equal(d.allowed, true);
    assert.match(
      d.warnings[0]!,
      /could not check .* \(registry registry\.example\.com unreachable\); admitted because shop-dev is in warn mode/,
    );
  });

  it('checks an image used by several containers once and lists every path', () => {
    const facts = new Map<string, GatheredFacts>([[IMG, good({ known: false })]]);
    const d = decideReview({
      ...input('shop-prod', {}),
      workload: { kind: 'Pod', name: 'p', namespace: 'shop-prod', toCheck: [image(IMG, 0), image(IMG, 1)] },
      facts,
    });
    assert.equal(d.images.length, 1);
    assert.deepEqual(d.images[0]!.paths, [
      '/spec/template/spec/containers/0/image',
      '/spec/template/spec/containers/1/image',
    ]);
    assert.equal(d.audit.length, 1);
  });

  it('lists every failing image in the denial', () => {
    const d = decideReview(
      input('shop-prod', {
        'r.example.com/a:1': good({ known: false }),
        'r.example.com/b:1': good({ holds: [{ kind: 'quarantine', reason: 'cve' }] }),
      }),
    );
    assert.match(d.message!, /r\.example\.com\/a:1: .*\[unknown-to-sluice\]; r\.example\.com\/b:1: .*\[held\]/);
  });

  it('treats a stage it was told nothing about as requiring signatures', () => {
    const d = decideReview(input('shop-prod', { [IMG]: good({ signature: undefined }) }, { stages: {} }));
    assert.equal(d.allowed, false);
  });

  it('admits without lookup when there is nothing to check', () => {
    const i = input('shop-prod', {});
    assert.deepEqual(imagesToLookUp(i), []);
    assert.equal(decideReview(i).allowed, true);
  });

  describe('mutation', () => {
    const mutate = { settings: { ...SETTINGS, mutate: true } };

    it('pins a tag to its digest at every path, keeping the tag', () => {
      const d = decideReview({
        ...input('shop-prod', {}, mutate),
        workload: { kind: 'Pod', name: 'p', namespace: 'shop-prod', toCheck: [image(IMG, 0), image(IMG, 2)] },
        facts: new Map([[IMG, good()]]),
      });
      assert.deepEqual(d.patch, [
        { op: 'replace', path: '/spec/template/spec/containers/0/image', value: `${IMG}@${D1}` },
        { op: 'replace', path: '/spec/template/spec/containers/2/image', value: `${IMG}@${D1}` },
      ]);
      assert.deepEqual(mutatingVerdict(d), { allowed: true, patch: d.patch });
    });

    it('leaves references that already name their digest alone', () => {
      const ref = `${IMG}@${D1}`;
      const d = decideReview(
        input('shop-prod', { [ref]: good({ resolution: { digest: D1, source: 'reference' } }) }, mutate),
      );
      assert.deepEqual(d.patch, []);
    });

    it('pins nothing when mutate is off', () => {
      assert.deepEqual(decideReview(input('shop-prod', { [IMG]: good() })).patch, []);
    });

    it('pins nothing it could not resolve, and nothing that failed', () => {
      const d = decideReview(
        input(
          'shop-dev',
          {
            'r/a:1': { unavailable: 'down' },
            'r/b:1': good({ known: false }),
            'r/c:1': good({ resolution: { digest: D2, source: 'registry' } }),
          },
          mutate,
        ),
      );
      assert.deepEqual(
        d.patch.map((p) => p.value),
        [`r/c:1@${D2}`],
      );
    });
  });
});

// --- properties ---------------------------------------------------------------------------

const FAILURES: Record<(typeof CHECK_ORDER)[number], Partial<ImageFacts>> = {
  'registry-not-allowed': { source: { allowed: false, reason: 'no' } },
  unresolved: { resolution: { failure: 'not-found', message: 'no such tag' } },
  'unknown-to-sluice': { known: false },
  'stage-not-reached': { stagesReached: [] },
  held: { holds: [{ kind: 'quarantine', reason: 'cve' }] },
  unsigned: { signature: { status: 'rejected', reason: 'bad' } },
};

/** Facts failing exactly the checks in `failing` (a subset of CHECK_ORDER). */
function factsFailing(failing: readonly string[]): ImageFacts {
  let f = good();
  for (const c of failing) f = { ...f, ...FAILURES[c as keyof typeof FAILURES] };
  return f;
}

const factsArb: fc.Arbitrary<GatheredFacts> = fc.oneof(
  { weight: 8, arbitrary: fc.subarray([...CHECK_ORDER]).map(factsFailing) },
  { weight: 1, arbitrary: fc.constant<GatheredFacts>({ unavailable: 'database unavailable' }) },
  {
    weight: 1,
    arbitrary: fc.constant<GatheredFacts>(good({ deprecation: { replacement: 'r/new:1' } })),
  },
);

const nsArb = fc.constantFrom('shop-prod', 'shop-preprod', 'shop-dev', 'x', 'kube-system', 'sluice', 'monitoring');

const reviewArb = fc
  .record({
    namespace: nsArb,
    facts: fc.array(factsArb, { minLength: 1, maxLength: 6 }),
    mutate: fc.boolean(),
    requireSignature: fc.boolean(),
  })
  .map(({ namespace, facts, mutate, requireSignature }) => {
    const record = Object.fromEntries(facts.map((f, i) => [`r.example.com/app/c${i}:v${i}`, f]));
    return input(namespace, record, {
      settings: { ...SETTINGS, mutate },
      stages: { ...STAGES, prod: { requireSignature } },
    });
  });

describe('properties', () => {
  it('P1 enforce: any failing image denies the review', () => {
    fc.assert(
      fc.property(reviewArb, (i) => {
        const g = governanceOf(i.settings, i.sluiceNamespace, i.workload.namespace);
        fc.pre(g.kind === 'governed' && g.rule.mode === 'enforce');
        const d = decideReview(i);
        const failing = d.images.some((x) => x.result.outcome !== 'pass');
        assert.equal(d.allowed, !failing);
        if (failing) assert.ok(d.message && d.message.length > 0);
      }),
      { numRuns: 2000 },
    );
  });

  it('P2 warn mode never denies', () => {
    fc.assert(
      fc.property(reviewArb, (i) => {
        const g = governanceOf(i.settings, i.sluiceNamespace, i.workload.namespace);
        fc.pre(g.kind === 'governed' && g.rule.mode === 'warn');
        const d = decideReview(i);
        assert.equal(d.allowed, true);
        assert.equal(d.message, undefined);
        const failing = d.images.filter((x) => x.result.outcome !== 'pass').length;
        assert.ok(d.warnings.length >= failing);
      }),
      { numRuns: 2000 },
    );
  });

  it('P3 the reason named is the first failing check', () => {
    fc.assert(
      fc.property(fc.subarray([...CHECK_ORDER], { minLength: 1 }), fc.constantFrom('prod', 'dev'), (failing, stage) => {
        const requireSignature = stage === 'prod';
        const r = checkImage(factsFailing(failing), stage, requireSignature);
        const effective = failing.filter((c) => c !== 'unsigned' || requireSignature);
        const expected = CHECK_ORDER.find((c) => effective.includes(c));
        if (expected === undefined) assert.equal(r.outcome, 'pass');
        else assert.equal(r.outcome === 'fail' && r.reason, expected);
      }),
      { numRuns: 1000 },
    );
  });

  it('P4 excluded namespaces are admitted without warnings, audit or lookups', () => {
    fc.assert(
      fc.property(reviewArb, fc.constantFrom('kube-system', 'sluice', 'monitoring'), (i, ns) => {
        const r = { ...i, workload: { ...i.workload, namespace: ns } };
        const d = decideReview(r);
        assert.equal(d.allowed, true);
        assert.deepEqual([d.warnings, d.audit, d.patch, d.images], [[], [], [], []]);
        assert.deepEqual(imagesToLookUp(r), []);
      }),
      { numRuns: 500 },
    );
  });

  it('P5 one audit entry per denial or warning; pins only images that passed by tag', () => {
    fc.assert(
      fc.property(reviewArb, (i) => {
        const d = decideReview(i);
        const notPassing = d.images.filter((x) => x.result.outcome !== 'pass').length;
        const deprecated = d.images.filter((x) => x.result.outcome === 'pass' && x.result.deprecation).length;
        assert.equal(d.audit.length, d.governance.kind === 'governed' ? notPassing + deprecated : 0);
        for (const p of d.patch) {
          const x = d.images.find((im) => im.paths.includes(p.path));
          assert.ok(
            x && x.result.outcome === 'pass' && !x.result.pinned && p.value === `${x.image}@${x.result.digest}`,
          );
        }
        if (!i.settings.mutate) assert.deepEqual(d.patch, []);
      }),
      { numRuns: 1000 },
    );
  });
});
