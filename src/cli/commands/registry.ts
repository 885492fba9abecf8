/** Registry commands: inspect, ls, catalog, copy. Each parses, calls src/oci, renders. */
import { Option, type Command } from 'commander';
import { SluiceError } from '../../errors.ts';
import { readInputText } from '../../files.ts';
import { CopyEngine, type CopyOptions, type CopyRequest, type CopyResult } from '../../oci/copy.ts';
import { inspectImage, listTagDigests } from '../../oci/inspect.ts';
import {
  formatReference,
  parseReference,
  parseRegistryHost,
  parseRepository,
  type Reference,
} from '../../oci/reference.ts';
import { positiveInt } from '../args.ts';
import type { CliContext } from '../context.ts';
import { emit, formatBytes, oneLine, shortDigest } from '../output.ts';
import { createProgress } from '../progress.ts';

export function registerRegistryCommands(program: Command, ctx: CliContext): void {
  program
    .command('inspect')
    .description('show digest, media type, platforms, size, created, labels, user and layers of an image')
    .argument('<ref>', 'image reference (registry/repo:tag or @digest)')
    .option('--platform <os/arch>', 'which platform of a multi-platform image to detail')
    .action(async (refText: string, opts: { platform?: string }, cmd: Command) => {
      const g = ctx.globals(cmd);
      const ref = parseReference(refText);
      const pool = await ctx.pool(g);
      const d = await inspectImage(pool.get(ref.registry), ref, opts.platform);
      emit(ctx.w, g.output, d, {
        text: () => {
          const lines = [
            `Name:        ${ref.registry}/${ref.repository}${d.tag ? `:${d.tag}` : ''}`,
            `Digest:      ${d.digest}`,
            `MediaType:   ${d.mediaType}`,
            ...(d.artifactType ? [`ArtifactType: ${oneLine(d.artifactType)}`] : []),
            `Size:        ${formatBytes(d.size)} (${d.size} bytes)`,
            `Platforms:   ${oneLine(d.platforms.map((p) => p.platform).join(', ')) || '-'}`,
            `Created:     ${oneLine(d.created ?? '-')}`,
            `User:        ${oneLine(d.user ?? '-')}`,
            `Labels:`,
            ...Object.entries(d.labels).map(([k, v]) => `  ${oneLine(k)}=${oneLine(v)}`),
            `Layers:${d.platform && d.platforms.length > 1 ? ` (${oneLine(d.platform)})` : ''}`,
            ...d.layers.map((l) => `  ${l.digest}  ${formatBytes(l.size).padStart(10)}  ${oneLine(l.mediaType)}`),
          ];
          return lines.join('\n') + '\n';
        },
      });
    });

  program
    .command('ls')
    .description('list the tags of a repository with the digest each points to')
    .argument('<repository>', 'registry/repository')
    .action(async (repoText: string, _opts: unknown, cmd: Command) => {
      const g = ctx.globals(cmd);
      const repo = parseRepository(repoText);
      const entries = await listTagDigests((await ctx.pool(g)).get(repo.registry), repo.repository);
      emit(ctx.w, g.output, entries, {
        rows: entries,
        columns: [
          { header: 'TAG', value: (e) => e.tag },
          { header: 'DIGEST', value: (e) => (g.output === 'wide' ? e.digest : shortDigest(e.digest)) },
          { header: 'MEDIA TYPE', value: (e) => e.mediaType, wide: true },
        ],
        name: (e) => `${repo.registry}/${repo.repository}:${e.tag}`,
      });
    });

  program
    .command('catalog')
    .description('list the repositories of a registry')
    .argument('<registry>', 'registry host[:port]')
    .action(async (registryText: string, _opts: unknown, cmd: Command) => {
      const g = ctx.globals(cmd);
      const registry = parseRegistryHost(registryText);
      const repos = await (await ctx.pool(g)).get(registry).catalog();
      emit(ctx.w, g.output, repos, {
        rows: repos,
        columns: [{ header: 'REPOSITORY', value: (r) => r }],
        name: (r) => `${registry}/${r}`,
      });
    });

  program
    .command('copy')
    .description('copy an image or index by digest, with its signatures and attestations')
    .argument('[src]', 'source reference')
    .argument('[dst]', 'target reference (tag optional: defaults to the source tag)')
    .option('--batch <file>', 'copy many: a file (or - for stdin) with one "SRC DST" pair per line')
    .option('--no-referrers', 'do not copy signatures, attestations, SBOMs and other referrers')
    .addOption(
      new Option('--concurrency <n>', 'images in flight with --batch')
        .argParser(positiveInt('--concurrency'))
        .default(8),
    )
    .addOption(
      new Option('--blob-concurrency <n>', 'blobs in flight per image')
        .argParser(positiveInt('--blob-concurrency'))
        .default(4),
    )
    .addOption(
      new Option('--chunk-size <bytes>', 'upload in PATCH chunks of this size').argParser(positiveInt('--chunk-size')),
    )
    .action(async (srcText: string | undefined, dstText: string | undefined, opts: CopyCliOptions, cmd: Command) => {
      const g = ctx.globals(cmd);
      const requests = opts.batch ? await readBatch(opts.batch) : [toCopyRequest(srcText, dstText)];
      if (opts.batch && (srcText || dstText)) {
        throw new SluiceError('USAGE', 'usage', 'give either SRC DST or --batch FILE, not both');
      }
      const engine = new CopyEngine(await ctx.pool(g));
      const progress = createProgress('copying', ctx.interactive(g));
      const options: CopyOptions = {
        referrers: opts.referrers,
        blobConcurrency: opts.blobConcurrency,
        ...(opts.chunkSize ? { chunkSize: opts.chunkSize } : {}),
        onProgress: (e) => {
          if (e.kind === 'blob-start') progress.addTotal(e.size, 0);
          else if (e.kind === 'blob-bytes') progress.addDone(e.bytes);
        },
      };
      progress.addTotal(0, requests.length);
      const outcomes = await engine.copyAll(requests, {
        ...options,
        concurrency: opts.concurrency,
      });
      progress.finish();
      const results = outcomes.map((o) => ({
        source: formatReference(o.request.source),
        target: formatReference(o.request.target),
        ...(o.result ? { result: o.result } : {}),
        ...(o.error ? { error: o.error.toJSON() } : {}),
      }));
      const failed = outcomes.filter((o) => o.error);
      if (!opts.batch) {
        if (failed[0]?.error) throw failed[0].error;
        const r = outcomes[0]!.result!;
        emit(ctx.w, g.output, r, { text: () => `${r.digest}\n` });
        if (ctx.interactive(g) && process.stderr.isTTY) ctx.w.err(describeCopy(r));
        return;
      }
      emit(ctx.w, g.output, results, {
        rows: outcomes,
        columns: [
          { header: 'SOURCE', value: (o) => formatReference(o.request.source) },
          { header: 'TARGET', value: (o) => formatReference(o.request.target) },
          { header: 'DIGEST', value: (o) => (o.result ? shortDigest(o.result.digest) : '') },
          {
            header: 'RESULT',
            value: (o) => (o.error ? `failed: ${o.error.message}` : o.result!.noop ? 'unchanged' : 'copied'),
          },
        ],
      });
      if (failed.length > 0) {
        const unchanged = outcomes.filter((o) => o.result?.noop).length;
        throw new SluiceError('COPY_FAILED', 'unavailable', `${failed.length} of ${outcomes.length} copies failed`, {
          counts: {
            total: outcomes.length,
            copied: outcomes.length - failed.length - unchanged,
            unchanged,
            failed: failed.length,
          },
        });
      }
    });
}

