/**
 * The decision for one repository (see plan.ts for the rules in words). Written for inventories
 * of millions of tags: per-repository work lives in typed arrays reused from one repository
 * to the next, facts are looked up once per digest, and sentences that recur (ages, ranks,
 * patterns) are built once per plan and shared.
 */
import { createHash, type Hash } from 'node:crypto';
import { SluiceError } from '../errors.ts';
import { compileTagPattern, type RetentionRules } from '../policy/index.ts';
import type { ManifestRecord, RepositoryInventory, RetentionFacts, TagRecord } from './model.ts';
import type { RepositoryPlan } from './plan.ts';
import {
  ago,
  agoAt,
  INTRINSIC_PROTECTIONS,
  limitText,
  PRECISION_MS,
  precisionOf,
  readingAt,
  shortDigest,
  type ProtectionCode,
  type ReasonCode,
} from './reasons.ts';
import { DigestRow, Fmt, formatReason, TagRow, type Clock } from './rows.ts';

export const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Orders version-like tags: digit runs compare as numbers, the rest as text, so
 * `1.10.0-2` > `1.9.0-7` and `1.0.0-10` > `1.0.0-9`. Negative when a is older.
 */
export function compareVersions(a: string, b: string): number {
  const pa = a.match(/\d+|\D+/g) ?? [];
  const pb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i]!;
    const y = pb[i]!;
    const nx = /^\d/.test(x);
    const ny = /^\d/.test(y);
    if (nx && ny) {
      const d = Number(x) - Number(y);
      if (d !== 0) return d;
    } else if (x !== y) {
      return cmp(x, y);
    }
  }
  return pa.length - pb.length;
}

export function invalid(message: string, context: Record<string, unknown> = {}): SluiceError {
  return new SluiceError('RETENTION_INPUT_INVALID', 'invalid-input', message, {
    operation: 'retention-plan',
    ...context,
  });
}

interface Protection {
  code: ProtectionCode;
  reason: string;
}

const RANK: Record<string, number> = Object.fromEntries(INTRINSIC_PROTECTIONS.map((c, i) => [c, i]));
const LEGAL_HOLD: Protection = { code: 'protected:legal-hold', reason: 'under legal hold (evidence is preserved)' };
const QUARANTINE: Protection = { code: 'protected:quarantine', reason: 'quarantined (evidence is preserved)' };
const IN_USE: Protection = { code: 'protected:in-use', reason: 'reported in use by a cluster' };

/** What the facts say about one digest, computed once per plan. */
interface DigestFacts {
  /** Facts-level protections, most serious first. */
  protections?: Protection[];
  inUse: boolean;
  lastPromotion?: number;
}

/**
 * A cheap hash of a digest's last characters (its hex is uniformly random): for prefilters
 * that only need "certainly absent", never for identity.
 */
