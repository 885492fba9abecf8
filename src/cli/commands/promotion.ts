/** Promotion commands: evidence, approve, gate check, promote, rollback, verify-deployable, promotions, hold. */
import type { Command } from 'commander';
import { SluiceError } from '../../errors.ts';
import { cliActor } from '../../auth/actor.ts';
import { approveAndPromote, recordEvidenceAndPromote } from '../../promotion/follow-ups.ts';
import type { GateResult } from '../../promotion/gate.ts';
import { promotionHooks } from '../../promotion/hooks.ts';
import { rollback, verifyDeployable } from '../../promotion/operations.ts';
import { addHold, releaseHold } from '../../holds/service.ts';
import { abandonInterrupted } from '../../promotion/interrupted.ts';
import { listPromotions } from '../../promotion/records.ts';
import {
  checkGate,
  previousStageOf,
  promote,
  resolveStageImage,
  runScheduledPromotions,
} from '../../promotion/service.ts';
import { actorFromPolicy } from '../../auth/actor.ts';
import { stageByName } from '../../policy/index.ts';
import type { Runtime } from '../../runtime.ts';
import { positiveInt } from '../args.ts';
import type { CliContext } from '../context.ts';
import { emit, renderTable, shortDigest } from '../output.ts';

function hooksFor(ctx: CliContext, rt: Runtime) {
  rt.onNotificationFailure = (channel, message) =>
    ctx.w.err(`warning: notification channel ${channel} failed: ${message}\n`);
  return promotionHooks(rt);
}

