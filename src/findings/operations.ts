/**
 * The findings operations the CLI and the server share: an image reference resolved to its
 * digest and team, the caller's roles checked, then the findings service asked. Shells stay
 * free of these rules so both answer the same way.
 */
import { requireRole, type Actor } from '../auth/actor.ts';
import { SluiceError } from '../errors.ts';
import { readInputText } from '../files.ts';
import type { Role } from '../policy/index.ts';
import { resolveStageImage } from '../promotion/service.ts';
import type { Runtime } from '../runtime.ts';
import type { Waiver } from './decide.ts';
import { MAX_REPORT_BYTES, type FormatChoice } from './reports/index.ts';
import {
  addWaiver,
  findingsForDigest,
  importReport,
  parseExpiry,
  type FindingView,
  type RecordResult,
} from './service.ts';

/** Who may record a scanner's report for a team's image (platform administrators always may). */
export const REPORT_IMPORTER_ROLES: Role[] = ['developer', 'security'];

/** The digest `ref` points to now and the team owning its repository. */
export async function resolveImage(
  rt: Runtime,
  ref: string,
): Promise<{ digest: string; team: string; repository: string }> {
  const image = await resolveStageImage(rt, ref, rt.policy.stages[0]!);
  return { digest: image.digest, team: image.team, repository: image.repository };
}

/** Reads a report file with the size bound every report has. */
export async function readReportFile(file: string): Promise<string> {
  return readInputText(file, {
    what: 'scan report',
    limit: MAX_REPORT_BYTES,
    unreadable: (errno) =>
      new SluiceError('SCAN_REPORT_UNREADABLE', 'invalid-input', `cannot read ${file}: ${errno}`, { location: file }),
  });
}

export async function importReportForImage(
  rt: Runtime,
  actor: Actor,
  req: { ref: string; text: string; format?: FormatChoice; source?: string; now: number },
): Promise<RecordResult & { scanner?: string; digest: string; repository: string }> {
  const image = await resolveImage(rt, req.ref);
  requireRole(actor, image.team, 'import a scan report', ...REPORT_IMPORTER_ROLES);
  const result = await importReport(rt, {
    digest: image.digest,
    text: req.text,
    ...(req.format ? { format: req.format } : {}),
    ...(req.source ? { source: req.source } : {}),
    actor,
    now: req.now,
  });
  return { ...result, digest: image.digest, repository: image.repository };
}

export async function findingsOfImage(
  rt: Runtime,
  ref: string,
  now: number,
): Promise<{ digest: string; repository: string; findings: FindingView[] }> {
  const image = await resolveImage(rt, ref);
  return {
    digest: image.digest,
    repository: image.repository,
    findings: await findingsForDigest(rt, image.digest, now),
  };
}

/**
 * A waiver for one image (`image`, a reference), one repository (`team/repo`) or, with
 * neither, every image of `team`. The team comes from the image or the repository when given.
 */
export async function grantWaiver(
  rt: Runtime,
  actor: Actor,
  req: {
    vulnId: string;
    package?: string;
    image?: string;
    repository?: string;
    team?: string;
    reason: string;
    expires: string;
    now: number;
  },
): Promise<Waiver> {
  if (req.image !== undefined && req.repository !== undefined)
    throw new SluiceError('WAIVER_INVALID', 'invalid-input', 'a waiver covers one image or one repository, not both');
  let team = req.team;
  let digest: string | undefined;
  if (req.image !== undefined) {
    const image = await resolveImage(rt, req.image);
    digest = image.digest;
    team = image.team;
  } else if (req.repository !== undefined) {
    const parts = req.repository.split('/');
    if (parts.length !== 2 || !parts[0] || !parts[1])
      throw new SluiceError(
        'WAIVER_INVALID',
        'invalid-input',
        `repository ${JSON.stringify(req.repository)} is not team/repo`,
      );
    team = parts[0];
  }
  if (team === undefined)
    throw new SluiceError(
      'WAIVER_INVALID',
      'invalid-input',
      'a waiver needs an image, a repository (team/repo) or a team',
    );
  if (!rt.policy.teams.some((t) => t.name === team))
    throw new SluiceError('WAIVER_INVALID', 'invalid-input', `team ${team} is not in the policy`);
  return addWaiver(rt, {
    vulnId: req.vulnId,
    ...(req.package !== undefined ? { package: req.package } : {}),
    ...(digest !== undefined ? { digest } : {}),
    ...(req.repository !== undefined ? { repository: req.repository } : {}),
    team,
    reason: req.reason,
    expiresAt: parseExpiry(req.expires, req.now),
    actor,
    now: req.now,
  });
}
