/**
 * The findings lifecycle over the store: recording a scanner's report for a digest, reading
 * findings with their SLA clocks, and granting, listing and revoking waivers (audited).
 * Decisions live in decide.ts; this module reads, asks them, and writes what they say.
 */
import { createHash, randomUUID } from 'node:crypto';
import { SluiceError } from '../errors.ts';
import type { Actor } from '../auth/actor.ts';
import type { AuditInput } from '../audit/index.ts';
import type { LifecyclePolicy, Severity } from '../policy/index.ts';
import { inTransaction, type Store, type StoreTx } from '../store/index.ts';
import {
  diffFindings,
  validateWaiver,
  waivedUntil,
  type StoredFinding,
  type Waiver,
  type WaiverRequest,
} from './decide.ts';
import type { ParsedReport } from './model.ts';
import { assertReportIsFor, parseReport, type FormatChoice } from './reports/index.ts';
import {
  countFindings,
  findingsOf,
  getWaiver,
  imagePlaces,
  insertFindings,
  insertScan,
  insertWaiver,
  scanWithReport,
  markWaiverRevoked,
  rowToFinding,
  selectWaivers,
  updateFinding,
} from './records.ts';
import { clockState, dueDate, type ClockState } from './sla.ts';

export interface FindingsDeps {
  store: Store;
  policy: Pick<LifecyclePolicy, 'vulnerabilities'>;
  audit(h: Store | StoreTx, input: AuditInput): Promise<unknown>;
}

/**
 * `low: nextCycle` with no rebuild schedule or cadence known (neither exists in the store yet):
 * the policy has no fallback setting yet either, so this one applies and `findings show` says so.
 */
export const NEXT_CYCLE_FALLBACK_MS = 90 * 86_400_000;
/** How close to its due date a finding counts as "due soon". */
export const DUE_SOON_MS = 48 * 3_600_000;

function dueAtFor(deps: FindingsDeps) {
  return (severity: Severity, firstSeen: number) =>
    dueDate(firstSeen, severity, deps.policy.vulnerabilities.sla, { fallbackMs: NEXT_CYCLE_FALLBACK_MS }).at;
}

export interface RecordResult {
  scanId?: string;
  opened: number;
  updated: number;
  fixed: number;
  unchanged: number;
}

/**
 * Records `report` as `report.scanner`'s full view of `digest` at `now`. A report with the
 * same bytes (`reportText`) as one already recorded for the digest writes nothing at all;
 * otherwise a scan row is written and only the findings whose facts changed.
 */
export async function recordReport(
  deps: FindingsDeps,
  req: { digest: string; report: ParsedReport; reportText?: string; actor: Actor; now: number },
): Promise<RecordResult> {
  const { digest, report, now } = req;
  const reportDigest = req.reportText === undefined ? undefined : sha256(req.reportText);
  return deps.store.transaction(async (tx) => {
    if (reportDigest !== undefined && (await scanWithReport(tx, digest, reportDigest))) {
      return { opened: 0, updated: 0, fixed: 0, unchanged: await countFindings(tx, digest, report.scanner) };
    }
    const stored = await findingsOf(tx, digest);
    const writes = diffFindings(stored, report.findings, {
      digest,
      scanner: report.scanner,
      now,
      dueAt: dueAtFor(deps),
    });
    const scanId = randomUUID();
    await insertScan(tx, {
      id: scanId,
      digest,
      scanner: report.scanner,
      format: report.format,
      startedAt: now,
      finishedAt: now,
      status: 'ok',
      findingCount: report.findings.length,
      reportDigest,
      actor: req.actor.name,
    });
    await insertFindings(tx, writes.inserts);
    for (const f of writes.updates) await updateFinding(tx, f);
    return { scanId, opened: writes.opened, updated: writes.updated, fixed: writes.fixed, unchanged: writes.unchanged };
  });
}

const sha256 = (text: string): string => `sha256:${createHash('sha256').update(text).digest('hex')}`;

/**
 * A report's text for `digest`: read, checked against the digest, recorded. The same bytes
 * as a report already recorded for this digest are recognised by their hash before being
 * parsed again, and write nothing.
 */
export async function importReport(
  deps: FindingsDeps,
  req: { digest: string; text: string; format?: FormatChoice; source?: string; actor: Actor; now: number },
): Promise<RecordResult & { scanner?: string }> {
  const source = req.source ?? 'report';
  const seen = await scanWithReport(deps.store, req.digest, sha256(req.text));
  if (seen) {
    return {
      opened: 0,
      updated: 0,
      fixed: 0,
      unchanged: await countFindings(deps.store, req.digest, seen.scanner),
      scanner: seen.scanner,
    };
  }
  const report = parseReport(req.text, { format: req.format, source });
  assertReportIsFor(report, req.digest, source);
  const result = await recordReport(deps, {
    digest: req.digest,
    report,
    reportText: req.text,
    actor: req.actor,
    now: req.now,
  });
  return { ...result, scanner: report.scanner };
}

