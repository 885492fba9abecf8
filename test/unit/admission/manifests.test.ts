/**
 * The webhook configurations, validated against the admissionregistration.k8s.io/v1 JSON
 * schemas in test/fixtures/k8s-schemas (instrumenta/kubernetes-json-schema
 * master-standalone-strict, see the README there), plus the guarantees that keep a Sluice
 * outage from deadlocking the cluster.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isSluiceError } from '../../../src/errors.ts';
import { governanceOf, type AdmissionSettings, type NamespaceRule } from '../../../src/admission/decide.ts';
import {
  admissionWebhookConfigurations,
  enforcedNamespaceCondition,
  WEBHOOK_NAMES,
  type ManifestOptions,
} from '../../../src/admission/manifests.ts';
import { assertValid, compile, fixtureText } from './schemas.ts';

const validating = compile(
  JSON.parse(fixtureText('k8s-schemas/validatingwebhookconfiguration-admissionregistration-v1.json')),
);
const mutating = compile(
  JSON.parse(fixtureText('k8s-schemas/mutatingwebhookconfiguration-admissionregistration-v1.json')),
);

const SETTINGS: AdmissionSettings = {
  namespaces: [
    { pattern: '*-prod', stage: 'prod', mode: 'enforce' },
    { pattern: '*-preprod', stage: 'preprod', mode: 'enforce' },
    { pattern: '*', stage: 'dev', mode: 'warn' },
  ],
  exclude: ['kube-system', 'sluice'],
  mutate: false,
};
const CA_BUNDLE = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n').toString('base64');

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the tests walk generated JSON by known paths
type Doc = Record<string, any>;

function manifests(extra: Partial<ManifestOptions> = {}): Doc[] {
  return admissionWebhookConfigurations({
    settings: SETTINGS,
    namespace: 'sluice',
    service: 'sluice',
    caBundle: CA_BUNDLE,
    ...extra,
  }) as Doc[];
}

function validateAll(objects: Array<Record<string, unknown>>): void {
  for (const o of objects) {
    assertValid(o.kind === 'MutatingWebhookConfiguration' ? mutating : validating, o, String(o.kind));
  }
}

/** Evaluates the generated CEL (only `matches`, `!`, `&&`, `||` and parentheses occur) for one namespace. */
function cel(expression: string, namespace: string): boolean {
  const js = expression.replace(/request\.namespace\.matches\('([^']*)'\)/g, (_, re: string) =>
    String(new RegExp(re).test(namespace)),
  );
  assert.match(js, /^[truefals!&|() ]+$/, `unexpected CEL: ${expression}`);
  return Function(`return (${js});`)() as boolean;
}

