/**
 * Generated inventories for the property tests: a few repositories drawing on one small pool
 * of digests, so that digests are shared between tags, repositories, indexes and referrers;
 * push times on a coarse grid, so that keep-last meets ties; env tags, cosign and referrers
 * tags (some for subjects that are not in the repository), pulls, promotions, quarantine and
 * holds. fast-check generates a blueprint of small numbers and `build` turns it into an
 * inventory, so failures shrink to small cases.
 */
import fc from 'fast-check';
import { RETENTION_MODES, type RetentionRules } from '../../../src/policy/index.ts';
import type { ManifestRecord, RepositoryInventory, RetentionInput, TagRecord } from '../../../src/retention/index.ts';
import { cosignTag, D, dg, ENV_TAGS, IMAGE, INDEX, NOW, tag } from './fixtures.ts';

const POOL = 10;
export const pool = (i: number): string => dg(`pool-${i}`);
const VERSION_NAMES = ['1.0', '1.1', '2.0', 'pr-1', 'pr-2', 'release-1', 'x', 'y'];
const ENV_NAMES = [...ENV_TAGS].slice(0, 3);
const day = (n: number) => n * 5 * D;

const rulesArb: fc.Arbitrary<RetentionRules> = fc
  .record({
    mode: fc.constantFrom(...RETENTION_MODES),
    maxAge: fc.option(fc.constantFrom(10 * D, 20 * D, 30 * D), { nil: undefined }),
    keepLast: fc.nat(3),
    catalogCap: fc.integer({ min: 1, max: 3 }),
    keepTags: fc.subarray(['release-*', '/^1\\./']),
    deleteTags: fc.subarray(['pr-*', 'x']),
    maxAgeSinceLastPull: fc.option(fc.constant(15 * D), { nil: undefined }),
    maxAgeSincePromotion: fc.option(fc.constant(15 * D), { nil: undefined }),
    pullProtectionWindow: fc.constantFrom(0, 7 * D),
  })
  .map((r) => {
    const out: RetentionRules = { ...r, trash: { enabled: false, window: 14 * D } };
    if (r.maxAge === undefined) delete out.maxAge;
    if (r.maxAgeSinceLastPull === undefined) delete out.maxAgeSinceLastPull;
    if (r.maxAgeSincePromotion === undefined) delete out.maxAgeSincePromotion;
    return out;
  });

const manifestArb = fc.record({
  p: fc.nat(POOL - 1),
  kind: fc.constantFrom('image', 'image', 'image', 'index', 'referrer'),
  children: fc.array(fc.nat(POOL - 1), { maxLength: 3 }),
  subject: fc.nat(POOL - 1),
  age: fc.nat(12),
  pull: fc.option(fc.nat(40), { nil: undefined }),
  inUse: fc.nat(15).map((n) => n === 0),
  blobs: fc.array(fc.nat(5), { maxLength: 3 }),
});

const tagArb = fc.record({
  kind: fc.constantFrom('version', 'version', 'version', 'env', 'artifact'),
  n: fc.nat(7),
  suffix: fc.nat(3),
  target: fc.nat(20),
  age: fc.nat(12),
});

const repoArb = fc.record({
  tagDelete: fc.boolean(),
  stage: fc.constantFrom('dev', 'staging', 'prod'),
  catalog: fc.nat(5).map((n) => n === 0),
  incomplete: fc.nat(30).map((n) => n === 0),
  rules: rulesArb,
  manifests: fc.uniqueArray(manifestArb, { selector: (m) => m.p, maxLength: 8 }),
  tags: fc.array(tagArb, { maxLength: 12 }),
});

const at = fc.record({ p: fc.nat(POOL - 1), age: fc.nat(60) });

export const blueprintArb = fc.record({
  repos: fc.array(repoArb, { minLength: 1, maxLength: 3 }),
  withBlobs: fc.boolean(),
  quarantined: fc.uniqueArray(fc.nat(POOL - 1), { maxLength: 2 }),
  legalHold: fc.uniqueArray(fc.nat(POOL - 1), { maxLength: 2 }),
  inUse: fc.uniqueArray(fc.nat(POOL - 1), { maxLength: 1 }),
  reachedProd: fc.array(at, { maxLength: 3 }),
  prodRetention: fc.option(fc.constantFrom(20 * D, 40 * D), { nil: undefined }),
  stageDigests: fc.array(
    fc.record({
      current: fc.option(fc.nat(POOL - 1), { nil: undefined }),
      previous: fc.option(fc.nat(POOL - 1), { nil: undefined }),
    }),
    { maxLength: 2 },
  ),
  lastPromotion: fc.array(at, { maxLength: 3 }),
  seed: fc.nat(),
});

export type Blueprint = typeof blueprintArb extends fc.Arbitrary<infer T> ? T : never;

