/** `sluice retention plan|approve|apply|restore|purge`. */
import { createInterface } from 'node:readline/promises';
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { SluiceError, isSluiceError } from '../../errors.ts';
import { readInputText } from '../../files.ts';
import { parseReference } from '../../oci/reference.ts';
import { cliActor } from '../../auth/actor.ts';
import {
  applyPlan,
  applyShortfall,
  approvePlan,
  purgeTrash,
  restore,
  type ApplyReport,
} from '../../retention/apply.ts';
import { gatherRetentionInput } from '../../retention/gather.ts';
import { planRetention, type RetentionPlan } from '../../retention/plan.ts';
import { span } from '../../retention/reasons.ts';
import type { Runtime } from '../../runtime.ts';
import type { CliContext } from '../context.ts';
import { emit, formatBytes, renderTable, shortDigest } from '../output.ts';

interface ScopeOptions {
  stage?: string;
  team?: string;
}

async function freshPlan(rt: Runtime, opts: ScopeOptions): Promise<RetentionPlan> {
  const scope = { ...(opts.stage ? { stage: opts.stage } : {}), ...(opts.team ? { team: opts.team } : {}) };
  return planRetention(await gatherRetentionInput(rt), { scope });
}

/** A plan lists every tag and manifest it deletes: some 300 bytes each, so 64 MiB is 200,000 of them. */
export const MAX_PLAN_FILE_BYTES = 64 * 1024 * 1024;

/** A plan saved with `retention plan -o json` (or --save), checked enough to be applied safely. */
async function loadPlan(file: string): Promise<RetentionPlan> {
  let json: unknown;
  try {
    json = JSON.parse(await readInputText(file, { what: 'retention plan', limit: MAX_PLAN_FILE_BYTES }));
  } catch (err) {
    if (isSluiceError(err, 'INPUT_TOO_LARGE')) throw err;
    throw new SluiceError(
      'PLAN_INVALID',
      'invalid-input',
      `${file}: not a readable JSON plan (${(err as Error).message})`,
      { location: file },
    );
  }
  const plan = json as Partial<RetentionPlan>;
  if (plan.formatVersion !== 1 || typeof plan.fingerprint !== 'string' || !Array.isArray(plan.repositories)) {
    throw new SluiceError(
      'PLAN_INVALID',
      'invalid-input',
      `${file}: not a Sluice retention plan (expected formatVersion 1, fingerprint, repositories)`,
      {
        location: file,
      },
    );
  }
  for (const [i, r] of plan.repositories.entries()) {
    if (
      !r ||
      typeof r.repository !== 'string' ||
      !r.deletions ||
      !Array.isArray(r.deletions.manifests) ||
      !Array.isArray(r.tags)
    ) {
      throw new SluiceError('PLAN_INVALID', 'invalid-input', `${file}: repositories[${i}] is malformed`, {
        location: file,
      });
    }
  }
  return plan as RetentionPlan;
}

function planText(plan: RetentionPlan, wide: boolean): string {
  const rows: Array<{
    repo: string;
    what: string;
    action: string;
    code: string;
    reason: string;
    age: number;
    pull?: number;
    size: number;
  }> = [];
  for (const r of plan.repositories) {
    for (const t of r.tags)
      rows.push({
        repo: r.repository,
        what: t.tag,
        action: t.action,
        code: t.code,
        reason: t.reason,
        age: t.age,
        ...(t.lastPull !== undefined ? { pull: t.lastPull } : {}),
        size: t.size,
      });
    for (const d of r.digests) {
      if (d.tags > 0 && !wide) continue;
      rows.push({
        repo: r.repository,
        what: d.digest,
        action: d.action,
        code: d.code,
        reason: d.reason,
        age: d.age,
        ...(d.lastPull !== undefined ? { pull: d.lastPull } : {}),
        size: d.size,
      });
    }
  }
  const table = renderTable(
    rows,
    [
      { header: 'REPOSITORY', value: (x) => x.repo },
      {
        header: 'TAG/DIGEST',
        value: (x) => (x.what.includes(':') && x.what.length > 40 && !wide ? shortDigest(x.what) : x.what),
      },
      { header: 'DECISION', value: (x) => x.action },
      { header: 'BECAUSE', value: (x) => x.reason },
      { header: 'AGE', value: (x) => span(x.age) },
      { header: 'LAST PULL', value: (x) => (x.pull === undefined ? '-' : new Date(x.pull).toISOString().slice(0, 10)) },
      { header: 'SIZE', value: (x) => formatBytes(x.size) },
      { header: 'CODE', value: (x) => x.code, wide: true },
    ],
    wide,
  );
  const t = plan.totals;
  return (
    table +
    `\n${t.tagsDeleted} of ${t.tags} tags and ${t.manifestsDeleted} of ${t.manifests} manifests would be deleted, freeing ${formatBytes(t.bytesFreed)} (${plan.accountingNote})\n` +
    `plan ${plan.fingerprint}\n`
  );
}

function applyText(report: ApplyReport): string {
  const rows = report.repositories.flatMap((r) => r.items.map((i) => ({ repo: r.repository, ...i })));
  const t = report.totals;
  return (
    renderTable(rows, [
      { header: 'REPOSITORY', value: (x) => x.repo },
      { header: 'ITEM', value: (x) => (x.kind === 'manifest' ? shortDigest(x.item) : x.item) },
      { header: 'OUTCOME', value: (x) => x.outcome },
      { header: 'DETAIL', value: (x) => x.detail },
    ]) +
    `\ndeleted ${t.deleted}, skipped ${t.skipped}, noticed ${t.noticed}, failed ${t.failed}, not attempted ${t['not-attempted']}; freed ${formatBytes(t.bytesFreed)}\n` +
    report.notes.map((n) => `note: ${n}\n`).join('')
  );
}

