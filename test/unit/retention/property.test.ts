/**
 * Properties of the planner over thousands of generated inventories (see arbitraries.ts):
 *
 * P1 no protected digest is ever deleted, and no env or keepTags tag;
 * P2 the same input, in any order, gives the same plan and fingerprint;
 * P3 after applying the plan, a second plan deletes nothing;
 * P4 after applying, every tag resolves, every kept index has its children and every kept
 *    signature its subject;
 * P5 on registries that delete manifests rather than tags, a deleted manifest has no kept tag,
 *    and a deleted tag always goes with its manifest;
 * and applying the plan removes exactly what it lists, in an order that never leaves a kept
 * reference to something already deleted.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { tagMatcher } from '../../../src/policy/index.ts';
import {
  applyPlanToInventory,
  planRetention,
  type RepositoryInventory,
  type RepositoryPlan,
  type RetentionInput,
  type RetentionPlan,
} from '../../../src/retention/index.ts';
import { blueprintArb, build, shuffled } from './arbitraries.ts';

const RUNS = Number(process.env.RETENTION_PROPERTY_RUNS ?? 5000);

const key = (r: { registry: string; repository: string }) => `${r.registry}/${r.repository}`;

function repoPairs(input: RetentionInput, plan: RetentionPlan): Array<[RepositoryInventory, RepositoryPlan]> {
  const byKey = new Map(plan.repositories.map((p) => [key(p), p]));
  return input.repositories.map((r) => [r, byKey.get(key(r))!]);
}

/** Protections computed here from the facts, independently of the planner. */
function intrinsicallyProtected(input: RetentionInput, repo: RepositoryInventory, digest: string): boolean {
  const f = input.facts;
  const rec = repo.manifests.find((m) => m.digest === digest);
  const reached = f.reachedProd.get(digest);
  return (
    f.legalHold.has(digest) ||
    f.quarantined.has(digest) ||
    f.inUse.has(digest) ||
    rec?.inUse === true ||
    f.stageDigests.some((s) => s.current === digest || s.previous === digest) ||
    (reached !== undefined && (f.prodRetention === undefined || input.now - reached <= f.prodRetention)) ||
    (rec?.lastPull !== undefined && input.now - rec.lastPull <= repo.rules.pullProtectionWindow)
  );
}

function checkProtections(input: RetentionInput, plan: RetentionPlan): void {
  for (const [repo, p] of repoPairs(input, plan)) {
    const keepTag = tagMatcher(repo.rules.keepTags);
    const decisions = new Map(p.digests.map((d) => [d.digest, d]));
    for (const t of p.tags) {
      if (t.kind === 'env') assert.equal(t.action, 'keep', `env tag ${t.tag} deleted`);
      if (t.kind === 'version' && keepTag(t.tag)) assert.equal(t.action, 'keep', `keepTags tag ${t.tag} deleted`);
      if (t.action === 'keep') {
        assert.notEqual(decisions.get(t.digest)!.action, 'delete-manifest', `kept tag ${t.tag} on a deleted manifest`);
      }
      if (intrinsicallyProtected(input, repo, t.digest))
        assert.equal(t.action, 'keep', `tag ${t.tag} of a protected digest`);
    }
    for (const m of repo.manifests) {
      if (intrinsicallyProtected(input, repo, m.digest)) {
        assert.notEqual(decisions.get(m.digest)!.action, 'delete-manifest', `protected ${m.digest} deleted`);
      }
    }
    if (repo.incomplete) assert.equal(p.tagsDeleted + p.manifestsDeleted, 0);
  }
}

