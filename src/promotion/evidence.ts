/**
 * Recording evidence and approvals. Evidence is resolved to a digest at the moment it is
 * recorded and stored against that digest only; a tag that later moves takes none of it along.
 */
import { SluiceError } from '../errors.ts';
import { readInputText } from '../files.ts';
import { refreshReference } from '../inventory/sync.ts';
import type { Role, Stage } from '../policy/index.ts';
import { stageByName } from '../policy/index.ts';
import { inventoryFor, type Runtime } from '../runtime.ts';
import { assertReportIsFor, MAX_REPORT_BYTES, parseTrivyReport } from '../scan/trivy.ts';
import { requireRole, type Actor } from '../auth/actor.ts';
import { approvalIneligibility, type EvidenceRecord, type EvidenceStatus } from './gate.ts';
import { ServiceNowClient } from '../integrations/servicenow.ts';
import { changeAuthorsOf, insertEvidence } from './records.ts';
import { previousStageOf, resolveStageImage, type StageImage } from './service.ts';

/** Roles that may record facts (tests, builds, scans) for a team's images. */
const RECORDER_ROLES: Role[] = ['developer', 'qa', 'release-manager', 'operations', 'security'];

export interface EvidenceRequest {
  ref: string;
  type: string;
  status?: EvidenceStatus;
  url?: string;
  /** The stage this evidence is for (approvals); facts apply to every stage when absent. */
  stage?: string;
  details?: Record<string, unknown>;
  /** A scan report file (Trivy JSON) for `scan` evidence. */
  reportFile?: string;
  /** A change request number, checked with the policy's change management (ServiceNow). */
  change?: string;
  source?: string;
}

export interface RecordedEvidence {
  evidence: EvidenceRecord;
  image: StageImage;
}

function knownType(rt: Runtime, type: string): void {
  if (!rt.policy.evidenceTypes.some((t) => t.name === type)) {
    throw new SluiceError(
      'EVIDENCE_TYPE_UNKNOWN',
      'invalid-input',
      `unknown evidence type "${type}" (known: ${rt.policy.evidenceTypes.map((t) => t.name).join(', ')}; custom types are declared under spec.evidenceTypes)`,
    );
  }
}

function stageOrUndefined(rt: Runtime, name: string | undefined): Stage | undefined {
  if (name === undefined) return undefined;
  const s = stageByName(rt.policy, name);
  if (!s) throw new SluiceError('STAGE_UNKNOWN', 'invalid-input', `unknown stage "${name}"`);
  return s;
}

/** Makes sure the inventory knows the image evidence is about (automatic triggers look there). */
async function remember(rt: Runtime, image: StageImage): Promise<void> {
  await refreshReference(
    inventoryFor(rt, image.registry),
    image.registry,
    image.repository,
    image.tag ? { tag: image.tag } : { digest: image.digest },
    'evidence recorded',
  );
}

export async function recordEvidence(rt: Runtime, actor: Actor, req: EvidenceRequest): Promise<RecordedEvidence> {
  knownType(rt, req.type);
  const stage = stageOrUndefined(rt, req.stage);
  const approval = rt.policy.stages
    .flatMap((s) => s.gate.approvals.map((a) => ({ stage: s, a })))
    .find((x) => x.a.type === req.type);
  if (approval) {
    throw new SluiceError(
      'EVIDENCE_IS_APPROVAL',
      'invalid-input',
      `${req.type} is an approval: use \`sluice approve REF --stage ${approval.stage.name} --type ${req.type}\``,
    );
  }
  const image = await resolveStageImage(
    rt,
    req.ref,
    stage ? (previousStageOf(rt.policy, stage) ?? stage) : rt.policy.stages[0]!,
  );
  requireRole(actor, image.team, `record ${req.type} evidence`, ...RECORDER_ROLES);
  let status: EvidenceStatus = req.status ?? 'passed';
  let details = { ...req.details };
  let source = req.source ?? 'cli';
  if (req.reportFile) {
    if (req.type !== 'scan')
      throw new SluiceError(
        'EVIDENCE_OPTIONS_INVALID',
        'invalid-input',
        '--file takes a scan report and needs --type scan',
      );
    const file = req.reportFile;
    const text = await readInputText(file, {
      what: 'scan report',
      limit: MAX_REPORT_BYTES,
      unreadable: (errno) =>
        new SluiceError('SCAN_REPORT_UNREADABLE', 'invalid-input', `cannot read ${file}: ${errno}`, { location: file }),
    });
    const summary = parseTrivyReport(text, req.reportFile);
    assertReportIsFor(summary, image.digest, req.reportFile);
    details = {
      ...details,
      scanner: summary.scanner,
      counts: summary.counts,
      fixable: summary.fixable,
      findings: summary.findings,
      reportCreatedAt: summary.createdAt,
    };
    source = 'trivy';
    status = req.status ?? 'passed';
  } else if (req.change) {
    if (req.type !== 'change-approval')
      throw new SluiceError(
        'EVIDENCE_OPTIONS_INVALID',
        'invalid-input',
        '--change takes a change request and needs --type change-approval',
      );
    const cm = rt.policy.changeManagement;
    if (!cm)
      throw new SluiceError(
        'CHANGE_MANAGEMENT_UNCONFIGURED',
        'invalid-input',
        'spec.changeManagement is not configured in the policy; record the approval with --url instead',
      );
    const client = await ServiceNowClient.fromPolicy(cm, { baseDir: rt.policy.baseDir, env: rt.env });
    const decision = await client.check(req.change, new Date(rt.now()));
    status = decision.accepted ? 'passed' : 'failed';
    source = 'servicenow';
    details = {
      ...details,
      change: decision.number,
      approval: decision.approval,
      state: decision.state,
      plannedStart: decision.plannedStart?.toISOString() ?? null,
      plannedEnd: decision.plannedEnd?.toISOString() ?? null,
      reason: decision.reason,
    };
    req = { ...req, url: decision.url };
  } else if (req.type === 'scan' && details.counts === undefined) {
    throw new SluiceError(
      'SCAN_EVIDENCE_INCOMPLETE',
      'invalid-input',
      'scan evidence needs a report (--file trivy.json) so the gate can judge finding counts',
    );
  }
  const evidence = await rt.store.transaction(async (tx) => {
    const e = await insertEvidence(tx, {
      digest: image.digest,
      type: req.type,
      status,
      stage: stage?.name ?? null,
      team: image.team,
      recordedBy: actor.name,
      recordedRoles: actor.rolesFor(image.team),
      recordedAt: rt.now(),
      url: req.url ?? null,
      source,
      details,
    });
    await rt.audit(tx, {
      actor: actor.name,
      action: 'evidence',
      repository: `${image.registry.host}/${image.repository}`,
      digest: image.digest,
      tag: image.tag ?? null,
      reason: `${req.type} ${status}`,
      result: 'success',
      details: { type: req.type, status, stage: stage?.name ?? null, url: req.url ?? null, source },
    });
    return e;
  });
  await remember(rt, image);
  return { evidence, image };
}

