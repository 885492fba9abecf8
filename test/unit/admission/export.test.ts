/**
 * Exported cluster policies, each validated against the CRD its project publishes
 * (test/fixtures/crds, see the README there for repositories, paths and commits), closed
 * against unknown fields as the API server's strict field validation is, and checked for
 * meaning with each engine's matching rules re-implemented here from its source.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { isSluiceError, type ErrorCode } from '../../../src/errors.ts';
import { containersPolicy } from '../../../src/admission/export/containers-policy.ts';
import { kyvernoClusterPolicy } from '../../../src/admission/export/kyverno.ts';
import { openshiftImagePolicies } from '../../../src/admission/export/openshift.ts';
import { policyControllerPolicies } from '../../../src/admission/export/policy-controller.ts';
import { checkStages, type StageTrust } from '../../../src/admission/export/stages.ts';
import { yamlDocuments } from '../../../src/admission/render.ts';
import { publicKeyPem } from '../../../src/signing/keys.ts';
import { assertValid, closed, compile, crdSchema } from './schemas.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the tests walk generated JSON by known paths
type Doc = Record<string, any>;

const newKey = () => publicKeyPem(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);
const PROD_KEY = newKey();
const PREPROD_KEY = newKey();
const ROTATED_KEY = newKey();
const HOST = 'registry.example.com';

const STAGES: StageTrust[] = [
  {
    name: 'dev',
    repositories: [{ registry: HOST, patterns: ['shop-dev/**'] }],
    publicKeys: [],
    requireSignature: false,
  },
  {
    name: 'preprod',
    repositories: [{ registry: HOST, patterns: ['shop-preprod/**'] }],
    publicKeys: [PREPROD_KEY],
    requireSignature: true,
  },
  {
    name: 'prod',
    repositories: [
      { registry: HOST, patterns: ['shop-prod/*', 'payments-prod/api'] },
      { registry: 'dr.example.com:5000', patterns: ['shop-prod/**'] },
    ],
    publicKeys: [PROD_KEY],
    requireSignature: true,
  },
];
const withProdKeys = (keys: string[]): StageTrust[] =>
  STAGES.map((s) => (s.name === 'prod' ? { ...s, publicKeys: keys } : s));

function refuses(fn: () => unknown, code: ErrorCode, why: RegExp): void {
  assert.throws(fn, (e: unknown) => isSluiceError(e, code) && why.test(e.message));
}

const IMAGES = {
  prodTag: `${HOST}/shop-prod/api:1.4`,
  prodDigest: `${HOST}/shop-prod/api@sha256:${'a'.repeat(64)}`,
  prodLiteral: `${HOST}/payments-prod/api:2.0`,
  prodDr: 'dr.example.com:5000/shop-prod/team/api:1.4',
  preprod: `${HOST}/shop-preprod/web/api:1.4`,
  dev: `${HOST}/shop-dev/api:1.4`,
  otherRepo: `${HOST}/payments-prod/api2:1`,
  elsewhere: 'docker.io/library/nginx:1.27',
};

describe('stages', () => {
  it('normalises hosts and keys and drops duplicate keys', () => {
    const [s] = checkStages([
      {
        name: 'prod',
        repositories: [{ registry: 'https://Registry.Example.com/', patterns: ['a/**', 'a/**'] }],
        publicKeys: [PROD_KEY, PROD_KEY],
        requireSignature: true,
      },
    ]);
    assert.deepEqual(s!.repositories, [{ registry: 'registry.example.com', patterns: ['a/**'] }]);
    assert.deepEqual(s!.publicKeys, [PROD_KEY]);
  });

  it('refuses a private key where a public key belongs, without echoing it', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    assert.throws(
      () => checkStages([{ ...STAGES[2]!, publicKeys: [pem] }]),
      (e: unknown) => isSluiceError(e) && /PUBLIC KEY/.test(e.message) && !e.message.includes(pem.split('\n')[1]!),
    );
  });

  it('refuses a stage requiring signatures without keys or repositories', () => {
    refuses(() => checkStages([{ ...STAGES[2]!, publicKeys: [] }]), 'POLICY_EXPORT_INVALID', /no key/);
    refuses(() => checkStages([{ ...STAGES[2]!, repositories: [] }]), 'POLICY_EXPORT_INVALID', /no repository/);
  });

  it('refuses patterns outside the repository glob grammar', () => {
    for (const p of ['Shop/**', 'a/**b', '', 'a//b']) {
      refuses(
        () => checkStages([{ ...STAGES[2]!, repositories: [{ registry: HOST, patterns: [p] }] }]),
        'POLICY_EXPORT_INVALID',
        /is not a repository glob/,
      );
    }
  });

  it('refuses to export when no stage requires signatures', () => {
    for (const fn of [kyvernoClusterPolicy, policyControllerPolicies, openshiftImagePolicies, containersPolicy]) {
      refuses(() => fn([STAGES[0]!]), 'POLICY_EXPORT_EMPTY', /no stage requires signatures/);
    }
  });
});

// --- Kyverno --------------------------------------------------------------------------------

/** kyverno/kyverno ext/wildcard Match: `*` any run of characters (with "/"), `?` one character. */
function kyvernoMatch(pattern: string, image: string): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\/]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 's').test(image);
}