function checkRegistrySemantics(input: RetentionInput, plan: RetentionPlan): void {
  for (const [repo, p] of repoPairs(input, plan)) {
    const decisions = new Map(p.digests.map((d) => [d.digest, d]));
    for (const t of p.tags) {
      const d = decisions.get(t.digest)!;
      if (d.action === 'delete-manifest') assert.equal(t.action, 'delete', `tag ${t.tag} kept on a deleted manifest`);
      if (!repo.tagDelete && t.action === 'delete') {
        assert.equal(d.action, 'delete-manifest', `${t.tag}: a tag alone cannot be deleted on ${repo.registry}`);
      }
    }
    for (const d of p.digests) {
      const deletedTags = p.tags.filter((t) => t.digest === d.digest && t.action === 'delete').length;
      if (d.action !== 'delete-manifest') assert.equal(d.action, deletedTags > 0 ? 'untag-only' : 'keep');
      assert.equal(d.tagsDeleted, deletedTags);
    }
    // The deletion lists: exactly the decisions, manifests in a safe order.
    assert.deepEqual(
      p.deletions.tags,
      p.tags
        .filter((t) => t.action === 'delete' && decisions.get(t.digest)!.action !== 'delete-manifest')
        .map((t) => t.tag),
    );
    const deleted = p.digests.filter((d) => d.action === 'delete-manifest').map((d) => d.digest);
    assert.deepEqual([...p.deletions.manifests].sort(), deleted);
    const position = new Map(p.deletions.manifests.map((d, i) => [d, i]));
    // `after` names exactly the deleted indexes and subjects a deletion hangs on, all earlier.
    const expectedAfter = new Map<string, Set<string>>();
    const hangsOn = (digest: string, on: string) => {
      if (digest === on || !position.has(digest) || !position.has(on)) return;
      const set = expectedAfter.get(digest) ?? new Set<string>();
      expectedAfter.set(digest, set.add(on));
    };
    for (const m of repo.manifests) {
      for (const c of m.children ?? []) hangsOn(c, m.digest);
      if (m.subject !== undefined) hangsOn(m.digest, m.subject);
    }
    for (const t of repo.tags) if (t.kind === 'artifact' && t.subject !== undefined) hangsOn(t.digest, t.subject);
    assert.equal(p.deletions.after.length, p.deletions.manifests.length);
    p.deletions.manifests.forEach((d, k) => {
      assert.deepEqual([...p.deletions.after[k]!].sort(), [...(expectedAfter.get(d) ?? [])].sort());
    });
    // Every deletion comes after what it hangs on (indexes before children, subjects before
    // their artifacts), unless the data holds a cycle of such relations, which content
    // addressing rules out in real registries; then apply skips the members (see plan.ts).
    if (!cyclic(expectedAfter)) {
      for (const [d, on] of expectedAfter) {
        for (const o of on) assert.ok(position.get(o)! < position.get(d)!, `${d} must be deleted after ${o}`);
      }
    }
  }
}

function cyclic(edges: Map<string, Set<string>>): boolean {
  const state = new Map<string, 1 | 2>();
  const visit = (d: string): boolean => {
    if (state.get(d) === 2) return false;
    if (state.get(d) === 1) return true;
    state.set(d, 1);
    for (const o of edges.get(d) ?? []) if (visit(o)) return true;
    state.set(d, 2);
    return false;
  };
  return [...edges.keys()].some(visit);
}

/** Freed bytes recomputed naively: what deleted manifests reference and nothing that stays does. */
function checkFreedBytes(input: RetentionInput, plan: RetentionPlan, after: RetentionInput): void {
  const remaining = new Map<string, Set<string>>();
  for (const r of after.repositories) {
    const set = remaining.get(r.registry) ?? new Set<string>();
    remaining.set(r.registry, set);
    for (const m of r.manifests) {
      set.add(m.digest);
      for (const b of m.blobs ?? []) set.add(b.digest);
    }
  }
  const counted = new Set<string>();
  let expected = 0;
  for (const [repo, p] of repoPairs(input, plan)) {
    for (const d of p.digests) {
      if (d.action !== 'delete-manifest') continue;
      const m = repo.manifests.find((x) => x.digest === d.digest)!;
      const parts = m.blobs ?? (m.mediaType.includes('index') ? [] : [{ digest: m.digest, size: m.size }]);
      for (const b of parts) {
        const k = `${repo.registry} ${b.digest}`;
        if (counted.has(k) || remaining.get(repo.registry)?.has(b.digest)) continue;
        counted.add(k);
        expected += b.size;
      }
    }
  }
  assert.equal(plan.totals.bytesFreed, expected);
  assert.equal(
    plan.repositories.reduce((n, r) => n + r.digests.reduce((x, d) => x + d.freed, 0), 0),
    expected,
  );
}

