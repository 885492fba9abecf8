/** Store access for scans, findings and waivers. Rows in, domain records out; no decisions here. */
import type { StoreHandle } from '../store/index.ts';
import type { FindingsTable, WaiversTable } from '../store/index.ts';
import type { Severity } from '../policy/index.ts';
import type { StoredFinding, StoredState, Waiver } from './decide.ts';

export interface ScanRecord {
  id: string;
  digest: string;
  scanner: string;
  format: string;
  startedAt: number;
  finishedAt?: number;
  status: 'ok' | 'failed';
  error?: string;
  findingCount: number;
  reportDigest?: string;
  actor: string;
}

const opt = <T>(v: T | null): T | undefined => (v === null ? undefined : v);

export function rowToFinding(r: FindingsTable): StoredFinding {
  const f: StoredFinding = {
    digest: r.digest,
    id: r.vuln_id,
    aliases: JSON.parse(r.aliases) as string[],
    package: { name: r.package_name, version: r.package_version },
    severity: r.severity as Severity,
    scanners: JSON.parse(r.scanners) as string[],
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
    state: r.state as StoredState,
    dueAt: r.due_at,
  };
  if (r.ecosystem !== null) f.package.ecosystem = r.ecosystem;
  if (r.purl !== null) f.package.purl = r.purl;
  if (r.fixed_version !== null) f.fixedVersion = r.fixed_version;
  if (r.cvss_vector !== null || r.cvss_score_tenths !== null) {
    f.cvss = {};
    if (r.cvss_vector !== null) f.cvss.vector = r.cvss_vector;
    if (r.cvss_score_tenths !== null) f.cvss.score = r.cvss_score_tenths / 10;
  }
  if (r.detail !== null) f.detail = r.detail;
  if (r.resolved_at !== null) f.resolvedAt = r.resolved_at;
  if (r.notified !== null) f.notified = r.notified;
  return f;
}

function findingToRow(f: StoredFinding): FindingsTable {
  return {
    digest: f.digest,
    vuln_id: f.id,
    package_name: f.package.name,
    package_version: f.package.version,
    aliases: JSON.stringify(f.aliases),
    ecosystem: f.package.ecosystem ?? null,
    purl: f.package.purl ?? null,
    fixed_version: f.fixedVersion ?? null,
    severity: f.severity,
    cvss_vector: f.cvss?.vector ?? null,
    cvss_score_tenths: f.cvss?.score === undefined ? null : Math.round(f.cvss.score * 10),
    scanners: JSON.stringify(f.scanners),
    detail: f.detail ?? null,
    first_seen: f.firstSeen,
    last_seen: f.lastSeen,
    state: f.state,
    due_at: f.dueAt,
    resolved_at: f.resolvedAt ?? null,
    notified: f.notified ?? null,
  };
}

export async function findingsOf(h: StoreHandle, digest: string): Promise<StoredFinding[]> {
  const rows = await h.db.selectFrom('findings').selectAll().where('digest', '=', digest).execute();
  return rows.map(rowToFinding);
}

/** Both engines bind at most a few thousand parameters per statement; 19 columns a row. */
const INSERT_BATCH = 50;

export async function insertFindings(h: StoreHandle, findings: readonly StoredFinding[]): Promise<void> {
  for (let i = 0; i < findings.length; i += INSERT_BATCH) {
    await h.db
      .insertInto('findings')
      .values(findings.slice(i, i + INSERT_BATCH).map(findingToRow))
      .execute();
  }
}

export async function updateFinding(h: StoreHandle, f: StoredFinding): Promise<void> {
  const { digest, vuln_id, package_name, package_version, ...rest } = findingToRow(f);
  await h.db
    .updateTable('findings')
    .set(rest)
    .where('digest', '=', digest)
    .where('vuln_id', '=', vuln_id)
    .where('package_name', '=', package_name)
    .where('package_version', '=', package_version)
    .execute();
}

export async function insertScan(h: StoreHandle, s: ScanRecord): Promise<void> {
  await h.db
    .insertInto('scans')
    .values({
      id: s.id,
      digest: s.digest,
      scanner: s.scanner,
      format: s.format,
      started_at: s.startedAt,
      finished_at: s.finishedAt ?? null,
      status: s.status,
      error: s.error ?? null,
      finding_count: s.findingCount,
      report_digest: s.reportDigest ?? null,
      actor: s.actor,
    })
    .execute();
}

