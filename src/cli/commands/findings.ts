/** Findings and waivers commands: import a scanner's report, list and show findings, waivers. */
import type { Command } from 'commander';
import { cliActor } from '../../auth/actor.ts';
import { SluiceError } from '../../errors.ts';
import {
  listFindings,
  listWaivers,
  revokeWaiver,
  type FindingFilter,
  type FindingView,
  type FormatChoice,
  type ReadState,
  type Waiver,
} from '../../findings/index.ts';
import { findingsOfImage, grantWaiver, importReportForImage, readReportFile } from '../../findings/operations.ts';
import { SEVERITIES, type Severity } from '../../policy/index.ts';
import { parseDuration } from '../../policy/duration.ts';
import type { CliContext } from '../context.ts';
import { emit, shortDigest, type Column } from '../output.ts';

const FORMATS = ['auto', 'trivy', 'grype', 'clair', 'quay', 'cyclonedx'];
const STATES = ['open', 'fixed', 'not-affected', 'waived'];

const iso = (ms: number | undefined): string => (ms === undefined ? '' : new Date(ms).toISOString());

const FINDING_COLUMNS: Column<FindingView>[] = [
  { header: 'DIGEST', value: (f) => shortDigest(f.digest) },
  { header: 'ID', value: (f) => f.id },
  { header: 'SEVERITY', value: (f) => f.severity },
  { header: 'PACKAGE', value: (f) => `${f.package.name}@${f.package.version}` },
  { header: 'FIXED IN', value: (f) => f.fixedVersion ?? '' },
  { header: 'STATE', value: (f) => f.effectiveState },
  { header: 'CLOCK', value: (f) => f.clock },
  { header: 'DUE', value: (f) => (f.state === 'open' ? iso(f.dueAt) : '') },
  { header: 'TEAMS', value: (f) => f.teams.join(','), wide: true },
  { header: 'STAGES', value: (f) => f.stages.join(','), wide: true },
  { header: 'SCANNERS', value: (f) => f.scanners.join(','), wide: true },
];

const WAIVER_COLUMNS: Column<Waiver>[] = [
  { header: 'ID', value: (w) => w.id },
  { header: 'VULNERABILITY', value: (w) => w.vulnId },
  { header: 'PACKAGE', value: (w) => w.package ?? '*' },
  { header: 'SCOPE', value: (w) => (w.digest ? shortDigest(w.digest) : (w.repository ?? `team ${w.team}`)) },
  { header: 'EXPIRES', value: (w) => iso(w.expiresAt) },
  { header: 'BY', value: (w) => w.createdBy },
  { header: 'REASON', value: (w) => w.reason, wide: true },
];

function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly string[]): T | undefined {
  if (value === undefined) return undefined;
  if (!allowed.includes(value))
    throw new SluiceError('USAGE', 'usage', `${flag} must be one of ${allowed.join(', ')}, not "${value}"`);
  return value as T;
}

