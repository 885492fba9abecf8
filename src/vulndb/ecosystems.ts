/**
 * From an installed package to the OSV ecosystem and package name its advisories are filed
 * under. Distribution ecosystems carry the release (`Debian:12`, `Alpine:v3.20`,
 * `Ubuntu:22.04`), taken from the purl's `distro` qualifier, which the package readers set from
 * `/etc/os-release`; distribution advisories name the source package (Debian source, Alpine
 * origin), so that name is used when the reader found one.
 */
import type { InstalledPackage } from '../analysis/model.ts';
import { ownValue } from '../util/own.ts';

export interface OsvPackageKey {
  /** The OSV ecosystem with its release suffix when it has one: `Debian:12`, `npm`. */
  ecosystem: string;
  /** The name as OSV files it: source package, `group:artifact`, PEP 503 normalised, ... */
  name: string;
}

/** OSV's spelling of a distribution, by os-release `ID` (the purl namespace / distro prefix). */
const DISTROS: Readonly<Record<string, string>> = {
  debian: 'Debian',
  ubuntu: 'Ubuntu',
  alpine: 'Alpine',
  rhel: 'Red Hat',
  redhat: 'Red Hat',
  almalinux: 'AlmaLinux',
  rocky: 'Rocky Linux',
};

/** The ecosystem part before the first colon: `Debian:12` → `Debian`. */
export function baseEcosystem(ecosystem: string): string {
  const colon = ecosystem.indexOf(':');
  return colon < 0 ? ecosystem : ecosystem.slice(0, colon);
}

/** PyPI names compare after PEP 503 normalisation (`Foo_Bar` is `foo-bar`). */
export function normalizePackageName(ecosystem: string, name: string): string {
  return baseEcosystem(ecosystem) === 'PyPI' ? name.toLowerCase().replace(/[-_.]+/g, '-') : name;
}

function purlParts(purl: string): { namespace?: string; qualifiers: URLSearchParams } {
  const body = purl.startsWith('pkg:') ? purl.slice(4) : purl;
  const q = body.indexOf('?');
  const qualifiers = new URLSearchParams(q < 0 ? '' : body.slice(q + 1).split('#')[0]);
  const path = (q < 0 ? body : body.slice(0, q)).split('@')[0]!.split('/');
  const namespace = path.length > 2 ? path.slice(1, -1).map(decodeURIComponent).join('/') : undefined;
  return namespace === undefined ? { qualifiers } : { namespace, qualifiers };
}

/** `debian-12.5` → `12`, `alpine-3.20.3` → `v3.20`, `ubuntu-22.04` → `22.04`, `rhel-9.4` → `9`. */
function releaseSuffix(distro: string, version: string): string {
  const parts = version.split('.');
  switch (distro) {
    case 'Alpine':
      return `v${parts.slice(0, 2).join('.')}`;
    case 'Ubuntu':
      return parts.slice(0, 2).join('.');
    default:
      return parts[0]!;
  }
}

function distroEcosystem(
  pkg: InstalledPackage,
  namespace: string | undefined,
  qualifiers: URLSearchParams,
): string | undefined {
  const distro = qualifiers.get('distro');
  let id = namespace?.toLowerCase();
  let version: string | undefined;
  if (distro) {
    const dash = distro.indexOf('-');
    if (dash > 0) {
      id = distro.slice(0, dash).toLowerCase();
      version = distro.slice(dash + 1);
    } else if (/^\d/.test(distro)) {
      version = distro;
    } else {
      id = distro.toLowerCase();
    }
  }
  // The id comes from the image (purl namespace, os-release): `constructor` is no distribution.
  const osv = id === undefined ? undefined : ownValue(DISTROS, id);
  if (osv === undefined) return pkg.ecosystem === 'deb' ? 'Debian' : pkg.ecosystem === 'apk' ? 'Alpine' : undefined;
  return version ? `${osv}:${releaseSuffix(osv, version)}` : osv;
}

/** The OSV key of an installed package, or undefined when OSV has no ecosystem for it. */
export function osvKeyOf(pkg: InstalledPackage): OsvPackageKey | undefined {
  const { namespace, qualifiers } = purlParts(pkg.purl);
  switch (pkg.ecosystem) {
    case 'deb':
    case 'apk':
    case 'rpm': {
      const ecosystem = distroEcosystem(pkg, namespace, qualifiers);
      if (ecosystem === undefined) return undefined;
      return { ecosystem, name: pkg.source?.name ?? pkg.name };
    }
    case 'npm':
      return { ecosystem: 'npm', name: pkg.name.includes('/') || !namespace ? pkg.name : `${namespace}/${pkg.name}` };
    case 'pypi':
      return { ecosystem: 'PyPI', name: normalizePackageName('PyPI', pkg.name) };
    case 'golang':
      return { ecosystem: 'Go', name: pkg.name.includes('/') || !namespace ? pkg.name : `${namespace}/${pkg.name}` };
    case 'maven':
      return { ecosystem: 'Maven', name: pkg.name.includes(':') || !namespace ? pkg.name : `${namespace}:${pkg.name}` };
    default:
      return undefined;
  }
}

/** The version advisories compare: distribution advisories are about the source version. */
export function osvVersionOf(pkg: InstalledPackage): string {
  if ((pkg.ecosystem === 'deb' || pkg.ecosystem === 'apk' || pkg.ecosystem === 'rpm') && pkg.source?.version) {
    return pkg.source.version;
  }
  return pkg.version;
}

/**
 * Whether a record's ecosystem covers the package's: equal, the record's has no release
 * (`Debian` covers `Debian:12`), or the record's adds a qualifier (`Ubuntu:22.04:LTS` covers
 * `Ubuntu:22.04`).
 */
export function ecosystemCovers(recordEcosystem: string, packageEcosystem: string): boolean {
  if (recordEcosystem === packageEcosystem) return true;
  if (baseEcosystem(recordEcosystem) !== baseEcosystem(packageEcosystem)) return false;
  if (!recordEcosystem.includes(':')) return true;
  return recordEcosystem.startsWith(`${packageEcosystem}:`);
}
