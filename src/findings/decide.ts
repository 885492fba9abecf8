/**
 * The decisions of the findings lifecycle as plain functions over data: what a report changes
 * in the stored findings of a digest, whether a waiver covers a finding, and whether a waiver
 * request may be granted. The store and the service bring the inputs and apply the results.
 */
import { SluiceError } from '../errors.ts';
import type { Actor } from '../auth/actor.ts';
import type { Severity } from '../policy/index.ts';
import { findingKey, type AffectedPackage, type Cvss, type ReportedFinding, type Scanner } from './model.ts';

/** The facts a scan establishes about a finding; `waived` is derived from waivers when read. */
export type StoredState = 'open' | 'fixed' | 'not-affected';

export interface StoredFinding {
  digest: string;
  id: string;
  aliases: string[];
  package: AffectedPackage;
  fixedVersion?: string;
  severity: Severity;
  cvss?: Cvss;
  /** Scanners whose latest report of this digest names it, sorted. */
  scanners: string[];
  detail?: string;
  firstSeen: number;
  lastSeen: number;
  state: StoredState;
  dueAt: number;
  resolvedAt?: number;
  notified?: string;
}

export interface FindingWrites {
  inserts: StoredFinding[];
  updates: StoredFinding[];
  /** Counts for the caller: `updates` holds both changed and newly fixed findings. */
  opened: number;
  updated: number;
  fixed: number;
  unchanged: number;
}

/**
 * `last_seen` is kept to this resolution: a rescan within it that changes nothing else writes
 * nothing, so re-importing the same findings costs reads only.
 */
export const LAST_SEEN_RESOLUTION_MS = 3_600_000;

export interface DiffContext {
  digest: string;
  scanner: Scanner;
  now: number;
  /** The due date of a finding first seen at `firstSeen` with `severity`. */
  dueAt(severity: Severity, firstSeen: number): number;
}

function union(a: readonly string[], b: readonly string[]): string[] {
  return [...new Set([...a, ...b])].sort();
}

/** Two entries of one report for the same finding (another package path): one finding, the worse facts. */
function mergeReported(a: ReportedFinding, b: ReportedFinding): ReportedFinding {
  return {
    ...a,
    aliases: union(a.aliases, b.aliases),
    fixedVersion: a.fixedVersion ?? b.fixedVersion,
    cvss: a.cvss ?? b.cvss,
    // One entry that applies is enough for the finding to apply.
    state: a.state === 'open' || b.state === 'open' ? 'open' : 'not-affected',
  };
}

function sameFinding(a: StoredFinding, b: StoredFinding): boolean {
  return (
    JSON.stringify([a.aliases, a.package, a.fixedVersion, a.severity, a.cvss, a.scanners, a.detail, a.state]) ===
      JSON.stringify([b.aliases, b.package, b.fixedVersion, b.severity, b.cvss, b.scanners, b.detail, b.state]) &&
    a.firstSeen === b.firstSeen &&
    a.dueAt === b.dueAt &&
    a.resolvedAt === b.resolvedAt &&
    a.notified === b.notified
  );
}

/** What the store keeps of a rating: vector and score to a tenth (who rated it is not kept). */
function storedCvss(c: Cvss | undefined): Cvss | undefined {
  if (!c || (c.vector === undefined && c.score === undefined)) return undefined;
  const out: Cvss = {};
  if (c.vector !== undefined) out.vector = c.vector;
  if (c.score !== undefined) out.score = Math.round(c.score * 10) / 10;
  return out;
}

function clean<T extends object>(o: T): T {
  for (const k of Object.keys(o) as Array<keyof T>) if (o[k] === undefined) delete o[k];
  return o;
}

/**
 * What recording `reported` (one scanner's full report of `ctx.digest`) changes in `stored`
 * (every stored finding of that digest). Identity is (id, package, version); `first seen`
 * never moves; a finding this scanner reported before and no longer reports is fixed once no
 * scanner reports it; a VEX `not-affected` statement closes it; a fixed finding that is
 * reported again opens again with its original first-seen (and so its original due date).
 */