export function registerFindingsCommands(program: Command, ctx: CliContext): void {
  const findings = program.command('findings').description("vulnerability findings from scanners' reports");
  findings
    .command('import')
    .description("record a scanner's report (Trivy, Grype, Clair, CycloneDX VEX) for the digest REF points to now")
    .argument('<ref>', 'image (registry/team-stage/repo:tag, team-stage/repo:tag, or team/repo:tag in the first stage)')
    .requiredOption('--file <report>', 'the report (JSON)')
    .option('--format <format>', `report format: ${FORMATS.join(', ')}`, 'auto')
    .action(async (ref: string, opts: { file: string; format: string }, cmd: Command) => {
      const g = ctx.globals(cmd);
      const format = oneOf<FormatChoice>('--format', opts.format, FORMATS)!;
      const text = await readReportFile(opts.file);
      const rt = await ctx.runtime(g);
      const result = await importReportForImage(rt, cliActor(rt.policy, ctx.env), {
        ref,
        text,
        format,
        source: opts.file,
        now: Date.now(),
      });
      emit(ctx.w, g.output, result, {
        text: () =>
          `recorded ${result.scanner ?? 'scanner'} report for ${result.repository}@${result.digest}: ` +
          `${result.opened} opened, ${result.updated} updated, ${result.fixed} fixed, ${result.unchanged} unchanged\n`,
      });
    });

  findings
    .command('ls')
    .description('findings across images, most urgent first')
    .option('--team <team>')
    .option('--stage <stage>', 'images tagged in this stage now')
    .option('--severity <severity>', SEVERITIES.join(', '))
    .option('--state <state>', STATES.join(', '))
    .option('--overdue', 'open, unwaived findings past their due date')
    .option('--due-within <duration>', 'open, unwaived findings due within this time (e.g. 48h)')
    .option('--limit <n>', 'at most this many (default 1000)')
    .action(
      async (
        opts: {
          team?: string;
          stage?: string;
          severity?: string;
          state?: string;
          overdue?: boolean;
          dueWithin?: string;
          limit?: string;
        },
        cmd: Command,
      ) => {
        const g = ctx.globals(cmd);
        const filter: FindingFilter = { now: Date.now() };
        if (opts.team) filter.team = opts.team;
        if (opts.stage) filter.stage = opts.stage;
        const severity = oneOf<Severity>('--severity', opts.severity, SEVERITIES);
        if (severity) filter.severity = severity;
        const state = oneOf<ReadState>('--state', opts.state, STATES);
        if (state) filter.state = state;
        if (opts.overdue) filter.overdue = true;
        if (opts.dueWithin !== undefined) filter.dueWithinMs = parseDuration(opts.dueWithin);
        if (opts.limit !== undefined) {
          const n = Number(opts.limit);
          if (!Number.isInteger(n) || n < 1)
            throw new SluiceError('USAGE', 'usage', '--limit must be a positive integer');
          filter.limit = n;
        }
        const rt = await ctx.runtime(g);
        const rows = await listFindings(rt, filter);
        emit(
          ctx.w,
          g.output,
          { findings: rows },
          { rows, columns: FINDING_COLUMNS, name: (f) => `${f.digest} ${f.id}` },
        );
      },
    );

  findings
    .command('show')
    .description('every finding of the digest REF points to now, with its SLA clock')
    .argument('<ref>', 'image (registry/team-stage/repo:tag, team-stage/repo:tag, or team/repo:tag in the first stage)')
    .action(async (ref: string, _opts: unknown, cmd: Command) => {
      const g = ctx.globals(cmd);
      const rt = await ctx.runtime(g);
      const result = await findingsOfImage(rt, ref, Date.now());
      emit(ctx.w, g.output, result, {
        rows: result.findings,
        columns: FINDING_COLUMNS,
        name: (f) => `${f.digest} ${f.id}`,
      });
    });

  const waiver = program
    .command('waiver')
    .description('time-limited exceptions for vulnerabilities (team security role)');
  waiver
    .command('add')
    .description('waive a vulnerability for one image, one repository or every image of a team')
    .requiredOption('--id <vulnerability>', 'CVE-..., GHSA-... (aliases match too)')
    .option('--package <name>', 'only in this package')
    .option('--image <ref>', 'only for the digest this image points to now')
    .option('--repository <team/repo>', 'only for this repository, in every stage')
    .option('--team <team>', 'every image of the team (when neither --image nor --repository)')
    .requiredOption('--reason <text>')
    .requiredOption('--expires <duration>', 'e.g. 30d, 12h, 2w (at most vulnerabilities.waivers.maxDuration)')
    .action(
      async (
        opts: {
          id: string;
          package?: string;
          image?: string;
          repository?: string;
          team?: string;
          reason: string;
          expires: string;
        },
        cmd: Command,
      ) => {
        const g = ctx.globals(cmd);
        const rt = await ctx.runtime(g);
        const w = await grantWaiver(rt, cliActor(rt.policy, ctx.env), {
          vulnId: opts.id,
          ...(opts.package !== undefined ? { package: opts.package } : {}),
          ...(opts.image !== undefined ? { image: opts.image } : {}),
          ...(opts.repository !== undefined ? { repository: opts.repository } : {}),
          ...(opts.team !== undefined ? { team: opts.team } : {}),
          reason: opts.reason,
          expires: opts.expires,
          now: Date.now(),
        });
        emit(ctx.w, g.output, w, { text: () => `waiver ${w.id} for ${w.vulnId} until ${iso(w.expiresAt)}\n` });
      },
    );

  waiver
    .command('ls')
    .description('valid waivers (with --all, expired and revoked ones too)')
    .option('--team <team>')
    .option('--all', 'include expired and revoked waivers')
    .action(async (opts: { team?: string; all?: boolean }, cmd: Command) => {
      const g = ctx.globals(cmd);
      const rt = await ctx.runtime(g);
      const rows = await listWaivers(rt, {
        now: Date.now(),
        ...(opts.all ? { all: true } : {}),
        ...(opts.team ? { team: opts.team } : {}),
      });
      emit(ctx.w, g.output, { waivers: rows }, { rows, columns: WAIVER_COLUMNS, name: (w) => w.id });
    });

  waiver
    .command('revoke')
    .description('end a waiver now')
    .argument('<id>', 'waiver id (from waiver ls)')
    .option('--reason <text>')
    .action(async (id: string, opts: { reason?: string }, cmd: Command) => {
      const g = ctx.globals(cmd);
      const rt = await ctx.runtime(g);
      const w = await revokeWaiver(rt, {
        id,
        actor: cliActor(rt.policy, ctx.env),
        ...(opts.reason !== undefined ? { reason: opts.reason } : {}),
        now: Date.now(),
      });
      emit(ctx.w, g.output, w, { text: () => `revoked waiver ${w.id} (${w.vulnId})\n` });
    });
}