export function tailHash(s: string): number {
  let h = 0x811c9dc5 ^ s.length;
  for (let i = s.length > 12 ? s.length - 12 : 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** `[...repo.tags]` sorted by a string key; inputs usually come sorted from the store, which costs one pass. */
function sortedBy<T, K extends keyof T>(items: readonly T[], key: K): T[] {
  const out = [...items];
  for (let k = 1; k < out.length; k++) {
    if ((out[k - 1]![key] as string) > (out[k]![key] as string)) {
      out.sort((a, b) => cmp(a[key] as string, b[key] as string));
      break;
    }
  }
  return out;
}

/** The constant tails of fingerprint entries, one string per (action, code). */
const SUFFIXES = new Map<string, Map<ReasonCode, string>>();
function suffix(action: string, code: ReasonCode, make: () => string): string {
  let byCode = SUFFIXES.get(action);
  if (!byCode) SUFFIXES.set(action, (byCode = new Map()));
  let s = byCode.get(code);
  if (s === undefined) byCode.set(code, (s = make()));
  return s;
}
const tagSuffix = (deleted: boolean, code: ReasonCode): string =>
  suffix(deleted ? 'tag:delete' : 'tag:keep', code, () => `","${deleted ? 'delete' : 'keep'}","${code}"]`);
const digestSuffix = (action: string, code: ReasonCode): string =>
  suffix(action, code, () => `","${action}","${code}",[`);

/** OCI distribution-spec grammars. */
const TAG_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/** `sha256:` + 64 or `sha512:` + 128 lowercase hex digits; a loop is several times faster than a regex here. */
function validDigest(d: string): boolean {
  if (!(d.length === 71 ? d.startsWith('sha256:') : d.length === 135 && d.startsWith('sha512:'))) return false;
  for (let i = 7; i < d.length; i++) {
    const c = d.charCodeAt(i);
    if ((c < 48 || c > 57) && (c < 97 || c > 102)) return false;
  }
  return true;
}

const BUCKETS = 1_000_000;

/**
 * Sentences that compare a duration with a limit, built once per (kind, limit, reading of
 * the duration): what `agoAt` and `limitText` print is the same for equal keys.
 */
class Texts {
  private readonly maps = new Map<string, Map<number, string>>();
  two(kind: string, a: number, b: number, make: (a: number, b: number) => string): string {
    const u = precisionOf(b);
    const kb = Math.max(0, b) / PRECISION_MS[u]!;
    const [ua, count] = readingAt(a, b);
    const ka = a < 0 ? -1 : count;
    // Past the limit by less than one unit: the text carries the remainder, so it is not shared.
    if (kb >= BUCKETS || ka >= BUCKETS - 1 || (a > b && ua === u && ka === kb)) return make(a, b);
    let m = this.maps.get(kind);
    if (!m) this.maps.set(kind, (m = new Map()));
    const key = ((u * PRECISION_MS.length + ua) * BUCKETS + ka + 1) * BUCKETS + kb;
    let s = m.get(key);
    if (s === undefined) m.set(key, (s = make(a, b)));
    return s;
  }
  /** Sentences over small integers (ranks, counts). */
  ints(kind: string, a: number, b: number, make: (a: number, b: number) => string): string {
    let m = this.maps.get(kind);
    if (!m) this.maps.set(kind, (m = new Map()));
    const key = a * 2_097_152 + b;
    let s = m.get(key);
    if (s === undefined) m.set(key, (s = make(a, b)));
    return s;
  }
}

const pushedText = (age: number, max: number) => `pushed ${agoAt(age, max)} (max ${limitText(max)})`;
const untaggedText = (age: number, max: number) => `untagged, pushed ${agoAt(age, max)} (max ${limitText(max)})`;
const neverPulledText = (idle: number, max: number) =>
  `never pulled, pushed ${agoAt(idle, max)} (max ${limitText(max)} since last pull)`;
const lastPulledText = (idle: number, max: number) =>
  `last pulled ${agoAt(idle, max)} (max ${limitText(max)} since last pull)`;
const promotedText = (age: number, max: number) =>
  `promoted ${agoAt(age, max)} (max ${limitText(max)} since promotion)`;
const recentPullText = (age: number, window: number) => `pulled ${agoAt(age, window)} (window ${limitText(window)})`;
const keepLastText = (r: number, n: number) => `among the ${n} newest versions (#${r})`;
const catalogKeepText = (r: number, n: number) => `among the ${n} newest versions of a curated image (#${r})`;
const catalogCapText = (r: number, n: number) => `version #${r} of a curated image (cap ${n})`;

/** Per plan: the clock, the facts indexed by digest, compiled patterns, shared sentences, scratch space. */
export class Env {
  readonly now: number;
  readonly facts: RetentionFacts;
  private readonly byDigest = new Map<string, DigestFacts>();
  private readonly factBits: Uint32Array;
  private readonly factMask: number;
  private readonly patterns = new Map<string, RegExp>();
  private readonly patternTexts = new Map<string, string>();
  readonly texts = new Texts();
  /** The plan's fingerprint, fed one repository at a time in plan order (see RetentionPlan.fingerprint). */
  readonly fingerprint: Hash = createHash('sha256');
  repositoriesHashed = 0;
  readonly parts: string[] = [];
  readonly clock: Clock;
  private readonly codeLists = new Map<string, readonly ReasonCode[]>();
  private readonly i32s = new Map<string, Int32Array>();
  private readonly u8s = new Map<string, Uint8Array>();

  constructor(now: number, facts: RetentionFacts) {
    this.now = now;
    this.facts = facts;
    this.clock = { now };
    const entry = (d: string): DigestFacts => {
      let f = this.byDigest.get(d);
      if (!f) this.byDigest.set(d, (f = { inUse: false }));
      return f;
    };
    const add = (d: string, p: Protection) => (entry(d).protections ??= []).push(p);
    for (const d of facts.legalHold) add(d, LEGAL_HOLD);
    for (const d of facts.quarantined) add(d, QUARANTINE);
    for (const d of facts.inUse) {
      add(d, IN_USE);
      entry(d).inUse = true;
    }
    const stages = [...facts.stageDigests].sort(
      (a, b) =>
        cmp(a.stage, b.stage) ||
        cmp(a.team ?? '', b.team ?? '') ||
        cmp(a.repository, b.repository) ||
        cmp(a.current ?? '', b.current ?? '') ||
        cmp(a.previous ?? '', b.previous ?? ''),
    );
    for (const s of stages) {
      const where = s.team === undefined ? s.repository : `${s.team}/${s.repository}`;
      if (s.current !== undefined) {
        add(s.current, { code: 'protected:stage-current', reason: `current ${s.stage} digest of ${where}` });
      }
      if (s.previous !== undefined) {
        add(s.previous, {
          code: 'protected:rollback',
          reason: `previous ${s.stage} digest of ${where} (rollback target)`,
        });
      }
    }
    // One entry per digest, so the order of this loop cannot change any digest's list.
    for (const [d, at] of facts.reachedProd) {
      const period = facts.prodRetention;
      if (period !== undefined && now - at > period) continue;
      add(d, {
        code: 'protected:reached-prod',
        reason:
          period === undefined
            ? `reached ${facts.prodStage} ${ago(now - at)}`
            : `reached ${facts.prodStage} ${agoAt(now - at, period)} (${facts.prodStage} retention ${limitText(period)})`,
      });
    }
    for (const f of this.byDigest.values()) {
      // Stable: equal codes keep the stage order above.
      f.protections?.sort((a, b) => RANK[a.code]! - RANK[b.code]!);
    }
    for (const [d, at] of facts.lastPromotion) entry(d).lastPromotion = at;
    let words = 32;
    while (words * 32 < 8 * this.byDigest.size && words < 1 << 20) words *= 2;
    this.factBits = new Uint32Array(words);
    this.factMask = words - 1;
    for (const d of this.byDigest.keys()) {
      const h = tailHash(d);
      this.factBits[(h >>> 5) & this.factMask]! |= 1 << (h & 31);
    }
  }

  /** `codes` after the first, as one frozen array per distinct list: digests share a handful of them. */
  codeList(codes: readonly ReasonCode[]): readonly ReasonCode[] {
    let key = '';
    for (let k = 1; k < codes.length; k++) key += `${codes[k]} `;
    let list = this.codeLists.get(key);
    if (!list) this.codeLists.set(key, (list = Object.freeze(codes.slice(1))));
    return list;
  }

  factsOf(digest: string): DigestFacts | undefined {
    // Most digests have no facts; a bit test spares them a lookup in a large map.
    const h = tailHash(digest);
    if ((this.factBits[(h >>> 5) & this.factMask]! & (1 << (h & 31))) === 0) return undefined;
    return this.byDigest.get(digest);
  }

  firstMatch(patterns: readonly string[], tag: string): string | undefined {
    for (const p of patterns) {
      let re = this.patterns.get(p);
      if (!re) {
        try {
          re = compileTagPattern(p);
        } catch (err) {
          throw invalid(`tag pattern ${p} is not a valid regular expression`, { pattern: p, cause: String(err) });
        }
        this.patterns.set(p, re);
      }
      if (re.test(tag)) return p;
    }
    return undefined;
  }

  patternText(prefix: string, p: string): string {
    const key = `${prefix} ${p}`;
    let s = this.patternTexts.get(key);
    if (s === undefined) this.patternTexts.set(key, (s = key));
    return s;
  }

  /** A zeroed (or `fill`ed) scratch array; each name is used once per repository. */
  i32(name: string, length: number, fill = 0): Int32Array {
    let a = this.i32s.get(name);
    if (!a || a.length < length) this.i32s.set(name, (a = new Int32Array(Math.max(length, 2 * (a?.length ?? 0), 256))));
    const v = a.subarray(0, length);
    v.fill(fill);
    return v;
  }

  u8(name: string, length: number): Uint8Array {
    let a = this.u8s.get(name);
    if (!a || a.length < length) this.u8s.set(name, (a = new Uint8Array(Math.max(length, 2 * (a?.length ?? 0), 256))));
    const v = a.subarray(0, length);
    v.fill(0);
    return v;
  }
}

/** Protections a digest holds for its own sake in this repository, most serious first. */
function protectionsOf(
  env: Env,
  f: DigestFacts | undefined,
  rec: ManifestRecord | undefined,
  rules: RetentionRules,
): Protection[] | undefined {
  const base = f?.protections;
  const inUse = rec?.inUse === true && !f?.inUse;
  const pulled = rec?.lastPull;
  const recent = pulled !== undefined && env.now - pulled <= rules.pullProtectionWindow;
  if (!inUse && !recent) return base;
  const out: Protection[] = [];
  let k = 0;
  if (base) while (k < base.length && RANK[base[k]!.code]! < RANK['protected:in-use']!) out.push(base[k++]!);
  if (inUse) out.push(IN_USE);
  if (base) while (k < base.length) out.push(base[k++]!);
  if (recent) {
    out.push({
      code: 'protected:recent-pull',
      reason: env.texts.two('recent-pull', env.now - pulled, rules.pullProtectionWindow, recentPullText),
    });
  }
  return out;
}

const NOTHING: readonly string[] = Object.freeze([]);

const KEEP = 1;
const DELETE = 2;

/** Everything about one repository that the plan-wide passes (accounting) still need. */
export interface RepositoryWork {
  plan: RepositoryPlan;
  /** Aligned with plan.digests. */
  rows: DigestRow[];
  records: (ManifestRecord | undefined)[];
}

/**
 * The decision for one repository, step by step: the graph of its manifests, the rule
 * decision of every tag, the roots that stay and what they keep alive, tags reconciled with
 * what the registry can delete, the rows, a safe deletion order and the fingerprint.
 */
export function planRepository(env: Env, repo: RepositoryInventory): RepositoryWork {
  const nodes = nodesOf(repo);
  const graph = graphOf(env, nodes);
  const facts: (DigestFacts | undefined)[] = new Array(nodes.n);
  for (let i = 0; i < nodes.n; i++) facts[i] = env.factsOf(nodes.digests[i]!);
  const ranks = versionRanks(env, nodes, graph);
  const decisions = decideTagsByRule(env, repo, nodes, graph, ranks, facts);
  const liveness = rootsOf(env, repo, nodes, graph, decisions, facts);
  keepWhatRootsNeed(graph, liveness);
  artifactTagsFollowSubject(nodes, graph, decisions, liveness.alive);
  const why = new KeepReasons(env, repo, nodes, graph, liveness);
  reconcileWithRegistry(env, repo, nodes, graph, decisions, liveness, why);
  const deleted = tagDeletions(env, nodes, graph, decisions, liveness.alive);
  const { rows: digestRows, manifestsDeleted } = digestRowsOf(
    env,
    repo,
    nodes,
    graph,
    decisions,
    liveness,
    why,
    deleted.perNode,
  );
  const tagRows = tagRowsOf(nodes, graph, decisions, digestRows);
  const order = manifestsDeleted > 0 ? deletionOrder(env, nodes, graph, liveness.alive) : { manifests: [], after: [] };
  addToFingerprint(env, repo, nodes, graph, decisions, digestRows);

  const rules = repo.rules;
  const plan: RepositoryPlan = {
    registry: repo.registry,
    repository: repo.repository,
    team: repo.team,
    stage: repo.stage,
    catalog: repo.catalog,
    tagDelete: repo.tagDelete,
    mode: rules.mode,
    noticeDays: rules.noticeDays,
    schedule: rules.schedule,
    trash: { enabled: rules.trash.enabled, window: rules.trash.window },
    incomplete: repo.incomplete,
    tags: tagRows,
    digests: digestRows,
    deletions: { tags: deleted.untagTags, manifests: order.manifests, after: order.after },
    tagsDeleted: deleted.count,
    manifestsDeleted,
    bytesFreed: 0,
  };
  return { plan, rows: digestRows, records: nodes.records };
}

/** One node per digest, in digest order; tags in tag order. */
interface Nodes {
  tags: TagRecord[];
  digests: string[];
  /** Aligned with digests; undefined for a phantom (a tag's digest the manifest list lacks). */
  records: (ManifestRecord | undefined)[];
  id: Map<string, number>;
  n: number;
  /** Number of tags. */
  T: number;
}

/**
 * Names and digests end up in URLs of delete requests and in the fingerprint: anything a
 * registry could not have returned is refused here (see failure-modes 2.3).
 */
function nodesOf(repo: RepositoryInventory): Nodes {
  const where = { registry: repo.registry, repository: repo.repository };
  const tags: TagRecord[] = sortedBy(repo.tags, 'tag');
  for (let k = 0; k < tags.length; k++) {
    const t = tags[k]!;
    if (!TAG_NAME.test(t.tag)) throw invalid(`tag ${JSON.stringify(t.tag)} is not a valid tag name`, where);
    if (k > 0 && t.tag === tags[k - 1]!.tag) throw invalid(`tag ${t.tag} is listed twice`, where);
  }
  const manifests = sortedBy(repo.manifests, 'digest');
  for (let k = 0; k < manifests.length; k++) {
    const d = manifests[k]!.digest;
    if (!validDigest(d)) throw invalid(`manifest digest ${JSON.stringify(d)} is invalid`, where);
    if (k > 0 && d === manifests[k - 1]!.digest) throw invalid(`manifest ${d} is listed twice`, where);
  }
  let digests: string[] = new Array<string>(manifests.length);
  let records: (ManifestRecord | undefined)[] = manifests;
  let id = new Map<string, number>();
  for (let i = 0; i < manifests.length; i++) {
    digests[i] = manifests[i]!.digest;
    id.set(digests[i]!, i);
  }
  // A tag on a digest the manifest list lacks (pushed between two reads) still needs a node.
  let phantoms: Set<string> | undefined;
  for (const t of tags) {
    if (id.has(t.digest)) continue;
    if (!validDigest(t.digest))
      throw invalid(`tag ${t.tag} points to an invalid digest ${JSON.stringify(t.digest)}`, where);
    (phantoms ??= new Set()).add(t.digest);
  }
  if (phantoms) {
    const byDigest = new Map(manifests.map((m) => [m.digest, m] as const));
    digests = [...digests, ...phantoms].sort(cmp);
    records = digests.map((d) => byDigest.get(d));
    id = new Map();
    for (let i = 0; i < digests.length; i++) id.set(digests[i]!, i);
  }
  return { tags, digests, records, id, n: digests.length, T: tags.length };
}

/** Tags, index children and subjects as compressed adjacency lists over node ids. */
interface Graph {
  tagNode: Int32Array;
  /** Artifact tags: the subject node, -1 when the subject is not in this repository. */
  tagSubject: Int32Array;
  /** The tags of node i are tagList[tagStart[i]] up to tagList[tagStart[i + 1]]. */
  tagStart: Int32Array;
  tagList: Int32Array;
  /** Referrers whose subject is not here: never deleted (keep:subject-absent). */
  subjectAbsent: Uint8Array;
  /** Nodes that are artifacts of another node (by tag or by subject field). */
  artifactSide: Uint8Array;
  childrenOf: Adjacency;
  parentsOf: Adjacency;
  artifactsOf: Adjacency;
  subjectsOf: Adjacency;
}

function graphOf(env: Env, nodes: Nodes): Graph {
  const { tags, records, id, n, T } = nodes;
  const tagNode = env.i32('tagNode', T);
  const tagSubject = env.i32('tagSubject', T, -1);
  const tagStart = env.i32('tagStart', n + 1);
  let links = 0;
  for (let k = 0; k < T; k++) {
    const t = tags[k]!;
    const node = id.get(t.digest)!;
    tagNode[k] = node;
    tagStart[node + 1]!++;
    if (t.kind === 'artifact' && t.subject !== undefined) {
      const s = id.get(t.subject);
      if (s !== undefined && s !== node) {
        tagSubject[k] = s;
        links++;
      }
    }
  }
  for (let i = 0; i < n; i++) tagStart[i + 1]! += tagStart[i]!;
  const tagList = env.i32('tagList', T);
  {
    const fill = env.i32('fill', n);
    for (let k = 0; k < T; k++) {
      const node = tagNode[k]!;
      tagList[tagStart[node]! + fill[node]!++] = k;
    }
  }
  let childEdges = 0;
  for (let i = 0; i < n; i++) {
    const rec = records[i];
    if (rec?.children) childEdges += rec.children.length;
    if (rec?.subject !== undefined) links++;
  }
  const edgeParent = env.i32('edgeParent', childEdges);
  const edgeChild = env.i32('edgeChild', childEdges);
  const linkArtifact = env.i32('linkArtifact', links);
  const linkSubject = env.i32('linkSubject', links);
  let ce = 0;
  let le = 0;
  for (let k = 0; k < T; k++) {
    if (tagSubject[k]! >= 0) {
      linkArtifact[le] = tagNode[k]!;
      linkSubject[le++] = tagSubject[k]!;
    }
  }
  const subjectAbsent = env.u8('subjectAbsent', n);
  const artifactSide = env.u8('artifactSide', n);
  for (let i = 0; i < n; i++) {
    const rec = records[i];
    if (!rec) continue;
    if (rec.children) {
      const from = ce;
      for (const c of rec.children) {
        const j = id.get(c);
        if (j !== undefined && j !== i) {
          edgeParent[ce] = i;
          edgeChild[ce++] = j;
        }
      }
      // Children in digest order, whatever order the index lists them in.
      if (ce - from > 1) edgeChild.subarray(from, ce).sort();
    }
    // A manifest cannot name itself as subject (its digest covers the field); such data is
    // treated as no subject at all.
    if (rec.subject !== undefined && rec.subject !== rec.digest) {
      artifactSide[i] = 1;
      const s = id.get(rec.subject);
      if (s === undefined) subjectAbsent[i] = 1;
      else {
        linkArtifact[le] = i;
        linkSubject[le++] = s;
      }
    }
  }
  for (let e = 0; e < le; e++) artifactSide[linkArtifact[e]!] = 1;
  return {
    tagNode,
    tagSubject,
    tagStart,
    tagList,
    subjectAbsent,
    artifactSide,
    childrenOf: csr(env, 'children', n, edgeParent, edgeChild, ce),
    parentsOf: csr(env, 'parents', n, edgeChild, edgeParent, ce),
    artifactsOf: csr(env, 'artifacts', n, linkSubject, linkArtifact, le),
    subjectsOf: csr(env, 'subjects', n, linkArtifact, linkSubject, le),
  };
}

/**
 * Keep-last ranks versions (digests with a version tag) by their newest version tag: push
 * time, then version order (1.10.0 after 1.9.0: tags first seen by the same sync tie on
 * time). Keys never grow when tags are deleted and the top N keep all their tags, so the
 * ranking after applying the plan keeps the same N on top. 0 for a node without a version tag.
 */
function versionRanks(env: Env, nodes: Nodes, graph: Graph): Int32Array {
  const { tags, T } = nodes;
  const rank = env.i32('rank', nodes.n);
  const versionTags: number[] = [];
  for (let k = 0; k < T; k++) if (tags[k]!.kind === 'version') versionTags.push(k);
  versionTags.sort(
    (a, b) =>
      tags[b]!.pushed - tags[a]!.pushed ||
      compareVersions(tags[b]!.tag, tags[a]!.tag) ||
      cmp(tags[a]!.tag, tags[b]!.tag),
  );
  let r = 0;
  for (const k of versionTags) {
    const node = graph.tagNode[k]!;
    if (rank[node] === 0) rank[node] = ++r;
  }
  return rank;
}

/** The decision of every tag, aligned with Nodes.tags. 0 = not decided yet. */
interface TagDecisions {
  action: Uint8Array;
  code: ReasonCode[];
  /** With fmt: the sentence, see rows.ts. */
  reason: string[];
  fmt: Uint8Array & { [k: number]: Fmt };
}

const tagText = (d: TagDecisions, k: number): string => formatReason(d.fmt[k]!, d.reason[k]!);

const incompleteText = (repo: RepositoryInventory): string => `inventory incomplete: ${repo.incomplete}`;

/** What the retention rules say of each tag on its own; artifact tags are left to their subject. */
function decideTagsByRule(
  env: Env,
  repo: RepositoryInventory,
  nodes: Nodes,
  graph: Graph,
  rank: Int32Array,
  facts: (DigestFacts | undefined)[],
): TagDecisions {
  const { now, texts } = env;
  const { rules, incomplete } = repo;
  const { tags, records, T } = nodes;
  const { tagNode } = graph;
  const tagAction = env.u8('tagAction', T);
  const tagCode: ReasonCode[] = new Array<ReasonCode>(T);
  const tagReason: string[] = new Array<string>(T);
  const tagFmt = env.u8('tagFmt', T) as TagDecisions['fmt'];
  const keepCount = repo.catalog ? rules.catalogCap : rules.keepLast;
  const incompleteReason = incompleteText(repo);
  for (let k = 0; k < T; k++) {
    const t = tags[k]!;
    if (incomplete !== undefined) {
      tagAction[k] = KEEP;
      tagCode[k] = 'keep:inventory-incomplete';
      tagReason[k] = incompleteReason;
      continue;
    }
    if (t.kind === 'env') {
      tagAction[k] = KEEP;
      tagCode[k] = 'keep:env-tag';
      tagReason[k] = 'stage tag, always kept';
      continue;
    }
    if (t.kind === 'artifact') continue; // follows its subject, decided below
    const node = tagNode[k]!;
    const keepPattern = rules.keepTags.length ? env.firstMatch(rules.keepTags, t.tag) : undefined;
    if (keepPattern !== undefined) {
      tagAction[k] = KEEP;
      tagCode[k] = 'rule:keep-tags';
      tagReason[k] = env.patternText('matches keepTags', keepPattern);
      continue;
    }
    const r = rank[node]!;
    if (r <= keepCount) {
      tagAction[k] = KEEP;
      tagCode[k] = 'rule:keep-last';
      tagReason[k] = repo.catalog
        ? texts.ints('catalog-keep', r, keepCount, catalogKeepText)
        : texts.ints('keep-last', r, keepCount, keepLastText);
      continue;
    }
    if (repo.catalog) {
      tagAction[k] = DELETE;
      tagCode[k] = 'rule:catalog-cap';
      tagReason[k] = texts.ints('catalog-cap', r, keepCount, catalogCapText);
      continue;
    }
    const deletePattern = rules.deleteTags.length ? env.firstMatch(rules.deleteTags, t.tag) : undefined;
    if (deletePattern !== undefined) {
      tagAction[k] = DELETE;
      tagCode[k] = 'rule:delete-tags';
      tagReason[k] = env.patternText('matches deleteTags', deletePattern);
      continue;
    }
    const age = now - t.pushed;
    if (rules.maxAge !== undefined && age > rules.maxAge) {
      tagAction[k] = DELETE;
      tagCode[k] = 'rule:max-age';
      tagReason[k] = texts.two('pushed', age, rules.maxAge, pushedText);
      continue;
    }
    if (rules.maxAgeSinceLastPull !== undefined) {
      const pulled = records[node]?.lastPull;
      const idle = now - (pulled ?? t.pushed);
      if (idle > rules.maxAgeSinceLastPull) {
        tagAction[k] = DELETE;
        tagCode[k] = 'rule:max-age-since-pull';
        tagReason[k] =
          pulled === undefined
            ? texts.two('never-pulled', idle, rules.maxAgeSinceLastPull, neverPulledText)
            : texts.two('last-pulled', idle, rules.maxAgeSinceLastPull, lastPulledText);
        continue;
      }
    }
    if (rules.maxAgeSincePromotion !== undefined) {
      const promoted = facts[node]?.lastPromotion;
      if (promoted !== undefined && now - promoted > rules.maxAgeSincePromotion) {
        tagAction[k] = DELETE;
        tagCode[k] = 'rule:max-age-since-promotion';
        tagReason[k] = texts.two('promoted', now - promoted, rules.maxAgeSincePromotion, promotedText);
        continue;
      }
    }
    tagAction[k] = KEEP;
    tagCode[k] = 'rule:within-age';
    if (rules.maxAge !== undefined) {
      tagReason[k] = texts.two('pushed', age, rules.maxAge, pushedText);
    } else if (rules.maxAgeSinceLastPull !== undefined) {
      const pulled = records[node]?.lastPull;
      tagReason[k] =
        pulled === undefined
          ? texts.two('never-pulled', age, rules.maxAgeSinceLastPull, neverPulledText)
          : texts.two('last-pulled', now - pulled, rules.maxAgeSinceLastPull, lastPulledText);
    } else if (rules.maxAgeSincePromotion !== undefined) {
      const promoted = facts[node]?.lastPromotion;
      tagReason[k] =
        promoted === undefined
          ? 'not promoted onwards'
          : texts.two('promoted', now - promoted, rules.maxAgeSincePromotion, promotedText);
    } else {
      tagCode[k] = 'rule:no-expiry';
      tagReason[k] = 'no age rule applies in this repository';
    }
  }
  return { action: tagAction, code: tagCode, reason: tagReason, fmt: tagFmt };
}

/** Which nodes stay and why (before the reasons are put into words). */
interface Liveness {
  intrinsic: (Protection[] | undefined)[];
  /** First kept env or version tag per node (env tags first): `protected:kept-tag`. */
  keptTag: Int32Array;
  /** Root reason other than a tag or a protection. */
  rootCode: (ReasonCode | undefined)[];
  alive: Uint8Array;
  /** The roots, then (after keepWhatRootsNeed) every node they keep alive. */
  queue: Int32Array;
  queued: number;
}

/**
 * The roots: nodes with a protection of their own, a kept tag, an artifact tag whose subject is
 * elsewhere, or an untagged free-standing manifest within maxAge. Decides artifact tags whose
 * subject is absent.
 */
function rootsOf(
  env: Env,
  repo: RepositoryInventory,
  nodes: Nodes,
  graph: Graph,
  decisions: TagDecisions,
  facts: (DigestFacts | undefined)[],
): Liveness {
  const { now } = env;
  const { rules, incomplete } = repo;
  const { tags, records, n } = nodes;
  const { tagStart, tagList, tagSubject, subjectAbsent, artifactSide, parentsOf } = graph;
  const { action: tagAction, code: tagCode, reason: tagReason } = decisions;
  const intrinsic: (Protection[] | undefined)[] = new Array(n);
  const keptTag = env.i32('keptTag', n, -1);
  const rootCode: (ReasonCode | undefined)[] = new Array(n);
  const alive = env.u8('alive', n);
  const queue = env.i32('queue', n);
  let qt = 0;
  for (let i = 0; i < n; i++) {
    const p = protectionsOf(env, facts[i], records[i], rules);
    if (p) {
      intrinsic[i] = p;
      alive[i] = 1;
    }
    let best = -1;
    for (let e = tagStart[i]!; e < tagStart[i + 1]!; e++) {
      const k = tagList[e]!;
      const t = tags[k]!;
      if (t.kind === 'artifact' && incomplete === undefined) {
        if (tagSubject[k]! < 0) {
          tagAction[k] = KEEP;
          tagCode[k] = 'keep:subject-absent';
          tagReason[k] =
            t.subject === undefined || t.subject === t.digest
              ? 'artifact tag without a subject in this repository; kept'
              : `artifact of ${shortDigest(t.subject)}, which is not in this repository (signatures may be stored apart from their image); kept`;
          rootCode[i] ??= 'keep:subject-absent';
          alive[i] = 1;
        }
        continue;
      }
      if (tagAction[k] === KEEP) {
        if (best < 0 || (t.kind === 'env' && tags[best]!.kind !== 'env')) best = k;
        alive[i] = 1;
      }
    }
    keptTag[i] = best;
    if (incomplete !== undefined) {
      rootCode[i] = 'keep:inventory-incomplete';
      alive[i] = 1;
    } else if (subjectAbsent[i]) {
      rootCode[i] ??= 'keep:subject-absent';
      alive[i] = 1;
    } else if (tagStart[i] === tagStart[i + 1] && parentsOf.start[i] === parentsOf.start[i + 1] && !artifactSide[i]) {
      // Untagged and free-standing: only maxAge applies.
      const rec = records[i]!;
      if (rules.maxAge === undefined) {
        rootCode[i] = 'rule:no-expiry';
        alive[i] = 1;
      } else if (now - rec.pushed <= rules.maxAge) {
        rootCode[i] = 'rule:untagged-within-age';
        alive[i] = 1;
      }
    }
    if (alive[i]) queue[qt++] = i;
  }
  return { intrinsic, keptTag, rootCode, alive, queue, queued: qt };
}

/** The closure: a kept index keeps its children; a subject and its artifacts stay or go together. */
function keepWhatRootsNeed(graph: Graph, liveness: Liveness): void {
  const { alive, queue } = liveness;
  let qt = liveness.queued;
  for (let qh = 0; qh < qt; qh++) {
    const i = queue[qh]!;
    qt = spread(graph.childrenOf, i, alive, queue, qt);
    qt = spread(graph.artifactsOf, i, alive, queue, qt);
    qt = spread(graph.subjectsOf, i, alive, queue, qt);
  }
  liveness.queued = qt;
}

/** Artifact tags not decided yet follow their subject. */
function artifactTagsFollowSubject(nodes: Nodes, graph: Graph, decisions: TagDecisions, alive: Uint8Array): void {
  const { tagSubject } = graph;
  const { action, code, reason, fmt } = decisions;
  for (let k = 0; k < nodes.T; k++) {
    const s = tagSubject[k]!;
    if (s < 0 || action[k] !== 0) continue;
    if (alive[s]) {
      action[k] = KEEP;
      code[k] = 'keep:subject-kept';
      fmt[k] = Fmt.artifactOfKept;
    } else {
      action[k] = DELETE;
      code[k] = 'follows:subject-deleted';
      fmt[k] = Fmt.artifactOfDeleted;
    }
    reason[k] = nodes.digests[s]!;
  }
}

function firstAlive(adj: Adjacency, alive: Uint8Array, i: number): number {
  for (let e = adj.start[i]!; e < adj.start[i + 1]!; e++) if (alive[adj.list[e]!]) return adj.list[e]!;
  return -1;
}

const keepFmt = (code: ReasonCode): Fmt =>
  code === 'protected:kept-tag'
    ? Fmt.keptTag
    : code === 'protected:child-of-kept-index'
      ? Fmt.childOfKeptIndex
      : code === 'keep:subject-kept'
        ? Fmt.artifactOfKept
        : Fmt.verbatim;

/** Why an alive node stays. */
class KeepReasons {
  /** The buffer `codesOf` returns, reused from call to call. */
  readonly codes: ReasonCode[] = [];
  private readonly incompleteReason: string;

  private readonly env: Env;
  private readonly repo: RepositoryInventory;
  private readonly nodes: Nodes;
  private readonly graph: Graph;
  private readonly liveness: Liveness;

  constructor(env: Env, repo: RepositoryInventory, nodes: Nodes, graph: Graph, liveness: Liveness) {
    this.env = env;
    this.repo = repo;
    this.nodes = nodes;
    this.graph = graph;
    this.liveness = liveness;
    this.incompleteReason = incompleteText(repo);
  }

  /** Every reason node `i` stays, most serious first. */
  codesOf(i: number): ReasonCode[] {
    const { codes } = this;
    const { intrinsic, keptTag, rootCode, alive } = this.liveness;
    const { parentsOf, artifactsOf, subjectsOf } = this.graph;
    codes.length = 0;
    const p = intrinsic[i];
    if (p) for (const x of p) codes.push(x.code);
    if (keptTag[i]! >= 0) codes.push('protected:kept-tag');
    const rc = rootCode[i];
    if (rc) codes.push(rc);
    if (firstAlive(parentsOf, alive, i) >= 0) codes.push('protected:child-of-kept-index');
    if (firstAlive(artifactsOf, alive, i) >= 0) codes.push('protected:subject-of-kept-artifact');
    if (firstAlive(subjectsOf, alive, i) >= 0) codes.push('keep:subject-kept');
    return codes;
  }

  private artifactName(a: number, subject: number): string {
    const { tagStart, tagList, tagSubject } = this.graph;
    for (let e = tagStart[a]!; e < tagStart[a + 1]!; e++) {
      const k = tagList[e]!;
      if (tagSubject[k] === subject) return this.nodes.tags[k]!.tag;
    }
    return shortDigest(this.nodes.digests[a]!);
  }

  /** The argument of the sentence for `keepFmt(code)`. */
  detail(i: number, code: ReasonCode): string {
    const { tags, digests, records } = this.nodes;
    const { alive } = this.liveness;
    switch (code) {
      case 'protected:kept-tag':
        return tags[this.liveness.keptTag[i]!]!.tag;
      case 'protected:child-of-kept-index':
        return digests[firstAlive(this.graph.parentsOf, alive, i)]!;
      case 'protected:subject-of-kept-artifact':
        return `subject of kept artifact ${this.artifactName(firstAlive(this.graph.artifactsOf, alive, i), i)}`;
      case 'keep:subject-kept':
        return digests[firstAlive(this.graph.subjectsOf, alive, i)]!;
      case 'keep:subject-absent':
        return 'artifact whose subject is not in this repository (signatures may be stored apart from their image)';
      case 'keep:inventory-incomplete':
        return this.incompleteReason;
      case 'rule:untagged-within-age':
        return this.env.texts.two('untagged', this.env.now - records[i]!.pushed, this.repo.rules.maxAge!, untaggedText);
      case 'rule:no-expiry':
        return 'untagged; no maxAge in this repository';
      default: {
        const p = this.liveness.intrinsic[i]?.find((x) => x.code === code);
        return p ? p.reason : code;
      }
    }
  }

  reason(i: number, code: ReasonCode): string {
    return formatReason(keepFmt(code), this.detail(i, code));
  }
}

/**
 * Tags the rules would delete but that must stay: their manifest is protected, the registry
 * deletes manifests rather than tags, or they are the last tags of a kept manifest.
 */
function reconcileWithRegistry(
  env: Env,
  repo: RepositoryInventory,
  nodes: Nodes,
  graph: Graph,
  decisions: TagDecisions,
  liveness: Liveness,
  why: KeepReasons,
): void {
  const { tags, n, T } = nodes;
  const { tagNode, tagStart, tagList, parentsOf } = graph;
  const { action: tagAction, code: tagCode, reason: tagReason, fmt: tagFmt } = decisions;
  const { alive, intrinsic } = liveness;
  /** Decisions before reconciliation: a tag kept only to hold its manifest is never named as the reason. */
  const ruleAction = env.u8('ruleAction', T);
  ruleAction.set(tagAction);
  const keptTags = env.i32('keptTags', n);
  for (let k = 0; k < T; k++) if (tagAction[k] === KEEP) keptTags[tagNode[k]!]!++;
  const firstKeptTag = (i: number): number => {
    for (let e = tagStart[i]!; e < tagStart[i + 1]!; e++) if (ruleAction[tagList[e]!] === KEEP) return tagList[e]!;
    return -1;
  };
  for (let k = 0; k < T; k++) {
    if (tagAction[k] !== DELETE) continue;
    const i = tagNode[k]!;
    if (!alive[i]) continue;
    const p = intrinsic[i];
    if (p) {
      tagAction[k] = KEEP;
      tagCode[k] = p[0]!.code;
      tagReason[k] = `${p[0]!.reason}; its tags stay (rule: ${tagText(decisions, k)})`;
      tagFmt[k] = Fmt.verbatim;
      continue;
    }
    if (!repo.tagDelete) {
      tagAction[k] = KEEP;
      const other = firstKeptTag(i);
      if (other >= 0) {
        tagCode[k] = 'protected:shared-digest';
        tagReason[k] =
          `kept tag ${tags[other]!.tag} points to the same manifest and ${repo.registry} deletes manifests, not tags (rule: ${tagText(decisions, k)})`;
      } else {
        const code = why.codesOf(i)[0]!;
        tagCode[k] = code;
        tagReason[k] =
          `${why.reason(i, code)}; ${repo.registry} deletes manifests, not tags (rule: ${tagText(decisions, k)})`;
      }
      tagFmt[k] = Fmt.verbatim;
      continue;
    }
    if (keptTags[i]! > 0 || firstAlive(parentsOf, alive, i) >= 0) continue; // the tag alone goes
    tagAction[k] = KEEP;
    const code = why.codesOf(i)[0]!;
    tagCode[k] = code;
    tagReason[k] =
      `${why.reason(i, code)}; the last tags of a kept manifest stay, an untagged one may be collected by the registry (rule: ${tagText(decisions, k)})`;
    tagFmt[k] = Fmt.verbatim;
  }
}

/** The tags to delete: per node, in all, and those deleted alone (their manifest stays). */
function tagDeletions(
  env: Env,
  nodes: Nodes,
  graph: Graph,
  decisions: TagDecisions,
  alive: Uint8Array,
): { perNode: Int32Array; untagTags: string[]; count: number } {
  const perNode = env.i32('tagsDeletedOf', nodes.n);
  const untagTags: string[] = [];
  let count = 0;
  for (let k = 0; k < nodes.T; k++) {
    if (decisions.action[k] !== DELETE) continue;
    const i = graph.tagNode[k]!;
    count++;
    perNode[i]!++;
    if (alive[i]) untagTags.push(nodes.tags[k]!.tag);
  }
  return { perNode, untagTags, count };
}

function digestRowsOf(
  env: Env,
  repo: RepositoryInventory,
  nodes: Nodes,
  graph: Graph,
  decisions: TagDecisions,
  liveness: Liveness,
  why: KeepReasons,
  tagsDeletedOf: Int32Array,
): { rows: DigestRow[]; manifestsDeleted: number } {
  const { now, texts } = env;
  const { tags, digests, records, n } = nodes;
  const { tagStart, tagList, subjectsOf, parentsOf } = graph;
  const { alive } = liveness;
  const codes = why.codes;
  const rows: DigestRow[] = new Array<DigestRow>(n);
  let manifestsDeleted = 0;
  for (let i = 0; i < n; i++) {
    const rec = records[i];
    const tagCount = tagStart[i + 1]! - tagStart[i]!;
    let action: DigestRow['action'];
    let code: ReasonCode;
    let fmt: Fmt = Fmt.verbatim;
    let detail: string;
    let also: readonly ReasonCode[] | undefined;
    if (alive[i]) {
      why.codesOf(i);
      action = tagsDeletedOf[i]! > 0 ? 'untag-only' : 'keep';
      code = codes[0]!;
      fmt = keepFmt(code);
      detail = why.detail(i, code);
      if (codes.length > 1) also = env.codeList(codes);
    } else {
      manifestsDeleted++;
      action = 'delete-manifest';
      if (tagCount > 0) {
        const k = tagList[tagStart[i]!]!;
        code = decisions.code[k]!;
        if (tagCount === 1) {
          fmt = decisions.fmt[k]!;
          detail = decisions.reason[k]!;
        } else detail = `all ${tagCount} tags are deleted; ${tags[k]!.tag}: ${tagText(decisions, k)}`;
      } else if (subjectsOf.start[i] !== subjectsOf.start[i + 1]) {
        code = 'follows:subject-deleted';
        fmt = Fmt.artifactOfDeleted;
        detail = digests[subjectsOf.list[subjectsOf.start[i]!]!]!;
      } else if (parentsOf.start[i] !== parentsOf.start[i + 1]) {
        code = 'follows:index-deleted';
        fmt = Fmt.childOfDeletedIndex;
        detail = digests[parentsOf.list[parentsOf.start[i]!]!]!;
      } else {
        code = 'rule:untagged-max-age';
        detail = texts.two('untagged', now - rec!.pushed, repo.rules.maxAge!, untaggedText);
      }
    }
    rows[i] = new DigestRow(
      env.clock,
      rec ?? digests[i]!,
      action,
      code,
      fmt,
      detail,
      also,
      tagCount,
      tagsDeletedOf[i]!,
    );
  }
  return { rows, manifestsDeleted };
}

function tagRowsOf(nodes: Nodes, graph: Graph, decisions: TagDecisions, digestRows: DigestRow[]): TagRow[] {
  const rows: TagRow[] = new Array<TagRow>(nodes.T);
  for (let k = 0; k < nodes.T; k++) {
    rows[k] = new TagRow(
      nodes.tags[k]!,
      digestRows[graph.tagNode[k]!]!,
      decisions.action[k] === DELETE ? 'delete' : 'keep',
      decisions.code[k]!,
      decisions.fmt[k]!,
      decisions.reason[k]!,
    );
  }
  return rows;
}

/**
 * A safe deletion order: an index before its children, a subject before its signatures and
 * referrers. When apply has to skip a deletion (a tag appeared since the plan was made),
 * everything that hangs on the skipped manifest is still there: a re-tagged image never runs
 * without its children or its signature. `after` lists, per manifest, the deleted manifests
 * that go before it.
 */
function deletionOrder(
  env: Env,
  nodes: Nodes,
  graph: Graph,
  alive: Uint8Array,
): { manifests: string[]; after: (readonly string[])[] } {
  const { digests, id, n } = nodes;
  const { childrenOf, artifactsOf, parentsOf, subjectsOf } = graph;
  const manifestOrder: string[] = [];
  const after: (readonly string[])[] = [];
  const waiting = env.i32('waiting', n);
  for (let i = 0; i < n; i++) {
    if (alive[i]) continue;
    for (let e = childrenOf.start[i]!; e < childrenOf.start[i + 1]!; e++) waiting[childrenOf.list[e]!]!++;
    for (let e = artifactsOf.start[i]!; e < artifactsOf.start[i + 1]!; e++) waiting[artifactsOf.list[e]!]!++;
  }
  const ready: number[] = [];
  for (let i = 0; i < n; i++) if (!alive[i] && waiting[i] === 0) ready.push(i);
  const done = env.u8('done', n);
  for (let h = 0; h < ready.length; h++) {
    const i = ready[h]!;
    done[i] = 1;
    manifestOrder.push(digests[i]!);
    for (let e = childrenOf.start[i]!; e < childrenOf.start[i + 1]!; e++) {
      const j = childrenOf.list[e]!;
      if (!alive[j] && --waiting[j]! === 0) ready.push(j);
    }
    for (let e = artifactsOf.start[i]!; e < artifactsOf.start[i + 1]!; e++) {
      const j = artifactsOf.list[e]!;
      if (!alive[j] && --waiting[j]! === 0) ready.push(j);
    }
  }
  // Content addressing rules out cycles; should the data have one anyway, its members go
  // last, in digest order.
  for (let i = 0; i < n; i++) if (!alive[i] && !done[i]) manifestOrder.push(digests[i]!);
  for (const digest of manifestOrder) {
    const i = id.get(digest)!;
    let before: string[] | undefined;
    for (let e = parentsOf.start[i]!; e < parentsOf.start[i + 1]!; e++) {
      const j = parentsOf.list[e]!;
      if (!alive[j]) (before ??= []).push(digests[j]!);
    }
    for (let e = subjectsOf.start[i]!; e < subjectsOf.start[i + 1]!; e++) {
      const j = subjectsOf.list[e]!;
      if (!alive[j] && !before?.includes(digests[j]!)) (before ??= []).push(digests[j]!);
    }
    after.push(before ?? NOTHING);
  }
  return { manifests: manifestOrder, after };
}

/**
 * Adds the repository to the plan's fingerprint:
 * [registry, repository, tagDelete, mode, [[digest, action, code, [[tag, action, code]...]]...]].
 * Tags and digests were checked against their grammars in nodesOf, so they need no JSON
 * escaping. Joined from existing strings, so no intermediate strings are made.
 */
function addToFingerprint(
  env: Env,
  repo: RepositoryInventory,
  nodes: Nodes,
  graph: Graph,
  decisions: TagDecisions,
  digestRows: DigestRow[],
): void {
  const { tags, digests, n } = nodes;
  const { tagStart, tagList } = graph;
  const parts = env.parts;
  parts.length = 0;
  if (env.repositoriesHashed++ > 0) parts.push(',');
  parts.push(JSON.stringify([repo.registry, repo.repository, repo.tagDelete, repo.rules.mode]).slice(0, -1), ',[');
  for (let i = 0; i < n; i++) {
    const d = digestRows[i]!;
    parts.push(i === 0 ? '["' : ',["', digests[i]!, digestSuffix(d.action, d.code));
    for (let e = tagStart[i]!; e < tagStart[i + 1]!; e++) {
      const k = tagList[e]!;
      parts.push(
        e === tagStart[i] ? '["' : ',["',
        tags[k]!.tag,
        tagSuffix(decisions.action[k] === DELETE, decisions.code[k]!),
      );
    }
    parts.push(']]');
  }
  parts.push(']]');
  env.fingerprint.update(parts.join(''));
}

/** Compressed adjacency lists over node ids. */
interface Adjacency {
  start: Int32Array;
  list: Int32Array;
}

function csr(env: Env, name: string, n: number, from: Int32Array, to: Int32Array, m: number): Adjacency {
  const start = env.i32(`${name}.start`, n + 1);
  for (let e = 0; e < m; e++) start[from[e]! + 1]!++;
  for (let i = 0; i < n; i++) start[i + 1]! += start[i]!;
  const fill = env.i32(`${name}.fill`, n);
  const list = env.i32(`${name}.list`, m);
  for (let e = 0; e < m; e++) {
    const f = from[e]!;
    list[start[f]! + fill[f]!++] = to[e]!;
  }
  return { start, list };
}

/** Marks the neighbours of `i` alive and queues them; returns the new queue length. */
function spread(adj: Adjacency, i: number, alive: Uint8Array, queue: Int32Array, qt: number): number {
  for (let e = adj.start[i]!; e < adj.start[i + 1]!; e++) {
    const j = adj.list[e]!;
    if (alive[j] === 0) {
      alive[j] = 1;
      queue[qt++] = j;
    }
  }
  return qt;
}
