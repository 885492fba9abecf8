/**
 * Gate evaluation: a pure function from (stage, evidence about one digest, clock, facts) to
 * a verdict with one line per requirement. No I/O: the caller gathers evidence, signature
 * verification, soak start and holds, so every rule here is testable exhaustively.
 *
 * Evidence is about a digest, never a tag: a record for another digest is ignored even if
 * the caller passed it by mistake.
 */
import type { Approval, LifecyclePolicy, Severity, Stage } from '../policy/index.ts';
import { formatDuration } from '../policy/index.ts';

export type EvidenceStatus = 'passed' | 'failed';

export interface EvidenceRecord {
  id: string;
  digest: string;
  type: string;
  status: EvidenceStatus;
  /** The stage an approval is for; null for facts that hold for every stage. */
  stage: string | null;
  recordedBy: string;
  /** The recorder's roles for the image's team at the time (approvals need the right one). */
  recordedRoles: string[];
  recordedAt: number;
  url: string | null;
  details: Record<string, unknown>;
}

export type RequirementStatus = 'passed' | 'failed' | 'missing' | 'expired';

export interface RequirementResult {
  requirement: string;
  kind: 'evidence' | 'scan' | 'approval' | 'soak' | 'signature' | 'hold' | 'previous-stage';
  status: RequirementStatus;
  /** One line a person can act on. */
  detail: string;
  evidence?: { id: string; by: string; at: number; url: string | null; status: EvidenceStatus }[];
}

export interface SignatureCheck {
  valid: boolean;
  reason: string;
  keyIds: string[];
}

export interface GateInput {
  policy: LifecyclePolicy;
  stage: Stage;
  digest: string;
  now: number;
  evidence: readonly EvidenceRecord[];
  /** Who asked for the promotion and who built the image: they cannot approve under four-eyes. */
  changeAuthors: readonly string[];
  /** When the digest entered the previous stage; undefined when it never did. */
  enteredPreviousStageAt?: number;
  /** Whether the digest must have reached the previous stage (false for the first stage). */
  requiresPreviousStage: boolean;
  holds: readonly { kind: string; reason: string }[];
  /** Result of verifying signatures with the gate's keys, when the gate requires one. */
  signature?: SignatureCheck;
}

export interface GateResult {
  stage: string;
  digest: string;
  passed: boolean;
  requirements: RequirementResult[];
}

const SEVERITY_ORDER: readonly Severity[] = ['critical', 'high', 'medium', 'low', 'negligible', 'unknown'];

function maxAgeFor(policy: LifecyclePolicy, stage: Stage, type: string): number | undefined {
  const own = Object.hasOwn(stage.gate.evidenceMaxAge, type) ? stage.gate.evidenceMaxAge[type] : undefined;
  return own ?? policy.evidenceTypes.find((t) => t.name === type)?.maxAge;
}

/** Evidence of one type that may count for this stage, newest first (ties: by id, for determinism). */
function candidates(input: GateInput, type: string): EvidenceRecord[] {
  return input.evidence
    .filter((e) => e.digest === input.digest && e.type === type && (e.stage === null || e.stage === input.stage.name))
    .sort((a, b) => b.recordedAt - a.recordedAt || (a.id < b.id ? 1 : -1));
}

function ref(e: EvidenceRecord) {
  return { id: e.id, by: e.recordedBy, at: e.recordedAt, url: e.url, status: e.status };
}

function age(now: number, at: number): string {
  return formatDuration(Math.max(0, now - at));
}