/** A scanner run that produced no report: recorded so failures are visible and counted. */
export async function recordFailedScan(
  deps: FindingsDeps,
  req: { digest: string; scanner: string; format: string; error: string; actor: Actor; startedAt: number; now: number },
): Promise<string> {
  const id = randomUUID();
  await insertScan(deps.store, {
    id,
    digest: req.digest,
    scanner: req.scanner,
    format: req.format,
    startedAt: req.startedAt,
    finishedAt: req.now,
    status: 'failed',
    error: req.error.slice(0, 2000),
    findingCount: 0,
    actor: req.actor.name,
  });
  return id;
}

export type ReadState = StoredFinding['state'] | 'waived';

export interface FindingView extends StoredFinding {
  /** `waived` while a valid waiver covers an open finding. */
  effectiveState: ReadState;
  clock: ClockState;
  waivedUntil?: number;
  teams: string[];
  /** Stages where the digest is tagged now. */
  stages: string[];
}

export interface FindingFilter {
  team?: string;
  stage?: string;
  severity?: Severity;
  state?: ReadState;
  /** Only open, unwaived findings past their due date. */
  overdue?: boolean;
  /** Only open, unwaived findings due within this many ms (overdue included). */
  dueWithinMs?: number;
  digest?: string;
  now: number;
  /** Default 1000. */
  limit?: number;
}

async function views(h: Store | StoreTx, findings: StoredFinding[], now: number): Promise<FindingView[]> {
  const places = await imagePlaces(h, [...new Set(findings.map((f) => f.digest))]);
  const ids = [...new Set(findings.flatMap((f) => [f.id, ...f.aliases]))];
  const waivers = ids.length ? await selectWaivers(h, { now, vulnIds: ids }) : [];
  return findings.map((f) => {
    const p = places.get(f.digest) ?? { teams: [], repositories: [], stages: [] };
    const until = f.state === 'open' ? waivedUntil(waivers, f, { digest: f.digest, ...p }, now) : undefined;
    const v: FindingView = {
      ...f,
      effectiveState: until !== undefined ? 'waived' : f.state,
      clock: clockState({ due: f.dueAt, state: f.state, waivedUntil: until }, now, DUE_SOON_MS),
      teams: p.teams,
      stages: p.stages,
    };
    if (until !== undefined) v.waivedUntil = until;
    return v;
  });
}

/**
 * Findings matching `filter`, most urgent first. Due-date filters are answered by the
 * (state, due_at) index; team and stage through the inventory's repositories and tags.
 */
export async function listFindings(deps: Pick<FindingsDeps, 'store'>, filter: FindingFilter): Promise<FindingView[]> {
  const limit = Math.min(filter.limit ?? 1000, 10_000);
  const { now } = filter;
  const dueBefore = filter.overdue ? now : filter.dueWithinMs !== undefined ? now + filter.dueWithinMs : undefined;
  const storedState = filter.state === 'waived' || dueBefore !== undefined ? 'open' : filter.state;
  const db = deps.store.db;
  let q = db.selectFrom('findings as f').selectAll('f');
  if (storedState !== undefined) q = q.where('f.state', '=', storedState);
  if (dueBefore !== undefined) q = q.where('f.due_at', filter.overdue ? '<=' : '<=', dueBefore);
  if (filter.severity !== undefined) q = q.where('f.severity', '=', filter.severity);
  if (filter.digest !== undefined) q = q.where('f.digest', '=', filter.digest);
  if (filter.team !== undefined) {
    const team = filter.team;
    q = q.where((eb) =>
      eb.exists(
        eb
          .selectFrom('repository_manifests as rm')
          .innerJoin('repositories as r', (j) =>
            j.onRef('r.registry', '=', 'rm.registry').onRef('r.name', '=', 'rm.repository'),
          )
          .select('rm.digest')
          .whereRef('rm.digest', '=', 'f.digest')
          .where('r.team', '=', team),
      ),
    );
  }
  if (filter.stage !== undefined) {
    const stage = filter.stage;
    q = q.where((eb) =>
      eb.exists(
        eb
          .selectFrom('tags as t')
          .innerJoin('repositories as r', (j) =>
            j.onRef('r.registry', '=', 't.registry').onRef('r.name', '=', 't.repository'),
          )
          .select('t.digest')
          .whereRef('t.digest', '=', 'f.digest')
          .where('r.stage', '=', stage),
      ),
    );
  }
  // Waived findings are dropped after the query; read past them so `limit` still fills.
  const rows = await q
    .orderBy('f.due_at')
    .orderBy('f.digest')
    .orderBy('f.vuln_id')
    .limit(limit * 2)
    .execute();
  const all = await views(deps.store, rows.map(rowToFinding), now);
  const wanted = all.filter((v) => {
    if (filter.state !== undefined && v.effectiveState !== filter.state) return false;
    if (dueBefore !== undefined && v.effectiveState === 'waived') return false;
    return true;
  });
  return wanted.slice(0, limit);
}

