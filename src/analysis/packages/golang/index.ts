/**
 * # golang
 *
 * Go modules compiled into ELF executables, from the build information `go build` embeds
 * (Go 1.18+). The file is streamed once: the reader looks for the magic, keeps at most
 * {@link MAX_BUILDINFO_BYTES} after it, and lets the rest pass. Reported: the main module, every
 * dependency (after `=>` replacements) and the Go standard library as `stdlib`, the name OSV's Go
 * ecosystem uses. purl: `pkg:golang/<module path>@<version>`.
 *
 * Blind spots (noted): binaries built before Go 1.18, stripped of build info (`-buildvcs` does not
 * matter, but `garble` and similar do), and binaries that are not ELF.
 *
 * Check it against: `go version -m <binary>`.
 */
import type { EntryInfo, InstalledPackage, PackageReader, ReadContext } from '../../model.ts';
import { drain, malformed, purlOf } from '../common.ts';
import {
  BUILDINFO_MAGIC,
  type GoModule,
  MAX_BUILDINFO_BYTES,
  decodeBuildInfo,
  parseModinfo,
  stdlibVersion,
} from './buildinfo.ts';

export { decodeBuildInfo, parseModinfo, stdlibVersion, type GoBuildInfo, type GoModule } from './buildinfo.ts';

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

/** Finds the build info in a stream, holding a bounded window; drains the stream either way. */
async function findBuildInfo(
  body: AsyncIterable<Buffer>,
): Promise<ReturnType<typeof decodeBuildInfo> | 'not-elf' | 'none'> {
  const it = body[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  let window = Buffer.alloc(0);
  let found: Buffer | undefined;
  try {
    for (;;) {
      const { value, done } = await it.next();
      if (done) break;
      const chunk = value;
      if (head.length < 4) {
        head = Buffer.concat([head, chunk.subarray(0, 4 - head.length)]);
        if (head.length >= 4 && !head.equals(ELF_MAGIC)) {
          await drain(it);
          return 'not-elf';
        }
      }
      if (found) {
        found = Buffer.concat([found, chunk]);
      } else {
        // Keep the tail that could hold the start of a magic split across chunks.
        window = Buffer.concat([window.subarray(Math.max(0, window.length - (BUILDINFO_MAGIC.length - 1))), chunk]);
        const at = window.indexOf(BUILDINFO_MAGIC);
        if (at === -1) continue;
        found = window.subarray(at);
      }
      const decoded = decodeBuildInfo(found.subarray(0, MAX_BUILDINFO_BYTES * 2 + 64));
      if (decoded.kind !== 'incomplete' || found.length > MAX_BUILDINFO_BYTES * 2 + 64) {
        await drain(it);
        return decoded.kind === 'incomplete'
          ? { kind: 'malformed', reason: 'build info larger than the limit' }
          : decoded;
      }
    }
  } finally {
    await it.return?.();
  }
  if (found) return { kind: 'malformed', reason: 'the file ends inside the build info' };
  return head.length >= 4 && !head.equals(ELF_MAGIC) ? 'not-elf' : 'none';
}

function modulePurl(mod: { path: string; version: string }, entry: EntryInfo, ctx: ReadContext): string | undefined {
  const slash = mod.path.lastIndexOf('/');
  return purlOf(
    {
      type: 'golang',
      namespace: slash === -1 ? undefined : mod.path.slice(0, slash),
      name: slash === -1 ? mod.path : mod.path.slice(slash + 1),
      version: mod.version,
    },
    entry,
    1,
    ctx,
  );
}

export const golangReader: PackageReader = {
  name: 'golang',
  streams(entry: EntryInfo): boolean {
    // Executables only; a Go binary is rarely under 500 KB (hello world is ~1.5 MB).
    return (entry.mode & 0o111) !== 0 && entry.size >= 64 * 1024;
  },
  async scan(entry: EntryInfo, body: AsyncIterable<Buffer>, ctx: ReadContext): Promise<InstalledPackage[]> {
    const result = await findBuildInfo(body);
    if (result === 'not-elf' || result === 'none') return [];
    if (result.kind === 'old-format') {
      ctx.note({
        code: 'GO_BUILDINFO_UNSUPPORTED',
        message: `${entry.path}: Go binary built before Go 1.18; its modules are not read`,
        path: entry.path,
        layer: entry.layer,
      });
      return [];
    }
    if (result.kind !== 'inline') {
      ctx.note(malformed(entry, 1, `Go build info: ${result.kind === 'malformed' ? result.reason : 'incomplete'}`));
      return [];
    }
    const info = parseModinfo(result.goVersion, result.modinfo);
    const modules: GoModule[] = [];
    if (info.main?.path) modules.push(info.main);
    modules.push(...info.deps);
    const out: InstalledPackage[] = [];
    for (const mod of modules) {
      if (!mod.version) continue; // a replacement by a local directory: nothing to match
      const purl = modulePurl(mod, entry, ctx);
      if (purl)
        out.push({
          ecosystem: 'golang',
          name: mod.path,
          version: mod.version,
          purl,
          path: entry.path,
          layer: entry.layer,
        });
    }
    const stdlib = stdlibVersion(info.goVersion);
    if (stdlib) {
      const purl = modulePurl({ path: 'stdlib', version: stdlib }, entry, ctx);
      if (purl)
        out.push({ ecosystem: 'golang', name: 'stdlib', version: stdlib, purl, path: entry.path, layer: entry.layer });
    }
    return out;
  },
};
