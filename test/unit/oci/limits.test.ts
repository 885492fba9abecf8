/** The pure parts of the registry limits: fan-out checks, Retry-After, wait notices, the policy keys. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { retryWaitNotice } from '../../../src/cli/context.ts';
import { SluiceError } from '../../../src/errors.ts';
import { DEFAULT_REGISTRY_LIMITS, checkIndexFanOut } from '../../../src/oci/limits.ts';
import { formatWait, parseRetryAfter, retryRefusal } from '../../../src/oci/transport.ts';
import { MINIMAL, expectValid, problemAt, problemsOf } from '../policy/fixtures.ts';

const D = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
const index = (children: number) => ({
  kind: 'index' as const,
  digest: D(1),
  manifests: Array.from({ length: children }, (_, i) => ({ mediaType: 'x', digest: D(i + 2), size: 1 })),
});

function thrown(fn: () => void): SluiceError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof SluiceError);
    return err;
  }
  assert.fail('expected a SluiceError');
}

describe('checkIndexFanOut', () => {
  it('lets an image through at any depth, and an index of images at the top', () => {
    checkIndexFanOut({ kind: 'image', digest: D(1), manifests: [] }, 50, DEFAULT_REGISTRY_LIMITS);
    checkIndexFanOut(index(1000), 0, DEFAULT_REGISTRY_LIMITS);
  });

  it('refuses an index inside an index by default (containers/image refuses any)', () => {
    const e = thrown(() => checkIndexFanOut(index(1), 1, DEFAULT_REGISTRY_LIMITS, { repository: 'acme/api' }));
    assert.equal(e.code, 'INDEX_TOO_DEEP');
    assert.equal(e.category, 'integrity');
    assert.equal(e.context.depth, 2);
    assert.equal(e.context.digest, D(1));
    assert.match(e.message, /^index sha256:0+1 in acme\/api is at depth 2, over the limit of 1 \(limits\.indexDepth/);
  });

  it('counts depth against a raised limit', () => {
    const limits = { ...DEFAULT_REGISTRY_LIMITS, indexDepth: 3 };
    checkIndexFanOut(index(1), 2, limits);
    assert.equal(thrown(() => checkIndexFanOut(index(1), 3, limits)).context.depth, 4);
  });

  it('refuses one child over the limit, naming the count', () => {
    const e = thrown(() => checkIndexFanOut(index(1001), 0, DEFAULT_REGISTRY_LIMITS));
    assert.equal(e.code, 'INDEX_TOO_WIDE');
    assert.equal(e.context.children, 1001);
    assert.match(e.message, /lists 1001 manifests, over the limit of 1000 \(limits\.indexChildren\)/);
  });
});

describe('Retry-After', () => {
  it('is read uncapped, as seconds or an HTTP date', () => {
    assert.equal(parseRetryAfter('3600'), 3_600_000);
    assert.equal(parseRetryAfter(' 5 '), 5000);
    const now = Date.parse('2025-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('Wed, 01 Jan 2025 02:00:00 GMT', now), 7_200_000);
    assert.equal(parseRetryAfter('Tue, 31 Dec 2024 00:00:00 GMT', now), 0, 'a date in the past: now');
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(parseRetryAfter(undefined), undefined);
  });

  it('formats waits as people read them', () => {
    assert.equal(formatWait(0), '0 s');
    assert.equal(formatWait(2500), '3 s');
    assert.equal(formatWait(60_000), '60 s');
    assert.equal(formatWait(600_000), '10 min');
    assert.equal(formatWait(3_600_000), '1h');
    assert.equal(formatWait(5_400_000), '1h30m');
  });

  it('a refused retry says what the registry asked and what the budget was', () => {
    assert.equal(retryRefusal({}), '');
    assert.equal(
      retryRefusal({ retryRefused: { retryAfterMs: 3_600_000, budgetMs: 60_000 } }),
      '; it asks to be retried after 1h (Retry-After), beyond the retry budget of 60 s',
    );
  });
});

describe('retryWaitNotice (the CLI line on stderr)', () => {
  const base = { method: 'GET' as const, url: new URL('http://r.example:5000/v2/a/manifests/1?x=secret'), attempts: 5 };

  it('stays silent for waits of two seconds or less', () => {
    assert.equal(retryWaitNotice({ ...base, attempt: 2, delayMs: 2000, status: 503 }), undefined);
  });

  it('announces a longer wait with its cause, never the query string', () => {
    assert.equal(
      retryWaitNotice({ ...base, attempt: 2, delayMs: 5000, status: 429, retryAfterMs: 5000 }),
      'sluice: waiting 5 s before retrying GET r.example:5000/v2/a/manifests/1 (HTTP 429, Retry-After 5 s; attempt 2 of 5)\n',
    );
    assert.match(
      retryWaitNotice({ ...base, attempt: 3, delayMs: 8000, error: 'ECONNRESET' })!,
      /\(ECONNRESET; attempt 3 of 5\)/,
    );
  });
});

describe('policy: spec.registries[].limits', () => {
  const withLimits = (limits: string) =>
    MINIMAL.replace(
      '- { name: local, url: "http://127.0.0.1:5000", kind: distribution }',
      `- name: local\n      url: "http://127.0.0.1:5000"\n      kind: distribution\n      limits: ${limits}`,
    );

  it('resolves what is set, in bytes and milliseconds, and leaves the rest to the defaults', () => {
    const p = expectValid(withLimits('{ listItems: 10, listMiB: 2, indexDepth: 3, retryBudget: 0s, syncTimeout: 2h }'));
    assert.deepEqual(p.registries[0]!.limits, {
      listItems: 10,
      listBytes: 2 * 1024 * 1024,
      indexDepth: 3,
      retryBudgetMs: 0,
      syncTimeoutMs: 7_200_000,
    });
    assert.deepEqual(expectValid(MINIMAL).registries[0]!.limits, {});
  });

  it('names an unknown key and an out-of-range value where they are', () => {
    const problems = problemsOf(withLimits('{ listItem: 10, indexDepth: 0 }'));
    assert.match(problemAt(problems, 'spec.registries[0].limits.listItem').message, /did you mean `listItems`/);
    assert.match(problemAt(problems, 'spec.registries[0].limits.indexDepth').message, /an integer from 1 to 64/);
  });
});