function artifactName(subject: string, suffix: number): string {
  return suffix === 3 ? subject.replace(':', '-') : cosignTag(subject, (['sig', 'att', 'sbom'] as const)[suffix]!);
}

export function build(b: Blueprint): RetentionInput {
  const repositories: RepositoryInventory[] = b.repos.map((r, ri) => {
    const manifests: ManifestRecord[] = r.manifests.map((m) => {
      const rec: ManifestRecord = {
        digest: pool(m.p),
        mediaType: m.kind === 'index' ? INDEX : IMAGE,
        size: 100 * (m.p + 1),
        pushed: NOW - day(m.age),
      };
      // Children only among lower pool numbers: content addressing makes cycles impossible.
      if (m.kind === 'index') rec.children = [...new Set(m.children.filter((c) => c < m.p).map(pool))];
      // A referrer names a lower pool number as subject, or one absent from every repository
      // (a subject can never name its referrer back).
      if (m.kind === 'referrer') rec.subject = pool(m.subject < m.p ? m.subject : POOL + m.subject);
      if (m.pull !== undefined) rec.lastPull = NOW - m.pull * D;
      if (m.inUse) rec.inUse = true;
      if (b.withBlobs) rec.blobs = m.blobs.map((x) => ({ digest: dg(`blob-${x}`), size: 10 * (x + 1) }));
      return rec;
    });
    const tags = new Map<string, TagRecord>();
    if (manifests.length > 0) {
      for (const t of r.tags) {
        const name =
          t.kind === 'version'
            ? VERSION_NAMES[t.n]!
            : t.kind === 'env'
              ? ENV_NAMES[t.n % ENV_NAMES.length]!
              : artifactName(pool(t.n), t.suffix);
        if (tags.has(name)) continue;
        // An artifact names its subject, so it is pushed after it (higher pool numbers). Cosign
        // signatures, attestations and SBOMs are images; a referrers-schema tag points to an
        // index whose entries (referrers of the subject) were pushed after the subject too.
        const candidates =
          t.kind !== 'artifact'
            ? r.manifests
            : r.manifests.filter(
                (m) =>
                  m.p > t.n &&
                  (t.suffix === 3
                    ? m.kind === 'index' && m.children.every((c) => c > t.n || c >= m.p)
                    : m.kind !== 'index'),
              );
        if (candidates.length === 0) continue;
        const target = pool(candidates[t.target % candidates.length]!.p);
        tags.set(name, tag(name, target, day(t.age) / D));
      }
    }
    const repo: RepositoryInventory = {
      registry: r.tagDelete ? 'quay' : 'distribution',
      tagDelete: r.tagDelete,
      repository: `acme-${r.stage}/app${ri}`,
      team: 'acme',
      stage: r.stage,
      catalog: r.catalog,
      rules: r.rules,
      tags: [...tags.values()],
      manifests,
    };
    if (r.incomplete) repo.incomplete = 'tag list truncated';
    return repo;
  });
  const facts: RetentionInput['facts'] = {
    quarantined: new Set(b.quarantined.map(pool)),
    legalHold: new Set(b.legalHold.map(pool)),
    inUse: new Set(b.inUse.map(pool)),
    reachedProd: new Map(b.reachedProd.map((x) => [pool(x.p), NOW - x.age * D])),
    prodStage: 'prod',
    stageDigests: b.stageDigests.map((s, i) => ({
      stage: 'prod',
      repository: `app${i}`,
      ...(s.current !== undefined ? { current: pool(s.current) } : {}),
      ...(s.previous !== undefined ? { previous: pool(s.previous) } : {}),
    })),
    lastPromotion: new Map(b.lastPromotion.map((x) => [pool(x.p), NOW - x.age * D])),
  };
  if (b.prodRetention !== undefined) facts.prodRetention = b.prodRetention;
  return { now: NOW, repositories, facts };
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The same inventory listed in another order: repositories, tags, manifests, children, facts. */
export function shuffled(input: RetentionInput, seed: number): RetentionInput {
  const rnd = mulberry32(seed);
  const shuffle = <T>(xs: readonly T[]): T[] => {
    const out = [...xs];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  };
  const f = input.facts;
  return {
    now: input.now,
    repositories: shuffle(input.repositories).map((r) => ({
      ...r,
      tags: shuffle(r.tags),
      manifests: shuffle(r.manifests).map((m) => (m.children ? { ...m, children: shuffle(m.children) } : m)),
    })),
    facts: {
      ...f,
      quarantined: new Set(shuffle([...f.quarantined])),
      legalHold: new Set(shuffle([...f.legalHold])),
      inUse: new Set(shuffle([...f.inUse])),
      reachedProd: new Map(shuffle([...f.reachedProd])),
      stageDigests: shuffle(f.stageDigests),
      lastPromotion: new Map(shuffle([...f.lastPromotion])),
    },
  };
}
