/**
 * # dpkg
 *
 * Debian and Ubuntu packages from `var/lib/dpkg/status`, plus `var/lib/dpkg/status.d/*` (one
 * small status file per package, as distroless images ship them instead of `status`).
 * Each package carries its source package and source version, since Debian and Ubuntu advisories
 * are keyed by source package. purl: `pkg:deb/<os id>/<name>@<version>?arch=..&distro=<id>-<version>`
 * (namespace `debian` when no os-release was found).
 *
 * Check it against: `dpkg-query --admindir=<root>/var/lib/dpkg -W -f '${Package} ${Version}\n'`.
 */
import type { EntryInfo, InstalledPackage, LayerFile, PackageReader, ReadContext } from '../../model.ts';
import { decodeText, distroQualifier, purlOf, sortedFiles } from '../common.ts';
import { parseDpkgStatus } from './parse.ts';

export { parseDpkgStatus, type DpkgRecord } from './parse.ts';

const STATUS = 'var/lib/dpkg/status';
const STATUS_D = 'var/lib/dpkg/status.d/';

function isDpkgDatabase(entry: EntryInfo): boolean {
  if (entry.path === STATUS) return true;
  if (!entry.path.startsWith(STATUS_D)) return false;
  const rest = entry.path.slice(STATUS_D.length);
  // distroless writes `<pkg>` and `<pkg>.md5sums` side by side; only the first is a record.
  return rest !== '' && !rest.includes('/') && !rest.endsWith('.md5sums');
}

export const dpkgReader: PackageReader = {
  name: 'dpkg',
  // Ubuntu's full desktop status is about 4 MB; 32 MiB leaves room without inviting a bomb.
  maxBytes: 32 * 1024 * 1024,
  wants: isDpkgDatabase,
  async read(files: ReadonlyMap<string, LayerFile>, ctx: ReadContext): Promise<InstalledPackage[]> {
    const out: InstalledPackage[] = [];
    const seen = new Set<string>();
    for (const file of sortedFiles(files)) {
      if (!isDpkgDatabase(file)) continue;
      for (const record of parseDpkgStatus(decodeText(file.content), file, ctx)) {
        const key = `${record.name}:${record.arch ?? ''}`;
        if (seen.has(key)) continue; // the same package in status and status.d: one component
        seen.add(key);
        const purl = purlOf(
          {
            type: 'deb',
            namespace: ctx.os?.id ?? 'debian',
            name: record.name,
            version: record.version,
            qualifiers: { arch: record.arch, distro: distroQualifier(ctx.os) },
          },
          file,
          record.line,
          ctx,
        );
        if (!purl) continue;
        const pkg: InstalledPackage = {
          ecosystem: 'deb',
          name: record.name,
          version: record.version,
          source: record.source,
          purl,
          path: file.path,
          layer: file.layer,
        };
        if (record.arch) pkg.arch = record.arch;
        out.push(pkg);
      }
    }
    return out;
  },
};
