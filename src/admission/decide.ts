/**
 * The admission decision: plain functions over facts someone else gathered (inventory,
 * registry, holds, signature verification), so every rule is tested without I/O.
 *
 * A namespace is governed by the first `admission.namespaces` rule whose pattern matches it
 * (never when it is excluded, kube-system or Sluice's own). Each image it asks to run passes
 * the checks in this order, and a failure names the first check that failed:
 *
 *   1. registry and repository allowed
 *   2. the reference resolves to a digest (and a tag has not moved behind Sluice's back)
 *   3. the digest is known to Sluice
 *   4. the digest has reached the namespace's stage
 *   5. no hold (quarantine, legal hold) on the digest
 *   6. signed with a key of that stage, when the stage requires signatures
 *   7. deprecated images pass with a warning naming the replacement
 *
 * `enforce` denies the review when any image fails; `warn` admits it with a warning per
 * failure. When the facts could not be gathered (registry or database down, nothing cached),
 * enforce fails closed and warn fails open with a warning.
 */
import { globToRegExp } from '../policy/index.ts';
import type { AdmissionVerdict, JsonPatchOperation } from './review.ts';
import type { WorkloadImage } from './workloads.ts';
import { ownValue } from '../util/own.ts';

export type AdmissionMode = 'enforce' | 'warn';
export const ADMISSION_MODES: readonly AdmissionMode[] = ['enforce', 'warn'];

export interface NamespaceRule {
  /** Namespace glob: `*` any run of characters, `?` one character. */
  pattern: string;
  stage: string;
  mode: AdmissionMode;
}

/** The policy's `admission` section. */
export interface AdmissionSettings {
  /** First match wins. */
  namespaces: readonly NamespaceRule[];
  /** Namespace names never sent to the webhook (and never governed, should one arrive). */
  exclude: readonly string[];
  /** Also serve the mutating webhook, which pins tags to digests. */
  mutate: boolean;
}

/** Never governed: an outage of Sluice must not deadlock the control plane. */
export const ALWAYS_EXCLUDED: readonly string[] = ['kube-system'];

/** What the decision needs to know about a stage. */
export interface StageAdmission {
  requireSignature: boolean;
}

export type NamespaceGovernance =
  { kind: 'excluded'; why: string } | { kind: 'ungoverned' } | { kind: 'governed'; rule: NamespaceRule; index: number };

const NAMESPACE_PATTERN = /^[a-z0-9*?-]{1,63}$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

const matchers = new Map<string, RegExp>();
/** Whether `namespace` matches the glob `pattern`. */
export function namespaceMatches(pattern: string, namespace: string): boolean {
  let re = matchers.get(pattern);
  if (!re) {
    re = globToRegExp(pattern);
    if (matchers.size > 1000) matchers.clear();
    matchers.set(pattern, re);
  }
  return re.test(namespace);
}

/** Every namespace name the webhook configuration keeps away from the webhook, sorted. */
export function excludedNamespaces(settings: Pick<AdmissionSettings, 'exclude'>, sluiceNamespace: string): string[] {
  return [...new Set([...ALWAYS_EXCLUDED, sluiceNamespace, ...settings.exclude])].sort();
}

export function governanceOf(
  settings: AdmissionSettings,
  sluiceNamespace: string,
  namespace: string,
): NamespaceGovernance {
  if (ALWAYS_EXCLUDED.includes(namespace)) return { kind: 'excluded', why: `${namespace} is never checked` };
  if (namespace === sluiceNamespace) return { kind: 'excluded', why: `${namespace} is Sluice's own namespace` };
  if (settings.exclude.includes(namespace)) return { kind: 'excluded', why: `${namespace} is in admission.exclude` };
  const index = settings.namespaces.findIndex((r) => namespaceMatches(r.pattern, namespace));
  if (index < 0) return { kind: 'ungoverned' };
  return { kind: 'governed', rule: settings.namespaces[index]!, index };
}

/**
 * What is wrong with the settings, one sentence each, for the policy loader (which adds
 * file:line:column). `stages` are the policy's stage names.
 */