function judgeEvidence(input: GateInput, type: string): RequirementResult {
  const [latest] = candidates(input, type);
  if (!latest)
    return { requirement: type, kind: 'evidence', status: 'missing', detail: `no ${type} evidence for this digest` };
  const e = [ref(latest)];
  if (latest.status === 'failed') {
    return {
      requirement: type,
      kind: 'evidence',
      status: 'failed',
      detail: `latest ${type} evidence failed (by ${latest.recordedBy})`,
      evidence: e,
    };
  }
  const maxAge = maxAgeFor(input.policy, input.stage, type);
  if (maxAge !== undefined && input.now - latest.recordedAt > maxAge) {
    return {
      requirement: type,
      kind: 'evidence',
      status: 'expired',
      detail: `${type} evidence is ${age(input.now, latest.recordedAt)} old (counts for ${formatDuration(maxAge)})`,
      evidence: e,
    };
  }
  return {
    requirement: type,
    kind: 'evidence',
    status: 'passed',
    detail: `recorded by ${latest.recordedBy} ${age(input.now, latest.recordedAt)} ago`,
    evidence: e,
  };
}

function judgeScan(input: GateInput): RequirementResult {
  const base = judgeEvidence(input, 'scan');
  if (base.status !== 'passed') return { ...base, kind: 'scan' };
  const latest = candidates(input, 'scan')[0]!;
  const counts = latest.details.counts as Partial<Record<Severity, number>> | undefined;
  const limits = input.stage.gate.scan?.maxFindings ?? {};
  if (!counts || typeof counts !== 'object') {
    return {
      requirement: 'scan',
      kind: 'scan',
      status: 'failed',
      detail: 'scan evidence carries no finding counts',
      evidence: [ref(latest)],
    };
  }
  const over = SEVERITY_ORDER.filter((s) => limits[s] !== undefined && (counts[s] ?? 0) > limits[s]!).map(
    (s) => `${s} ${counts[s]} > ${limits[s]}`,
  );
  if (over.length)
    return {
      requirement: 'scan',
      kind: 'scan',
      status: 'failed',
      detail: `scan over threshold: ${over.join(', ')}`,
      evidence: [ref(latest)],
    };
  const summary = SEVERITY_ORDER.filter((s) => counts[s] !== undefined)
    .map((s) => `${s}=${counts[s]}`)
    .join(' ');
  return {
    requirement: 'scan',
    kind: 'scan',
    status: 'passed',
    detail: `within thresholds (${summary || 'no findings'})`,
    evidence: [ref(latest)],
  };
}

export interface Ineligibility {
  rule: 'role' | 'group' | 'four-eyes';
  reason: string;
}

/**
 * Why a decision by this approver does not count for `approval`, or undefined when it does.
 * The gate and `sluice approve` ask the same question, so an approval that would be ignored
 * is refused when it is given instead.
 */
export function approvalIneligibility(
  approval: Approval,
  approver: { recordedBy: string; recordedRoles: readonly string[] },
  changeAuthors: readonly string[],
): Ineligibility | undefined {
  const who = approver.recordedBy;
  if (!approver.recordedRoles.includes(approval.role))
    return { rule: 'role', reason: `${who} does not hold role ${approval.role}` };
  if (approval.group && !approval.group.includes(who))
    return { rule: 'group', reason: `${who} is not in the approver group` };
  if (approval.fourEyes && changeAuthors.includes(who))
    return { rule: 'four-eyes', reason: `${who} cannot approve their own change (four eyes)` };
  return undefined;
}

function judgeApproval(input: GateInput, approval: Approval): RequirementResult {
  const type = approval.type;
  const maxAge = maxAgeFor(input.policy, input.stage, type);
  const all = candidates(input, type).filter((e) => maxAge === undefined || input.now - e.recordedAt <= maxAge);
  const eligible = (e: EvidenceRecord) => approvalIneligibility(approval, e, input.changeAuthors)?.reason;
  // Each approver's newest decision counts once.
  const latestBy = new Map<string, EvidenceRecord>();
  for (const e of all) if (!latestBy.has(e.recordedBy)) latestBy.set(e.recordedBy, e);
  const valid = [...latestBy.values()].filter((e) => !eligible(e));
  const rejection = valid.find((e) => e.status === 'failed');
  if (rejection) {
    return {
      requirement: type,
      kind: 'approval',
      status: 'failed',
      detail: `rejected by ${rejection.recordedBy}`,
      evidence: valid.map(ref),
    };
  }
  const approvers = valid.filter((e) => e.status === 'passed');
  if (approvers.length >= approval.quorum) {
    return {
      requirement: type,
      kind: 'approval',
      status: 'passed',
      detail: `approved by ${approvers.map((e) => e.recordedBy).join(', ')} (${approvers.length}/${approval.quorum})`,
      evidence: approvers.map(ref),
    };
  }
  const ignored = [...latestBy.values()].map(eligible).filter((x): x is string => !!x);
  const expired = candidates(input, type).length > all.length;
  return {
    requirement: type,
    kind: 'approval',
    status: approvers.length === 0 && expired ? 'expired' : 'missing',
    detail:
      `${approvers.length}/${approval.quorum} approvals by role ${approval.role}` +
      (approval.group ? ` from ${approval.group.join(', ')}` : '') +
      (ignored.length ? `; not counted: ${ignored.join('; ')}` : '') +
      (expired ? '; older approvals expired' : ''),
    evidence: approvers.map(ref),
  };
}

