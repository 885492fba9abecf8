import type { EntryInfo, ReadContext } from '../../model.ts';
import { malformed } from '../common.ts';

export interface NpmPackage {
  name: string;
  version: string;
  licenses: string[];
}

/** Package names as npm accepts them (validate-npm-package-name's rules, reduced to a shape). */
const NAME = /^(?:@[a-z0-9~][a-z0-9._~-]*\/)?[a-z0-9~][a-z0-9._~-]*$/i;

function parseJson(text: string, entry: EntryInfo, ctx: ReadContext): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    ctx.note(malformed(entry, 1, `not JSON: ${(err as Error).message}`));
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function licensesOf(manifest: Record<string, unknown>): string[] {
  const license = manifest.license;
  if (typeof license === 'string' && license.length <= 200) return [license];
  if (isObject(license) && typeof license.type === 'string') return [license.type];
  return [];
}

/** An installed package's own package.json. */
export function parsePackageJson(text: string, entry: EntryInfo, ctx: ReadContext): NpmPackage | undefined {
  const manifest = parseJson(text, entry, ctx);
  if (!isObject(manifest)) {
    if (manifest !== undefined) ctx.note(malformed(entry, 1, 'package.json is not an object'));
    return undefined;
  }
  const { name, version } = manifest;
  if (typeof name !== 'string' || typeof version !== 'string' || version === '') {
    // Some packages ship a package.json without name or version inside their own tree
    // (`{"type": "module"}` markers): not a package, not worth a note.
    return undefined;
  }
  if (!NAME.test(name) || name.length > 214) {
    ctx.note(malformed(entry, 1, `package name ${JSON.stringify(name.slice(0, 100))} is not an npm name`));
    return undefined;
  }
  return { name, version, licenses: licensesOf(manifest) };
}

export interface LockedPackage extends NpmPackage {
  /** `node_modules/a/node_modules/b`, relative to the lock file's directory. */
  location: string;
}

/** The name a lock file location installs: the part after the last `node_modules/`. */
function nameFromLocation(location: string): string | undefined {
  const at = location.lastIndexOf('node_modules/');
  if (at === -1) return undefined;
  return location.slice(at + 'node_modules/'.length);
}

/**
 * package-lock.json (or npm-shrinkwrap.json) of an application: lockfileVersion 2 and 3 list
 * every installed location under `packages`; version 1 nests `dependencies`.
 * Links (`link: true`, workspaces) point at source folders, not installed packages.
 */
export function parsePackageLock(text: string, entry: EntryInfo, ctx: ReadContext): LockedPackage[] {
  const lock = parseJson(text, entry, ctx);
  if (!isObject(lock)) return [];
  const out: LockedPackage[] = [];
  if (isObject(lock.packages)) {
    for (const [location, value] of Object.entries(lock.packages)) {
      if (location === '' || !isObject(value) || value.link === true) continue;
      const name = typeof value.name === 'string' ? value.name : nameFromLocation(location);
      const version = value.version;
      if (!name || typeof version !== 'string' || !NAME.test(name)) {
        ctx.note(
          malformed(entry, 1, `lock entry ${JSON.stringify(location.slice(0, 200))} has no usable name and version`),
        );
        continue;
      }
      out.push({ name, version, licenses: licensesOf(value), location });
    }
    return out;
  }
  // lockfileVersion 1: walk the nested tree iteratively, bounded by the parsed document itself.
  const stack: { deps: unknown; prefix: string }[] = [{ deps: lock.dependencies, prefix: '' }];
  while (stack.length > 0) {
    const { deps, prefix } = stack.pop()!;
    if (!isObject(deps)) continue;
    for (const [name, value] of Object.entries(deps)) {
      if (!isObject(value)) continue;
      const location = `${prefix}node_modules/${name}`;
      if (typeof value.version === 'string' && NAME.test(name) && !value.version.startsWith('file:')) {
        out.push({ name, version: value.version, licenses: [], location });
      }
      stack.push({ deps: value.dependencies, prefix: `${location}/` });
    }
  }
  return out;
}