export function admissionSettingsProblems(settings: AdmissionSettings, stages: readonly string[]): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  settings.namespaces.forEach((r, i) => {
    const at = `admission.namespaces[${i}]`;
    if (!NAMESPACE_PATTERN.test(r.pattern)) {
      problems.push(
        `${at}.pattern "${r.pattern}" must be a namespace name with "*" and "?" wildcards (lowercase letters, digits, "-"; at most 63 characters)`,
      );
    }
    if (!stages.includes(r.stage)) {
      problems.push(`${at}.stage "${r.stage}" is not a stage of this policy (${stages.join(', ') || 'none'})`);
    }
    if (!ADMISSION_MODES.includes(r.mode)) problems.push(`${at}.mode must be enforce or warn, not "${String(r.mode)}"`);
    const first = seen.get(r.pattern);
    if (first !== undefined)
      problems.push(`${at} repeats the pattern of admission.namespaces[${first}]; it never matches`);
    else seen.set(r.pattern, i);
    const catchAll = settings.namespaces.findIndex((c, j) => j < i && /^\*+$/.test(c.pattern));
    if (catchAll >= 0)
      problems.push(`${at} comes after the catch-all admission.namespaces[${catchAll}]; it never matches`);
  });
  settings.exclude.forEach((name, i) => {
    if (!DNS_LABEL.test(name)) {
      problems.push(
        `admission.exclude[${i}] "${name}" must be a namespace name (the webhook's namespaceSelector cannot match patterns)`,
      );
    }
  });
  return problems;
}

// --- facts ------------------------------------------------------------------------------

export interface Hold {
  kind: 'quarantine' | 'legal-hold';
  reason: string;
}

export type Resolution =
  /** `reference`: the image names its digest; else how the tag was resolved. */
  | { digest: string; source: 'reference' | 'inventory' | 'registry' | 'cache' }
  /**
   * not-found: neither inventory nor registry knows the tag; moved: the registry's tag points
   * elsewhere than Sluice recorded; unavailable: the registry could not be asked.
   */
  | { failure: 'not-found' | 'moved' | 'unavailable'; message: string };

export type SignatureCheck =
  | { status: 'verified'; key?: string }
  | { status: 'rejected'; reason: string }
  | { status: 'unavailable'; reason: string };

export interface ImageFacts {
  /** Check 1, from the policy's registries (and trusted sources). */
  source: { allowed: true } | { allowed: false; reason: string };
  resolution: Resolution;
  /** The digest is in Sluice's inventory. */
  known: boolean;
  /** Stages the digest has been promoted to. */
  stagesReached: readonly string[];
  holds: readonly Hold[];
  /** Verification against the keys of the namespace's stage; needed when it requires signatures. */
  signature?: SignatureCheck;
  deprecation?: { replacement?: string; reason?: string };
}

/** Gathering failed and nothing usable was cached. */
export interface FactsUnavailable {
  unavailable: string;
}

export type GatheredFacts = ImageFacts | FactsUnavailable;

// --- per image ---------------------------------------------------------------------------

export type DenialReason =
  | 'registry-not-allowed'
  | 'unresolved'
  | 'unknown-to-sluice'
  | 'stage-not-reached'
  | 'held'
  | 'unsigned'
  | 'facts-unavailable';

/** Reason codes in check order (audit and metrics use them as they are). */
export const CHECK_ORDER: readonly Exclude<DenialReason, 'facts-unavailable'>[] = [
  'registry-not-allowed',
  'unresolved',
  'unknown-to-sluice',
  'stage-not-reached',
  'held',
  'unsigned',
];

export type AuditReason = DenialReason | 'deprecated';

export type ImageOutcome =
  | { outcome: 'pass'; digest: string; pinned: boolean; deprecation?: { replacement?: string; reason?: string } }
  | { outcome: 'fail'; reason: Exclude<DenialReason, 'facts-unavailable'>; detail: string; digest?: string }
  | { outcome: 'unavailable'; reason: 'facts-unavailable'; detail: string; digest?: string };

const short = (digest: string) => {
  const i = digest.indexOf(':');
  return `${digest.slice(0, i + 13)}…`;
};
const clip = (s: string, n = 160) => (s.length <= n ? s : `${s.slice(0, n - 1)}…`);