function keyValues(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new SluiceError('USAGE', 'usage', `expected key=value, got "${value}"`);
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

function gateTable(gate: GateResult): string {
  const rows = gate.requirements;
  return (
    `gate of ${gate.stage} for ${gate.digest}: ${gate.passed ? 'PASSED' : 'NOT PASSED'}\n` +
    renderTable(rows, [
      { header: 'REQUIREMENT', value: (r) => r.requirement },
      { header: 'STATUS', value: (r) => r.status },
      { header: 'WHO', value: (r) => r.evidence?.map((e) => e.by).join(',') ?? '' },
      { header: 'WHEN', value: (r) => (r.evidence?.[0] ? new Date(r.evidence[0].at).toISOString() : '') },
      { header: 'DETAIL', value: (r) => r.detail },
    ])
  );
}

export function registerPromotionCommands(program: Command, ctx: CliContext): void {
  const evidence = program.command('evidence').description('facts recorded about a digest (tests, builds, scans)');
  evidence
    .command('add')
    .description('record evidence for the digest REF points to now')
    .argument('<ref>', 'image (registry/team-stage/repo:tag, team-stage/repo:tag, or team/repo:tag in the first stage)')
    .requiredOption('--type <type>', 'evidence type (build, unit-tests, scan, ...)')
    .option('--status <status>', 'passed or failed', 'passed')
    .option('--url <url>', 'link to the pipeline run, report or ticket')
    .option('--stage <stage>', 'the stage this evidence is for (default: every stage)')
    .option('--file <report>', 'Trivy JSON report (with --type scan)')
    .option(
      '--change <number>',
      'ServiceNow change request (with --type change-approval): recorded as passed only when approved and in its planned window',
    )
    .option('-d, --detail <key=value>', 'details (repeatable)', keyValues)
    .option('--no-auto', 'do not run automatic promotions afterwards')
    .action(
      async (
        ref: string,
        opts: {
          type: string;
          status: string;
          url?: string;
          stage?: string;
          file?: string;
          change?: string;
          detail?: Record<string, string>;
          auto: boolean;
        },
        cmd: Command,
      ) => {
        const g = ctx.globals(cmd);
        if (opts.status !== 'passed' && opts.status !== 'failed')
          throw new SluiceError('USAGE', 'usage', `--status must be passed or failed, not "${opts.status}"`);
        const rt = await ctx.runtime(g);
        const hooks = await hooksFor(ctx, rt);
        const { promoted, ...rec } = await recordEvidenceAndPromote(
          rt,
          cliActor(rt.policy, ctx.env),
          {
            ref,
            ...(opts.change ? { change: opts.change } : {}),
            type: opts.type,
            status: opts.status,
            ...(opts.url ? { url: opts.url } : {}),
            ...(opts.stage ? { stage: opts.stage } : {}),
            ...(opts.file ? { reportFile: opts.file } : {}),
            ...(opts.detail ? { details: opts.detail } : {}),
          },
          { hooks, auto: opts.auto },
        );
        emit(
          ctx.w,
          g.output,
          { evidence: rec.evidence, promoted },
          {
            text: () =>
              `recorded ${rec.evidence.type} ${rec.evidence.status} for ${rec.image.repository}@${rec.image.digest}\n` +
              promoted
                .map((p) => (p.status === 'succeeded' ? `promoted automatically to ${p.target}:${p.versionTag}\n` : ''))
                .join(''),
          },
        );
      },
    );

  program
    .command('approve')
    .description('approve (or reject) promoting an image into a stage')
    .argument('<ref>', 'image in the stage before --stage (or team/repo:tag)')
    .requiredOption('--stage <stage>', 'the stage the approval is for')
    .option('--type <type>', 'approval type (when the stage has several)')
    .option('--reject', 'record a rejection instead')
    .option('--comment <text>')
    .option('--url <url>')
    .action(
      async (
        ref: string,
        opts: { stage: string; type?: string; reject?: boolean; comment?: string; url?: string },
        cmd: Command,
      ) => {
        const g = ctx.globals(cmd);
        const rt = await ctx.runtime(g);
        const { promoted, ...rec } = await approveAndPromote(
          rt,
          cliActor(rt.policy, ctx.env),
          { ref, ...opts },
          await hooksFor(ctx, rt),
        );
        emit(
          ctx.w,
          g.output,
          { evidence: rec.evidence, promoted },
          {
            text: () =>
              `${opts.reject ? 'rejected' : 'approved'} ${rec.evidence.type} for ${opts.stage}: ${rec.image.repository}@${rec.image.digest}\n`,
          },
        );
      },
    );

  const gate = program.command('gate').description('gates between stages');
  gate
    .command('check')
    .description('evaluate the gate of a stage for an image (exit 0 passed, 1 not passed)')
    .argument('<ref>')
    .requiredOption('--stage <stage>')
    .action(async (ref: string, opts: { stage: string }, cmd: Command) => {
      const g = ctx.globals(cmd);
      const rt = await ctx.runtime(g);
      const stage = stageByName(rt.policy, opts.stage);
      if (!stage) throw new SluiceError('STAGE_UNKNOWN', 'invalid-input', `unknown stage "${opts.stage}"`);
      const image = await resolveStageImage(rt, ref, previousStageOf(rt.policy, stage) ?? stage);
      const actor = cliActor(rt.policy, ctx.env);
      const hooks = await hooksFor(ctx, rt);
      const { result } = await checkGate(rt, image, stage, actor.name, hooks, { willSign: !!stage.sign });
      emit(ctx.w, g.output, result, { text: () => gateTable(result) });
      if (!result.passed)
        throw new SluiceError('GATE_FAILED', 'policy-violation', `gate of ${stage.name} not passed`, {
          reported: true,
        });
    });

  program
    .command('promote')
    .description('promote the digest REF points to into the next stage, behind its gate')
    .argument('<ref>', 'image in the previous stage (or team/repo:tag)')
    .requiredOption('--to <stage>', 'target stage')
    .option('--dry-run', 'evaluate the gate and show what would happen; change nothing')
    .option('--force', 'run a scheduled stage outside its maintenance window (operations only; audited)')
    .action(async (ref: string, opts: { to: string; dryRun?: boolean; force?: boolean }, cmd: Command) => {
      const g = ctx.globals(cmd);
      const rt = await ctx.runtime(g);
      const out = await promote(
        rt,
        cliActor(rt.policy, ctx.env),
        { ref, to: opts.to, ...(opts.dryRun ? { dryRun: true } : {}), ...(opts.force ? { force: true } : {}) },
        await hooksFor(ctx, rt),
      );
      emit(ctx.w, g.output, out, {
        text: () => {
          if (out.status === 'dry-run') {
            const would = out.refused
              ? `would be refused: ${out.refused.message}`
              : out.scheduledFor
                ? `would be scheduled for ${out.scheduledFor} (next maintenance window)`
                : `would copy to ${out.target}:${out.versionTag} and move ${out.stageTags.join(', ')}` +
                  (out.forced ? ' (forced outside the maintenance window)' : '');
            return gateTable(out.gate) + would + '\n';
          }
          if (out.status === 'scheduled')
            return (
              gateTable(out.gate) + `scheduled for ${out.scheduledFor} (next maintenance window), promotion ${out.id}\n`
            );
          return `promoted ${out.digest} to ${out.target}:${out.versionTag} (${out.stageTags.join(', ')} moved${out.previousDigest ? `; previous ${shortDigest(out.previousDigest)}` : ''})\n`;
        },
      });
      if (out.status === 'dry-run' && out.refused)
        throw new SluiceError(out.refused.code, out.refused.category, out.refused.message, {
          reported: true,
        });
    });

  program
    .command('rollback')
    .description('re-point a stage tag to the previously promoted digest')
    .argument('<team/repo>')
    .requiredOption('--stage <stage>')
    .action(async (image: string, opts: { stage: string }, cmd: Command) => {
      const g = ctx.globals(cmd);
      const rt = await ctx.runtime(g);
      const out = await rollback(
        rt,
        cliActor(rt.policy, ctx.env),
        { image, stage: opts.stage },
        await hooksFor(ctx, rt),
      );
      emit(ctx.w, g.output, out, { text: () => `${out.target}:${opts.stage} now ${out.to} (was ${out.from})\n` });
    });

  program
    .command('verify-deployable')
    .description('prove an image can be deployed: manifest and all blobs present, not held, signature valid')
    .argument('<ref>')
    .option('--key <ref>', 'verify the signature with this key (repeatable)', (v: string, p: string[] = []) => [
      ...p,
      v,
    ])
    .action(async (ref: string, opts: { key?: string[] }, cmd: Command) => {
      const g = ctx.globals(cmd);
      const rt = await ctx.runtime(g);
      const report = await verifyDeployable(rt, ref, await hooksFor(ctx, rt), opts.key ? { keys: opts.key } : {});
      emit(ctx.w, g.output, report, {
        rows: report.checks,
        columns: [
          { header: 'CHECK', value: (c) => c.check },
          { header: 'OK', value: (c) => (c.ok ? 'yes' : 'NO') },
          { header: 'DETAIL', value: (c) => c.detail },
        ],
      });
      if (!report.deployable)
        throw new SluiceError('NOT_DEPLOYABLE', 'policy-violation', `${ref} is not deployable`, { reported: true });
    });

  const promotions = program.command('promotions').description('promotion history');
  promotions
    .command('ls')
    .description('promotions, newest first')
    .option('--team <team>')
    .option('--repo <repo>')
    .option('--stage <stage>')
    .option('--digest <digest>')
    .option('--status <status>')
    .option('--limit <n>', 'at most this many', positiveInt('--limit'), 100)
    .action(
      async (
        opts: { team?: string; repo?: string; stage?: string; digest?: string; status?: string; limit: number },
        cmd: Command,
      ) => {
        const g = ctx.globals(cmd);
        const rt = await ctx.runtime(g);
        // An attempt whose process died must not read as `running`.
        await abandonInterrupted(rt);
        const rows = await listPromotions(rt.store, opts);
        const view = rows.map((r) => ({
          ...r,
          gate: r.gate ? (JSON.parse(r.gate) as unknown) : null,
          forced: r.forced === 1,
        }));
        emit(ctx.w, g.output, view, {
          rows,
          columns: [
            {
              header: 'WHEN',
              value: (r) => new Date(r.finished_at ?? r.scheduled_for ?? r.requested_at).toISOString(),
            },
            { header: 'KIND', value: (r) => r.kind },
            { header: 'IMAGE', value: (r) => `${r.team}/${r.repo}:${r.version_tag ?? ''}` },
            { header: 'FROM', value: (r) => r.from_stage ?? '-' },
            { header: 'TO', value: (r) => r.to_stage },
            { header: 'DIGEST', value: (r) => shortDigest(r.digest) },
            { header: 'STATUS', value: (r) => r.status },
            { header: 'BY', value: (r) => r.requested_by },
            { header: 'ERROR', value: (r) => r.error ?? '', wide: true },
          ],
        });
      },
    );
  promotions
    .command('run-scheduled')
    .description('run scheduled promotions whose maintenance window has opened (the server does this by itself)')
    .action(async (_opts: unknown, cmd: Command) => {
      const g = ctx.globals(cmd);
      const rt = await ctx.runtime(g);
      const results = await runScheduledPromotions(
        rt,
        (name) => actorFromPolicy(rt.policy, name),
        await hooksFor(ctx, rt),
      );
      emit(ctx.w, g.output, results, {
        rows: results,
        columns: [
          { header: 'PROMOTION', value: (r) => r.id },
          { header: 'STATUS', value: (r) => r.status },
          { header: 'ERROR', value: (r) => r.error ?? '' },
        ],
      });
    });

  const hold = program.command('hold').description('quarantine and legal holds: block deployment and deletion');
  for (const [verb, fn] of [
    ['add', addHold],
    ['release', releaseHold],
  ] as const) {
    hold
      .command(verb)
      .argument('<ref>')
      .option('--kind <kind>', 'quarantine or legal-hold', 'quarantine')
      .requiredOption('--reason <text>')
      .action(async (ref: string, opts: { kind: string; reason: string }, cmd: Command) => {
        const g = ctx.globals(cmd);
        if (opts.kind !== 'quarantine' && opts.kind !== 'legal-hold')
          throw new SluiceError('USAGE', 'usage', `--kind must be quarantine or legal-hold`);
        const rt = await ctx.runtime(g);
        const out = await fn(rt, cliActor(rt.policy, ctx.env), { ref, kind: opts.kind, reason: opts.reason });
        emit(ctx.w, g.output, out, {
          text: () => `${verb === 'add' ? 'placed' : 'released'} ${opts.kind} on ${ref}\n`,
        });
      });
  }
}