/** Every finding of one digest, with its clock: what `findings show` reports. */
export async function findingsForDigest(
  deps: Pick<FindingsDeps, 'store'>,
  digest: string,
  now: number,
): Promise<FindingView[]> {
  const found = await findingsOf(deps.store, digest);
  const order: Record<string, number> = { open: 0, 'not-affected': 1, fixed: 2 };
  found.sort((a, b) => order[a.state]! - order[b.state]! || a.dueAt - b.dueAt || a.id.localeCompare(b.id));
  return views(deps.store, found, now);
}

const DURATION_UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `30d`, `12h`, `2w`: what `--expires` takes. */
export function parseExpiry(text: string, now: number): number {
  const m = /^(\d{1,6})([mhdw])$/.exec(text.trim());
  if (!m)
    throw new SluiceError(
      'WAIVER_INVALID',
      'invalid-input',
      `expiry ${JSON.stringify(text)} is not a duration such as 30d, 12h or 2w`,
    );
  return now + Number(m[1]) * DURATION_UNITS[m[2]!]!;
}

export async function addWaiver(
  deps: FindingsDeps,
  req: WaiverRequest & { actor: Actor; now: number },
): Promise<Waiver> {
  const { actor, now, ...request } = req;
  validateWaiver(request, actor, now, deps.policy.vulnerabilities.waivers.maxDuration);
  const waiver: Waiver = {
    ...request,
    id: randomUUID(),
    reason: request.reason.trim(),
    createdBy: actor.name,
    createdAt: now,
  };
  for (const k of ['package', 'digest', 'repository'] as const) if (waiver[k] === undefined) delete waiver[k];
  return inTransaction(deps.store, async (tx) => {
    if (waiver.digest !== undefined) {
      // The team's security role waives for the team's images only.
      const teams = (await imagePlaces(tx, [waiver.digest])).get(waiver.digest)?.teams ?? [];
      if (teams.length === 0)
        throw new SluiceError(
          'IMAGE_NOT_IN_INVENTORY',
          'not-found',
          `${waiver.digest} is not in the inventory (run sluice sync?)`,
        );
      if (!teams.includes(waiver.team))
        throw new SluiceError(
          'WAIVER_INVALID',
          'invalid-input',
          `${waiver.digest} is not an image of team ${waiver.team}`,
        );
    }
    await insertWaiver(tx, waiver);
    await deps.audit(tx, {
      actor: actor.name,
      action: 'waiver',
      repository: waiver.repository ?? null,
      digest: waiver.digest ?? null,
      reason: waiver.reason,
      result: 'success',
      details: {
        waiver: waiver.id,
        vulnerability: waiver.vulnId,
        package: waiver.package ?? null,
        team: waiver.team,
        expires: new Date(waiver.expiresAt).toISOString(),
      },
    });
    return waiver;
  });
}

export async function listWaivers(
  deps: Pick<FindingsDeps, 'store'>,
  filter: { now: number; all?: boolean; team?: string },
): Promise<Waiver[]> {
  return selectWaivers(deps.store, filter);
}

export async function revokeWaiver(
  deps: FindingsDeps,
  req: { id: string; actor: Actor; reason?: string; now: number },
): Promise<Waiver> {
  return inTransaction(deps.store, async (tx) => {
    const w = await getWaiver(tx, req.id);
    if (!w) throw new SluiceError('WAIVER_NOT_FOUND', 'not-found', `no waiver ${req.id}`);
    if (!req.actor.rolesFor(w.team).includes('security') || req.actor.system) {
      throw new SluiceError(
        'FORBIDDEN',
        'forbidden',
        `${req.actor.name} may not revoke waivers for team ${w.team}: needs role security`,
        { actor: req.actor.name, team: w.team },
      );
    }
    const n = await markWaiverRevoked(tx, w.id, req.actor.name, req.now);
    await deps.audit(tx, {
      actor: req.actor.name,
      action: 'waiver.revoke',
      repository: w.repository ?? null,
      digest: w.digest ?? null,
      reason: req.reason ?? null,
      result: n > 0 ? 'success' : 'failure',
      details: { waiver: w.id, vulnerability: w.vulnId, team: w.team },
    });
    return n > 0 ? { ...w, revokedAt: req.now, revokedBy: req.actor.name } : w;
  });
}
