/** Small inventories for retention tests, and lookups into plans. */
import assert from 'node:assert/strict';
import type { RetentionRules } from '../../../src/policy/index.ts';
import {
  classifyTag,
  emptyFacts,
  type DigestDecision,
  type ManifestRecord,
  type RepositoryInventory,
  type RepositoryPlan,
  type RetentionFacts,
  type RetentionInput,
  type RetentionPlan,
  type TagDecision,
  type TagRecord,
} from '../../../src/retention/index.ts';

export const D = 86_400_000;
export const NOW = Date.UTC(2025, 5, 1, 12);
export const IMAGE = 'application/vnd.oci.image.manifest.v1+json';
export const INDEX = 'application/vnd.oci.image.index.v1+json';
export const ENV_TAGS: ReadonlySet<string> = new Set(['dev', 'staging', 'preprod', 'prod', 'latest']);

/** `sha256:` and 64 hex digits derived from a short name, so tests read `dg('a')`. */
export function dg(name: string | number): string {
  const hex = Buffer.from(String(name)).toString('hex');
  return `sha256:${hex.padStart(64, '0').slice(-64)}`;
}

export function cosignTag(subject: string, suffix: 'sig' | 'att' | 'sbom' = 'sig'): string {
  return `${subject.replace(':', '-')}.${suffix}`;
}

/** Dev-like rules with keep-last off, so that each test switches on only what it exercises. */
export function rules(over: Partial<RetentionRules> = {}): RetentionRules {
  return {
    mode: 'automatic',
    maxAge: 30 * D,
    keepLast: 0,
    catalogCap: 3,
    keepTags: [],
    deleteTags: [],
    pullProtectionWindow: 7 * D,
    trash: { enabled: false, window: 14 * D },
    ...over,
  };
}

/** A tag pushed `days` ago; env and artifact tags are recognised by name. */
export function tag(name: string, digest: string, days: number): TagRecord {
  return { tag: name, digest, pushed: NOW - days * D, ...classifyTag(name, ENV_TAGS) };
}

export function image(digest: string, days: number, extra: Partial<ManifestRecord> = {}): ManifestRecord {
  return { digest, mediaType: IMAGE, size: 1000, pushed: NOW - days * D, ...extra };
}

export function index(
  digest: string,
  children: string[],
  days: number,
  extra: Partial<ManifestRecord> = {},
): ManifestRecord {
  return { digest, mediaType: INDEX, size: 2000, pushed: NOW - days * D, children, ...extra };
}

export function repo(
  tags: TagRecord[],
  manifests: ManifestRecord[],
  over: Partial<RepositoryInventory> = {},
): RepositoryInventory {
  return {
    registry: 'quay',
    tagDelete: true,
    repository: 'acme-dev/api',
    team: 'acme',
    stage: 'dev',
    catalog: false,
    rules: rules(),
    tags,
    manifests,
    ...over,
  };
}

/** Distribution-like: deletes manifests by digest only. */
export function distribution(
  tags: TagRecord[],
  manifests: ManifestRecord[],
  over: Partial<RepositoryInventory> = {},
): RepositoryInventory {
  return repo(tags, manifests, { registry: 'registry', tagDelete: false, ...over });
}

export function input(repositories: RepositoryInventory[], facts: Partial<RetentionFacts> = {}): RetentionInput {
  return { now: NOW, repositories, facts: { ...emptyFacts(), ...facts } };
}

export function onlyRepo(plan: RetentionPlan): RepositoryPlan {
  assert.equal(plan.repositories.length, 1);
  return plan.repositories[0]!;
}

export function tagIn(plan: RetentionPlan, name: string, repository?: string): TagDecision {
  const r = repository === undefined ? onlyRepo(plan) : plan.repositories.find((x) => x.repository === repository)!;
  const t = r.tags.find((x) => x.tag === name);
  assert.ok(t, `no decision for tag ${name}`);
  return t;
}

export function digestIn(plan: RetentionPlan, digest: string, repository?: string): DigestDecision {
  const r = repository === undefined ? onlyRepo(plan) : plan.repositories.find((x) => x.repository === repository)!;
  const d = r.digests.find((x) => x.digest === digest);
  assert.ok(d, `no decision for digest ${digest}`);
  return d;
}

/** Asserts action and code (and optionally the sentence) of a decision, printing all of it on failure. */
export function expectDecision(
  d: TagDecision | DigestDecision,
  action: string,
  code: string,
  reason?: string | RegExp,
): void {
  const what = JSON.stringify(d);
  assert.equal(d.action, action, what);
  assert.equal(d.code, code, what);
  if (typeof reason === 'string') assert.equal(d.reason, reason, what);
  else if (reason) assert.match(d.reason, reason, what);
}
