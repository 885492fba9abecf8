/** `sluice sync` and `sluice images ls|show`. */
import type { Command } from 'commander';
import { SluiceError, asSluiceError } from '../../errors.ts';
import { readInputText } from '../../files.ts';
import { listImages, showImage } from '../../inventory/query.ts';
import { syncRegistry, type SyncReport } from '../../inventory/sync.ts';
import { parseReference } from '../../oci/reference.ts';
import { MAX_USAGE_REPORT_BYTES, digestsIn, reportUsage } from '../../usage/index.ts';
import { formatDuration } from '../../policy/index.ts';
import { promotionPath } from '../../promotion/records.ts';
import { inventoryFor } from '../../runtime.ts';
import type { CliContext } from '../context.ts';
import { emit, formatBytes, shortDigest } from '../output.ts';

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function registerInventoryCommands(program: Command, ctx: CliContext): void {
  program
    .command('sync')
    .description('read every configured registry (catalog, tags, manifests, configs) into the inventory')
    .option('--registry <name>', 'only this registry of the policy')
    .action(async (opts: { registry?: string }, cmd: Command) => {
      const g = ctx.globals(cmd);
      const rt = await ctx.runtime(g);
      const targets = opts.registry ? rt.registries.filter((r) => r.name === opts.registry) : rt.registries;
      if (targets.length === 0) {
        throw new SluiceError(
          'REGISTRY_UNKNOWN',
          'not-found',
          `no registry named "${opts.registry}" in ${rt.policyPath}`,
        );
      }
      const reports: SyncReport[] = [];
      const failed: Array<{ registry: string; error: SluiceError }> = [];
      // One registry that fails (a listing over its limits, past its time limit) stops only its own sync.
      for (const reg of targets) {
        try {
          reports.push(await syncRegistry(inventoryFor(rt, reg), reg));
        } catch (err) {
          // Alone, its failure is the command's: the error as it is, its exit code.
          if (targets.length === 1) throw err;
          failed.push({ registry: reg.name, error: asSluiceError(err) });
        }
      }
      emit(ctx.w, g.output, reports, {
        rows: reports,
        columns: [
          { header: 'REGISTRY', value: (r) => r.registry },
          { header: 'REPOSITORIES', value: (r) => r.repositories },
          { header: 'TAGS', value: (r) => r.tags },
          { header: 'CREATED', value: (r) => r.created },
          { header: 'MOVED', value: (r) => r.moved },
          { header: 'DELETED', value: (r) => r.deleted },
          { header: 'MANIFESTS READ', value: (r) => r.manifestsFetched },
          { header: 'ERRORS', value: (r) => r.errors.length },
          { header: 'DURATION', value: (r) => `${r.durationMs} ms`, wide: true },
        ],
      });
      for (const r of reports)
        for (const e of r.errors) ctx.w.err(`warning: ${r.registry}/${e.repository}: ${e.message}\n`);
      for (const f of failed) ctx.w.err(`error: sync of ${f.registry} failed: ${f.error.message} (${f.error.code})\n`);
      if (failed.length > 0 || reports.some((r) => r.errors.length > 0)) {
        throw new SluiceError('SYNC_INCOMPLETE', 'unavailable', 'sync finished with errors (see warnings above)', {
          reported: true,
        });
      }
    });

  program
    .command('usage')
    .description("what clusters run: report the digests of a cluster's workloads (retention keeps them)")
    .command('report')
    .requiredOption('--cluster <name>')
    .argument(
      '[file]',
      "image references with digests, one per line (- for stdin), e.g. from kubectl get pods -A -o jsonpath='{..imageID}'",
      '-',
    )
    .action(async (file: string, opts: { cluster: string }, cmd: Command) => {
      const g = ctx.globals(cmd);
      const rt = await ctx.runtime(g);
      const text = await readInputText(file, { what: 'usage report', limit: MAX_USAGE_REPORT_BYTES });
      const lines = text.split(/[\s]+/);
      const out = await reportUsage(rt.store, opts.cluster, digestsIn(lines, file === '-' ? 'stdin' : file), rt.now());
      emit(ctx.w, g.output, out, { text: () => `recorded ${out.digests} digests in use on ${out.cluster}\n` });
    });

  const images = program.command('images').description('the inventory of images');
  images
    .command('ls')
    .description('list images (one row per repository and digest)')
    .option('--team <team>')
    .option('--stage <stage>')
    .option('--category <category>')
    .option('--registry <name>')
    .option('--label <key=value>', 'label filter (repeatable)', collect)
    .option('--all', 'include untagged digests and signature artifacts')
    .action(
      async (
        opts: { team?: string; stage?: string; category?: string; registry?: string; label?: string[]; all?: boolean },
        cmd: Command,
      ) => {
        const g = ctx.globals(cmd);
        const rt = await ctx.runtime(g);
        const rows = await listImages(rt.store, {
          ...(opts.team ? { team: opts.team } : {}),
          ...(opts.stage ? { stage: opts.stage } : {}),
          ...(opts.category ? { category: opts.category } : {}),
          ...(opts.registry ? { registry: opts.registry } : {}),
          ...(opts.label ? { labels: opts.label } : {}),
          ...(opts.all ? { all: true } : {}),
        });
        emit(ctx.w, g.output, rows, {
          rows,
          columns: [
            { header: 'REPOSITORY', value: (r) => r.repository },
            { header: 'TAGS', value: (r) => r.tags.join(',') || '<none>' },
            { header: 'DIGEST', value: (r) => (g.output === 'wide' ? r.digest : shortDigest(r.digest)) },
            { header: 'TEAM', value: (r) => r.team ?? '-' },
            { header: 'STAGE', value: (r) => r.stage ?? '-' },
            { header: 'CATEGORY', value: (r) => r.category ?? '-' },
            { header: 'PLATFORMS', value: (r) => r.platforms.join(',') || '-' },
            { header: 'SIZE', value: (r) => formatBytes(r.size) },
            { header: 'CREATED', value: (r) => r.created ?? '-' },
            { header: 'REGISTRY', value: (r) => r.registry, wide: true },
            { header: 'USER', value: (r) => r.user ?? '-', wide: true },
          ],
          name: (r) => `${r.registry}/${r.repository}@${r.digest}`,
        });
      },
    );

  images
    .command('show')
    .description('one image: tags, stages it has reached, where else the same digest lives')
    .argument('<ref>', 'registry/repository:tag or @digest')
    .action(async (refText: string, _opts: unknown, cmd: Command) => {
      const g = ctx.globals(cmd);
      const rt = await ctx.runtime(g);
      const ref = parseReference(refText, { defaultRegistry: rt.registries.find((r) => r.host)?.host });
      const reg = rt.registryForHost(ref.registry);
      if (!reg)
        throw new SluiceError('REGISTRY_UNKNOWN', 'not-found', `registry ${ref.registry} is not in the policy`, {
          registry: ref.registry,
        });
      const d = await showImage(
        rt.store,
        {
          registry: reg.name,
          repository: ref.repository,
          ...(ref.tag ? { tag: ref.tag } : {}),
          ...(ref.digest ? { digest: ref.digest } : {}),
        },
        rt.policy.stages.map((s) => s.name),
      );
      const path = await promotionPath(rt.store, d.digest);
      emit(
        ctx.w,
        g.output,
        { ...d, promotions: path },
        {
          text: () =>
            [
              `Image:       ${reg.host}/${d.repository}@${d.digest}`,
              `Tags:        ${d.tags.join(', ') || '-'}`,
              `Team:        ${d.team ?? '-'}    Stage: ${d.stage ?? '-'}    Category: ${d.category ?? '-'}`,
              `Platforms:   ${d.platforms.join(', ') || '-'}`,
              `Size:        ${formatBytes(d.size)}`,
              `Created:     ${d.created ?? '-'}`,
              `User:        ${d.user ?? '-'}`,
              `Base:        ${d.baseName ?? '-'}${d.baseDigest ? `@${d.baseDigest}` : ''}`,
              `Stages:      ${d.stagesReached.join(' -> ') || '-'}`,
              `Promotions:  ${
                path
                  .map(
                    (p, i) =>
                      `${p.stage} ${new Date(p.at).toISOString()}${i ? ` (+${formatDuration(p.sincePrevious)})` : ''} by ${p.by}`,
                  )
                  .join(' -> ') || '-'
              }${path.length > 1 ? `; lead time ${formatDuration(path.at(-1)!.sinceStart)}` : ''}`,
              `Pulls:       ${d.pulls.total}${d.pulls.last ? ` (last ${d.pulls.last})` : ''}`,
              `Labels:`,
              ...Object.entries(d.labels).map(([k, v]) => `  ${k}=${v}`),
              `Also at:`,
              ...d.locations.map(
                (l) =>
                  `  ${l.registry}/${l.repository}  [${l.tags.join(', ') || 'untagged'}]${l.stage ? `  (${l.stage})` : ''}`,
              ),
            ].join('\n') + '\n',
        },
      );
    });
}
