/**
 * # python
 *
 * Installed Python distributions: `<name>.dist-info/METADATA` (wheels, pip) and
 * `<name>.egg-info/PKG-INFO` or a `<name>.egg-info` file (setuptools, Debian's python3-*
 * packages), anywhere in the file system (virtualenvs, `/usr/lib/python3/dist-packages`,
 * `/usr/local/lib/python3.x/site-packages`). purl: `pkg:pypi/<normalised name>@<version>`.
 *
 * Check it against: `python3 -c 'import importlib.metadata as m; ...m.distributions(path=[dir])'`.
 */
import type { EntryInfo, InstalledPackage, LayerFile, PackageReader, ReadContext } from '../../model.ts';
import { decodeText, purlOf, sortedFiles } from '../common.ts';
import { normalizePythonName, parseCoreMetadata } from './parse.ts';

export { normalizePythonName, parseCoreMetadata, type PythonDistribution } from './parse.ts';

function isCoreMetadata(entry: EntryInfo): boolean {
  const path = entry.path;
  if (path.endsWith('.dist-info/METADATA') || path.endsWith('.egg-info/PKG-INFO')) return true;
  // A single-file egg-info sits directly in a site or dist packages directory.
  return path.endsWith('.egg-info') && /(^|\/)(site|dist)-packages\/[^/]+\.egg-info$/.test(path);
}

export const pythonReader: PackageReader = {
  name: 'python',
  // Headers come first; a long description past this is cut and not needed.
  maxBytes: 1024 * 1024,
  wants: isCoreMetadata,
  async read(files: ReadonlyMap<string, LayerFile>, ctx: ReadContext): Promise<InstalledPackage[]> {
    const out: InstalledPackage[] = [];
    for (const file of sortedFiles(files)) {
      if (!isCoreMetadata(file)) continue;
      const dist = parseCoreMetadata(decodeText(file.content), file, ctx);
      if (!dist) continue;
      const name = normalizePythonName(dist.name);
      const purl = purlOf({ type: 'pypi', name, version: dist.version }, file, 1, ctx);
      if (!purl) continue;
      const pkg: InstalledPackage = {
        ecosystem: 'pypi',
        name,
        version: dist.version,
        purl,
        path: file.path,
        layer: file.layer,
      };
      if (dist.licenses.length > 0) pkg.licenses = dist.licenses;
      out.push(pkg);
    }
    return out;
  },
};
