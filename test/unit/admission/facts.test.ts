import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkImage, type Hold, type SignatureCheck } from '../../../src/admission/decide.ts';
import { FactsCache, gatherFacts, type FactSources } from '../../../src/admission/facts.ts';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const GOOD = d('a');
const MOVED = d('b');

interface World {
  recorded: Map<string, string>;
  served: Map<string, string>;
  reached: Map<string, string[]>;
  holds: Map<string, Hold[]>;
  signed: Set<string>;
  registryDown: boolean;
  registryDelayMs: number;
  calls: { registry: number; verify: number };
}

function world(): World {
  return {
    recorded: new Map([['reg.local/acme-prod/api:1.4.0-7', GOOD]]),
    served: new Map([['reg.local/acme-prod/api:1.4.0-7', GOOD]]),
    reached: new Map([[GOOD, ['dev', 'staging', 'preprod', 'prod']]]),
    holds: new Map(),
    signed: new Set([GOOD]),
    registryDown: false,
    registryDelayMs: 0,
    calls: { registry: 0, verify: 0 },
  };
}

function sources(w: World): FactSources {
  const key = (r: { registry: string; repository: string; tag?: string }) => `${r.registry}/${r.repository}:${r.tag}`;
  return {
    allowedSource: (ref) =>
      ref.registry === 'reg.local'
        ? { allowed: true }
        : { allowed: false, reason: `registry ${ref.registry} is not in the policy` },
    recordedDigest: async (ref) => w.recorded.get(key(ref)),
    registryDigest: async (ref, signal) => {
      w.calls.registry++;
      if (w.registryDelayMs) await new Promise((r) => setTimeout(r, w.registryDelayMs));
      signal.throwIfAborted();
      if (w.registryDown) throw new Error('connect ECONNREFUSED 127.0.0.1:5000');
      return w.served.get(key(ref));
    },
    known: async (digest) => w.reached.has(digest),
    stagesReached: async (digest) => w.reached.get(digest) ?? [],
    holds: async (digest) => w.holds.get(digest) ?? [],
    verifySignature: async (_ref, digest): Promise<SignatureCheck> => {
      w.calls.verify++;
      return w.signed.has(digest)
        ? { status: 'verified', key: 'prod' }
        : { status: 'rejected', reason: 'no signature' };
    },
    deprecation: async () => undefined,
  };
}

const req = (image: string, over = {}) => ({ image, stage: 'prod', requireSignature: true, budgetMs: 500, ...over });