describe('kyvernoClusterPolicy', () => {
  const validate = compile(closed(crdSchema('crds/kyverno.io_clusterpolicies.yaml.gz', 'v1')));

  it('passes the ClusterPolicy CRD schema of kyverno.io/v1', () => {
    assertValid(validate, kyvernoClusterPolicy(STAGES), 'ClusterPolicy');
    assertValid(
      validate,
      kyvernoClusterPolicy(withProdKeys([PROD_KEY, ROTATED_KEY]), { failureAction: 'Audit' }),
      'ClusterPolicy',
    );
  });

  it('the schema check has teeth: a misspelt verifyImages field fails', () => {
    const p = kyvernoClusterPolicy(STAGES) as Doc;
    p.spec.rules[0].verifyImages[0].imageReference = ['x'];
    assert.equal(validate(p), false);
  });

  it('verifies each signed stage with its own keys, any of them', () => {
    const p = kyvernoClusterPolicy(withProdKeys([PROD_KEY, ROTATED_KEY])) as Doc;
    assert.deepEqual(
      p.spec.rules.map((r: Doc) => r.name),
      ['verify-sluice-preprod', 'verify-sluice-prod'],
    );
    const prod = p.spec.rules[1].verifyImages[0];
    assert.equal(prod.attestors[0].count, 1);
    assert.deepEqual(
      prod.attestors[0].entries.map((e: Doc) => e.keys.publicKeys),
      [PROD_KEY, ROTATED_KEY],
    );
    assert.equal(prod.failureAction, 'Enforce');
    assert.equal(prod.required, true);
  });

  it("matches the stage's images, tags and digests, and nothing of the other stages", () => {
    const [preprod, prod] = (kyvernoClusterPolicy(STAGES) as Doc).spec.rules.map(
      (r: Doc) => r.verifyImages[0].imageReferences as string[],
    );
    const matches = (refs: string[], image: string) => refs.some((r) => kyvernoMatch(r, image));
    for (const i of [IMAGES.prodTag, IMAGES.prodDigest, IMAGES.prodLiteral, IMAGES.prodDr])
      assert.ok(matches(prod, i), i);
    for (const i of [IMAGES.preprod, IMAGES.dev, IMAGES.otherRepo, IMAGES.elsewhere]) assert.ok(!matches(prod, i), i);
    assert.ok(matches(preprod, IMAGES.preprod));
    assert.ok(!matches(preprod, IMAGES.prodTag));
  });
});

// --- policy-controller ------------------------------------------------------------------------

