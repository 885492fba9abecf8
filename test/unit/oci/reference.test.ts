import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SluiceError } from '../../../src/errors.ts';
import { formatReference, parseReference, parseRegistryHost, parseRepository } from '../../../src/oci/reference.ts';

const D = 'sha256:' + 'a'.repeat(64);

describe('parseReference', () => {
  const cases: Array<[string, object]> = [
    ['alpine', { registry: 'docker.io', repository: 'library/alpine', tag: 'latest' }],
    ['alpine:3.20', { registry: 'docker.io', repository: 'library/alpine', tag: '3.20' }],
    ['bitnami/redis', { registry: 'docker.io', repository: 'bitnami/redis', tag: 'latest' }],
    ['docker://quay.io/ns/app:1.0', { registry: 'quay.io', repository: 'ns/app', tag: '1.0' }],
    ['index.docker.io/library/x:y', { registry: 'docker.io', repository: 'library/x', tag: 'y' }],
    ['localhost/app', { registry: 'localhost', repository: 'app', tag: 'latest' }],
    ['localhost:5000/a/b/c:v', { registry: 'localhost:5000', repository: 'a/b/c', tag: 'v' }],
    ['127.0.0.1:5000/acme-dev/api:1.4.0-7', { registry: '127.0.0.1:5000', repository: 'acme-dev/api', tag: '1.4.0-7' }],
    [
      `cpk.quay.asg.net/ki_poc-staging/inferencer@${D}`,
      { registry: 'cpk.quay.asg.net', repository: 'ki_poc-staging/inferencer', digest: D },
    ],
    [`r.io/a:t@${D}`, { registry: 'r.io', repository: 'a', tag: 't', digest: D }],
    ['[::1]:5000/app:v', { registry: '[::1]:5000', repository: 'app', tag: 'v' }],
    ['r.io/a__b/c--d/e.f', { registry: 'r.io', repository: 'a__b/c--d/e.f', tag: 'latest' }],
  ];
  for (const [input, want] of cases) {
    it(`parses ${input}`, () => assert.deepEqual(parseReference(input), want));
  }

  const bad: Array<[string, RegExp]> = [
    ['', /reference is empty/],
    ['repo:v1/x', /tag contains '\/'/],
    ['r.io/Repo', /must be lowercase/],
    ['r.io/a//b', /empty path component/],
    ['r.io/a/', /empty path component/],
    ['r.io/a:', /tag is empty/],
    ['r.io/a:-x', /must not start with/],
    [`r.io/a:${'x'.repeat(129)}`, /at most 128/],
    ['r.io/a@sha256:abc', /64 hex digits/],
    [`r.io/a@sha256:${'A'.repeat(64)}`, /lowercase hex/],
    [`r.io/a@md5:${'a'.repeat(32)}`, /not supported/],
    ['r.io:99999/a', /out of range/],
    ['r.io:abc/a', /port "abc"/],
    ['oci:/tmp/layout:tag', /transport "oci:" is not supported/],
    ['r.io/a b', /whitespace/],
    ['r.io/a_-b', /single separators/],
    [`r.io/${'a'.repeat(260)}`, /longer than 255/],
  ];
  for (const [input, re] of bad) {
    it(`rejects ${JSON.stringify(input.slice(0, 40))}`, () => {
      assert.throws(
        () => parseReference(input),
        (err: unknown) =>
          err instanceof SluiceError &&
          err.code === 'REFERENCE_INVALID' &&
          err.category === 'invalid-input' &&
          re.test(err.message) &&
          err.message.includes('invalid reference'),
      );
    });
  }

  it('round-trips through formatReference for generated references', () => {
    const component = fc.stringMatching(/^[a-z0-9]+(?:[._-][a-z0-9]+)?$/).filter((s) => s.length <= 20);
    const tag = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,15}$/);
    fc.assert(
      fc.property(
        fc.array(component, { minLength: 1, maxLength: 3 }),
        tag,
        fc.option(fc.stringMatching(/^[0-9a-f]{64}$/), { nil: undefined }),
        (path, t, hex) => {
          const ref = {
            registry: 'registry.example:5000',
            repository: path.join('/'),
            tag: t,
            ...(hex ? { digest: `sha256:${hex}` } : {}),
          };
          assert.deepEqual(parseReference(formatReference(ref)), ref);
        },
      ),
    );
  });
});