async function confirm(ctx: CliContext, plan: RetentionPlan): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(
      `delete ${plan.totals.tagsDeleted} tags and ${plan.totals.manifestsDeleted} manifests (${formatBytes(plan.totals.bytesFreed)})? [y/N] `,
    );
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
    void ctx;
  }
}

export function registerRetentionCommands(program: Command, ctx: CliContext): void {
  const retention = program.command('retention').description('plan and apply safe cleanup');

  retention
    .command('plan')
    .description('for every tag and digest: keep or delete, and the rule or protection that decided')
    .option('--stage <stage>')
    .option('--team <team>')
    .option('--save <file>', 'also write the plan as JSON (for review, approve and apply --plan)')
    .action(async (opts: ScopeOptions & { save?: string }, cmd: Command) => {
      const g = ctx.globals(cmd);
      const rt = await ctx.runtime(g);
      const plan = await freshPlan(rt, opts);
      if (opts.save) await writeFile(opts.save, JSON.stringify(plan, null, 2) + '\n');
      emit(ctx.w, g.output, plan, { text: () => planText(plan, g.output === 'wide') });
    });

  retention
    .command('approve')
    .description('approve a reviewed plan so it can be applied where the mode is manual')
    .requiredOption('--plan <file>')
    .action(async (opts: { plan: string }, cmd: Command) => {
      const g = ctx.globals(cmd);
      const rt = await ctx.runtime(g);
      const plan = await loadPlan(opts.plan);
      await approvePlan(rt, cliActor(rt.policy, ctx.env), plan);
      emit(ctx.w, g.output, { approved: plan.fingerprint }, { text: () => `approved plan ${plan.fingerprint}\n` });
    });

  retention
    .command('apply')
    .description('execute exactly a plan; anything that changed since is skipped and reported')
    .option('--plan <file>', 'a saved plan (default: plan now)')
    .option('--stage <stage>')
    .option('--team <team>')
    .option('--yes', 'do not ask for confirmation')
    .option('--dry-run', 'check every deletion against the registry, delete nothing')
    .action(async (opts: ScopeOptions & { plan?: string; yes?: boolean; dryRun?: boolean }, cmd: Command) => {
      const g = ctx.globals(cmd);
      const rt = await ctx.runtime(g);
      const plan = opts.plan ? await loadPlan(opts.plan) : await freshPlan(rt, opts);
      if (
        !opts.dryRun &&
        !opts.yes &&
        plan.totals.tagsDeleted + plan.totals.manifestsDeleted > 0 &&
        !(await confirm(ctx, plan))
      ) {
        throw new SluiceError('NOT_CONFIRMED', 'usage', 'nothing deleted: confirm on a terminal or pass --yes');
      }
      const report = await applyPlan(rt, cliActor(rt.policy, ctx.env), plan, {
        ...(opts.dryRun ? { dryRun: true } : {}),
      });
      emit(ctx.w, g.output, report, { text: () => applyText(report) });
      const shortfall = applyShortfall(report);
      if (shortfall) {
        throw new SluiceError(shortfall.code, shortfall.category, shortfall.message, {
          run: report.run,
          counts: shortfall.counts,
        });
      }
    });

  retention
    .command('restore')
    .description(
      'put a deleted tag (or untagged digest) back from the trash, within its window, with its signatures, attestations and referrers',
    )
    .argument('<ref>', 'registry/repository:tag or @digest as it was')
    .action(async (refText: string, _opts: unknown, cmd: Command) => {
      const g = ctx.globals(cmd);
      const rt = await ctx.runtime(g);
      const ref = parseReference(refText, {
        defaultTag: false,
        ...(rt.registries[0] ? { defaultRegistry: rt.registries[0].host } : {}),
      });
      const reg = rt.registryForHost(ref.registry);
      if (!reg) throw new SluiceError('REGISTRY_UNKNOWN', 'not-found', `registry ${ref.registry} is not in the policy`);
      const out = await restore(rt, cliActor(rt.policy, ctx.env), {
        registry: reg,
        repository: ref.repository,
        ...(ref.tag ? { tag: ref.tag } : {}),
        ...(ref.digest ? { digest: ref.digest } : {}),
      });
      emit(ctx.w, g.output, out, {
        text: () =>
          `restored ${reg.host}/${out.repository}${out.tag ? `:${out.tag}` : ''} (${out.digest})` +
          (out.artifacts.length
            ? ` with ${out.artifacts.map((a) => a.tag ?? `referrer ${shortDigest(a.digest)}`).join(', ')}`
            : '') +
          '\n' +
          out.artifactsLeft.map((a) => `note: ${a.reason}\n`).join(''),
      });
    });

  retention
    .command('purge')
    .description('delete trash entries whose window has ended (the server does this daily)')
    .action(async (_opts: unknown, cmd: Command) => {
      const g = ctx.globals(cmd);
      const rt = await ctx.runtime(g);
      const out = await purgeTrash(rt);
      emit(ctx.w, g.output, out, { text: () => `purged ${out.purged} trash entries\n` });
    });
}
