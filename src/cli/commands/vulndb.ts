/** `sluice db update [--source URL|PATH]` and `sluice db status`: the OSV vulnerability database. */
import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { SluiceError } from '../../errors.ts';
import type { CliContext } from '../context.ts';
import { emit, renderTable } from '../output.ts';
import { createProgress } from '../progress.ts';

/** osv.dev's export of every ecosystem; air-gapped sites name their mirror with --source. */
export const DEFAULT_OSV_SOURCE = 'https://osv-vulnerabilities.storage.googleapis.com/all.zip';

function age(finishedAt: number, now: number): string {
  const minutes = Math.max(0, Math.round((now - finishedAt) / 60_000));
  if (minutes < 120) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `${hours} h` : `${Math.round(hours / 24)} d`;
}

export function registerVulndbCommands(program: Command, ctx: CliContext): void {
  const db = program.command('db').description('OSV vulnerability database');

  db.command('update')
    .description('import OSV records: an http(s) URL of a zip, a zip laid out as osv.dev all.zip, or a directory')
    .option('--source <url|path>', 'where the records come from', DEFAULT_OSV_SOURCE)
    .action(async (opts: { source: string }, cmd: Command) => {
      const g = ctx.globals(cmd);
      const rt = await ctx.runtime(g);
      const [{ importDirectory }, { importUrl, importZip }] = await Promise.all([
        import('../../vulndb/import.ts'),
        import('../../vulndb/zip.ts'),
      ]);
      const progress = createProgress('OSV records', ctx.interactive(g));
      const options = { onRecord: () => progress.itemDone() };
      let result;
      try {
        if (/^https?:\/\//i.test(opts.source)) {
          result = await importUrl(rt.store, new URL(opts.source), undefined, options);
        } else {
          const info = await stat(opts.source).catch(() => undefined);
          if (!info) {
            throw new SluiceError('OSV_SOURCE_INVALID', 'invalid-input', `${opts.source}: no such file or directory`, {
              source: opts.source,
            });
          }
          result = info.isDirectory()
            ? await importDirectory(rt.store, opts.source, options)
            : await importZip(rt.store, opts.source, options);
        }
      } finally {
        progress.finish();
      }
      const r = result;
      emit(ctx.w, g.output, r, {
        text: () => `${r.source}: ${r.added} added, ${r.updated} updated, ${r.unchanged} unchanged\n`,
      });
    });

  db.command('status')
    .description('records, withdrawn records, records per ecosystem and the last import')
    .action(async (_opts: unknown, cmd: Command) => {
      const g = ctx.globals(cmd);
      const rt = await ctx.runtime(g);
      const { databaseStatus } = await import('../../vulndb/records.ts');
      const status = await databaseStatus(rt.store);
      const now = rt.store.clock().getTime();
      emit(ctx.w, g.output, status, {
        text: () => {
          const last = status.lastImport;
          const head =
            `Records:     ${status.records} (${status.withdrawn} withdrawn)\n` +
            (last
              ? `Last import: ${new Date(last.finishedAt).toISOString()} (${age(last.finishedAt, now)} ago) from ${last.source}\n`
              : 'Last import: never (run sluice db update)\n');
          const rows = Object.entries(status.ecosystems);
          const columns = [
            { header: 'ECOSYSTEM', value: (r: [string, number]) => r[0] },
            { header: 'RECORDS', value: (r: [string, number]) => r[1] },
          ];
          return rows.length ? `${head}\n${renderTable(rows, columns)}` : head;
        },
      });
    });
}