interface CopyCliOptions {
  batch?: string;
  referrers: boolean;
  concurrency: number;
  blobConcurrency: number;
  chunkSize?: number;
}

function describeCopy(r: CopyResult): string {
  const b = r.blobs;
  return `${r.noop ? 'unchanged' : 'copied'} ${r.source} -> ${r.target}: ${b.mounted} mounted, ${b.copied} copied (${formatBytes(r.bytesTransferred)}), ${b.present} already present, ${r.referrers.length} referrers\n`;
}

function toCopyRequest(srcText: string | undefined, dstText: string | undefined, where = ''): CopyRequest {
  if (!srcText || !dstText) throw new SluiceError('USAGE', 'usage', `copy needs SRC and DST${where}`);
  const source = parseReference(srcText);
  const dst: Reference = parseReference(dstText, { defaultTag: false });
  if (dst.digest !== undefined) {
    throw new SluiceError(
      'USAGE',
      'usage',
      `target "${dstText}" must not carry a digest: the digest is the source's${where}`,
    );
  }
  const tag = dst.tag ?? source.tag;
  return {
    source,
    target: { registry: dst.registry, repository: dst.repository, ...(tag !== undefined ? { tag } : {}) },
  };
}

/** A batch is a list of image pairs, a few hundred bytes each; 4 MiB is some 10,000 of them. */
export const MAX_BATCH_FILE_BYTES = 4 * 1024 * 1024;

async function readBatch(file: string): Promise<CopyRequest[]> {
  const text = await readInputText(file, { what: '--batch file', limit: MAX_BATCH_FILE_BYTES });
  const requests: CopyRequest[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const parts = line.split(/\s+/);
    if (parts.length !== 2)
      throw new SluiceError(
        'COPY_BATCH_INVALID',
        'invalid-input',
        `${file}:${i + 1}: expected "SRC DST", found ${parts.length} fields`,
      );
    try {
      requests.push(toCopyRequest(parts[0], parts[1], ` (${file}:${i + 1})`));
    } catch (err) {
      if (err instanceof SluiceError) err.context.location = `${file}:${i + 1}`;
      throw err;
    }
  });
  return requests;
}