/** Checks 1–6 for one image in the given stage; the first failure wins. */
export function checkImage(facts: GatheredFacts | undefined, stage: string, requireSignature: boolean): ImageOutcome {
  if (facts === undefined) {
    return { outcome: 'unavailable', reason: 'facts-unavailable', detail: 'no facts were gathered for it' };
  }
  if ('unavailable' in facts)
    return { outcome: 'unavailable', reason: 'facts-unavailable', detail: clip(facts.unavailable) };
  if (!facts.source.allowed) {
    return { outcome: 'fail', reason: 'registry-not-allowed', detail: clip(facts.source.reason) };
  }
  const r = facts.resolution;
  if ('failure' in r) {
    if (r.failure === 'unavailable')
      return { outcome: 'unavailable', reason: 'facts-unavailable', detail: clip(r.message) };
    return { outcome: 'fail', reason: 'unresolved', detail: clip(r.message) };
  }
  const digest = r.digest;
  if (!facts.known) {
    return {
      outcome: 'fail',
      reason: 'unknown-to-sluice',
      detail: `digest ${short(digest)} is not known to Sluice`,
      digest,
    };
  }
  if (!facts.stagesReached.includes(stage)) {
    const reached =
      facts.stagesReached.length > 0 ? `it reached ${facts.stagesReached.join(', ')}` : 'it reached no stage';
    return {
      outcome: 'fail',
      reason: 'stage-not-reached',
      detail: `digest ${short(digest)} has not been promoted to ${stage} (${reached})`,
      digest,
    };
  }
  if (facts.holds.length > 0) {
    const h = facts.holds.find((x) => x.kind === 'quarantine') ?? facts.holds[0]!;
    const what = h.kind === 'quarantine' ? 'quarantined' : 'under legal hold';
    return {
      outcome: 'fail',
      reason: 'held',
      detail: `digest ${short(digest)} is ${what}: ${clip(h.reason, 120)}`,
      digest,
    };
  }
  if (requireSignature) {
    const s = facts.signature;
    if (s === undefined) {
      return {
        outcome: 'unavailable',
        reason: 'facts-unavailable',
        detail: `the signature of ${short(digest)} was not verified`,
        digest,
      };
    }
    if (s.status === 'unavailable') {
      return { outcome: 'unavailable', reason: 'facts-unavailable', detail: clip(s.reason), digest };
    }
    if (s.status === 'rejected') {
      return {
        outcome: 'fail',
        reason: 'unsigned',
        detail: `digest ${short(digest)} is not signed with a key of stage ${stage}: ${clip(s.reason, 120)}`,
        digest,
      };
    }
  }
  const out: ImageOutcome = { outcome: 'pass', digest, pinned: r.source === 'reference' };
  if (facts.deprecation) out.deprecation = facts.deprecation;
  return out;
}

// --- per review --------------------------------------------------------------------------

export interface ReviewSubject {
  kind: string;
  name: string;
  namespace: string;
  /** The images to decide on (all on CREATE, the changed ones on UPDATE). */
  toCheck: readonly WorkloadImage[];
}

export interface ReviewInput {
  settings: AdmissionSettings;
  sluiceNamespace: string;
  stages: Readonly<Record<string, StageAdmission>>;
  workload: ReviewSubject;
  /** Keyed by the image reference as written. */
  facts: ReadonlyMap<string, GatheredFacts>;
}

export interface ImageDecision {
  image: string;
  /** JSON Pointers of every container using it. */
  paths: string[];
  result: ImageOutcome;
}

export interface AdmissionAuditEntry {
  decision: 'deny' | 'warn';
  namespace: string;
  kind: string;
  name: string;
  image: string;
  digest?: string;
  reason: AuditReason;
  message: string;
  stage: string;
  mode: AdmissionMode;
}

export interface ReviewDecision {
  allowed: boolean;
  governance: NamespaceGovernance;
  /** Denial message (enforce mode only). */
  message?: string;
  warnings: string[];
  images: ImageDecision[];
  audit: AdmissionAuditEntry[];
  /** Pins tag references to their digests; empty unless `mutate` is on. */
  patch: JsonPatchOperation[];
}

/** The distinct images whose facts the gatherer must fetch; none when nothing is to decide. */
export function imagesToLookUp(input: Pick<ReviewInput, 'settings' | 'sluiceNamespace' | 'workload'>): string[] {
  const g = governanceOf(input.settings, input.sluiceNamespace, input.workload.namespace);
  if (g.kind !== 'governed') return [];
  return [...new Set(input.workload.toCheck.map((i) => i.image))];
}

