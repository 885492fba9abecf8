/**
 * Version schemes by OSV ecosystem. An OSV ecosystem string may carry a suffix after a colon
 * (`Debian:12`, `Ubuntu:22.04:LTS`, `Alpine:v3.20`, `Rocky Linux:9`, `Maven:https://...`); the
 * scheme depends only on the part before it.
 */
import { apk } from './apk.ts';
import { dpkg } from './dpkg.ts';
import { go } from './go.ts';
import { maven } from './maven.ts';
import { nuget } from './nuget.ts';
import { pep440 } from './pep440.ts';
import { rpm } from './rpm.ts';
import { rubygems } from './rubygems.ts';
import type { SchemeId, VersionScheme } from './scheme.ts';
import { semver } from './semver.ts';

export type { Ordering, SchemeId, VersionScheme } from './scheme.ts';
export { MAX_VERSION_LENGTH } from './scheme.ts';
export { isPseudoVersion } from './go.ts';

export const SCHEMES: Readonly<Record<SchemeId, VersionScheme>> = {
  dpkg,
  rpm,
  apk,
  semver,
  pep440,
  maven,
  go,
  rubygems,
  nuget,
};

export const ECOSYSTEM_SCHEMES: Readonly<Record<string, SchemeId>> = {
  Debian: 'dpkg',
  Ubuntu: 'dpkg',
  Alpine: 'apk',
  'Red Hat': 'rpm',
  AlmaLinux: 'rpm',
  'Rocky Linux': 'rpm',
  npm: 'semver',
  'crates.io': 'semver',
  PyPI: 'pep440',
  Go: 'go',
  Maven: 'maven',
  RubyGems: 'rubygems',
  NuGet: 'nuget',
};

/** The scheme of an OSV ecosystem, or undefined for one Sluice does not know. */
export function schemeForEcosystem(ecosystem: string): VersionScheme | undefined {
  const colon = ecosystem.indexOf(':');
  const base = colon < 0 ? ecosystem : ecosystem.slice(0, colon);
  return Object.hasOwn(ECOSYSTEM_SCHEMES, base) ? SCHEMES[ECOSYSTEM_SCHEMES[base]!] : undefined;
}