export function diffFindings(
  stored: readonly StoredFinding[],
  reported: readonly ReportedFinding[],
  ctx: DiffContext,
): FindingWrites {
  const byKey = new Map<string, ReportedFinding>();
  for (const f of reported) {
    const key = findingKey(f);
    const prev = byKey.get(key);
    byKey.set(key, prev ? mergeReported(prev, f) : f);
  }
  const storedByKey = new Map(stored.map((s) => [findingKey(s), s]));
  const out: FindingWrites = { inserts: [], updates: [], opened: 0, updated: 0, fixed: 0, unchanged: 0 };
  for (const [key, f] of byKey) {
    const old = storedByKey.get(key);
    if (!old) {
      out.inserts.push(
        clean({
          digest: ctx.digest,
          id: f.id,
          aliases: [...f.aliases].sort(),
          package: clean({ ...f.package }),
          fixedVersion: f.fixedVersion,
          severity: f.severity,
          cvss: storedCvss(f.cvss),
          scanners: [ctx.scanner],
          detail: f.detail,
          firstSeen: ctx.now,
          lastSeen: ctx.now,
          state: f.state,
          dueAt: ctx.dueAt(f.severity, ctx.now),
          resolvedAt: f.state === 'not-affected' ? ctx.now : undefined,
        }),
      );
      if (f.state === 'open') out.opened++;
      continue;
    }
    // A VEX statement outlives rescans: a scanner matching by package version alone cannot know
    // the code is unreachable, so only another statement (CycloneDX VEX) reopens it.
    const state: StoredState =
      old.state === 'not-affected' && f.state === 'open' && ctx.scanner !== 'cyclonedx' ? 'not-affected' : f.state;
    const next: StoredFinding = clean({
      ...old,
      aliases: union(old.aliases, f.aliases),
      package: clean({
        ...old.package,
        ecosystem: f.package.ecosystem ?? old.package.ecosystem,
        purl: f.package.purl ?? old.package.purl,
      }),
      fixedVersion: f.fixedVersion ?? old.fixedVersion,
      severity: f.severity,
      cvss: storedCvss(f.cvss) ?? old.cvss,
      scanners: union(old.scanners, [ctx.scanner]),
      detail: f.detail ?? old.detail,
      state,
      // A changed severity moves the deadline; first seen does not.
      dueAt: ctx.dueAt(f.severity, old.firstSeen),
      resolvedAt: state === 'open' ? undefined : old.state === state ? old.resolvedAt : ctx.now,
    });
    const stale = ctx.now - old.lastSeen >= LAST_SEEN_RESOLUTION_MS;
    if (sameFinding(old, next) && !stale) {
      out.unchanged++;
      continue;
    }
    next.lastSeen = Math.max(old.lastSeen, ctx.now);
    out.updates.push(next);
    if (old.state !== 'open' && state === 'open') out.opened++;
    else out.updated++;
  }
  for (const [key, old] of storedByKey) {
    if (byKey.has(key)) continue;
    if (!old.scanners.includes(ctx.scanner)) {
      out.unchanged++;
      continue;
    }
    const scanners = old.scanners.filter((s) => s !== ctx.scanner);
    // Another scanner still reports it: this one's silence alone does not fix it.
    const fixedNow = scanners.length === 0 && old.state === 'open';
    const next: StoredFinding = clean({
      ...old,
      scanners,
      state: fixedNow ? 'fixed' : old.state,
      resolvedAt: fixedNow ? ctx.now : old.resolvedAt,
    });
    out.updates.push(next);
    if (fixedNow) out.fixed++;
    else out.updated++;
  }
  return out;
}

export interface Waiver {
  id: string;
  vulnId: string;
  package?: string;
  /** Scope: exactly one image digest… */
  digest?: string;
  /** …or one repository `team/repo`; with neither, every image of `team`. */
  repository?: string;
  team: string;
  reason: string;
  createdBy: string;
  createdAt: number;
  expiresAt: number;
  revokedAt?: number;
  revokedBy?: string;
}

