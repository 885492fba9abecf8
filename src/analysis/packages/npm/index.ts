/**
 * # npm
 *
 * Installed npm packages: every `node_modules/<name>/package.json` and
 * `node_modules/@scope/<name>/package.json`, nested ones included. An application's
 * `package-lock.json` (or `npm-shrinkwrap.json`) counts only when nothing is installed beside it:
 * the installed tree is the truth, the lock file tells what an image without `node_modules`
 * (a build stage copied out) was built from. npm's own hidden `node_modules/.package-lock.json`
 * is a cache of the tree and is not read. purl: `pkg:npm/%40scope/name@version`.
 *
 * Check it against: `npm ls --all --json` in the application's directory.
 */
import type { EntryInfo, InstalledPackage, LayerFile, PackageReader, ReadContext } from '../../model.ts';
import { decodeText, purlOf, sortedFiles } from '../common.ts';
import { type NpmPackage, parsePackageJson, parsePackageLock } from './parse.ts';

export { parsePackageJson, parsePackageLock, type LockedPackage, type NpmPackage } from './parse.ts';

const INSTALLED_MANIFEST = /(^|\/)node_modules\/(@[^/]+\/)?[^/@][^/]*\/package\.json$/;
const LOCK_FILE = /(^|\/)(package-lock|npm-shrinkwrap)\.json$/;

function isInstalledManifest(path: string): boolean {
  return INSTALLED_MANIFEST.test(path);
}

function isLockFile(path: string): boolean {
  return LOCK_FILE.test(path) && !path.includes('node_modules/');
}

function dirOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash === -1 ? '' : path.slice(0, slash);
}

function toPackage(pkg: NpmPackage, file: LayerFile, ctx: ReadContext): InstalledPackage | undefined {
  const slash = pkg.name.indexOf('/');
  const scoped = pkg.name.startsWith('@') && slash > 0;
  const purl = purlOf(
    {
      type: 'npm',
      namespace: scoped ? pkg.name.slice(0, slash) : undefined,
      name: scoped ? pkg.name.slice(slash + 1) : pkg.name,
      version: pkg.version,
    },
    file,
    1,
    ctx,
  );
  if (!purl) return undefined;
  const out: InstalledPackage = {
    ecosystem: 'npm',
    name: pkg.name,
    version: pkg.version,
    purl,
    path: file.path,
    layer: file.layer,
  };
  if (pkg.licenses.length > 0) out.licenses = pkg.licenses;
  return out;
}

export const npmReader: PackageReader = {
  name: 'npm',
  // A lock file of a large monorepo reaches a few MB; a package.json is a few KB.
  maxBytes: 16 * 1024 * 1024,
  wants(entry: EntryInfo): boolean {
    return isInstalledManifest(entry.path) || isLockFile(entry.path);
  },
  async read(files: ReadonlyMap<string, LayerFile>, ctx: ReadContext): Promise<InstalledPackage[]> {
    const out: InstalledPackage[] = [];
    const installedRoots = new Set<string>();
    const locks: LayerFile[] = [];
    for (const file of sortedFiles(files)) {
      if (isLockFile(file.path)) {
        locks.push(file);
        continue;
      }
      if (!isInstalledManifest(file.path)) continue;
      const pkg = parsePackageJson(decodeText(file.content), file, ctx);
      if (!pkg) continue;
      const converted = toPackage(pkg, file, ctx);
      if (converted) out.push(converted);
      const top = file.path.indexOf('node_modules/');
      installedRoots.add(top <= 0 ? '' : file.path.slice(0, top - 1));
    }
    for (const lock of locks) {
      if (installedRoots.has(dirOf(lock.path))) continue;
      for (const pkg of parsePackageLock(decodeText(lock.content), lock, ctx)) {
        const converted = toPackage(pkg, lock, ctx);
        if (converted) out.push(converted);
      }
    }
    return out;
  },
};