export interface ApprovalRequest {
  ref: string;
  stage: string;
  type?: string;
  reject?: boolean;
  comment?: string;
  url?: string;
}

/** An approval (or rejection) for promoting an image into `stage`, by someone holding the stage's approver role. */
export async function approve(rt: Runtime, actor: Actor, req: ApprovalRequest): Promise<RecordedEvidence> {
  const stage = stageOrUndefined(rt, req.stage)!;
  const approvals = stage.gate.approvals;
  if (approvals.length === 0)
    throw new SluiceError('APPROVAL_NOT_REQUIRED', 'invalid-input', `stage ${stage.name} requires no approval`);
  const type = req.type ?? (approvals.length === 1 ? approvals[0]!.type : undefined);
  const def = approvals.find((a) => a.type === type);
  if (!def) {
    throw new SluiceError(
      'APPROVAL_TYPE_UNKNOWN',
      'invalid-input',
      `stage ${stage.name} takes approvals of type ${approvals.map((a) => a.type).join(', ')}${type ? `, not ${type}` : ''}`,
    );
  }
  const image = await resolveStageImage(rt, req.ref, previousStageOf(rt.policy, stage) ?? stage);
  try {
    requireRole(actor, image.team, `approve ${def.type} for ${stage.name}`, def.role);
    if (def.group && !def.group.includes(actor.name) && !actor.system) {
      throw new SluiceError(
        'FORBIDDEN',
        'forbidden',
        `${actor.name} is not in the approver group of ${def.type} (${def.group.join(', ')})`,
      );
    }
    // Refused now rather than recorded and then silently ignored by the gate.
    const authors = await changeAuthorsOf(rt.store, image.digest, stage.name);
    const ineligible = actor.system
      ? undefined
      : approvalIneligibility(def, { recordedBy: actor.name, recordedRoles: actor.rolesFor(image.team) }, authors);
    if (ineligible) {
      throw new SluiceError(
        ineligible.rule === 'four-eyes' ? 'FOUR_EYES' : 'FORBIDDEN',
        'forbidden',
        ineligible.rule === 'four-eyes'
          ? `${ineligible.reason}: ${actor.name} requested the promotion of ${image.digest} into ${stage.name} or recorded its build; ${def.type} needs another ${def.role}`
          : `${ineligible.reason}; the gate of ${stage.name} would not count this ${def.type}`,
        { actor: actor.name, digest: image.digest, stage: stage.name },
      );
    }
  } catch (err) {
    await rt.audit(rt.store, {
      actor: actor.name,
      action: 'approval',
      repository: `${image.registry.host}/${image.repository}`,
      digest: image.digest,
      reason: (err as Error).message,
      result: 'denied',
      details: { type: def.type, stage: stage.name },
    });
    throw err;
  }
  const status: EvidenceStatus = req.reject ? 'failed' : 'passed';
  const evidence = await rt.store.transaction(async (tx) => {
    const e = await insertEvidence(tx, {
      digest: image.digest,
      type: def.type,
      status,
      stage: stage.name,
      team: image.team,
      recordedBy: actor.name,
      recordedRoles: actor.rolesFor(image.team),
      recordedAt: rt.now(),
      url: req.url ?? null,
      source: 'approval',
      details: req.comment ? { comment: req.comment } : {},
    });
    await rt.audit(tx, {
      actor: actor.name,
      action: 'approval',
      repository: `${image.registry.host}/${image.repository}`,
      digest: image.digest,
      tag: image.tag ?? null,
      reason: `${def.type} ${req.reject ? 'rejected' : 'approved'} for ${stage.name}${req.comment ? `: ${req.comment}` : ''}`,
      result: 'success',
      details: { type: def.type, stage: stage.name, status },
    });
    return e;
  });
  await remember(rt, image);
  return { evidence, image };
}