export interface ImageScope {
  digest: string;
  /** Teams owning a repository that holds the digest. */
  teams: string[];
  /** `team/repo` of every repository holding the digest. */
  repositories: string[];
}

/** True when `w` is in force at `t`: created, not expired, not revoked. */
export function waiverValidAt(w: Waiver, t: number): boolean {
  if (t < w.createdAt || t >= w.expiresAt) return false;
  return w.revokedAt === undefined || t < w.revokedAt;
}

/** Does waiver `w` cover finding `f` of `image` at time `t`? Ids match through aliases. */
export function waiverCovers(
  w: Waiver,
  f: Pick<StoredFinding, 'id' | 'aliases' | 'package'>,
  image: ImageScope,
  t: number,
): boolean {
  if (!waiverValidAt(w, t)) return false;
  if (w.vulnId !== f.id && !f.aliases.includes(w.vulnId)) return false;
  if (w.package !== undefined && w.package !== f.package.name) return false;
  if (w.digest !== undefined) return w.digest === image.digest;
  if (w.repository !== undefined) return image.repositories.includes(w.repository);
  return image.teams.includes(w.team);
}

/** The latest expiry among the waivers covering `f` at `t`, or undefined when none does. */
export function waivedUntil(
  waivers: readonly Waiver[],
  f: Pick<StoredFinding, 'id' | 'aliases' | 'package'>,
  image: ImageScope,
  t: number,
): number | undefined {
  let until: number | undefined;
  for (const w of waivers) {
    if (!waiverCovers(w, f, image, t)) continue;
    const end = w.revokedAt !== undefined ? Math.min(w.revokedAt, w.expiresAt) : w.expiresAt;
    if (until === undefined || end > until) until = end;
  }
  return until;
}

export interface WaiverRequest {
  vulnId: string;
  package?: string;
  digest?: string;
  repository?: string;
  team: string;
  reason: string;
  expiresAt: number;
}

const VULN_ID = /^[A-Za-z][A-Za-z0-9._:-]{1,127}$/;

/**
 * Refuses a waiver that is not allowed: only the team's `security` role grants exceptions
 * (platform administrators included: they run the platform, they do not accept its risks),
 * for at most `maxDurationMs`, with a reason and one scope.
 */
export function validateWaiver(req: WaiverRequest, actor: Actor, now: number, maxDurationMs: number): void {
  if (actor.system || !actor.rolesFor(req.team).includes('security')) {
    throw new SluiceError(
      'FORBIDDEN',
      'forbidden',
      `${actor.name} may not waive ${req.vulnId} for team ${req.team}: needs role security (has ${actor.rolesFor(req.team).join(', ') || 'none'})`,
      { actor: actor.name, team: req.team },
    );
  }
  if (!VULN_ID.test(req.vulnId))
    throw new SluiceError(
      'WAIVER_INVALID',
      'invalid-input',
      `waiver id ${JSON.stringify(req.vulnId)} is not a vulnerability id`,
    );
  if (!req.reason.trim()) throw new SluiceError('WAIVER_INVALID', 'invalid-input', 'a waiver needs a reason');
  if (req.digest !== undefined && req.repository !== undefined)
    throw new SluiceError('WAIVER_INVALID', 'invalid-input', 'a waiver covers one image or one repository, not both');
  if (req.repository !== undefined && !req.repository.startsWith(`${req.team}/`))
    throw new SluiceError('WAIVER_INVALID', 'invalid-input', `repository ${req.repository} is not team ${req.team}'s`);
  if (!Number.isFinite(req.expiresAt) || req.expiresAt <= now)
    throw new SluiceError('WAIVER_INVALID', 'invalid-input', 'a waiver must expire in the future');
  if (req.expiresAt - now > maxDurationMs) {
    throw new SluiceError(
      'WAIVER_TOO_LONG',
      'policy-violation',
      `a waiver may last at most ${Math.round(maxDurationMs / 86_400_000)} days (vulnerabilities.waivers.maxDuration); this one asks for ${Math.ceil((req.expiresAt - now) / 86_400_000)}`,
      { team: req.team },
    );
  }
}