/** Audit deduplication: one record per workload, image and reason until the key expires. */
export function auditKey(e: AdmissionAuditEntry): string {
  return `${e.namespace}/${e.kind}/${e.name}\u0000${e.image}\u0000${e.reason}\u0000${e.decision}`;
}

export function decideReview(input: ReviewInput): ReviewDecision {
  const { workload, settings } = input;
  const governance = governanceOf(settings, input.sluiceNamespace, workload.namespace);
  const empty: ReviewDecision = { allowed: true, governance, warnings: [], images: [], audit: [], patch: [] };
  if (governance.kind !== 'governed') return empty;
  const { stage, mode } = governance.rule;
  // A stage the decision knows nothing about is checked as strictly as possible.
  const requireSignature = ownValue(input.stages, stage)?.requireSignature ?? true;

  const byImage = new Map<string, string[]>();
  for (const i of workload.toCheck) {
    const paths = byImage.get(i.image);
    if (paths) paths.push(i.path);
    else byImage.set(i.image, [i.path]);
  }

  const images: ImageDecision[] = [];
  const failures: string[] = [];
  const warnings: string[] = [];
  const audit: AdmissionAuditEntry[] = [];
  const patch: JsonPatchOperation[] = [];
  const where = `${workload.kind} ${workload.namespace}/${workload.name || '(unnamed)'}`;
  const record = (decision: 'deny' | 'warn', image: string, reason: AuditReason, message: string, digest?: string) => {
    const e: AdmissionAuditEntry = {
      decision,
      namespace: workload.namespace,
      kind: workload.kind,
      name: workload.name,
      image,
      reason,
      message,
      stage,
      mode,
    };
    if (digest !== undefined) e.digest = digest;
    audit.push(e);
  };

  for (const [image, paths] of byImage) {
    const result = checkImage(input.facts.get(image), stage, requireSignature);
    images.push({ image, paths, result });
    if (result.outcome === 'pass') {
      if (settings.mutate && !result.pinned) {
        for (const path of paths) patch.push({ op: 'replace', path, value: `${image}@${result.digest}` });
      }
      if (result.deprecation) {
        const d = result.deprecation;
        const text =
          `${image} is deprecated` +
          (d.replacement ? `; use ${d.replacement} instead` : '') +
          (d.reason ? ` (${clip(d.reason, 80)})` : '');
        warnings.push(text);
        record('warn', image, 'deprecated', text, result.digest);
      }
      continue;
    }
    if (mode === 'enforce') {
      const text =
        result.outcome === 'unavailable'
          ? `${image}: could not be checked (${result.detail}); denied because ${workload.namespace} enforces stage ${stage} (fail closed)`
          : `${image}: ${result.detail} [${result.reason}]`;
      failures.push(text);
      record('deny', image, result.reason, text, result.digest);
    } else {
      const text =
        result.outcome === 'unavailable'
          ? `Sluice could not check ${image} (${result.detail}); admitted because ${workload.namespace} is in warn mode`
          : `${image} would be denied in enforce mode: ${result.detail} [${result.reason}]`;
      warnings.push(text);
      record('warn', image, result.reason, text, result.digest);
    }
  }

  const decision: ReviewDecision = { allowed: failures.length === 0, governance, warnings, images, audit, patch };
  if (failures.length > 0) {
    decision.message = `Sluice denied ${where} (stage ${stage}): ${failures.join('; ')}`;
  }
  return decision;
}

/** The validating webhook's answer. */
export function validatingVerdict(d: ReviewDecision): AdmissionVerdict {
  const v: AdmissionVerdict = { allowed: d.allowed, warnings: d.warnings };
  if (!d.allowed) {
    v.code = 403;
    v.message = d.message ?? 'denied by Sluice';
  }
  if (d.governance.kind === 'governed') {
    v.auditAnnotations = {
      decision: !d.allowed ? 'denied' : d.audit.length > 0 ? 'warned' : 'allowed',
      stage: d.governance.rule.stage,
      mode: d.governance.rule.mode,
    };
  }
  return v;
}

/**
 * The mutating webhook's answer: always admitted, with the pins. The validating webhook,
 * which runs after every mutation, is the one that denies and warns.
 */
export function mutatingVerdict(d: ReviewDecision): AdmissionVerdict {
  return { allowed: true, patch: d.patch };
}