/** The latest successful scan of `digest` by `scanner`. */
export async function latestScan(h: StoreHandle, digest: string, scanner: string): Promise<ScanRecord | undefined> {
  const r = await h.db
    .selectFrom('scans')
    .selectAll()
    .where('digest', '=', digest)
    .where('scanner', '=', scanner)
    .where('status', '=', 'ok')
    .orderBy('started_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (!r) return undefined;
  const s: ScanRecord = {
    id: r.id,
    digest: r.digest,
    scanner: r.scanner,
    format: r.format,
    startedAt: r.started_at,
    status: r.status as ScanRecord['status'],
    findingCount: r.finding_count,
    actor: r.actor,
  };
  if (r.finished_at !== null) s.finishedAt = r.finished_at;
  if (r.error !== null) s.error = r.error;
  if (r.report_digest !== null) s.reportDigest = r.report_digest;
  return s;
}

export function rowToWaiver(r: WaiversTable): Waiver {
  const w: Waiver = {
    id: r.id,
    vulnId: r.vuln_id,
    team: r.team,
    reason: r.reason,
    createdBy: r.created_by,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
  };
  if (r.package_name !== null) w.package = r.package_name;
  if (r.digest !== null) w.digest = r.digest;
  if (r.repository !== null) w.repository = r.repository;
  if (r.revoked_at !== null) w.revokedAt = r.revoked_at;
  const by = opt(r.revoked_by);
  if (by !== undefined) w.revokedBy = by;
  return w;
}

export async function insertWaiver(h: StoreHandle, w: Waiver): Promise<void> {
  await h.db
    .insertInto('waivers')
    .values({
      id: w.id,
      vuln_id: w.vulnId,
      package_name: w.package ?? null,
      digest: w.digest ?? null,
      repository: w.repository ?? null,
      team: w.team,
      reason: w.reason,
      created_by: w.createdBy,
      created_at: w.createdAt,
      expires_at: w.expiresAt,
      revoked_at: null,
      revoked_by: null,
    })
    .execute();
}

export async function getWaiver(h: StoreHandle, id: string): Promise<Waiver | undefined> {
  const r = await h.db.selectFrom('waivers').selectAll().where('id', '=', id).executeTakeFirst();
  return r ? rowToWaiver(r) : undefined;
}

/** Waivers not revoked and not expired at `now` (all of them with `all`), newest first. */
export async function selectWaivers(
  h: StoreHandle,
  filter: { now: number; all?: boolean; team?: string; vulnIds?: string[] },
): Promise<Waiver[]> {
  const rows = await h.db
    .selectFrom('waivers')
    .selectAll()
    .$if(!filter.all, (q) => q.where('revoked_at', 'is', null).where('expires_at', '>', filter.now))
    .$if(filter.team !== undefined, (q) => q.where('team', '=', filter.team!))
    .$if(filter.vulnIds !== undefined, (q) => q.where('vuln_id', 'in', filter.vulnIds!))
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .execute();
  return rows.map(rowToWaiver);
}

export async function markWaiverRevoked(h: StoreHandle, id: string, by: string, at: number): Promise<number> {
  const res = await h.db
    .updateTable('waivers')
    .set({ revoked_at: at, revoked_by: by })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}

/** A successful scan of `digest` that recorded a report with these bytes, if any. */
export async function scanWithReport(
  h: StoreHandle,
  digest: string,
  reportDigest: string,
): Promise<{ id: string; scanner: string } | undefined> {
  return h.db
    .selectFrom('scans')
    .select(['id', 'scanner'])
    .where('digest', '=', digest)
    .where('report_digest', '=', reportDigest)
    .where('status', '=', 'ok')
    .limit(1)
    .executeTakeFirst();
}

/** Findings of `digest` that `scanner` reports (its latest view of the digest). */
export async function countFindings(h: StoreHandle, digest: string, scanner: string): Promise<number> {
  // `scanners` is a JSON array of names that are plain words: a quoted match is exact.
  const r = await h.db
    .selectFrom('findings')
    .select((e) => e.fn.countAll<number>().as('n'))
    .where('digest', '=', digest)
    .where('scanners', 'like', `%"${scanner}"%`)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

/** Teams and `team/repo` of the repositories holding `digest`, and the stages where it is tagged. */
export async function imagePlaces(
  h: StoreHandle,
  digests: readonly string[],
): Promise<Map<string, { teams: string[]; repositories: string[]; stages: string[] }>> {
  const out = new Map<string, { teams: string[]; repositories: string[]; stages: string[] }>();
  if (digests.length === 0) return out;
  const held = await h.db
    .selectFrom('repository_manifests as rm')
    .innerJoin('repositories as r', (j) =>
      j.onRef('r.registry', '=', 'rm.registry').onRef('r.name', '=', 'rm.repository'),
    )
    .select(['rm.digest', 'rm.repository', 'r.team'])
    .where('rm.digest', 'in', [...digests])
    .execute();
  const tagged = await h.db
    .selectFrom('tags as t')
    .innerJoin('repositories as r', (j) =>
      j.onRef('r.registry', '=', 't.registry').onRef('r.name', '=', 't.repository'),
    )
    .select(['t.digest', 'r.stage'])
    .where('t.digest', 'in', [...digests])
    .where('r.stage', 'is not', null)
    .execute();
  const entry = (d: string) => {
    let e = out.get(d);
    if (!e) out.set(d, (e = { teams: [], repositories: [], stages: [] }));
    return e;
  };
  for (const r of held) {
    const e = entry(r.digest);
    if (r.team !== null && !e.teams.includes(r.team)) e.teams.push(r.team);
    // Repositories are `team/repo` under a stage prefix or not: keep the path's last two segments.
    const repo = r.repository.split('/').slice(-2).join('/');
    if (!e.repositories.includes(repo)) e.repositories.push(repo);
  }
  for (const t of tagged) {
    const e = entry(t.digest);
    if (t.stage !== null && !e.stages.includes(t.stage)) e.stages.push(t.stage);
  }
  return out;
}