describe('admission facts', () => {
  it('resolves a tag through the inventory and the registry, verifies once, then answers from cache', async () => {
    const w = world();
    let t = 0;
    const cache = new FactsCache({ now: () => t });
    const first = await gatherFacts(sources(w), cache, req('reg.local/acme-prod/api:1.4.0-7'));
    assert.equal(checkImage(first, 'prod', true).outcome, 'pass');
    assert.deepEqual('resolution' in first && first.resolution, { digest: GOOD, source: 'inventory' });
    await gatherFacts(sources(w), cache, req('reg.local/acme-prod/api:1.4.0-7'));
    assert.deepEqual(w.calls, { registry: 1, verify: 1 }, 'the second review is answered from cache');
    t += cache.resolutionTtlMs;
    await gatherFacts(sources(w), cache, req('reg.local/acme-prod/api:1.4.0-7'));
    assert.deepEqual(w.calls, { registry: 2, verify: 1 }, 'the tag is asked again after its TTL; the verdict is kept');
  });

  it('denies a tag the registry moved, a tag nobody knows, and a registry the policy does not name', async () => {
    const w = world();
    w.served.set('reg.local/acme-prod/api:1.4.0-7', MOVED);
    const moved = checkImage(
      await gatherFacts(sources(w), new FactsCache(), req('reg.local/acme-prod/api:1.4.0-7')),
      'prod',
      true,
    );
    assert.equal(moved.outcome, 'fail');
    assert.match(
      moved.outcome === 'fail' ? moved.detail : '',
      /moved: Sluice recorded sha256:a{12}…, the registry now serves sha256:b{12}…/,
    );
    const unknown = checkImage(
      await gatherFacts(sources(w), new FactsCache(), req('reg.local/acme-prod/api:9.9.9-1')),
      'prod',
      true,
    );
    assert.match(unknown.outcome === 'fail' ? unknown.detail : '', /known neither to Sluice nor to the registry/);
    const foreign = checkImage(
      await gatherFacts(sources(w), new FactsCache(), req('evil.example/x/y:1')),
      'prod',
      true,
    );
    assert.deepEqual([foreign.outcome, foreign.outcome === 'fail' && foreign.reason], ['fail', 'registry-not-allowed']);
  });

  it('does not verify signatures of images that already fail, nor when the stage needs none', async () => {
    const w = world();
    w.holds.set(GOOD, [{ kind: 'quarantine', reason: 'CVE-2026-1 (critical)' }]);
    const held = checkImage(
      await gatherFacts(sources(w), new FactsCache(), req(`reg.local/acme-prod/api@${GOOD}`)),
      'prod',
      true,
    );
    assert.match(held.outcome === 'fail' ? held.detail : '', /quarantined: CVE-2026-1/);
    w.holds.clear();
    await gatherFacts(
      sources(w),
      new FactsCache(),
      req(`reg.local/acme-prod/api@${GOOD}`, { requireSignature: false }),
    );
    assert.equal(w.calls.verify, 0);
  });

  it('answers within the budget from the last good facts when the registry is slow, and says so when nothing is cached', async () => {
    const w = world();
    let t = 0;
    const cache = new FactsCache({ now: () => t, resolutionTtlMs: 1 });
    await gatherFacts(sources(w), cache, req('reg.local/acme-prod/api:1.4.0-7'));
    t += 10;
    w.registryDelayMs = 2_000;
    const started = performance.now();
    const slow = await gatherFacts(sources(w), cache, req('reg.local/acme-prod/api:1.4.0-7', { budgetMs: 100 }));
    assert.ok(performance.now() - started < 1_000, 'answered before the registry did');
    assert.equal(checkImage(slow, 'prod', true).outcome, 'pass');
    const uncached = await gatherFacts(
      sources(w),
      new FactsCache(),
      req('reg.local/acme-prod/api:1.4.0-7', { budgetMs: 100 }),
    );
    assert.deepEqual(checkImage(uncached, 'prod', true).outcome, 'unavailable');
    assert.match('unavailable' in uncached ? uncached.unavailable : '', /within 100 ms and none are cached/);
  });

  it('falls back to the recorded digest when the registry is down, and refuses an unrecorded tag then', async () => {
    const w = world();
    w.registryDown = true;
    const recorded = await gatherFacts(sources(w), new FactsCache(), req('reg.local/acme-prod/api:1.4.0-7'));
    assert.equal(checkImage(recorded, 'prod', true).outcome, 'pass');
    w.recorded.clear();
    const unrecorded = checkImage(
      await gatherFacts(sources(w), new FactsCache(), req('reg.local/acme-prod/api:1.4.0-7')),
      'prod',
      true,
    );
    assert.equal(unrecorded.outcome, 'unavailable');
    assert.match(
      unrecorded.outcome === 'unavailable' ? unrecorded.detail : '',
      /could not be asked \(connect ECONNREFUSED/,
    );
  });

  it('keeps the cache bounded', async () => {
    const w = world();
    const cache = new FactsCache({ maxEntries: 3 });
    for (let i = 0; i < 10; i++) await gatherFacts(sources(w), cache, req(`reg.local/acme-prod/api:${i}`));
    assert.equal(cache.resolutions.size, 3);
  });

  it('refuses a reference that does not parse, without asking anything', async () => {
    const w = world();
    const facts = await gatherFacts(sources(w), new FactsCache(), req('UPPER/Case::bad'));
    assert.equal(checkImage(facts, 'prod', true).outcome, 'fail');
    assert.deepEqual(w.calls, { registry: 0, verify: 0 });
  });
});