export function evaluateGate(input: GateInput): GateResult {
  const gate = input.stage.gate;
  // Named in labels and details; a first stage has no `from` but may still carry a soak.
  const from = input.stage.from ?? 'the previous stage';
  const results: RequirementResult[] = [];
  if (input.requiresPreviousStage) {
    results.push(
      input.enteredPreviousStageAt === undefined
        ? {
            requirement: `reached ${from}`,
            kind: 'previous-stage',
            status: 'missing',
            detail: `this digest was never promoted into ${from}`,
          }
        : {
            requirement: `reached ${from}`,
            kind: 'previous-stage',
            status: 'passed',
            detail: `in ${from} since ${new Date(input.enteredPreviousStageAt).toISOString()}`,
          },
    );
  }
  const approvalTypes = new Map(gate.approvals.map((a) => [a.type, a]));
  for (const type of gate.require) {
    if (type === 'signature' && input.signature) continue;
    if (type === 'scan') results.push(judgeScan(input));
    else if (approvalTypes.has(type)) results.push(judgeApproval(input, approvalTypes.get(type)!));
    else results.push(judgeEvidence(input, type));
  }
  // Approvals declared without being listed in `require` still gate.
  for (const a of gate.approvals) if (!gate.require.includes(a.type)) results.push(judgeApproval(input, a));
  if (gate.signature.required || gate.require.includes('signature')) {
    const s = input.signature;
    if (s) {
      results.push({
        requirement: 'signature',
        kind: 'signature',
        status: s.valid ? 'passed' : 'failed',
        detail: s.valid ? `verified with key ${s.keyIds.map((k) => k.slice(0, 12)).join(', ')}` : s.reason,
      });
    } else if (!gate.require.includes('signature')) {
      results.push({
        requirement: 'signature',
        kind: 'signature',
        status: 'missing',
        detail: 'signature not verified',
      });
    }
  }
  if (gate.soak > 0) {
    const since = input.enteredPreviousStageAt;
    if (since === undefined) {
      results.push({
        requirement: 'soak',
        kind: 'soak',
        status: 'missing',
        detail: `needs ${formatDuration(gate.soak)} in ${from}`,
      });
    } else {
      const spent = input.now - since;
      results.push({
        requirement: 'soak',
        kind: 'soak',
        status: spent >= gate.soak ? 'passed' : 'failed',
        detail: `${formatDuration(Math.max(0, spent))} of ${formatDuration(gate.soak)} in ${from}`,
      });
    }
  }
  for (const h of input.holds) {
    results.push({
      requirement: h.kind,
      kind: 'hold',
      status: 'failed',
      detail: `digest is under ${h.kind}: ${h.reason}`,
    });
  }
  return {
    stage: input.stage.name,
    digest: input.digest,
    passed: results.every((r) => r.status === 'passed'),
    requirements: results,
  };
}

/** The requirements that keep a gate shut, as one sentence. */
export function describeFailure(result: GateResult): string {
  const bad = result.requirements.filter((r) => r.status !== 'passed');
  return bad.map((r) => `${r.requirement}: ${r.status} (${r.detail})`).join('; ');
}
