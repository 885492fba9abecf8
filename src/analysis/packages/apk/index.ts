/**
 * # apk
 *
 * Alpine (and Wolfi/Chainguard) packages from `lib/apk/db/installed`. The origin (`o:`) is the
 * source package: an aport builds all its subpackages at the same version, so the source
 * version is the package's own. purl: `pkg:apk/<os id>/<name>@<version>?arch=..&distro=<id>-<version>`.
 *
 * Check it against: `apk info -vv --root <root>` (not installed on this machine; the test uses a
 * fixture written from the documented format).
 */
import type { EntryInfo, InstalledPackage, LayerFile, PackageReader, ReadContext } from '../../model.ts';
import { decodeText, distroQualifier, purlOf } from '../common.ts';
import { parseApkInstalled } from './parse.ts';

export { parseApkInstalled, type ApkRecord } from './parse.ts';

const INSTALLED = 'lib/apk/db/installed';

export const apkReader: PackageReader = {
  name: 'apk',
  // Each package lists its files, so the database grows with the image: 32 MiB is far above
  // what large Alpine images hold (a few MB).
  maxBytes: 32 * 1024 * 1024,
  wants(entry: EntryInfo): boolean {
    return entry.path === INSTALLED;
  },
  async read(files: ReadonlyMap<string, LayerFile>, ctx: ReadContext): Promise<InstalledPackage[]> {
    const file = files.get(INSTALLED);
    if (!file) return [];
    const out: InstalledPackage[] = [];
    for (const record of parseApkInstalled(decodeText(file.content), file, ctx)) {
      const purl = purlOf(
        {
          type: 'apk',
          namespace: ctx.os?.id ?? 'alpine',
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
        ecosystem: 'apk',
        name: record.name,
        version: record.version,
        source: { name: record.origin ?? record.name, version: record.version },
        purl,
        path: file.path,
        layer: file.layer,
      };
      if (record.arch) pkg.arch = record.arch;
      if (record.license) pkg.licenses = [record.license];
      out.push(pkg);
    }
    return out;
  },
};