function checkApply(input: RetentionInput, plan: RetentionPlan, after: RetentionInput): void {
  const afterByKey = new Map(after.repositories.map((r) => [key(r), r]));
  for (const [repo, p] of repoPairs(input, plan)) {
    const now = afterByKey.get(key(repo))!;
    // Exactly what the plan lists goes.
    const removedTags = repo.tags.filter((t) => !now.tags.some((x) => x.tag === t.tag)).map((t) => t.tag);
    assert.deepEqual(
      removedTags.sort(),
      p.tags.filter((t) => t.action === 'delete').map((t) => t.tag),
    );
    const removed = repo.manifests
      .filter((m) => !now.manifests.some((x) => x.digest === m.digest))
      .map((m) => m.digest);
    assert.deepEqual(
      removed.sort(),
      p.digests.filter((d) => d.action === 'delete-manifest').map((d) => d.digest),
    );
    // P4: nothing left dangling.
    const before = new Set(repo.manifests.map((m) => m.digest));
    const remaining = new Set(now.manifests.map((m) => m.digest));
    for (const t of now.tags) {
      assert.ok(remaining.has(t.digest), `tag ${t.tag} points to deleted ${t.digest}`);
      if (t.kind === 'artifact' && t.subject !== undefined && before.has(t.subject)) {
        assert.ok(remaining.has(t.subject), `artifact tag ${t.tag} lost its subject`);
      }
    }
    for (const m of now.manifests) {
      for (const c of m.children ?? []) {
        if (before.has(c)) assert.ok(remaining.has(c), `index ${m.digest} lost its child ${c}`);
      }
      if (m.subject !== undefined && before.has(m.subject)) {
        assert.ok(remaining.has(m.subject), `referrer ${m.digest} lost its subject`);
      }
    }
  }
}

describe('retention plan properties', () => {
  it(`P1, P3, P4, P5 and exact apply over ${RUNS} generated inventories`, () => {
    fc.assert(
      fc.property(blueprintArb, (b) => {
        const input = build(b);
        const plan = planRetention(input);
        checkProtections(input, plan);
        checkRegistrySemantics(input, plan);
        const after = applyPlanToInventory(input, plan);
        checkApply(input, plan, after);
        checkFreedBytes(input, plan, after);
        const again = planRetention(after);
        assert.equal(again.totals.tagsDeleted, 0, 'a second plan deletes more tags');
        assert.equal(again.totals.manifestsDeleted, 0, 'a second plan deletes more manifests');
      }),
      { numRuns: RUNS },
    );
  });

  it(`P2 determinism over ${Math.round(RUNS / 3)} generated inventories, shuffled`, () => {
    fc.assert(
      fc.property(blueprintArb, (b) => {
        const input = build(b);
        const a = planRetention(input);
        const same = planRetention(input);
        assert.equal(same.fingerprint, a.fingerprint);
        const c = planRetention(shuffled(input, b.seed));
        assert.equal(c.fingerprint, a.fingerprint);
        assert.equal(JSON.stringify(c), JSON.stringify(a));
      }),
      { numRuns: Math.round(RUNS / 3) },
    );
  });

  it('the generator covers the cases that matter', () => {
    const seen = new Map<string, number>();
    const note = (what: string) => seen.set(what, (seen.get(what) ?? 0) + 1);
    for (const b of fc.sample(blueprintArb, { numRuns: 500, seed: 1 })) {
      const input = build(b);
      const plan = planRetention(input);
      for (const [repo, p] of repoPairs(input, plan)) {
        const byDigest = new Map<string, number>();
        for (const t of repo.tags) byDigest.set(t.digest, (byDigest.get(t.digest) ?? 0) + 1);
        if ([...byDigest.values()].some((n) => n > 1)) note('shared digest');
        for (const d of p.digests) note(`${repo.tagDelete ? 'quay' : 'distribution'} ${d.action} ${d.code}`);
        for (const t of p.tags) note(`tag ${t.action} ${t.code}`);
      }
    }
    for (const must of [
      'shared digest',
      'distribution delete-manifest rule:max-age',
      'quay untag-only protected:kept-tag',
      'distribution keep protected:child-of-kept-index',
      'quay delete-manifest follows:index-deleted',
      'quay delete-manifest follows:subject-deleted',
      'distribution keep protected:subject-of-kept-artifact',
      'tag keep protected:shared-digest',
      'tag delete follows:subject-deleted',
      'tag keep keep:subject-absent',
      'tag keep protected:recent-pull',
      'tag keep protected:rollback',
      'tag delete rule:catalog-cap',
      'tag keep rule:keep-last',
      'tag delete rule:max-age-since-pull',
      'tag delete rule:max-age-since-promotion',
    ]) {
      assert.ok((seen.get(must) ?? 0) > 0, `the generator never produced: ${must}`);
    }
  });
});