describe('parseRepository / parseRegistryHost', () => {
  it('takes a repository without tag', () => {
    assert.deepEqual(parseRepository('127.0.0.1:5000/acme-dev/api'), {
      registry: '127.0.0.1:5000',
      repository: 'acme-dev/api',
    });
    assert.throws(() => parseRepository('r.io/a:tag'), /without tag or digest/);
  });
  it('accepts hosts with scheme and trailing slash', () => {
    assert.equal(parseRegistryHost('https://Quay.IO/'), 'quay.io');
    assert.equal(parseRegistryHost('127.0.0.1:5000'), '127.0.0.1:5000');
    assert.throws(() => parseRegistryHost('quay.io/ns'), /expected host\[:port\]/);
  });
});

describe('references that carry user info or are too long to repeat', () => {
  const refused = (input: string, shown: string | undefined) => (err: unknown) => {
    assert.ok(err instanceof SluiceError && err.code === 'REFERENCE_INVALID', String(err));
    assert.match(err.message, /a reference carries no user info/);
    const said = err.message + JSON.stringify(err.toJSON());
    for (const secret of ['admin', 'hunter2', 'p@ss', 'pa/ss']) assert.ok(!said.includes(secret), said);
    if (shown) assert.ok(err.message.includes(`"…@${shown}"`), err.message);
    return input !== '';
  };

  for (const [input, shown] of [
    ['admin:hunter2@127.0.0.1:5000/acme/api:1.0', '127.0.0.1:5000/acme/api:1.0'],
    ['docker://admin:hunter2@registry.example/acme/api', 'registry.example/acme/api'],
    ['admin:p@ss@registry.example/acme/api', 'registry.example/acme/api'],
    ['admin:pa/ss@registry.example/acme/api', 'registry.example/acme/api'],
    [`admin:hunter2@registry.example/acme/api@${D}`, `registry.example/acme/api@${D}`],
    [`admin:hunter2@alpine@${D}`, undefined],
    ['admin:hunter2 with space@registry.example/x', 'registry.example/x'],
  ] as const) {
    it(`refuses ${input.replace(/@.*/, '@…')} without repeating the user or the password`, () => {
      assert.throws(() => parseReference(input), refused(input, shown));
    });
  }

  it('does not repeat what precedes an @ that is followed by no valid digest', () => {
    assert.throws(
      () => parseReference('admin:hunter2@localhost:5000'),
      (err: unknown) =>
        err instanceof SluiceError &&
        !err.message.includes('hunter2') &&
        !JSON.stringify(err.toJSON()).includes('hunter2') &&
        err.message.startsWith('invalid reference "…@localhost:5000": digest'),
    );
  });

  it('refuses user info in a registry host', () => {
    assert.throws(
      () => parseRegistryHost('https://admin:hunter2@quay.io'),
      (err: unknown) =>
        err instanceof SluiceError && /no user info/.test(err.message) && !/admin|hunter2/.test(err.message),
    );
  });

  it('repeats at most 200 characters of a long reference, saying how long it was', () => {
    const input = `r.io/${'a'.repeat(10_000)}/B`;
    assert.throws(
      () => parseReference(input),
      (err: unknown) => {
        assert.ok(err instanceof SluiceError);
        assert.ok(err.message.length < 400, `message is ${err.message.length} characters`);
        assert.ok(err.message.startsWith(`invalid reference "r.io/${'a'.repeat(195)}... (10007 characters)"`));
        assert.ok(String(err.context.reference).length < 260);
        return true;
      },
    );
    assert.throws(
      () => parseReference(`r.io/a/${'B'.repeat(10_000)}`),
      (err: unknown) => err instanceof SluiceError && err.message.length < 400,
    );
    assert.throws(
      () => parseReference(`r.io/a@sha256:${'f'.repeat(10_000)}`),
      (err: unknown) => err instanceof SluiceError && err.message.length < 600,
    );
  });
});