/** sigstore/policy-controller pkg/apis/glob/glob.go Compile. */
function policyControllerGlob(glob: string): RegExp {
  assert.match(glob, /^[a-zA-Z0-9\-_:/*.@]+$/, `invalid glob ${glob}`);
  const re = glob.replace(/\./g, '\\.').replace(/\*\*/g, '#').replace(/\*/g, '[^/]*').replace(/#/g, '.*');
  return new RegExp(`^${re}$`);
}

describe('policyControllerPolicies', () => {
  const validate = compile(closed(crdSchema('crds/policy.sigstore.dev_clusterimagepolicies.yaml', 'v1beta1')));

  it('passes the ClusterImagePolicy CRD schema of policy.sigstore.dev/v1beta1', () => {
    for (const p of policyControllerPolicies(withProdKeys([PROD_KEY, ROTATED_KEY]), { mode: 'warn' })) {
      assertValid(validate, p, `ClusterImagePolicy ${p.metadata}`);
    }
  });

  it('the schema check has teeth: a misspelt authority field fails', () => {
    const [p] = policyControllerPolicies(STAGES) as Doc[];
    p!.spec.authorities[0].keys = {};
    assert.equal(validate(p), false);
  });

  it('has one policy per signed stage with one key authority per key', () => {
    const ps = policyControllerPolicies(withProdKeys([PROD_KEY, ROTATED_KEY])) as Doc[];
    assert.deepEqual(
      ps.map((p) => p.metadata.name),
      ['sluice-preprod', 'sluice-prod'],
    );
    assert.deepEqual(ps[1]!.spec.authorities, [
      { name: 'prod-key-1', key: { data: PROD_KEY, hashAlgorithm: 'sha256' } },
      { name: 'prod-key-2', key: { data: ROTATED_KEY, hashAlgorithm: 'sha256' } },
    ]);
    assert.equal(ps[1]!.spec.mode, 'enforce');
  });

  it("its globs match the stage's references and nothing else", () => {
    const [, prod] = policyControllerPolicies(STAGES) as Doc[];
    const globs = (prod!.spec.images as Array<{ glob: string }>).map((g) => policyControllerGlob(g.glob));
    const matches = (image: string) => globs.some((g) => g.test(image));
    for (const i of [IMAGES.prodTag, IMAGES.prodDigest, IMAGES.prodLiteral, IMAGES.prodDr]) assert.ok(matches(i), i);
    for (const i of [IMAGES.preprod, IMAGES.dev, IMAGES.otherRepo, IMAGES.elsewhere]) assert.ok(!matches(i), i);
    // "*" stays within one segment, as in Sluice's pattern.
    assert.ok(!matches(`${HOST}/shop-prod/team/api:1`));
  });

  it('writes Docker Hub as index.docker.io, as the controller resolves it', () => {
    const [p] = policyControllerPolicies([
      {
        name: 'prod',
        repositories: [{ registry: 'docker.io', patterns: ['acme/**'] }],
        publicKeys: [PROD_KEY],
        requireSignature: true,
      },
    ]) as Doc[];
    assert.deepEqual(p!.spec.images, [{ glob: 'index.docker.io/acme/**' }]);
  });

  it('refuses "?", which its globs do not have', () => {
    refuses(
      () =>
        policyControllerPolicies([{ ...STAGES[2]!, repositories: [{ registry: HOST, patterns: ['shop-prod/ap?'] }] }]),
      'POLICY_EXPORT_INVALID',
      /"\?"/,
    );
  });
});

// --- OpenShift ------------------------------------------------------------------------------

/** The scope grammar of the CRD's own CEL rule, as a JS RegExp (RE2's [[:xdigit:]] spelt out). */
function scopeRule(schema: Doc): RegExp {
  const rules = schema.properties.spec.properties.scopes.items['x-kubernetes-validations'] as Array<{ rule: string }>;
  const rule = rules.find((r) => r.rule.startsWith("!self.contains('*')"))!.rule;
  const literal = /self\.matches\('(.*)'\)/.exec(rule)![1]!;
  return new RegExp(literal.replace(/\\\\/g, '\\').replace(/\[\[:xdigit:\]\]/g, '[0-9A-Fa-f]'));
}

describe('openshiftImagePolicies', () => {
  const clusterSchema = crdSchema('crds/config.openshift.io_clusterimagepolicies.yaml', 'v1') as Doc;
  const namespacedSchema = crdSchema('crds/config.openshift.io_imagepolicies.yaml', 'v1') as Doc;
  const validateCluster = compile(closed(clusterSchema));
  const validateNamespaced = compile(closed(namespacedSchema));

  it('passes the ClusterImagePolicy and ImagePolicy CRD schemas of config.openshift.io/v1', () => {
    for (const p of openshiftImagePolicies(STAGES)) assertValid(validateCluster, p, 'ClusterImagePolicy');
    for (const p of openshiftImagePolicies(STAGES, { kind: 'ImagePolicy', namespace: 'shop-prod' })) {
      assertValid(validateNamespaced, p, 'ImagePolicy');
      assert.equal((p as Doc).metadata.namespace, 'shop-prod');
    }
  });

  it('the schema check has teeth: an unknown policyType fails', () => {
    const [p] = openshiftImagePolicies(STAGES) as Doc[];
    p!.spec.policy.rootOfTrust.policyType = 'Key';
    assert.equal(validateCluster(p), false);
  });

  it("its scopes are prefixes of the stage's repositories that pass the CRD's scope rule", () => {
    const [, prod] = openshiftImagePolicies(STAGES) as Doc[];
    assert.deepEqual(prod!.spec.scopes, [
      `${HOST}/shop-prod`,
      `${HOST}/payments-prod/api`,
      'dr.example.com:5000/shop-prod',
    ]);
    const rule = scopeRule(clusterSchema);
    for (const s of prod!.spec.scopes as string[]) assert.match(s, rule);
    assert.doesNotMatch(`${HOST}/shop-*/api`, rule, 'the rule extracted from the CRD rejects path wildcards');
  });

  it('puts the one key in as base64 PEM, as keyData expects', () => {
    const [, prod] = openshiftImagePolicies(STAGES) as Doc[];
    const key = prod!.spec.policy.rootOfTrust.publicKey.keyData as string;
    assert.equal(Buffer.from(key, 'base64').toString('utf8'), PROD_KEY);
    assert.ok(
      PROD_KEY.startsWith('-----BEGIN PUBLIC KEY-----') && PROD_KEY.trimEnd().endsWith('-----END PUBLIC KEY-----'),
    );
    assert.deepEqual(prod!.spec.policy.signedIdentity, { matchPolicy: 'MatchRepository' });
  });

  it('refuses a stage with two keys, and a pattern no scope can say', () => {
    refuses(
      () => openshiftImagePolicies(withProdKeys([PROD_KEY, ROTATED_KEY])),
      'POLICY_EXPORT_INVALID',
      /exactly one public key/,
    );
    refuses(
      () => openshiftImagePolicies([{ ...STAGES[2]!, repositories: [{ registry: HOST, patterns: ['shop-*/api'] }] }]),
      'POLICY_EXPORT_INVALID',
      /"shop-\*\/api" .* cannot be written as a OpenShift scope/,
    );
    refuses(() => openshiftImagePolicies(STAGES, { kind: 'ImagePolicy' }), 'POLICY_EXPORT_INVALID', /namespaced/);
  });
});

// --- containers-policy.json -------------------------------------------------------------------

/**
 * policy.json as containers-policy.json(5) documents it (containers/image
 * docs/containers-policy.json.5.md, commit df7e80d2d19872b61f352a8a182ec934dc0c2346): strict
 * parsing ("unrecognized, duplicated or otherwise invalid fields cause the entire file ... to
 * be rejected"), a mandatory non-empty `default`, `transports.docker` scopes mapping to
 * non-empty requirement lists, and for `sigstoreSigned` exactly one of keyPath, keyPaths,
 * keyData, keyDatas, fulcio, pki.
 */
const identity = {
  type: 'object',
  required: ['type'],
  properties: {
    type: {
      enum: [
        'matchExact',
        'matchRepoDigestOrExact',
        'matchRepository',
        'exactReference',
        'exactRepository',
        'remapIdentity',
      ],
    },
    dockerReference: { type: 'string' },
    dockerRepository: { type: 'string' },
    prefix: { type: 'string' },
    signedPrefix: { type: 'string' },
  },
  additionalProperties: false,
};
const keySources = ['keyPath', 'keyPaths', 'keyData', 'keyDatas', 'fulcio', 'pki'];
const requirement = {
  oneOf: [
    {
      type: 'object',
      properties: { type: { const: 'insecureAcceptAnything' } },
      required: ['type'],
      additionalProperties: false,
    },
    { type: 'object', properties: { type: { const: 'reject' } }, required: ['type'], additionalProperties: false },
    {
      type: 'object',
      properties: {
        type: { const: 'sigstoreSigned' },
        keyPath: { type: 'string' },
        keyPaths: { type: 'array', items: { type: 'string' }, minItems: 1 },
        keyData: { type: 'string', format: 'byte' },
        keyDatas: { type: 'array', items: { type: 'string', format: 'byte' }, minItems: 1 },
        fulcio: { type: 'object' },
        pki: { type: 'object' },
        rekorPublicKeyPath: { type: 'string' },
        rekorPublicKeyData: { type: 'string', format: 'byte' },
        signedIdentity: identity,
      },
      required: ['type'],
      oneOf: keySources.map((k) => ({ required: [k] })),
      additionalProperties: false,
    },
  ],
};
const requirements = { type: 'array', minItems: 1, items: requirement };
const policySchema = {
  type: 'object',
  required: ['default'],
  properties: {
    default: requirements,
    transports: {
      type: 'object',
      properties: {
        docker: {
          type: 'object',
          // docker scopes: a host[:port] with optional repository path, fully expanded, or *.domain.
          propertyNames: { pattern: '^(?:\\*\\.[a-z0-9.-]+|[a-z0-9.-]+(?::[0-9]+)?(?:/[a-z0-9._/-]+)?)$' },
          additionalProperties: requirements,
        },
      },
      additionalProperties: false,
    },
  },
  additionalProperties: false,
};
/** containers-registries.d(5): `docker` scopes to sections of lookaside, lookaside-staging, use-sigstore-attachments. */
const registriesDSchema = {
  type: 'object',
  properties: {
    'default-docker': { $ref: '#/$defs/section' },
    docker: { type: 'object', additionalProperties: { $ref: '#/$defs/section' } },
  },
  additionalProperties: false,
  $defs: {
    section: {
      type: 'object',
      properties: {
        lookaside: { type: 'string' },
        'lookaside-staging': { type: 'string' },
        'use-sigstore-attachments': { type: 'boolean' },
      },
      additionalProperties: false,
    },
  },
};

/** The requirements containers/image applies to an image: those of the most specific scope. */
function requirementsFor(policy: Doc, image: string): Doc[] {
  const scopes = policy.transports?.docker ?? {};
  const name = image.replace(/@.*$/, '').replace(/:[^/:]*$/, '');
  for (let s = name; s !== ''; s = s.includes('/') ? s.slice(0, s.lastIndexOf('/')) : '') {
    if (scopes[s]) return scopes[s];
  }
  return policy.default;
}

describe('containersPolicy', () => {
  const validatePolicy = compile(policySchema);
  const validateRegistriesD = compile(registriesDSchema);

  it('matches the documented policy.json and registries.d shapes', () => {
    for (const options of [{}, { default: 'reject' as const }]) {
      const files = containersPolicy(withProdKeys([PROD_KEY, ROTATED_KEY]), options);
      assertValid(validatePolicy, JSON.parse(JSON.stringify(files.policy)), 'policy.json');
      assertValid(validateRegistriesD, parseYaml(yamlDocuments([files.registriesD])), 'registries.d');
    }
  });

  it('the documented-shape check has teeth: two key sources in one requirement fail', () => {
    const { policy } = containersPolicy(STAGES) as unknown as { policy: Doc };
    const [req] = policy.transports.docker[`${HOST}/shop-prod`];
    req.keyPath = '/etc/pki/cosign.pub';
    assert.equal(validatePolicy(policy), false);
  });

  it('requires a signature by the stage key on the stage scopes, and reads sigstore attachments there', () => {
    const { policy, registriesD } = containersPolicy(STAGES);
    const [prod] = requirementsFor(policy, IMAGES.prodTag);
    assert.equal(prod!.type, 'sigstoreSigned');
    assert.equal(Buffer.from(prod!.keyData, 'base64').toString('utf8'), PROD_KEY);
    assert.deepEqual(prod!.signedIdentity, { type: 'matchRepository' });
    assert.equal(Buffer.from(requirementsFor(policy, IMAGES.preprod)[0]!.keyData, 'base64').toString(), PREPROD_KEY);
    assert.equal(requirementsFor(policy, IMAGES.prodDr)[0]!.type, 'sigstoreSigned');
    assert.equal(requirementsFor(policy, IMAGES.prodDigest)[0]!.type, 'sigstoreSigned');
    assert.deepEqual(registriesD.docker[`${HOST}/shop-prod`], { 'use-sigstore-attachments': true });
    assert.deepEqual(Object.keys(registriesD.docker).sort(), Object.keys(policy.transports.docker).sort());
  });

  it('accepts other images by default, so the node still pulls what Sluice does not manage', () => {
    const { policy } = containersPolicy(STAGES);
    assert.deepEqual(requirementsFor(policy, IMAGES.elsewhere), [{ type: 'insecureAcceptAnything' }]);
    assert.deepEqual(requirementsFor(policy, IMAGES.dev), [{ type: 'insecureAcceptAnything' }]);
  });

  it('with reject, rejects everything else but still lets unsigned stages pull', () => {
    const { policy } = containersPolicy(STAGES, { default: 'reject' });
    assert.deepEqual(requirementsFor(policy, IMAGES.elsewhere), [{ type: 'reject' }]);
    assert.deepEqual(requirementsFor(policy, IMAGES.dev), [{ type: 'insecureAcceptAnything' }]);
  });

  it('lists every key of a stage in keyDatas', () => {
    const { policy } = containersPolicy(withProdKeys([PROD_KEY, ROTATED_KEY]));
    const [req] = requirementsFor(policy, IMAGES.prodTag);
    assert.deepEqual(
      req!.keyDatas.map((k: string) => Buffer.from(k, 'base64').toString('utf8')),
      [PROD_KEY, ROTATED_KEY],
    );
    assert.equal(req!.keyData, undefined);
  });

  it('refuses two stages owning one scope (their requirements would both apply)', () => {
    const clash: StageTrust[] = [
      { ...STAGES[1]!, repositories: [{ registry: HOST, patterns: ['shared/**'] }] },
      { ...STAGES[2]!, repositories: [{ registry: HOST, patterns: ['shared/*'] }] },
    ];
    refuses(() => containersPolicy(clash), 'POLICY_EXPORT_INVALID', /both cover registry\.example\.com\/shared/);
  });
});

describe('yamlDocuments', () => {
  it('renders objects as a multi-document stream that reads back the same', () => {
    const objects = [...policyControllerPolicies(STAGES), kyvernoClusterPolicy(STAGES)];
    const text = yamlDocuments(objects);
    const back = text.split(/^---$/m).map((d) => parseYaml(d));
    assert.deepEqual(back, JSON.parse(JSON.stringify(objects)));
  });
});