describe('admissionWebhookConfigurations', () => {
  it('passes the published schema (validating and mutating)', () => {
    validateAll(manifests());
    validateAll(manifests({ settings: { ...SETTINGS, mutate: true } }));
    validateAll(manifests({ matchConditions: false, caBundle: undefined, openshiftInjectCA: true }));
  });

  it('the schema check has teeth: a misspelt field fails', () => {
    const [v] = manifests();
    v!.webhooks[0].sideEfects = 'None';
    assert.equal(validating(v), false);
  });

  it('registers every workload kind for CREATE and UPDATE, with ephemeral containers', () => {
    const [v] = manifests();
    const wh = v!.webhooks[0];
    assert.deepEqual(wh.rules, [
      {
        apiGroups: [''],
        apiVersions: ['v1'],
        operations: ['CREATE', 'UPDATE'],
        resources: ['pods', 'pods/ephemeralcontainers'],
        scope: 'Namespaced',
      },
      {
        apiGroups: ['apps'],
        apiVersions: ['v1'],
        operations: ['CREATE', 'UPDATE'],
        resources: ['deployments', 'replicasets', 'statefulsets', 'daemonsets'],
        scope: 'Namespaced',
      },
      {
        apiGroups: ['batch'],
        apiVersions: ['v1'],
        operations: ['CREATE', 'UPDATE'],
        resources: ['jobs', 'cronjobs'],
        scope: 'Namespaced',
      },
      {
        apiGroups: ['apps.openshift.io'],
        apiVersions: ['v1'],
        operations: ['CREATE', 'UPDATE'],
        resources: ['deploymentconfigs'],
        scope: 'Namespaced',
      },
    ]);
    assert.deepEqual(wh.admissionReviewVersions, ['v1']);
    assert.equal(wh.sideEffects, 'None');
    assert.equal(wh.timeoutSeconds, 5);
    assert.deepEqual(wh.clientConfig, {
      service: { namespace: 'sluice', name: 'sluice', path: '/admission/validate', port: 443 },
      caBundle: CA_BUNDLE,
    });
  });

  it('fails closed for enforced namespaces and open elsewhere, as two webhooks', () => {
    const [v] = manifests();
    const [enforced, advisory] = v!.webhooks;
    assert.equal(enforced.name, WEBHOOK_NAMES.enforced);
    assert.equal(enforced.failurePolicy, 'Fail');
    assert.equal(advisory.name, WEBHOOK_NAMES.advisory);
    assert.equal(advisory.failurePolicy, 'Ignore');
    const e = enforced.matchConditions[0].expression as string;
    assert.equal(e, "request.namespace.matches('^.*-prod$') || (request.namespace.matches('^.*-preprod$'))");
    for (const [ns, fails] of [
      ['shop-prod', true],
      ['shop-preprod', true],
      ['shop-dev', false],
    ] as const) {
      assert.equal(cel(e, ns), fails, ns);
      assert.equal(cel(advisory.matchConditions[0].expression, ns), !fails, ns);
    }
  });

  it('uses one failing-open webhook when nothing enforces', () => {
    const [v] = manifests({ settings: { ...SETTINGS, namespaces: [{ pattern: '*', stage: 'dev', mode: 'warn' }] } });
    assert.equal(v!.webhooks.length, 1);
    assert.equal(v!.webhooks[0].failurePolicy, 'Ignore');
    assert.equal(v!.webhooks[0].matchConditions, undefined);
  });

  it('uses one failing-closed webhook when everything enforces', () => {
    const [v] = manifests({
      settings: { ...SETTINGS, namespaces: [{ pattern: '*', stage: 'prod', mode: 'enforce' }] },
    });
    assert.deepEqual(
      v!.webhooks.map((w: Record<string, unknown>) => [w.name, w.failurePolicy]),
      [[WEBHOOK_NAMES.single, 'Fail']],
    );
  });

  it('without matchConditions, fails closed everywhere when any rule enforces', () => {
    const [v] = manifests({ matchConditions: false });
    assert.equal(v!.webhooks.length, 1);
    assert.equal(v!.webhooks[0].failurePolicy, 'Fail');
  });

  for (const [what, extra] of [
    ['the default', {}],
    ['mutating', { settings: { ...SETTINGS, mutate: true } }],
    ['an empty exclude list', { settings: { ...SETTINGS, exclude: [] }, namespace: 'sluice-system' }],
    ['no matchConditions', { matchConditions: false }],
  ] as const) {
    it(`always keeps kube-system and Sluice's own namespace out (${what})`, () => {
      const ns = (extra as Partial<ManifestOptions>).namespace ?? 'sluice';
      for (const config of manifests(extra as Partial<ManifestOptions>)) {
        for (const wh of config.webhooks) {
          const [expr] = wh.namespaceSelector.matchExpressions;
          assert.equal(expr.key, 'kubernetes.io/metadata.name');
          assert.equal(expr.operator, 'NotIn');
          assert.ok(expr.values.includes('kube-system'), `${wh.name} lets kube-system through`);
          assert.ok(expr.values.includes(ns), `${wh.name} lets ${ns} through`);
        }
      }
    });
  }

  it('keeps the configured exclude list out too', () => {
    const [v] = manifests({ settings: { ...SETTINGS, exclude: ['monitoring', 'cert-manager'] } });
    assert.deepEqual(v!.webhooks[0].namespaceSelector.matchExpressions[0].values, [
      'cert-manager',
      'kube-system',
      'monitoring',
      'sluice',
    ]);
  });

  it('adds the pinning webhook when mutate is on, failing open and reinvoked', () => {
    const [, m] = manifests({ settings: { ...SETTINGS, mutate: true } });
    assert.equal(m?.kind, 'MutatingWebhookConfiguration');
    const [wh] = m!.webhooks;
    assert.equal(wh.name, WEBHOOK_NAMES.pin);
    assert.equal(wh.clientConfig.service.path, '/admission/mutate');
    assert.equal(wh.failurePolicy, 'Ignore');
    assert.equal(wh.reinvocationPolicy, 'IfNeeded');
    assert.equal(manifests().length, 1);
  });

  it('asks OpenShift or cert-manager to inject the CA', () => {
    const [os] = manifests({ caBundle: undefined, openshiftInjectCA: true });
    assert.equal(os!.metadata.annotations['service.beta.openshift.io/inject-cabundle'], 'true');
    assert.equal(os!.webhooks[0].clientConfig.caBundle, undefined);
    const [cm] = manifests({ caBundle: undefined, certManagerCertificate: 'sluice/sluice-webhook' });
    assert.equal(cm!.metadata.annotations['cert-manager.io/inject-ca-from'], 'sluice/sluice-webhook');
  });

  const bad: Array<[string, Partial<ManifestOptions>, RegExp]> = [
    ['a timeout above 30 s', { timeoutSeconds: 31 }, /1 to 30/],
    ['a timeout of 0', { timeoutSeconds: 0 }, /1 to 30/],
    ['a namespace that is not a name', { namespace: 'Sluice' }, /--namespace "Sluice"/],
    ['a service that is not a name', { service: 'a.b' }, /--service "a\.b"/],
    ['an exclude pattern', { settings: { ...SETTINGS, exclude: ['kube-*'] } }, /"kube-\*" is not a namespace name/],
    [
      'a namespace pattern outside the grammar',
      { settings: { ...SETTINGS, namespaces: [{ pattern: "a')", stage: 'p', mode: 'enforce' }] } },
      /namespace pattern/,
    ],
    ['a malformed cert-manager certificate', { certManagerCertificate: 'nope' }, /namespace\/name/],
  ];
  for (const [what, extra, why] of bad) {
    it(`refuses ${what}`, () => {
      assert.throws(
        () => manifests(extra),
        (e: unknown) => isSluiceError(e, 'ADMISSION_MANIFEST_INVALID') && why.test(e.message),
      );
    });
  }
});

describe('enforcedNamespaceCondition', () => {
  const ruleArb: fc.Arbitrary<NamespaceRule> = fc.record({
    pattern: fc.constantFrom('*', '*-prod', 'shop-*', 'team-?-prod', 'x', '*-pre*', 'a*b'),
    stage: fc.constant('s'),
    mode: fc.constantFrom('enforce' as const, 'warn' as const),
  });
  const nsArb = fc.constantFrom('shop-prod', 'x', 'team-a-prod', 'team-ab-prod', 'shop-preprod', 'ab', 'axxb', 'dev');

  it('is true exactly where the first matching rule enforces (same as the decision)', () => {
    fc.assert(
      fc.property(fc.array(ruleArb, { maxLength: 6 }), nsArb, (rules, ns) => {
        const settings: AdmissionSettings = { namespaces: rules, exclude: [], mutate: false };
        const g = governanceOf(settings, 'sluice', ns);
        const expected = g.kind === 'governed' && g.rule.mode === 'enforce';
        const expr = enforcedNamespaceCondition(rules);
        assert.equal(expr === undefined ? false : cel(expr, ns), expected);
      }),
      { numRuns: 2000 },
    );
  });
});
